#!/usr/bin/env bash
# Install the Debian 12 packages nnopt needs to build, test and run its peers, and the
# ARM64 cross build (scripts/cross-arm64.sh): gcc-aarch64-linux-gnu, qemu-user and the
# arm64 multiarch -dev packages of the library's C dependencies.
#
#   scripts/install-deps.sh            everything; the ARM64 part may fail without failing
#   scripts/install-deps.sh --arm64    only the ARM64 part (what cross-arm64.sh runs)
#
# Idempotent: installs only what is missing. As non-root with packages missing, it
# prints the exact commands to run and exits 1 (for the ARM64 part of a full run: 0,
# and cross-arm64.sh then says it skips).
set -euo pipefail

# build + unit/conformance tests
PKGS=(build-essential cmake pkg-config libprotobuf-c-dev protobuf-c-compiler libonnx-dev
      libonnx-testdata libcmocka-dev libcjson-dev zlib1g-dev libstb-dev clang libclang-rt-14-dev)
# fixtures and peers: PyTorch export/training, ONNX Runtime via npm, datasets, audio
PKGS+=(python3-torch python3-torchvision python3-onnx python3-numpy dataset-fashion-mnist
       espeak-ng sox)
# `nnopt analyze` HTML reports are tested in headless Chromium
PKGS+=(chromium)
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)
# ARM64 cross build: Debian multiarch gives the same versions of protobuf-c, cJSON, zlib
# and cmocka as the host's, built by Debian for arm64 (no source builds to keep in step).
ARM64_PKGS=(gcc-aarch64-linux-gnu qemu-user libprotobuf-c-dev:arm64 libcjson-dev:arm64
            zlib1g-dev:arm64 libcmocka-dev:arm64)

only_arm64=0
[ "${1:-}" = "--arm64" ] && only_arm64=1

missing_of() {  # the packages among "$@" that are not installed
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

# Returns 1 (after printing the commands) when packages are missing and we are not root.
install_missing() {
  local what=$1 pre=$2
  shift 2
  local missing
  mapfile -t missing < <(missing_of "$@")
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "nnopt: missing Debian packages ($what); run:" >&2
    echo "  ${pre:+sudo $pre && }sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    return 1
  fi
  echo "nnopt: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  [ -n "$pre" ] && $pre
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
}

if [ $only_arm64 -eq 0 ]; then
  install_missing "build and tests" "" "${PKGS[@]}" || exit 1
fi
arch_pre=""
dpkg --print-foreign-architectures | grep -qx arm64 || arch_pre="dpkg --add-architecture arm64"
if [ $only_arm64 -eq 1 ]; then
  install_missing "ARM64 cross build" "$arch_pre" "${ARM64_PKGS[@]}" || exit 1
else
  # The native build and tests do not need these: a failure is reported, and
  # scripts/cross-arm64.sh (run by scripts/test.sh) says that it skips.
  install_missing "ARM64 cross build" "$arch_pre" "${ARM64_PKGS[@]}" ||
    echo "nnopt: the ARM64 cross build will be skipped" >&2
fi
