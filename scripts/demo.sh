#!/usr/bin/env bash
# The main job on the bundled default model: install what is needed, build nnopt, then
# inspect the trained MobileNetV2 (Fashion-MNIST), quantize it to INT8 with 500
# calibration images from the training split, and measure file size, accuracy on the
# 10,000 test images and latency before and after. The INT8 model is written to
# build/demo/mobilenetv2_fmnist_int8.onnx (a QDQ model ONNX Runtime also runs).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target nnopt >/dev/null
model=models/mobilenetv2_fmnist.onnx
fm=/usr/share/datasets/fashion-mnist
pre="pad=2,mean=0.2860,std=0.3530" # as models/mobilenetv2_fmnist.json says
mkdir -p build/demo
echo "== nnopt inspect $model"
./build/nnopt inspect "$model"
echo
echo "== nnopt quantize $model (static INT8, 500 calibration images)"
./build/nnopt quantize "$model" -o build/demo/mobilenetv2_fmnist_int8.onnx \
  --calib "idx:$fm/train-images-idx3-ubyte.gz,$pre" --calib-size 500 \
  --eval "idx:$fm/t10k-images-idx3-ubyte.gz,labels=$fm/t10k-labels-idx1-ubyte.gz,$pre" \
  --metric top1
