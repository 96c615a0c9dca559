#!/bin/sh
# calib_errors.sh SRC NNOPT WORKDIR - `nnopt quantize --calib` on malformed calibration
# data and awkward models: a wrong input shape, a wrong dtype, an unreadable dtype, an
# empty dataset, NaN and Inf values (in the data, and NaN made inside the model), a
# model with no quantizable op, and a model with an
# op nnopt cannot quantize (LSTM). Errors must be one line naming the culprit, exit
# nonzero and write no output file; the last two succeed with a note naming the node.
set -u
src=$1
nnopt=$2
work=$3
py=/usr/bin/python3
model=$src/models/mobilenetv2_fmnist.onnx
[ -f "$model" ] || { echo "SKIP: $model missing"; exit 77; }
$py -c 'import numpy, onnx' 2>/dev/null || { echo "SKIP: numpy/onnx missing"; exit 77; }
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1

$py - <<'EOF' || exit 1
import numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
rng = np.random.default_rng(0)
img = lambda n, h=32: rng.standard_normal((n, 1, h, h)).astype(np.float32)
np.savez("shape.npz", input=img(4, 28))
np.savez("dtype.npz", input=img(4) > 0)
np.savez("complex.npz", input=img(4).astype(np.complex64))
np.savez("empty.npz", input=np.zeros((0, 1, 32, 32), np.float32))
x = img(4); x[2, 0, 5, 5] = np.nan; np.savez("nan.npz", input=x)
x = img(4); x[1, 0, 3, 3] = -np.inf; np.savez("inf.npz", input=x)
# No quantizable op: a Softmax alone.
X = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
Y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])
g = helper.make_graph([helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=1)], "g", [X], [Y])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "softmax.onnx")
np.savez("x8.npz", x=rng.standard_normal((4, 8)).astype(np.float32))
# An LSTM (no integer form in nnopt) between a Transpose and a Gemm.
T, I, H = 5, 8, 16
X = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, T, I])
Y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
inits = [numpy_helper.from_array(rng.standard_normal((1, 4 * H, I)).astype(np.float32) * 0.2, "W"),
         numpy_helper.from_array(rng.standard_normal((1, 4 * H, H)).astype(np.float32) * 0.2, "R"),
         numpy_helper.from_array(rng.standard_normal((H, 4)).astype(np.float32), "G"),
         numpy_helper.from_array(np.array([1, H], np.int64), "shape")]
nodes = [helper.make_node("Transpose", ["x"], ["xt"], name="tr", perm=[1, 0, 2]),
         helper.make_node("LSTM", ["xt", "W", "R"], ["", "yh"], name="lstm_1", hidden_size=H),
         helper.make_node("Reshape", ["yh", "shape"], ["h"], name="flat"),
         helper.make_node("Gemm", ["h", "G"], ["y"], name="fc")]
g = helper.make_graph(nodes, "g", [X], [Y], inits)
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)]), "lstm.onnx")
np.savez("seq.npz", x=rng.standard_normal((4, T, I)).astype(np.float32))
# Finite data that makes NaN inside the model: Sqrt of negative values.
X = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
Y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
G = numpy_helper.from_array(rng.standard_normal((8, 4)).astype(np.float32), "G")
nodes = [helper.make_node("Sqrt", ["x"], ["r"], name="root"),
         helper.make_node("Gemm", ["r", "G"], ["y"], name="fc")]
g = helper.make_graph(nodes, "g", [X], [Y], [G])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "sqrt.onnx")
EOF

fails=0
# expect_error NAME MODEL DATA REGEX: nonzero exit, no output, one matching error line.
expect_error() {
  rm -f out.onnx
  "$nnopt" quantize "$2" -o out.onnx --calib "npz:$3" >stdout.txt 2>stderr.txt
  rc=$?
  err=$(grep -c "error" stderr.txt)
  if [ $rc -eq 0 ] || [ $rc -gt 100 ]; then
    echo "FAIL $1: exit code $rc"; fails=$((fails + 1))
  elif [ -e out.onnx ]; then
    echo "FAIL $1: an output file was written"; fails=$((fails + 1))
  elif [ "$err" -ne 1 ] || ! grep -Eq "$4" stderr.txt; then
    echo "FAIL $1: message does not match /$4/:"; cat stderr.txt; fails=$((fails + 1))
  else
    echo "ok   $1: $(grep error stderr.txt)"
  fi
}
# expect_note NAME MODEL DATA REGEX: exit 0, an output file, a note matching REGEX.
expect_note() {
  rm -f out.onnx
  "$nnopt" quantize "$2" -o out.onnx --calib "npz:$3" >stdout.txt 2>stderr.txt
  rc=$?
  if [ $rc -ne 0 ] || [ ! -s out.onnx ] || ! grep -Eq "$4" stderr.txt; then
    echo "FAIL $1: exit $rc, note /$4/ expected:"; cat stderr.txt; fails=$((fails + 1))
  else
    echo "ok   $1: $(grep -E "$4" stderr.txt)"
  fi
}

expect_error wrong_shape "$model" shape.npz "input 'input'.*dim 2 is 28.*expects 32"
expect_error wrong_dtype "$model" dtype.npz "input 'input'.*dtype bool.*expects float32"
expect_error unreadable_dtype "$model" complex.npz "complex.npz.*dtype.*unsupported"
expect_error empty "$model" empty.npz "empty.npz: the calibration dataset is empty"
expect_error nan "$model" nan.npz "calibration sample 2, input 'input': element [0-9]+ is NaN"
expect_error inf "$model" inf.npz "calibration sample 1, input 'input': element [0-9]+ is Inf"
expect_error nan_inside sqrt.onnx x8.npz "tensor 'r' \(output of node 'root' \(Sqrt\)\) has NaN values"
expect_note no_quantizable_op softmax.onnx x8.npz "no quantizable op found"
expect_note unquantizable_op lstm.onnx seq.npz "node 'lstm_1' \(LSTM\): kept in float"
# The Gemm after the LSTM is still quantized.
grep -q "^1 ops quantized" stdout.txt || { echo "FAIL unquantizable_op: Gemm not quantized"; cat stdout.txt; fails=$((fails + 1)); }

[ $fails -eq 0 ] && echo "all cases OK"
exit $fails
