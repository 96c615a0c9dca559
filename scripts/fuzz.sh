#!/bin/sh
# Build the ONNX loader fuzzer with clang (ASan + UBSan + libFuzzer) and run it for a
# bounded time. Exits non-zero when the fuzzer finds a crash, leak or timeout; the
# reproducer is left in the build folder (crash-*, leak-*, timeout-*).
#   scripts/fuzz.sh [seconds] [build-dir]      (defaults: 60, build-fuzz)
set -eu
SECONDS_TO_RUN=${1:-60}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${2:-$ROOT/build-fuzz}
JOBS=${JOBS:-2}

CC=${CC:-clang} cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug \
  -DNNOPT_FUZZ=ON -DNNOPT_SANITIZE=ON -DNNOPT_TESTS=OFF >/dev/null
mkdir -p "$BUILD"
if ! cmake --build "$BUILD" -j"$JOBS" --target fuzz_onnx_load >"$BUILD/fuzz-build.log" 2>&1; then
  tail -n 40 "$BUILD/fuzz-build.log" >&2
  echo "fuzz: build failed (log: $BUILD/fuzz-build.log)" >&2
  exit 2
fi

# Work on a copy of the committed corpus so new inputs do not land in the tree.
WORK="$BUILD/fuzz-corpus"
mkdir -p "$WORK"
cp "$ROOT"/tests/fuzz/corpus/* "$WORK"/

cd "$BUILD"
echo "fuzzing for ${SECONDS_TO_RUN}s (corpus: $WORK)"
if "$BUILD/tests/fuzz/fuzz_onnx_load" -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 "$WORK" 2>"$BUILD/fuzz.log"; then
  tail -n 15 "$BUILD/fuzz.log"
  echo "fuzz: no crash in ${SECONDS_TO_RUN}s"
else
  status=$?
  tail -n 60 "$BUILD/fuzz.log"
  echo "fuzz: FAILED (exit $status); reproducer in $BUILD (crash-*/leak-*/timeout-*)" >&2
  exit 1
fi
