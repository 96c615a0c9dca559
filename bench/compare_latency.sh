#!/usr/bin/env bash
# Latency of nnopt against ONNX Runtime on the same models, inputs and thread counts:
# the two run alternately (`nnopt bench --json` and `node bench/ort_run.mjs --bench`),
# ROUNDS times each, and the table shows the median over rounds of each runtime's
# median latency (wall clock) and of its CPU time per run, with the ratio nnopt/ORT
# (below 1: nnopt is faster).
#
#   bench/compare_latency.sh [--nnopt build/nnopt] [--models "mobilenet_v2 resnet18 unet_small"]
#                            [--threads "1 2"] [--runs 20] [--rounds 3] [--nice N] [--inputs DIR]
#                            [--no-optimize]
#
# A model is a name under $NNOPT_MODEL_CACHE (default models/cache: <name>/model.onnx and
# <name>/inputs/*.npy, built by models/export_peer_models.py) or a path to an .onnx file
# whose inputs are the .npy files (named after the inputs) in --inputs DIR, by default the
# inputs/ folder beside the model. INT8 QDQ models made by `nnopt quantize` (e.g.
# --models /tmp/mnv2_int8.onnx --inputs models/cache/mobilenet_v2/inputs) compare alike.
# --nice N runs both under `nice -n N` (negative needs root) to keep background load off.
# nnopt runs with --optimize (BN folding, Conv+Relu/Clip fusion), as ORT optimizes with
# its default level "all"; --no-optimize compares the graph as written.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
nnopt=$root/build/nnopt
models="mobilenet_v2 resnet18 unet_small"
threads="1 2" runs=20 rounds=3 nice_n="" inputs="" optimize=--optimize
while [ $# -gt 0 ]; do
  case "$1" in
    --nnopt) nnopt=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --nice) nice_n=$2; shift 2 ;;
    --inputs) inputs=$2; shift 2 ;;
    --no-optimize) optimize=""; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "compare_latency: unknown argument $1" >&2; exit 2 ;;
  esac
done
cache=${NNOPT_MODEL_CACHE:-$root/models/cache}
[ -x "$nnopt" ] || { echo "compare_latency: $nnopt not found (build first)" >&2; exit 1; }
command -v node >/dev/null || { echo "compare_latency: node is not installed" >&2; exit 1; }
[ -d "$root/bench/node_modules/onnxruntime-node" ] ||
  (cd "$root/bench" && npm ci --ignore-scripts >/dev/null) ||
  { echo "compare_latency: cannot install onnxruntime-node" >&2; exit 1; }
pre=()
[ -n "$nice_n" ] && pre=(nice -n "$nice_n")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# field NAME JSON -> the number after "NAME":
field() { sed -n "s/.*\"$1\":\([-0-9.eE+]*\).*/\1/p" <<<"$2"; }
# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

printf '%-16s %3s %12s %12s %7s %12s %12s %7s\n' model thr "nnopt ms" "ORT ms" ratio \
  "nnopt cpu" "ORT cpu" ratio
for m in $models; do
  if [ -f "$m" ]; then
    model=$m name=$(basename "$m" .onnx) indir=${inputs:-$(dirname "$m")/inputs}
  else
    model=$cache/$m/model.onnx name=$m indir=$cache/$m/inputs
  fi
  [ -f "$model" ] || { echo "compare_latency: $model not found" >&2; continue; }
  args=()
  if [ -n "$indir" ] && [ -d "$indir" ]; then
    for f in "$indir"/*.npy; do args+=(--input "$(basename "$f" .npy)=$f"); done
  fi
  if [ ${#args[@]} -eq 0 ]; then
    echo "compare_latency: $name: no inputs under $indir" >&2
    continue
  fi
  for t in $threads; do
    : >"$tmp/nn" ; : >"$tmp/ort"
    for r in $(seq "$rounds"); do
      j=$("${pre[@]}" "$nnopt" bench "$model" "${args[@]}" --threads "$t" --runs "$runs" $optimize --json)
      echo "$(field median_ms "$j") $(field cpu_ms_per_run "$j")" >>"$tmp/nn"
      j=$("${pre[@]}" node "$root/bench/ort_run.mjs" "$model" "${args[@]}" --output-dir "$tmp/out" \
          --threads "$t" --bench "$runs")
      echo "$(field median_ms "$j") $(field cpu_ms_per_run "$j")" >>"$tmp/ort"
    done
    nm=$(cut -d' ' -f1 "$tmp/nn" | median) om=$(cut -d' ' -f1 "$tmp/ort" | median)
    nc=$(cut -d' ' -f2 "$tmp/nn" | median) oc=$(cut -d' ' -f2 "$tmp/ort" | median)
    printf '%-16s %3s %12.2f %12.2f %7.2f %12.2f %12.2f %7.2f\n' "$name" "$t" "$nm" "$om" \
      "$(awk -v a="$nm" -v b="$om" 'BEGIN{print (b>0)?a/b:0}')" "$nc" "$oc" \
      "$(awk -v a="$nc" -v b="$oc" 'BEGIN{print (b>0)?a/b:0}')"
  done
done
