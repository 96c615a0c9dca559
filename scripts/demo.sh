#!/usr/bin/env bash
# The main job on the bundled default model: install what is needed, build nnopt,
# then inspect the model and run it on real Fashion-MNIST test images.
# Usage: scripts/demo.sh [MODEL.onnx [INPUT.npy]]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target nnopt >/dev/null
model=${1:-models/mobilenetv2_fmnist.onnx}
input=${2:-models/mobilenetv2_fmnist_sample.npy}
echo "== nnopt inspect $model"
./build/nnopt inspect "$model"
echo
echo "== nnopt run $model --input $input"
./build/nnopt run "$model" --input "$input"
