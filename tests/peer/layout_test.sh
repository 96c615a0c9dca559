#!/usr/bin/env bash
# Layout test: a float fixture run channel-last (NNOPT_F32_LAYOUT=nhwc: every convolution
# chain, src/passes/nhwc.c) against the planar run, optimized as the CLI does; outputs
# must agree within rtol 1e-4 / atol 1e-5 (float sums in another order), and a ConvNhwc
# must have run.
#
#   layout_test.sh SRC NNOPT WORKDIR MODEL
set -euo pipefail
src=$1 nnopt=$2 work=$3 model=$4
cache=${NNOPT_MODEL_CACHE:-$src/models/cache}
/usr/bin/python3 -c 'import torch, torchvision, onnx' 2>/dev/null || { echo "skip: python3-torch missing"; exit 77; }
/usr/bin/python3 "$src/models/export_peer_models.py" --out "$cache" --models "$model" >/dev/null
in=()
for f in "$cache/$model"/inputs/*.npy; do in+=(--input "$(basename "$f" .npy)=$f"); done
rm -rf "$work/nchw"
mkdir -p "$work"
NNOPT_F32_LAYOUT=nchw "$nnopt" run "$cache/$model/model.onnx" --optimize "${in[@]}" \
  --output-dir "$work/nchw" >/dev/null
NNOPT_F32_LAYOUT=nhwc "$nnopt" bench "$cache/$model/model.onnx" --optimize "${in[@]}" --runs 1 \
  --warmup 0 --profile --top 1 | grep -q ConvNhwc || { echo "FAIL: no ConvNhwc ran"; exit 1; }
NNOPT_F32_LAYOUT=nhwc "$nnopt" run "$cache/$model/model.onnx" --optimize "${in[@]}" \
  --compare "$work/nchw" --rtol 1e-4 --atol 1e-5
