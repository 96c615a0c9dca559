#!/usr/bin/python3
"""Print the peer baselines in bench/results/*.json as Markdown tables on stdout (standard
library only; any python3 works).

  python3 bench/peer_table.py [RESULTS_DIR]        (default bench/results)

Reads pytorch_ptq_<fixture>.json (bench/pytorch_ptq.py) and ort_latency.json
(bench/ort_latency.sh); other JSON files there are named on stderr and skipped.
"""
import glob
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def mb(n):
    return f"{n / 1e6:.2f}"


def ms(v):
    if v is None:
        return "-"
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 100 else f"{v:.0f}"


def ptq_table(docs):
    out = ["| fixture | variant | engine | accuracy (correct / samples) | F1 | size MB | size vs FP32 "
           "| latency ms (1 thread, median) | speedup vs FP32 |",
           "|---|---|---|---|---|---|---|---|---|"]
    notes = []
    for d in docs:
        name = d["fixture"] + ("" if d.get("trained", True) else " (untrained)")
        for r in d["results"]:
            vs = r.get("vs_fp32", {})
            f1 = f"{r['f1']:.4f}" if "f1" in r else "-"
            mark = " *" if r.get("workaround") else ""
            out.append(f"| {name} | {r['variant']}{mark} | {r['engine'] or '-'} | {r['accuracy']:.4f} "
                       f"({r['correct']} / {r['samples']}) | {f1} | {mb(r['size_bytes'])} | "
                       f"{vs.get('size_ratio', 1.0):.3f} | {ms(r['latency_ms'])} | "
                       f"{vs.get('speedup', 1.0):.2f} |")
        for e in d.get("errors", []):
            out.append(f"| {name} | {e['variant']} | {e['engine']} | failed: {e['error'][:80]} | | | | | |")
        cal = d.get("calibration")
        env = d.get("environment", {})
        lp = d.get("latency_protocol", {})
        what = (f"calibrated on the first {cal['samples']} Fashion-MNIST training images (file order)"
                if cal else "dynamic quantization (no calibration)")
        notes.append(f"- {name}: {what}; evaluated on {d['evaluation']['samples']} samples; "
                     f"latency = median of {lp.get('timed_runs')} calls, batch 1, 1 thread, "
                     f"torch {env.get('torch')}, load average at start {env.get('load_average_at_start')}; "
                     f"`{env.get('command')}`")
        for i in d.get("engine_issues", []):
            notes.append(f"- \\* {name} {i['variant']}: {i['issue']}; workaround: {i['workaround']}. "
                         f"Without it: accuracy {i['as_is_accuracy']:.4f} "
                         f"({i['as_is_correct']} / {i['samples']}).")
    return out + [""] + notes


def ort_table(d):
    keys = sorted({k for m in d["models"] for k in m["latency"]}, key=lambda k: int(k.split("_")[1]))
    head = " | ".join(f"ORT ms, {k.split('_')[1]} thread{'s' if k != 'threads_1' else ''}" for k in keys)
    out = [f"| model | ONNX MB | {head} |", "|---|---|" + "---|" * len(keys)]
    for m in d["models"]:
        cells = " | ".join(ms(m["latency"].get(k, {}).get("median_ms")) for k in keys)
        out.append(f"| {m['name']} | {mb(m['bytes'])} | {cells} |")
    lat = [v for m in d["models"] for v in m["latency"].values()]

    def span(key):
        v = sorted({x[key] for x in lat})
        return f"{v[0]}" if len(v) == 1 else f"{v[0]}-{v[-1]}"
    out += ["", f"- {d['runtime']}, {d['machine']['cpus']} CPUs ({d['machine']['cpu']}); median of "
                f"{span('runs')} runs after {span('warmup')} warm-ups, batch 1; 1-min load average "
                f"{span('load_average_1min')} during the runs; "
                + "; ".join(f"`{c}`" for c in d["commands"])]
    if d.get("skipped"):
        out.append(f"- not measured (missing): {', '.join(d['skipped'])}")
    return out


def main():
    rdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "bench", "results")
    files = sorted(glob.glob(os.path.join(rdir, "*.json")))
    if not files:
        sys.exit(f"peer_table: no JSON results in {rdir}")
    ptq, ort = [], None
    for f in files:
        base = os.path.basename(f)
        with open(f) as fh:
            d = json.load(fh)
        if base.startswith("pytorch_ptq_") and "results" in d:
            ptq.append(d)
        elif base == "ort_latency.json" and "models" in d:
            ort = d
        else:
            print(f"peer_table: {f}: not a peer result this script knows, skipped", file=sys.stderr)
    if ptq:
        print("### PyTorch post-training quantization (peer)\n")
        print("\n".join(ptq_table(ptq)))
        print()
    if ort:
        print("### ONNX Runtime FP32 latency (peer)\n")
        print("\n".join(ort_table(ort)))
        print()
    print("Regenerate: `/usr/bin/python3 bench/pytorch_ptq.py all && bench/ort_latency.sh && "
          "python3 bench/peer_table.py`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
