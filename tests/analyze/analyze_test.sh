#!/usr/bin/env bash
# analyze_test.sh SOURCE_DIR NNOPT WORK_DIR coverage|fragile|html
# End-to-end checks of `nnopt analyze` (see CMakeLists.txt). Exit 77 = skipped.
set -euo pipefail
src=$1 nnopt=$2 work=$3 mode=$4
fm=/usr/share/datasets/fashion-mnist
pre="pad=2,mean=0.2860,std=0.3530"
train="idx:$fm/train-images-idx3-ubyte.gz,labels=$fm/train-labels-idx1-ubyte.gz,$pre"
test_set="idx:$fm/t10k-images-idx3-ubyte.gz,labels=$fm/t10k-labels-idx1-ubyte.gz,$pre"
py=/usr/bin/python3
mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

case $mode in
coverage)
  # One class (T-shirt/top, label 0) for calibration: must be flagged (exit 1).
  set +e
  "$nnopt" analyze "$src/models/mobilenetv2_fmnist.onnx" --calib "$train,classes=0" \
    --calib-size 500 --eval "$test_set" --eval-size 1000 --calib-only \
    --json "$work/one_class.json" >"$work/one_class.txt" 2>&1
  rc=$?
  set -e
  cat "$work/one_class.txt"
  [ $rc -eq 1 ] || fail "single-class calibration: exit $rc, expected 1"
  grep -q "NOT representative" "$work/one_class.txt" || fail "single-class set not flagged"
  grep -q "no calibration sample: .*[1-9]" "$work/one_class.txt" || fail "missing classes not named"
  # 500 images across all classes: representative (exit 0).
  "$nnopt" analyze "$src/models/mobilenetv2_fmnist.onnx" --calib "$train" --calib-size 500 \
    --eval "$test_set" --eval-size 1000 --calib-only --json "$work/all_classes.json" \
    >"$work/all_classes.txt" 2>&1 || { cat "$work/all_classes.txt"; fail "all-class calibration flagged"; }
  cat "$work/all_classes.txt"
  $py - "$work/one_class.json" "$work/all_classes.json" <<'PY'
import json, sys
one, alls = (json.load(open(p))["calibration"] for p in sys.argv[1:3])
assert not one["representative"] and alls["representative"], (one["representative"], alls["representative"])
assert one["flagged_tensors"] > alls["flagged_tensors"], "flag counts"
print(f"flagged tensors: one class {one['flagged_tensors']}, all classes {alls['flagged_tensors']}")
PY
  ;;
fragile)
  $py -c "import onnx, numpy" 2>/dev/null || { echo "python3-onnx missing: skipped"; exit 77; }
  model=$work/fragile.onnx
  $py "$src/models/make_fragile_fmnist.py" "$model" --model "$src/models/mobilenetv2_fmnist.onnx" \
    | tee "$work/planted.txt"
  culprits=$(sed -n 's/^culprits: //p' "$work/planted.txt")
  # Plain PTQ first: the planted outlier must cost more than 2 points.
  "$nnopt" quantize "$model" -o "$work/fragile_int8.onnx" --calib "$train" --calib-size 500 \
    --eval "$test_set" --metric top1 --eval-limit 2000 | tee "$work/ptq.txt"
  "$nnopt" analyze "$model" --calib "$train" --calib-size 500 --eval "$test_set" \
    --eval-size 2000 --sens-size 100 --max-drop 0.3 --float-type fp16 --json "$work/report.json" \
    --html "$work/report.html" -o "$work/fragile_mixed.onnx" | tee "$work/analyze.txt"
  # The written model, evaluated again by `nnopt eval` (integer runtime).
  "$nnopt" eval "$work/fragile_mixed.onnx" --data "$test_set" --metric top1 --limit 2000 \
    | tee "$work/mixed_eval.txt"
  "$nnopt" eval "$model" --data "$test_set" --metric top1 --limit 2000 | tee "$work/float_eval.txt"
  $py - "$work/report.json" "$work/float_eval.txt" "$work/mixed_eval.txt" $culprits <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
