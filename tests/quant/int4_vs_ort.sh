#!/usr/bin/env bash
# Usage: int4_vs_ort.sh SRC NNOPT WORKDIR
# INT4 block-wise weights (com.microsoft MatMulNBits) in ONNX Runtime and in nnopt:
#  1. a small MatMul + Gemm(transB, bias) model with K=100 (not a multiple of any block:
#     the last block is padded) and N=33, batch dims [2,3], for block sizes 32 and 128;
#  2. the trained BERT SST-2 fixture (first 16 dev sentences), block 32.
# ONNX Runtime runs each quantized file with its own MatMulNBits kernel (fp32 compute,
# accuracy_level 0); nnopt's outputs must agree within 1e-4 absolute (both dequantize
# the same codes exactly and differ only in summation order; measured max 1e-6 on BERT
# logits of magnitude ~3). The quantized outputs must also stay near the float model's
# (rms error under 20% of the rms output, measured 5-10%: the codes are not garbage both sides agree on).
set -euo pipefail
src=$1 nnopt=$2 work=$3
command -v node >/dev/null || { echo "skip: node not installed"; exit 77; }
/usr/bin/python3 -c 'import onnx, numpy' 2>/dev/null || { echo "skip: python3-onnx missing"; exit 77; }
mkdir -p "$work"
cd "$work"
/usr/bin/python3 - <<'PY'
import numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
rng = np.random.default_rng(0)
K, N, G = 100, 33, 17
w = (rng.standard_normal((K, N)) * 0.1).astype(np.float32)
g = (rng.standard_normal((G, K)) * 0.1).astype(np.float32)
c = rng.standard_normal((G,)).astype(np.float32)
nodes = [helper.make_node('MatMul', ['x', 'w'], ['y']),
         helper.make_node('Reshape', ['x', 'shp'], ['x2']),
         helper.make_node('Gemm', ['x2', 'g', 'c'], ['y2'], transB=1)]
inits = [numpy_helper.from_array(w, 'w'), numpy_helper.from_array(g, 'g'),
         numpy_helper.from_array(c, 'c'),
         numpy_helper.from_array(np.array([-1, K], dtype=np.int64), 'shp')]
graph = helper.make_graph(nodes, 'int4_pad', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [2, 3, K])],
    [helper.make_tensor_value_info('y', TensorProto.FLOAT, [2, 3, N]),
     helper.make_tensor_value_info('y2', TensorProto.FLOAT, [6, G])], inits)
m = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
m.ir_version = 8
onnx.checker.check_model(m)
onnx.save(m, 'pad.onnx')
np.save('x.npy', rng.standard_normal((2, 3, K)).astype(np.float32))
PY
rm -rf float_out
"$nnopt" run pad.onnx --input x=x.npy --output-dir float_out >/dev/null
for b in 32 128; do
  "$nnopt" quantize pad.onnx -o "pad_b$b.onnx" --weight-only int4 --block-size $b
  rm -rf "ort_b$b"
  node "$src/bench/ort_run.mjs" "pad_b$b.onnx" --input x=x.npy --output-dir "ort_b$b"
  "$nnopt" run "pad_b$b.onnx" --input x=x.npy --compare "ort_b$b" --rtol 0 --atol 1e-4
  rm -rf "q_b$b"
  "$nnopt" run "pad_b$b.onnx" --input x=x.npy --output-dir "q_b$b" >/dev/null
  /usr/bin/python3 -c "
import numpy as np, sys
for o in ('y', 'y2'):
    f, q = np.load('float_out/%s.npy' % o), np.load('q_b$b/%s.npy' % o)
    r = np.sqrt(((q - f) ** 2).mean() / (f ** 2).mean())
    print('block $b %s: rms error / rms output = %.4f' % (o, r))
    if not r < 0.2: sys.exit('FAIL: int4 output too far from float')"
done
bert=$src/models/bert_sst2.onnx
if [ -f "$bert" ]; then
  /usr/bin/python3 -c "
import numpy as np
d = np.load('$src/models/sst2_dev_tokens.npz')
np.save('ids.npy', d['input_ids'][:16]); np.save('mask.npy', d['attention_mask'][:16])"
  "$nnopt" quantize "$bert" -o bert_int4.onnx --weight-only int4 --block-size 32
  before=$(stat -c %s "$bert") after=$(stat -c %s bert_int4.onnx)
  echo "file: $before -> $after bytes"
  [ "$after" -lt "$before" ] || { echo "FAIL: the int4 file is not smaller"; exit 1; }
  rm -rf ort_bert
  node "$src/bench/ort_run.mjs" bert_int4.onnx --input input_ids=ids.npy --input attention_mask=mask.npy --output-dir ort_bert
  "$nnopt" run bert_int4.onnx --input input_ids=ids.npy --input attention_mask=mask.npy --compare ort_bert --rtol 0 --atol 1e-4
fi
