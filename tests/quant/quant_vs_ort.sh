#!/usr/bin/env bash
# Usage: quant_vs_ort.sh SRC NNOPT WORKDIR MODEL static|dynamic
# Quantizes a cached fixture with nnopt, checks the file shrank, runs the result in ONNX
# Runtime and in nnopt, and compares outputs. Static: calibration on 16 deterministic
# random images; tolerance 1e-3 absolute (the same integer arithmetic on both sides).
# Static models also run channel-last (NNOPT_Q8_LAYOUT=nhwc) against planar, exactly.
# Dynamic: activations are quantized per run, and ONNX Runtime fuses the rescale
# differently; tolerance 1e-2 absolute on outputs of magnitude ~5.
set -euo pipefail
src=$1 nnopt=$2 work=$3 model=$4 kind=$5
cache=${NNOPT_MODEL_CACHE:-$src/models/cache}
command -v node >/dev/null || { echo "skip: node not installed"; exit 77; }
/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null || { echo "skip: python3-torch missing"; exit 77; }
/usr/bin/python3 "$src/models/export_peer_models.py" --out "$cache" --models "$model" >/dev/null
mkdir -p "$work"
in=()
for f in "$cache/$model"/inputs/*.npy; do
  n=$(basename "$f" .npy)
  in+=(--input "$n=$f")
done
if [ "$kind" = static ]; then
  /usr/bin/python3 -c "
import numpy as np
x = np.load('$cache/$model/inputs/input.npy')
rng = np.random.default_rng(0)
np.save('$work/calib.npy', rng.standard_normal((16,) + x.shape[1:]).astype(np.float32))"
  "$nnopt" quantize "$cache/$model/model.onnx" -o "$work/q.onnx" \
    --calib "npy:$work/calib.npy,name=input" --calib-size 16
  atol=1e-3
else
  "$nnopt" quantize "$cache/$model/model.onnx" -o "$work/q.onnx" --dynamic
  atol=1e-2
fi
before=$(stat -c %s "$cache/$model/model.onnx") after=$(stat -c %s "$work/q.onnx")
echo "file: $before -> $after bytes"
[ "$after" -lt "$before" ] || { echo "FAIL: the quantized file is not smaller"; exit 1; }
rm -rf "$work/ort"
node "$src/bench/ort_run.mjs" "$work/q.onnx" "${in[@]}" --output-dir "$work/ort"
"$nnopt" run "$work/q.onnx" "${in[@]}" --compare "$work/ort" --rtol 0 --atol "$atol"
if [ "$kind" = static ]; then
  # The channel-last integer path (src/passes/nhwc.c; its scalar kernels where the CPU
  # lacks the fast ones) gives the planar path's outputs bit for bit.
  rm -rf "$work/nchw"
  NNOPT_Q8_LAYOUT=nchw "$nnopt" run "$work/q.onnx" "${in[@]}" --output-dir "$work/nchw" >/dev/null
  NNOPT_Q8_LAYOUT=nhwc "$nnopt" bench "$work/q.onnx" "${in[@]}" --runs 1 --warmup 0 --profile \
    --top 1 | grep -q QLinearConvNhwc || { echo "FAIL: no channel-last convolution ran"; exit 1; }
  NNOPT_Q8_LAYOUT=nhwc "$nnopt" run "$work/q.onnx" "${in[@]}" --compare "$work/nchw" --rtol 0 --atol 0
fi
