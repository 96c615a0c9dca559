#!/usr/bin/env bash
# Train the committed fixtures one after the other, at the lowest CPU priority, one thread
# each: models/mobilenetv2_fmnist.{onnx,json,log}, then models/bert_sst2.{onnx,json,log}
# with its vocabulary and tokenized dev set. About 40 + 15 min with one free core.
#
#   models/train_fixtures.sh [mobilenet|bert|all]      (default all)
#
# Debian's torch links the reference BLAS through libblas.so.3, which makes BERT training
# ~10x slower; when libopenblas0-pthread is installed, its libblas is used for these runs
# only (LD_LIBRARY_PATH), without changing the system's BLAS alternative.
set -euo pipefail
cd "$(dirname "$0")"
what=${1:-all}
export PYTHONWARNINGS=ignore OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
oblas=/usr/lib/x86_64-linux-gnu/openblas-pthread
[ -e "$oblas/libblas.so.3" ] && export LD_LIBRARY_PATH=$oblas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
mkdir -p cache
if [ "$what" = all ] || [ "$what" = mobilenet ]; then
  nice -n 19 /usr/bin/python3 train_mobilenet_fmnist.py > mobilenetv2_fmnist.log 2> cache/train_mobilenet.stderr
fi
if [ "$what" = all ] || [ "$what" = bert ]; then
  nice -n 19 /usr/bin/python3 train_bert_sst2.py > bert_sst2.log 2> cache/train_bert.stderr
fi
