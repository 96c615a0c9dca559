#!/usr/bin/env bash
# Build nnopt and run the whole test suite: unit tests, ONNX conformance, load/save
# round trips, peer comparisons with ONNX Runtime, then the unit tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer, and a bounded fuzzing run.
# Installs what it needs first (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNNOPT_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DNNOPT_SANITIZE=ON -DNNOPT_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs"
ctest --test-dir build-asan -L unit --output-on-failure -j"$jobs"

# ARM64: the whole build cross-compiled, its unit, kernel and model tests under
# qemu-aarch64 per ISA level, outputs checked against this x86 build's (build/).
# Exit 77: the cross tools and arm64 packages could not be installed, said above.
arm64=0
NNOPT_HOST_BUILD=$PWD/build ./scripts/cross-arm64.sh build-arm64 || arm64=$?
if [ $arm64 -eq 77 ]; then
  echo "nnopt: ARM64 cross build and qemu tests SKIPPED (see the reason above)"
elif [ $arm64 -ne 0 ]; then
  echo "nnopt: ARM64 tests under qemu-aarch64 failed" >&2
  exit $arm64
fi

if [ -x scripts/fuzz.sh ]; then
  ./scripts/fuzz.sh "${NNOPT_FUZZ_SECONDS:-60}"
fi
echo "nnopt: all tests passed"
