#!/usr/bin/env bash
# Compare nnopt with ONNX Runtime on the full-size fixture models: outputs (max abs/rel
# difference, pass/fail at rtol/atol) and latency, printed as a table.
#
#   bench/compare_ort.sh [--nnopt build/nnopt] [--models "mobilenet_v2 resnet18 bert_base unet_large"]
#                        [--runs N] [--threads T] [--rtol 1e-4] [--atol 1e-5] [--work DIR]
#
# Models are exported into $NNOPT_MODEL_CACHE (default models/cache) on first use; any
# name known to models/export_peer_models.py or models/fetch_npm_models.py works.
# Latency with T=1 (default): CPU time (user+sys) per inference for both, which other load
# on the machine does not inflate: ONNX Runtime's over N runs after 3 warm-ups
# (bench/ort_run.mjs --bench), nnopt's as (cpu(run --repeat 1+N) - cpu(run --repeat 1)) / N,
# so loading and session creation cancel out. With T>1, ORT's wall-clock median is shown
# instead (nnopt runs single-threaded), and the machine should be otherwise idle.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
nnopt=$root/build/nnopt
models="mobilenet_v2 resnet18 bert_base unet_large"
runs=5 threads=1 rtol=1e-4 atol=1e-5 work=""
while [ $# -gt 0 ]; do
  case "$1" in
    --nnopt) nnopt=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --rtol) rtol=$2; shift 2 ;;
    --atol) atol=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "compare_ort: unknown argument $1" >&2; exit 2 ;;
  esac
done
cache=${NNOPT_MODEL_CACHE:-$root/models/cache}
work=${work:-$cache/compare_ort}
clock=cpu
[ "$threads" = 1 ] || clock=wall
py=/usr/bin/python3
[ -x "$nnopt" ] || { echo "compare_ort: $nnopt not found (build first: cmake --build build)" >&2; exit 1; }
command -v node >/dev/null || { echo "compare_ort: node is not installed" >&2; exit 1; }
if ! cmp -s "$root/bench/node_modules/.nnopt-installed" "$root/bench/package-lock.json"; then
  (cd "$root/bench" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  cp "$root/bench/package-lock.json" "$root/bench/node_modules/.nnopt-installed"
fi

# cpu_time VAR CMD...: run CMD (output to $work/$m/LOG.txt via caller), store user+sys seconds.
cpu_time() {
  local __var=$1 __log=$2; shift 2
  local TIMEFORMAT='%3U %3S' __t __rc
  set +e
  __t=$( { time "$@" > "$__log" 2>&1 ; } 2>&1 )
  __rc=$?
  set -e
  printf -v "$__var" '%s' "$(awk '{ printf "%.3f", $1 + $2 }' <<< "$__t")"
  return $__rc
}
rows=()
status=0
for m in $models; do
  dir=$cache/$m
  if [ ! -f "$dir/meta.json" ]; then
    case "$m" in
      paddleocr_*|silero_vad*) "$py" "$root/models/fetch_npm_models.py" --out "$cache" --models "$m" >&2 ;;
      *) "$py" "$root/models/export_peer_models.py" --out "$cache" --models "$m" >&2 ;;
    esac
  fi
  [ -d "$dir/inputs" ] || { echo "compare_ort: $m has no inputs/ (stateful models: use tests/peer)" >&2; continue; }
  args=()
  for f in "$dir"/inputs/*.npy; do args+=(--input "$(basename "$f" .npy)=$f"); done
  ref=$work/$m/ort
  rm -rf "$work/$m"
  mkdir -p "$work/$m"
  ort_json=$(node "$root/bench/ort_run.mjs" "$dir/model.onnx" "${args[@]}" --output-dir "$ref" \
             --threads "$threads" --bench "$runs")
  ort_ms=$(node -e 'const j = JSON.parse(process.argv[1]);
    console.log((process.argv[2] === "cpu" ? j.cpu_ms_per_run : j.median_ms).toFixed(2))' "$ort_json" "$clock")

  rc=0
  cpu_time c1 "$work/$m/nnopt_compare.txt" \
    "$nnopt" run "$dir/model.onnx" "${args[@]}" --compare "$ref" --rtol "$rtol" --atol "$atol" || rc=$?
  cmp_lines=$(grep -E 'max_abs=' "$work/$m/nnopt_compare.txt" || true)
  max_abs=$(printf '%s\n' "$cmp_lines" | sed -n 's/.*max_abs=\([^ ]*\).*/\1/p' | sort -g | tail -1)
  max_rel=$(printf '%s\n' "$cmp_lines" | sed -n 's/.*max_rel=\([^ ]*\).*/\1/p' | sort -g | tail -1)
  if [ "$rc" = 0 ]; then
    result=OK
    cpu_time cn "$work/$m/nnopt_repeat.txt" "$nnopt" run "$dir/model.onnx" "${args[@]}" --repeat $((runs + 1))
    nn_ms=$(awk -v a="$c1" -v b="$cn" -v n="$runs" 'BEGIN { printf "%.2f", (b - a) * 1000 / n }')
    ratio=$(awk -v x="$nn_ms" -v y="$ort_ms" 'BEGIN { printf "%.2f", x / y }')
  else
    result=FAIL status=1 nn_ms=- ratio=-
    echo "compare_ort: $m: nnopt failed or differs; see $work/$m/nnopt_compare.txt" >&2
    tail -3 "$work/$m/nnopt_compare.txt" >&2
  fi
  mb=$(awk -v b="$(stat -c %s "$dir/model.onnx")" 'BEGIN { printf "%.1f", b / 1e6 }')
  rows+=("$(printf '| %-14s | %8s | %10s | %10s | %7s | %10s | %10s | %-4s |' \
           "$m" "$mb" "$ort_ms" "$nn_ms" "$ratio" "${max_abs:--}" "${max_rel:--}" "$result")")
done

echo
echo "nnopt vs ONNX Runtime ($(node -e 'console.log(require(process.argv[1]).version)' \
  "$root/bench/node_modules/onnxruntime-node/package.json"), $threads thread(s)); ms per inference, ORT: $( [ $clock = cpu ] && echo "CPU time, mean" || echo "wall median") of $runs runs, nnopt: CPU time, mean of $runs; rtol=$rtol atol=$atol"
printf '| %-14s | %8s | %10s | %10s | %7s | %10s | %10s | %-4s |\n' \
  model "size MB" "ORT ms" "nnopt ms" ratio max_abs max_rel ok
echo "|----------------|----------|------------|------------|---------|------------|------------|------|"
printf '%s\n' "${rows[@]}"
echo
echo "reproduce: bench/compare_ort.sh --models \"$models\" --runs $runs --threads $threads"
exit $status