pct = lambda p: float(re.search(r"top1: ([0-9.]+)%", open(p).read()).group(1))
fl, mixed = pct(sys.argv[2]), pct(sys.argv[3])
culprits = sys.argv[4:]
layers = d["layers"]["layers"]
rank = {l["name"]: l["rank"] for l in layers}
c = d["mixed_precision"]["candidates"]
drop_ptq = (c[0]["metric"] - c[1]["metric"]) * 100
print(f"float {fl:.2f}%, PTQ drop {drop_ptq:.2f} points, mixed {mixed:.2f}% "
      f"({len(layers)} layers; culprit ranks {[rank.get(x) for x in culprits]})")
assert drop_ptq > 2, f"PTQ drop {drop_ptq:.2f} is not > 2 points"
for x in culprits:
    assert rank.get(x, 999) <= 3, f"planted layer {x} ranked {rank.get(x)}"
ch = d["mixed_precision"]["chosen"]
assert ch >= 2, "no mixed-precision candidate met the budget"
kept = [l["name"] for l in layers if l["kept_float"]]
assert len(kept) <= 0.10 * len(layers), f"{len(kept)} of {len(layers)} layers in float"
assert fl - mixed <= 0.3 + 1e-9, f"mixed precision {mixed:.2f}% vs float {fl:.2f}%"
assert abs(c[ch]["metric"] * 100 - mixed) < 1e-6, "analyze and eval disagree on the chosen model"
assert not d["recommend_qat"]
PY
  # With at most 2% of the layers (1 of 64) allowed in float the budget cannot be met:
  # the verdict must recommend quantization-aware training and exit 1.
  set +e
  "$nnopt" analyze "$model" --calib "$train" --calib-size 200 --eval "$test_set" \
    --eval-size 500 --sens-size 50 --max-drop 0.3 --max-float-share 0.02 \
    --json "$work/report_qat.json" >"$work/analyze_qat.txt" 2>&1
  rc=$?
  set -e
  sed -n '/== 4/,$p' "$work/analyze_qat.txt"
  [ $rc -eq 1 ] || fail "budget not met but exit $rc"
  grep -q "quantization-aware training" "$work/analyze_qat.txt" || fail "no QAT recommendation"
  ;;
html)
  command -v chromium >/dev/null || { echo "chromium missing (apt-get install chromium): skipped"; exit 77; }
  [ -f "$work/report.html" ] || fail "no report (analyze.fragile_mixed_precision must run first)"
  # Offline: no network needed, so any request would fail the page.
  chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --user-data-dir="$work/chromium-profile" --virtual-time-budget=5000 \
    --dump-dom "file://$work/report.html" >"$work/report.dom.html" 2>"$work/chromium.log" || {
    cat "$work/chromium.log"; fail "chromium failed"; }
  chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --user-data-dir="$work/chromium-profile" --virtual-time-budget=5000 --window-size=1200,2600 \
    --screenshot="$work/report.png" "file://$work/report.html" >/dev/null 2>&1 || true
  $py - "$work/report.json" "$work/report.dom.html" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
dom = open(sys.argv[2]).read()
assert 'data-rendered="1"' in dom, "the report script did not finish"
want = {"mark-sqnr": len(d["layers"]["layers"]), "mark-sens": len(d["layers"]["layers"]),
        "mark-clip": len(d["calibration"]["tensors"]),
        "mark-cand": len(d["mixed_precision"]["candidates"])}
for cls, n in want.items():
    got = len(re.findall(r'class="mark %s"' % cls, dom))
    print(f"{cls}: {got} marks (expected {n})")
    assert got == n and n > 0, cls
assert "Verdict" in dom and d["verdict"][:40] in dom.replace("&lt;", "<").replace("&gt;", ">")
PY
  [ -s "$work/report.png" ] && echo "screenshot: $work/report.png"
  ;;
*) fail "unknown mode $mode" ;;
esac
echo "ok: $mode"
