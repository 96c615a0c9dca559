#!/usr/bin/env bash
# Install the Debian 12 packages nnopt needs to build, test and run its peers.
# Idempotent: installs only what is missing. As non-root with packages missing, it
# prints the exact apt-get line to run and exits 1.
set -euo pipefail

# build + unit/conformance tests
PKGS=(build-essential cmake pkg-config libprotobuf-c-dev protobuf-c-compiler libonnx-dev
      libonnx-testdata libcmocka-dev libcjson-dev zlib1g-dev libstb-dev clang libclang-rt-14-dev)
# fixtures and peers: PyTorch export/training, ONNX Runtime via npm, datasets, audio
PKGS+=(python3-torch python3-torchvision python3-onnx python3-numpy dataset-fashion-mnist
       espeak-ng sox)
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "nnopt: missing Debian packages; run:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "nnopt: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
