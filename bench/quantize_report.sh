#!/usr/bin/env bash
# Measures nnopt's post-training quantization on the scenario models and prints the
# figures the quantization issue asks for:
#   1. torchvision MobileNetV2 (1000 classes): FP32 file -> static INT8 QDQ file size,
#      and ONNX Runtime running the QDQ file (outputs compared with nnopt's);
#   2. MobileNetV2 Fashion-MNIST: static INT8 top-1 (500 calibration images) vs FP32, next
#      to PyTorch PTQ with the same images (bench/results/pytorch_ptq_*.json);
#   3. BERT SST-2: dynamic INT8 F1 vs FP32 (872 dev sentences), next to PyTorch dynamic.
# Usage: bench/quantize_report.sh [--nnopt build/nnopt] [--work DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
nnopt=$root/build/nnopt work=${TMPDIR:-/tmp}/nnopt-quantize-report
while [ $# -gt 0 ]; do
  case "$1" in
    --nnopt) nnopt=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "quantize_report: unknown argument $1" >&2; exit 2 ;;
  esac
done
cache=${NNOPT_MODEL_CACHE:-$root/models/cache}
fm=/usr/share/datasets/fashion-mnist pre="pad=2,mean=0.2860,std=0.3530"
mkdir -p "$work"

echo "== 1. torchvision MobileNetV2, 1000 classes (random init), static INT8 QDQ"
/usr/bin/python3 "$root/models/export_peer_models.py" --out "$cache" --models mobilenet_v2 >/dev/null
/usr/bin/python3 -c "
import numpy as np
rng = np.random.default_rng(0)
np.save('$work/calib224.npy', rng.standard_normal((16, 3, 224, 224)).astype(np.float32))"
"$nnopt" quantize "$cache/mobilenet_v2/model.onnx" -o "$work/mobilenet_v2_int8.onnx" \
  --calib "npy:$work/calib224.npy,name=input" --calib-size 16 | tail -5
rm -rf "$work/ort"
node "$root/bench/ort_run.mjs" "$work/mobilenet_v2_int8.onnx" \
  --input "input=$cache/mobilenet_v2/inputs/input.npy" --output-dir "$work/ort"
echo "ONNX Runtime runs the QDQ file; nnopt vs ONNX Runtime:"
"$nnopt" run "$work/mobilenet_v2_int8.onnx" --input "input=$cache/mobilenet_v2/inputs/input.npy" \
  --compare "$work/ort" --rtol 0 --atol 1e-3 | grep -E "max_abs"

echo
echo "== 2. MobileNetV2 Fashion-MNIST, static INT8 (500 calibration images, 10,000 test images)"
for m in minmax percentile entropy mse; do
  echo "-- method $m"
  "$nnopt" quantize "$root/models/mobilenetv2_fmnist.onnx" -o "$work/fmnist_$m.onnx" \
    --calib "idx:$fm/train-images-idx3-ubyte.gz,$pre" --calib-size 500 --method "$m" \
    --eval "idx:$fm/t10k-images-idx3-ubyte.gz,labels=$fm/t10k-labels-idx1-ubyte.gz,$pre" \
    --metric top1 | grep -E "top1|file size|latency"
done
if [ -f "$root/bench/results/pytorch_ptq_mobilenetv2_fmnist.json" ]; then
  echo "-- PyTorch PTQ, same 500 images (bench/results/pytorch_ptq_mobilenetv2_fmnist.json):"
  /usr/bin/python3 - "$root/bench/results/pytorch_ptq_mobilenetv2_fmnist.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for v in d["results"]:
    print(f"   {v['variant']:36s} top1 {100 * v['accuracy']:.2f}% "
          f"({v['correct']}/{v['samples']}), {v['size_bytes'] / 1e6:.2f} MB")
PY
fi

echo
echo "== 3. BERT SST-2, dynamic INT8 (872 dev sentences)"
"$nnopt" quantize "$root/models/bert_sst2.onnx" -o "$work/bert_sst2_dynamic.onnx" --dynamic \
  --eval "npz:$root/models/sst2_dev_tokens.npz,inputs=input_ids+attention_mask,labels=labels" \
  --metric f1 | grep -E "f1|file size|latency"
