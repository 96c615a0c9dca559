#!/usr/bin/env bash
# Cross-build nnopt's kernels and kernel tests for ARM64 with Debian's
# gcc-aarch64-linux-gnu and run the tests under qemu-aarch64, once per ISA level
# (NNOPT_ISA=ref, neon, neondot; qemu emulates a CPU with the dot-product extension).
#
#   scripts/cross-arm64.sh [BUILD_DIR]        (default: build-arm64 in the repository)
#
# Only the kernels, the thread pool and tests/kernels are built (cmake/kernels): the
# full library needs arm64 builds of protobuf-c, cJSON and zlib, which this machine
# does not have (Debian's arm64 multiarch -dev packages are not installed).
# Needs: apt-get install gcc-aarch64-linux-gnu qemu-user cmake.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-arm64}
for tool in aarch64-linux-gnu-gcc qemu-aarch64 cmake; do
  command -v "$tool" >/dev/null || {
    echo "cross-arm64: $tool not found (apt-get install gcc-aarch64-linux-gnu qemu-user cmake)" >&2
    exit 1
  }
done
cmake -S "$root/cmake/kernels" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64.cmake" \
  -DCMAKE_BUILD_TYPE=Release ${NNOPT_WERROR:+-DNNOPT_WERROR=ON} >/dev/null
cmake --build "$build" -j"$(nproc)"
status=0
for isa in ref neon neondot; do
  echo "== NNOPT_ISA=$isa (qemu-aarch64)"
  NNOPT_ISA=$isa ctest --test-dir "$build" --output-on-failure || status=1
done
exit $status
