#!/usr/bin/env bash
# ISA test: a whole fixture run at every kernel level this CPU has (NNOPT_ISA=avx2,
# avx512, avx512vnni on x86-64) against the plain-C reference level (NNOPT_ISA=ref),
# optimized as the CLI does. Float models agree within rtol 1e-4 / atol 1e-5 (sums in
# another order, Winograd); with --int8 the model is first quantized to static QDQ
# (16 random calibration inputs) and every level must give the reference's outputs bit
# for bit (integer sums, the same requantization).
#
#   isa_test.sh SRC NNOPT WORKDIR MODEL [--int8]
set -euo pipefail
src=$1 nnopt=$2 work=$3 model=$4 int8=${5:-}
cache=${NNOPT_MODEL_CACHE:-$src/models/cache}
/usr/bin/python3 -c 'import torch, torchvision, onnx, numpy' 2>/dev/null ||
  { echo "skip: python3-torch missing"; exit 77; }
/usr/bin/python3 "$src/models/export_peer_models.py" --out "$cache" --models "$model" >/dev/null
rm -rf "$work"
mkdir -p "$work/ref"
in=()
for f in "$cache/$model"/inputs/*.npy; do in+=(--input "$(basename "$f" .npy)=$f"); done
file=$cache/$model/model.onnx tol=(--rtol 1e-4 --atol 1e-5)
if [ "$int8" = --int8 ]; then
  [ ${#in[@]} = 2 ] || { echo "FAIL: --int8 wants a model of one input"; exit 1; }
  name=$(basename "$(ls "$cache/$model"/inputs/*.npy)" .npy)
  /usr/bin/python3 - "$cache/$model/inputs/$name.npy" "$work/calib.npy" <<'PY'
import sys, numpy as np
x = np.load(sys.argv[1])
np.save(sys.argv[2], np.random.default_rng(0).standard_normal((16,) + x.shape[1:]).astype(np.float32))
PY
  "$nnopt" quantize "$file" -o "$work/int8.onnx" --calib "npy:$work/calib.npy,name=$name" \
    --calib-size 16 >/dev/null
  file=$work/int8.onnx tol=(--rtol 0 --atol 0)
fi
NNOPT_ISA=ref "$nnopt" run "$file" --optimize "${in[@]}" --output-dir "$work/ref" >/dev/null
flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
levels=()
[[ $flags == *" avx2 "* && $flags == *" fma "* ]] && levels+=(avx2)
[[ $flags == *" avx512f "* && $flags == *" avx512bw "* && $flags == *" avx512vl "* &&
   $flags == *" avx512dq "* ]] && levels+=(avx512)
[[ ${levels[*]} == *avx512* && $flags == *" avx512_vnni "* ]] && levels+=(avx512vnni)
[ ${#levels[@]} -gt 0 ] || { echo "skip: no vector level on this CPU"; exit 77; }
for l in "${levels[@]}"; do
  echo "== $l"
  NNOPT_ISA=$l "$nnopt" run "$file" --optimize "${in[@]}" --compare "$work/ref" "${tol[@]}" \
    >"$work/$l.txt" 2>&1 || { cat "$work/$l.txt"; echo "FAIL: level $l differs from ref"; exit 1; }
  grep -E "max_abs" "$work/$l.txt"
done
