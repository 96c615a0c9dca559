#!/usr/bin/env bash
# check_profile.sh NNOPT MODEL: `nnopt bench --profile` charges every executed node once
# (52 convolutions in the fixture, ConvNhwc where they run channel-last) and its per-op
# times sum to at most the measured run.
set -euo pipefail
out=$("$1" bench "$2" --runs 20 --profile)
echo "$out"
convs=$(echo "$out" | awk '$1 == "FusedConv" || $1 == "Conv" || $1 == "ConvNhwc" { n += $2 } END { print n + 0 }')
[ "$convs" -eq 52 ] || { echo "FAIL: $convs conv nodes profiled, expected 52"; exit 1; }
echo "$out" | awk '/^profile:/ { run = $2; charged = $9 } END { if (!(charged > 0 && charged <= run * 1.001)) { print "FAIL: charged " charged " ms of " run; exit 1 } }'
echo ok
