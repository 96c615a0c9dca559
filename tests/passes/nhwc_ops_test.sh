#!/usr/bin/env bash
# The com.nnopt channel-last ops written straight into a model (only the runtime's own
# pass makes them, but a model file can hold anything): malformed nodes fail with a
# one-line error naming the node, a weight that is a graph input is refused (it has no
# value when the kernels pack weights), and well-formed ones run (a Winograd-shaped
# ConvNhwc and a float MaxPoolNhwc against numpy).
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
# Winograd geometry (3x3, stride 1, 8 channels in and out) and a float MaxPool: values
# checked against numpy below
rng = np.random.default_rng(1)
w8 = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
b8 = rng.standard_normal(8).astype(np.float32)
x8 = rng.standard_normal((2, 7, 6, 8)).astype(np.float32)
mk("ok_conv_wino", n("ConvNhwc", ["x", "w8", "b8"], pads=[1, 2, 2, 0]), (T.FLOAT, [2, 7, 6, 8]),
   (nh.from_array(w8, "w8"), nh.from_array(b8, "b8")))
mk("ok_pool_f32", n("MaxPoolNhwc", ["x"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
   (T.FLOAT, [2, 7, 6, 8]))
np.save(f"{d}/x8.npy", x8)
xp = np.pad(x8, ((0, 0), (1, 2), (2, 0), (0, 0)))
oh, ow = xp.shape[1] - 2, xp.shape[2] - 2
want = np.zeros((2, oh, ow, 8), np.float64) + b8
for ky in range(3):
    for kx in range(3):
        want += np.einsum("nhwc,mc->nhwm", xp[:, ky:ky + oh, kx:kx + ow, :], w8[:, :, ky, kx])
np.save(f"{d}/want_wino.npy", want.astype(np.float32))
xq = np.pad(x8, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
np.save(f"{d}/want_pool.npy", np.stack([np.stack([xq[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3, :].max(axis=(1, 2))
                                                  for j in range(3)], 1) for i in range(4)], 1))
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
for k in wino pool; do
  mf=$work/ok_conv_wino.onnx
  [ $k = pool ] && mf=$work/ok_pool_f32.onnx
  rm -rf "$work/out_$k"
  mkdir -p "$work/out_$k"
  "$nnopt" run "$mf" --input "x=$work/x8.npy" --output-dir "$work/out_$k" >/dev/null
  /usr/bin/python3 -c "
import numpy as np, sys
y, w = np.load('$work/out_$k/y.npy'), np.load('$work/want_$k.npy')
ok = y.shape == w.shape and np.allclose(y, w, rtol=1e-4, atol=1e-5)
print('ok   $k values' if ok else 'FAIL: $k: %s %s max diff %s' % (y.shape, w.shape, np.abs(y - w).max() if y.shape == w.shape else '-'))
sys.exit(0 if ok else 1)" || fail=1
done
[ $fail = 0 ] && echo ok
