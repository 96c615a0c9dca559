#!/usr/bin/env bash
# fuse_transformer_test.sh SOURCE_DIR NNOPT WORK_DIR
# The BERT SST-2 fixture (4 layers, opset 13: LayerNorm and GELU decomposed) through
# `nnopt simplify --fuse`: 9 LayerNorms and 4 GELUs become single ops, no Pow/Sqrt/Erf
# is left, dev F1 is unchanged (872 sentences), and ONNX Runtime runs the fused file
# with the same outputs as nnopt runs the original (when onnxruntime-node is installed).
set -euo pipefail
src=$1 nnopt=$2 work=$3
mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
model=$src/models/bert_sst2.onnx fused=$work/bert_sst2_fused.onnx
"$nnopt" simplify "$model" -o "$fused" --fuse | tee "$work/simplify.txt"
grep -q " 13 LayerNorm/GELU subgraphs fused" "$work/simplify.txt" || fail "expected 13 fusions"
"$nnopt" inspect "$fused" >"$work/inspect.txt"
grep -Eq "^  LayerNormalization +9 " "$work/inspect.txt" || fail "expected 9 LayerNormalization"
grep -Eq "^  Gelu +4 " "$work/inspect.txt" || fail "expected 4 Gelu"
! grep -Eq "^  (Pow|Sqrt|Erf|ReduceMean) " "$work/inspect.txt" || fail "decomposed ops left"
data="npz:$src/models/sst2_dev_tokens.npz,inputs=input_ids+attention_mask,labels=labels"
f1() { "$nnopt" eval "$1" --data "$data" --metric f1 | sed -n 's/^f1: \([0-9.]*\)%.*/\1/p'; }
a=$(f1 "$model") b=$(f1 "$fused")
echo "dev F1: original $a%, fused $b% (872 sentences)"
[ "$a" = "$b" ] || fail "F1 changed: $a -> $b"
ort=$src/bench/ort_run.mjs
if [ -d "$src/bench/node_modules/onnxruntime-node" ]; then
  /usr/bin/python3 - "$src/models/sst2_dev_tokens.npz" "$work" <<'PY'
import sys, numpy as np
z = np.load(sys.argv[1])
for k in ("input_ids", "attention_mask"):
    np.save(f"{sys.argv[2]}/{k}.npy", z[k][:1])
PY
  ins=(--input "input_ids=$work/input_ids.npy" --input "attention_mask=$work/attention_mask.npy")
  node "$ort" "$fused" "${ins[@]}" --output-dir "$work/ort" --opt disabled
  "$nnopt" run "$model" "${ins[@]}" --compare "$work/ort" --rtol 1e-4 --atol 1e-5
fi
echo "ok"
