#!/usr/bin/env bash
# The com.nnopt channel-last ops written straight into a model (only the runtime's own
# pass makes them, but a model file can hold anything): malformed nodes fail with a
# one-line error naming the node, a weight that is a graph input is refused (it has no
# value when the kernels pack weights), and well-formed ones run.
#
#   nhwc_ops_test.sh NNOPT WORKDIR
set -euo pipefail
nnopt=$1 work=$2
/usr/bin/python3 -c 'import onnx, numpy' 2>/dev/null || { echo "skip: python3-onnx missing"; exit 77; }
rm -rf "$work"
mkdir -p "$work"
/usr/bin/python3 - "$work" <<'PY'
import sys, numpy as np, onnx
from onnx import helper as h, TensorProto as T, numpy_helper as nh
d = sys.argv[1]
def mk(name, node, x, inits=(), extra=()):
    g = h.make_graph([node], name, [h.make_tensor_value_info("x", x[0], x[1])] + list(extra),
                     [h.make_tensor_value_info("y", T.UNDEFINED, None)], list(inits))
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 17), h.make_opsetid("com.nnopt", 1)]),
              f"{d}/{name}.onnx")
n = lambda op, ins, **a: h.make_node(op, ins, ["y"], domain="com.nnopt", **a)
u8, f32 = (T.UINT8, [1, 5, 5, 3]), (T.FLOAT, [1, 5, 5, 3])
w = nh.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
wq = nh.from_array(np.ones((4, 3, 3, 3), np.int8), "wq")
s = nh.from_array(np.array(0.1, np.float32), "s")
z = nh.from_array(np.array(3, np.uint8), "z")
wz = nh.from_array(np.zeros(4, np.int8), "wz")
bad = {
    "to_channels": (n("ToNhwc", ["x"], channels=-5), (T.UINT8, [1, 3, 4, 4]), ()),
    "to_rank": (n("ToNhwc", ["x"]), (T.FLOAT, [3, 4]), ()),
    "pool_kernel": (n("MaxPoolNhwc", ["x"], kernel_shape=[0, 0]), u8, ()),
    "conv_group": (n("ConvNhwc", ["x", "w"], group=2), f32, (w,)),
    "conv_extent": (n("ConvNhwc", ["x", "w"], dilations=[100, 100]), f32, (w,)),
    "conv_clip": (n("ConvNhwc", ["x", "w"], activation="Clip"), f32, (w,)),
    "qconv_wzp": (n("QLinearConvNhwc", ["x", "s", "z", "wq", "s", "z", "s", "z"]), u8, (wq, s, z)),
    "qgap_inputs": (n("QGlobalAvgPoolNhwc", ["x"]), u8, ()),
    "gap_rank": (n("GlobalAvgPoolNhwc", ["x"]), (T.FLOAT, [4, 3]), ()),
}
for k, (node, x, inits) in bad.items():
    mk("bad_" + k, node, x, inits)
mk("bad_conv_weight_input", n("ConvNhwc", ["x", "w2"]), f32,
   extra=[h.make_tensor_value_info("w2", T.FLOAT, [4, 3, 3, 3])])
mk("ok_conv", n("ConvNhwc", ["x", "w"], pads=[1, 1, 1, 1], activation="Relu"), f32, (w,))
mk("ok_qconv", n("QLinearConvNhwc", ["x", "s", "z", "wq", "s", "wz", "s", "z"], pads=[1, 1, 1, 1]),
   u8, (wq, s, z, wz))
mk("ok_pool", n("MaxPoolNhwc", ["x"], kernel_shape=[2, 2], pads=[1, 1, 1, 1]), u8)
np.save(f"{d}/u8.npy", np.arange(75, dtype=np.uint8).reshape(1, 5, 5, 3))
np.save(f"{d}/u8c.npy", np.arange(48, dtype=np.uint8).reshape(1, 3, 4, 4))
np.save(f"{d}/f.npy", np.linspace(-1, 1, 75, dtype=np.float32).reshape(1, 5, 5, 3))
np.save(f"{d}/f2.npy", np.ones((3, 4), np.float32))
np.save(f"{d}/w2.npy", np.ones((4, 3, 3, 3), np.float32))
PY
fail=0
for m in "$work"/bad_*.onnx; do
  case $(basename "$m") in
    bad_to_channels.onnx) in=u8c ;; bad_to_rank.onnx | bad_gap_rank.onnx) in=f2 ;;
    bad_pool_kernel.onnx | bad_qconv_wzp.onnx | bad_qgap_inputs.onnx) in=u8 ;; *) in=f ;;
  esac
  extra=()
  [ "$(basename "$m")" = bad_conv_weight_input.onnx ] && extra=(--input "w2=$work/w2.npy")
  if [ "$in" = f2 ] && [ "$(basename "$m")" = bad_gap_rank.onnx ]; then
    /usr/bin/python3 -c "import numpy as np; np.save('$work/f2.npy', np.ones((4, 3), np.float32))"
  fi
  set +e
  out=$("$nnopt" run "$m" --input "x=$work/$in.npy" "${extra[@]}" 2>&1)
  rc=$?
  set -e
  if [ $rc -eq 0 ] || [ $rc -ge 128 ] || ! echo "$out" | grep -q "error: .*node #0 ("; then
    echo "FAIL: $(basename "$m"): exit $rc: $out"
    fail=1
  else
    echo "ok   $(basename "$m"): $(echo "$out" | tail -1)"
  fi
done
"$nnopt" run "$work/ok_conv.onnx" --input "x=$work/f.npy" | grep -q "float32 \[1,5,5,4\]"
"$nnopt" run "$work/ok_qconv.onnx" --input "x=$work/u8.npy" | grep -q "uint8 \[1,5,5,4\]"
"$nnopt" run "$work/ok_pool.onnx" --input "x=$work/u8.npy" | grep -q "uint8 \[1,6,6,3\]"
[ $fail = 0 ] && echo ok
