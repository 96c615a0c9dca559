#!/bin/sh
# calib_rss.sh [NNOPT] [SAMPLES] - peak memory of static INT8 calibration of the BERT-base
# fixture (models/cache/bert_base, ~438 MB, built by models/export_peer_models.py) on
# SAMPLES (default 512) SST-2 training sentences at seq 128, tokenized by nnopt's tsv:
# reader with the committed vocabulary. Runs `nnopt quantize` under /usr/bin/time -v and
# prints peak RSS / model file size; exits 1 when the ratio is 2 or more (the budget:
# "calibrating BERT-base on 512 sequences keeps peak RSS under twice the model's size").
# Exit 77: the fixture or the SST-2 data is missing and could not be built.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
nnopt=${1:-$root/build/nnopt}
samples=${2:-512}
model=$root/models/cache/bert_base/model.onnx
sst2=${NNOPT_SST2_DIR:-$root/../shared/data/sst2}/train.tsv
vocab=$root/models/bert_sst2.vocab.txt
out=${TMPDIR:-/tmp}/calib_rss_$$.onnx
log=${TMPDIR:-/tmp}/calib_rss_$$.log

if [ ! -f "$model" ]; then
  /usr/bin/python3 "$root/models/export_peer_models.py" --models bert_base >&2 ||
    { echo "SKIP: $model missing and could not be built"; exit 77; }
fi
[ -f "$sst2" ] || { echo "SKIP: $sst2 missing"; exit 77; }
[ -x /usr/bin/time ] || { echo "SKIP: /usr/bin/time missing"; exit 77; }

/usr/bin/time -v "$nnopt" quantize "$model" -o "$out" \
  --calib "tsv:$sst2,vocab=$vocab,seq=128" --calib-size "$samples" >"$log" 2>&1
rc=$?
rm -f "$out"
if [ $rc -ne 0 ]; then
  grep -v "^	" "$log" | tail -5
  echo "FAIL: nnopt quantize exited with $rc"
  rm -f "$log"
  exit 1
fi
rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log")
wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log")
user=$(sed -n 's/.*User time (seconds): //p' "$log")
grep "^calibrating on" "$log"
rm -f "$log"
model_bytes=$(stat -c %s "$model")
awk -v r="$rss_kb" -v m="$model_bytes" -v s="$samples" -v w="$wall" -v u="$user" 'BEGIN {
  ratio = r * 1024 / m
  printf "bert_base: %d calibration sequences (seq 128), wall %s, user %s s\n", s, w, u
  printf "peak RSS %.1f MB, model %.1f MB: %.2fx (budget < 2x)\n", r * 1024 / 1e6, m / 1e6, ratio
  exit ratio < 2 ? 0 : 1
}'
