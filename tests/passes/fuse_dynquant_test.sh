#!/usr/bin/env bash
# fuse_dynquant_test.sh SOURCE_DIR NNOPT WORK_DIR
# The BERT SST-2 fixture quantized dynamically (`nnopt quantize --dynamic`: a
# DynamicQuantizeLinear per activation, MatMulIntegerToFloat per weight) through
# `nnopt simplify --fuse`: every DynamicQuantizeLinear with a single MatMulIntegerToFloat
# reader becomes part of a com.microsoft DynamicQuantizeMatMul (attention's shared Q/K/V
# one stays), nnopt's outputs are bit for bit those of the unfused file, and ONNX Runtime
# runs the fused file with the same outputs as nnopt (when onnxruntime-node is installed).
# With static shapes (the BERT-base of models/cache, when exported), residual Adds fuse
# into the LayerNormalization after them as com.microsoft SkipLayerNormalization, and
# ONNX Runtime agrees with nnopt on the float model fused that way.
set -euo pipefail
src=$1 nnopt=$2 work=$3
mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
model=$src/models/bert_sst2.onnx
dyn=$work/bert_sst2_dyn.onnx fused=$work/bert_sst2_dyn_fused.onnx
"$nnopt" quantize "$model" -o "$dyn" --dynamic >"$work/quantize.txt"
"$nnopt" simplify "$dyn" -o "$fused" --fuse | tee "$work/simplify.txt"
"$nnopt" inspect "$dyn" >"$work/inspect_dyn.txt"
"$nnopt" inspect "$fused" >"$work/inspect.txt"
count() { sed -n "s/^  $1 \+\([0-9]\+\) .*/\1/p" "$2"; }
dql0=$(count DynamicQuantizeLinear "$work/inspect_dyn.txt")
mm0=$(count MatMulIntegerToFloat "$work/inspect_dyn.txt")
dql=$(count DynamicQuantizeLinear "$work/inspect.txt")
mm=$(count MatMulIntegerToFloat "$work/inspect.txt")
dqmm=$(count DynamicQuantizeMatMul "$work/inspect.txt")
echo "DynamicQuantizeLinear $dql0 -> $dql, MatMulIntegerToFloat $mm0 -> $mm," \
     "DynamicQuantizeMatMul ${dqmm:-0}"
# per layer: Q/K/V share one quantization (3 matmuls stay), attention out, FFN in and out fuse
[ -n "$dqmm" ] && [ "$dqmm" -gt 0 ] || fail "nothing fused"
[ $((dql + dqmm)) -eq "$dql0" ] || fail "DynamicQuantizeLinear count: $dql + $dqmm != $dql0"
[ $((mm + dqmm)) -eq "$mm0" ] || fail "MatMulIntegerToFloat count: $mm + $dqmm != $mm0"
/usr/bin/python3 - "$src/models/sst2_dev_tokens.npz" "$work" <<'PY'
import sys, numpy as np
z = np.load(sys.argv[1])
for k in ("input_ids", "attention_mask"):
    np.save(f"{sys.argv[2]}/{k}.npy", z[k][:1])
PY
ins=(--input "input_ids=$work/input_ids.npy" --input "attention_mask=$work/attention_mask.npy")
for t in 1 2; do
  rm -rf "$work/a$t" "$work/b$t"
  "$nnopt" run "$dyn" "${ins[@]}" --threads $t --output-dir "$work/a$t" >/dev/null
  "$nnopt" run "$fused" "${ins[@]}" --threads $t --output-dir "$work/b$t" >/dev/null
  for f in "$work/a$t"/*.npy; do
    cmp -s "$f" "$work/b$t/$(basename "$f")" || fail "$t thread(s): $(basename "$f") differs"
  done
done
ort=$src/bench/ort_run.mjs
if [ -d "$src/bench/node_modules/onnxruntime-node" ]; then
  node "$ort" "$fused" "${ins[@]}" --output-dir "$work/ort" --opt disabled
  "$nnopt" run "$fused" "${ins[@]}" --compare "$work/ort" --rtol 1e-4 --atol 1e-4
fi
base=${NNOPT_MODEL_CACHE:-$src/models/cache}/bert_base
if [ -f "$base/model.onnx" ] && [ -d "$src/bench/node_modules/onnxruntime-node" ]; then
  bf=$work/bert_base_fused.onnx
  "$nnopt" simplify "$base/model.onnx" -o "$bf" --fuse >/dev/null
  "$nnopt" inspect "$bf" >"$work/inspect_base.txt"
  skln=$(count SkipLayerNormalization "$work/inspect_base.txt")
  echo "BERT-base: ${skln:-0} SkipLayerNormalization"
  [ "${skln:-0}" -eq 24 ] || fail "expected 24 SkipLayerNormalization in BERT-base"
  bins=(--input "input_ids=$base/inputs/input_ids.npy"
        --input "attention_mask=$base/inputs/attention_mask.npy")
  rm -rf "$work/ort_base"
  node "$ort" "$bf" "${bins[@]}" --output-dir "$work/ort_base" --opt disabled
  "$nnopt" run "$base/model.onnx" "${bins[@]}" --compare "$work/ort_base" --rtol 1e-4 --atol 1e-4
fi
echo "ok"
