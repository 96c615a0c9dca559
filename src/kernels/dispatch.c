/*
 * dispatch.c - detect the CPU once and fill the kernel table.
 * Detection uses the compiler's CPU builtins on x86-64 and the kernel's hardware
 * capabilities (getauxval) on AArch64, so cross builds need no target libraries.
 */
#include "kernels/dispatch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ref/gemm.h"
#include "kernels/ref/qgemm.h"

#if defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

nn_isa nn_isa_detect(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return NN_ISA_REF;
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
      !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx512dq"))
    return NN_ISA_AVX2;
  return __builtin_cpu_supports("avx512vnni") ? NN_ISA_AVX512VNNI : NN_ISA_AVX512;
#elif defined(__aarch64__)
  return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) ? NN_ISA_NEONDOT : NN_ISA_NEON;
#else
  return NN_ISA_REF;
#endif
}

static const struct {
  const char *name;
  nn_isa isa;
} g_names[] = {{"ref", NN_ISA_REF},         {"avx2", NN_ISA_AVX2},
               {"avx512", NN_ISA_AVX512},   {"avx512vnni", NN_ISA_AVX512VNNI},
               {"neon", NN_ISA_NEON},       {"neondot", NN_ISA_NEONDOT}};

const char *nn_isa_name(nn_isa isa) {
  for (size_t i = 0; i < sizeof g_names / sizeof g_names[0]; i++)
    if (g_names[i].isa == isa) return g_names[i].name;
  return "?";
}

int nn_isa_parse(const char *s) {
  for (size_t i = 0; i < sizeof g_names / sizeof g_names[0]; i++)
    if (!strcmp(g_names[i].name, s)) return (int)g_names[i].isa;
  return -1;
}

/* The highest level <= want that the CPU has (same architecture family). */
static nn_isa clamp(nn_isa want) {
  nn_isa have = nn_isa_detect();
  if (want == NN_ISA_REF) return NN_ISA_REF;
  int want_arm = want >= NN_ISA_NEON, have_arm = have >= NN_ISA_NEON;
  if (want_arm != have_arm) return NN_ISA_REF;
  return want < have ? want : have;
}

void nn_kernels_fill(nn_kernels *k, nn_isa isa) {
  memset(k, 0, sizeof *k);
  k->isa = clamp(isa);
  k->f32_gemm = nn_f32_gemm__ref;
  k->x8_gemm = nn_x8_gemm__ref;
  nn_kernels_init_f32(k, k->isa);
  nn_kernels_init_q8(k, k->isa);
  nn_kernels_init_f32_eltwise(k, k->isa);
}

static nn_kernels g_kernels;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_once(void) {
  const char *env = getenv("NNOPT_ISA");
  int forced = env && *env ? nn_isa_parse(env) : -1;
  nn_kernels_fill(&g_kernels, forced >= 0 ? (nn_isa)forced : nn_isa_detect());
}

const nn_kernels *nn_kernels_get(void) {
  pthread_once(&g_once, init_once);
  return &g_kernels;
}
