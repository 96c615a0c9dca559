#!/usr/bin/env bash
# Cross-build the whole of nnopt (library, CLI, unit tests, kernel tests, model tests)
# for ARM64 with Debian's gcc-aarch64-linux-gnu and run the tests under qemu-aarch64
# (CMAKE_CROSSCOMPILING_EMULATOR of cmake/aarch64.cmake), once per ISA level:
# NNOPT_ISA=ref, neon, neondot (qemu's default CPU has the dot-product extension).
#
#   scripts/cross-arm64.sh [BUILD_DIR]        (default: build-arm64 in the repository)
#
# Runs the CTest labels unit, kernels and arm64 (tests/arm64: mobilenetv2_fmnist FP32 and
# INT8 QDQ outputs on Fashion-MNIST test images against the x86 build's, integer path
# bit-exact). Tests that need node/ONNX Runtime or Python are not run under qemu.
# The x86 reference is the build in $NNOPT_HOST_BUILD (default: build, which
# scripts/test.sh has just made); its nnopt and model_outputs are built when missing.
#
# The library's arm64 dependencies (protobuf-c, cJSON, zlib, cmocka) are Debian's arm64
# multiarch packages: scripts/install-deps.sh --arm64 installs them and the cross tools.
# Exit status 77 (after saying why) when they cannot be installed; with only the cross
# compiler and qemu, the kernels alone (cmake/kernels) are built and tested instead.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-arm64}
host=${NNOPT_HOST_BUILD:-$root/build}
jobs=$(nproc)
start=$SECONDS

if ! "$root/scripts/install-deps.sh" --arm64; then
  for tool in aarch64-linux-gnu-gcc qemu-aarch64 cmake; do
    command -v "$tool" >/dev/null || {
      echo "cross-arm64: SKIPPED: $tool not found and the ARM64 packages could not be installed" \
           "(scripts/install-deps.sh --arm64 says how)" >&2
      exit 77
    }
  done
  echo "cross-arm64: arm64 protobuf-c/cJSON/zlib/cmocka missing: kernels and kernel tests only" >&2
  cmake -S "$root/cmake/kernels" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64.cmake" \
    -DCMAKE_BUILD_TYPE=Release -DNNOPT_WERROR="${NNOPT_WERROR:-ON}" >/dev/null
  cmake --build "$build" -j"$jobs"
  status=0
  for isa in ref neon neondot; do
    echo "== NNOPT_ISA=$isa (qemu-aarch64, kernels only)"
    NNOPT_ISA=$isa ctest --test-dir "$build" --output-on-failure -j"$jobs" || status=1
  done
  exit $status
fi

# The x86 build that writes the reference outputs.
if [ ! -x "$host/nnopt" ] || [ ! -x "$host/tests/arm64/model_outputs" ]; then
  # (re)configure so that a build made before tests/arm64 existed knows model_outputs
  if [ -f "$host/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$host" >/dev/null
  else
    cmake -S "$root" -B "$host" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNNOPT_WERROR=ON >/dev/null
  fi
  cmake --build "$host" -j"$jobs" --target nnopt model_outputs
fi

cmake -S "$root" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64.cmake" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNNOPT_WERROR="${NNOPT_WERROR:-ON}" \
  -DNNOPT_HOST_BUILD_DIR="$host" >/dev/null
cmake --build "$build" -j"$jobs"
built=$SECONDS

status=0
summary=()
for isa in ref neon neondot; do
  echo "== NNOPT_ISA=$isa (qemu-aarch64)"
  # kernels_q8.ops_<level> set NNOPT_ISA themselves: run them once, with the ref pass.
  exclude=()
  [ "$isa" = ref ] || exclude=(-E '^kernels_q8\.ops_')
  log="$build/ctest-$isa.log"
  if NNOPT_ISA=$isa ctest --test-dir "$build" -L '^(unit|kernels|arm64)$' "${exclude[@]}" \
       --output-on-failure -j"$jobs" 2>&1 | tee "$log"; then :; else status=1; fi
  summary+=("NNOPT_ISA=$isa: $(grep -E 'tests passed, [0-9]+ tests? failed out of' "$log" || echo 'no summary')")
done
echo "== cross-arm64 summary (build $((built - start)) s, tests under qemu $((SECONDS - built)) s)"
printf '  %s\n' "${summary[@]}"
exit $status
