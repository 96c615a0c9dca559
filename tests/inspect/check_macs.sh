#!/usr/bin/env bash
# Usage: check_macs.sh SRC_DIR NNOPT. Exports the torchvision models into the model cache
# if needed, then checks `nnopt inspect --json` MACs within 2% of the published figures.
set -euo pipefail
src=$1 nnopt=$2
cache=${NNOPT_MODEL_CACHE:-$src/models/cache}
if ! /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null; then
  echo "skip: Debian python3-torch/python3-torchvision are not installed"; exit 77
fi
/usr/bin/python3 "$src/models/export_peer_models.py" --out "$cache" --models mobilenet_v2,resnet18 >/dev/null
fail=0
check() { # model published_macs
  local macs
  macs=$("$nnopt" inspect --json "$cache/$1/model.onnx" | /usr/bin/python3 -c 'import json,sys; print(int(json.load(sys.stdin)["macs"]))')
  if /usr/bin/python3 -c "import sys; sys.exit(0 if abs($macs/$2 - 1) <= 0.02 else 1)"; then
    echo "$1: $macs MACs (published $2): ok"
  else
    echo "$1: $macs MACs, published $2: off by more than 2%"; fail=1
  fi
}
check mobilenet_v2 300000000
check resnet18 1814000000
exit $fail
