/*
 * kernel_test.h - the small harness of the kernel tests: checks that count failures
 * (the first few are printed), deterministic random data, and buffers that end
 * against a PROT_NONE page so that a kernel reading or writing past them faults.
 * Plain C without cmocka so the tests also build in the ARM64 cross build.
 */
#ifndef NN_TESTS_KERNEL_TEST_H
#define NN_TESTS_KERNEL_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels/dispatch.h"

static int kt_failures, kt_checks;

#define KT_CHECK(cond, ...)                                                   \
  do {                                                                        \
    kt_checks++;                                                              \
    if (!(cond)) {                                                            \
      if (kt_failures++ < 20) {                                               \
        fprintf(stderr, "%s:%d: check failed: ", __FILE__, __LINE__);          \
        fprintf(stderr, __VA_ARGS__);                                         \
        fprintf(stderr, "\n");                                                \
      }                                                                       \
    }                                                                         \
  } while (0)

static uint32_t kt_rng = 12345;
static inline float kt_frand(void) { /* [-1, 1) */
  kt_rng = kt_rng * 1664525u + 1013904223u;
  return (float)((kt_rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* n floats ending right before a PROT_NONE page. */
typedef struct kt_guard {
  void *map;
  size_t len;
} kt_guard;

static inline float *kt_guard_alloc(size_t n, kt_guard *g) {
  const size_t ps = (size_t)sysconf(_SC_PAGESIZE);
  const size_t bytes = n * sizeof(float);
  g->len = (bytes + ps - 1) / ps * ps + ps;
  g->map = mmap(NULL, g->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (g->map == MAP_FAILED) {
    perror("mmap");
    exit(2);
  }
  if (mprotect((char *)g->map + g->len - ps, ps, PROT_NONE)) {
    perror("mprotect");
    exit(2);
  }
  return (float *)((char *)g->map + g->len - ps - bytes);
}

/* n floats starting right after a PROT_NONE page (catches reads before the buffer). */
static inline float *kt_guard_alloc_front(size_t n, kt_guard *g) {
  const size_t ps = (size_t)sysconf(_SC_PAGESIZE);
  const size_t bytes = n * sizeof(float);
  g->len = (bytes + ps - 1) / ps * ps + ps;
  g->map = mmap(NULL, g->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (g->map == MAP_FAILED) {
    perror("mmap");
    exit(2);
  }
  if (mprotect(g->map, ps, PROT_NONE)) {
    perror("mprotect");
    exit(2);
  }
  return (float *)((char *)g->map + ps);
}

static inline void kt_guard_free(kt_guard *g) {
  if (g->map) munmap(g->map, g->len);
  g->map = NULL;
}

static inline float *kt_guard_rand(size_t n, kt_guard *g) {
  float *p = kt_guard_alloc(n, g);
  for (size_t i = 0; i < n; i++) p[i] = kt_frand();
  return p;
}

/* Every kernel level, in the order the tests run them. */
static const nn_isa kt_levels[] = {NN_ISA_REF,        NN_ISA_AVX2, NN_ISA_AVX512,
                                   NN_ISA_AVX512VNNI, NN_ISA_NEON, NN_ISA_NEONDOT};
#define KT_NLEVELS (sizeof kt_levels / sizeof *kt_levels)

/* Level isa's kernel table into *k when this CPU has the level and NNOPT_ISA, when set,
 * names it: prints "level NAME" and returns the name; else NULL (skip the level). */
static inline const char *kt_level(nn_isa isa, nn_kernels *k) {
  const char *only = getenv("NNOPT_ISA");
  nn_kernels_fill(k, isa);
  if (k->isa != isa) return NULL; /* not on this CPU */
  if (only && *only && nn_isa_parse(only) != (int)isa) return NULL;
  printf("level %s\n", nn_isa_name(isa));
  return nn_isa_name(isa);
}

static inline int kt_report(const char *name) {
  if (kt_failures) {
    fprintf(stderr, "%s: %d of %d checks failed\n", name, kt_failures, kt_checks);
    return 1;
  }
  printf("%s: %d checks passed\n", name, kt_checks);
  return 0;
}

#endif
