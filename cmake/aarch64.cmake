# Toolchain file for cross-building nnopt for ARM64 with Debian's gcc-aarch64-linux-gnu;
# tests run under qemu-aarch64 (qemu-user) through CTest (CMAKE_CROSSCOMPILING_EMULATOR).
#
# The full library's C dependencies come from Debian's arm64 multiarch packages
# (libprotobuf-c-dev:arm64 libcjson-dev:arm64 zlib1g-dev:arm64 libcmocka-dev:arm64, see
# scripts/install-deps.sh --arm64): their libraries are in /usr/lib/aarch64-linux-gnu and
# their headers in /usr/include, which Debian's cross gcc searches already. The kernels-only
# project (cmake/kernels) needs none of them.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# /usr/aarch64-linux-gnu: the cross libc (libc6-dev-arm64-cross); /: the multiarch
# libraries (/usr/lib/aarch64-linux-gnu, found through CMAKE_LIBRARY_ARCHITECTURE).
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /)
# Programs (protoc-c, the code generator) are the host's.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# pkg-config must see the arm64 .pc files only, never the host's.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
# qemu's -L: where the dynamic loader and libc come from. They must be one glibc build:
# with the multiarch libc6:arm64 (pulled in by the -dev packages) the host's
# /usr/lib/aarch64-linux-gnu has the libraries and its ld.so.cache points there, so its
# own loader (/lib/ld-linux-aarch64.so.1) is used; the cross libc's loader with the
# multiarch libc.so.6 (a different Debian revision) deadlocks in pthread_create. Without
# libc6:arm64 (the kernels-only build) the cross libc's sysroot serves both.
if(EXISTS /lib/ld-linux-aarch64.so.1 AND EXISTS /lib/aarch64-linux-gnu/libc.so.6)
  set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /)
else()
  set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
endif()
