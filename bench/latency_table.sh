#!/usr/bin/env bash
# The runtime's latency table against ONNX Runtime: FP32 fixtures with --optimize, and the
# INT8 models nnopt makes of them here - static QDQ (16 random calibration inputs, as
# bench/quantize_report.sh) for MobileNetV2, ResNet-18 and the U-Net, dynamic INT8
# (MatMulIntegerToFloat) for BERT-base - which ONNX Runtime runs from the same file.
# Every pair goes through bench/compare_latency.sh (alternating runs, same inputs, same
# thread count), nnopt with --optimize as ONNX Runtime with its default level "all" (on
# the INT8 files too: both fuse BERT's DynamicQuantizeLinear + MatMulIntegerToFloat,
# LayerNorm and Gelu; the static QDQ CNNs run the same with or without); at the end,
# MobileNetV2 INT8 (nnopt) against MobileNetV2 FP32 (ORT).
#
#   bench/latency_table.sh [--nnopt build/nnopt] [--work DIR] [--threads "1 2"]
#                          [--runs 20] [--rounds 3] [--large] [--nice N]
#
# --large adds the 287 MB U-Net (FP32 only; minutes per round). BERT-base runs a quarter
# of --runs (at least 5).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
nnopt=$root/build/nnopt work=${TMPDIR:-/tmp}/nnopt-latency-table
threads="1 2" runs=20 rounds=3 large=0 nice=()
while [ $# -gt 0 ]; do
  case "$1" in
    --nnopt) nnopt=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --large) large=1; shift ;;
    --nice) nice=(--nice "$2"); shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "latency_table: unknown argument $1" >&2; exit 2 ;;
  esac
done
cache=${NNOPT_MODEL_CACHE:-$root/models/cache}
cmp=("$root/bench/compare_latency.sh" --nnopt "$nnopt" --threads "$threads" --rounds "$rounds"
     "${nice[@]}")
brun=$((runs / 4 > 5 ? runs / 4 : 5))
mkdir -p "$work"

fp32="mobilenet_v2 resnet18 unet_small bert_base"
[ "$large" = 1 ] && fp32="$fp32 unet_large"
/usr/bin/python3 "$root/models/export_peer_models.py" --out "$cache" --models "${fp32// /,}" \
  >/dev/null

echo "== INT8 models (static QDQ: 16 random calibration inputs; BERT-base: dynamic)"
/usr/bin/python3 - "$work" "$cache" <<'EOF'
import sys, numpy as np
work, cache = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(0)
for name in ("mobilenet_v2", "unet_small"):
    x = np.load(f"{cache}/{name}/inputs/input.npy")
    np.save(f"{work}/calib_{name}.npy",
            rng.standard_normal((16,) + x.shape[1:]).astype(np.float32))
EOF
for m in mobilenet_v2 resnet18 unet_small; do
  c=mobilenet_v2
  [ "$m" = unet_small ] && c=unet_small
  "$nnopt" quantize "$cache/$m/model.onnx" -o "$work/${m}_int8.onnx" \
    --calib "npy:$work/calib_$c.npy,name=input" --calib-size 16 | tail -1
done
"$nnopt" quantize "$cache/bert_base/model.onnx" -o "$work/bert_base_int8.onnx" --dynamic | tail -1

out=$work/table.txt
: >"$out"
echo "== FP32 (nnopt --optimize; ONNX Runtime level all)" | tee -a "$out"
"${cmp[@]}" --runs "$runs" --models "${fp32/ bert_base/}" | tee -a "$out"
"${cmp[@]}" --runs "$brun" --models bert_base | tail -n +2 | tee -a "$out"
echo "== INT8 (the same file in both runtimes; nnopt --optimize, ONNX Runtime level all)" | tee -a "$out"
first=1
for m in mobilenet_v2 resnet18 unet_small bert_base; do
  r=$runs
  [ "$m" = bert_base ] && r=$brun
  "${cmp[@]}" --runs "$r" --models "$work/${m}_int8.onnx" \
    --inputs "$cache/$m/inputs" | { if [ $first = 1 ]; then cat; else tail -n +2; fi; } |
    tee -a "$out"
  first=0
done
# MobileNetV2 INT8 in nnopt against MobileNetV2 FP32 in ONNX Runtime, single thread
awk '$1 == "mobilenet_v2" && $2 == 1 {ort = $4} $1 == "mobilenet_v2_int8" && $2 == 1 {nn = $3}
     END {if (ort > 0 && nn > 0)
            printf "MobileNetV2 INT8 (nnopt) / MobileNetV2 FP32 (ONNX Runtime), 1 thread: %.2f ms / %.2f ms = %.2f\n", nn, ort, nn / ort}' \
  "$out" | tee -a "$out"
echo "table: $out"
