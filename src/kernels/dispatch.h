/*
 * dispatch.h - one table of kernel function pointers, filled once at start-up for the
 * CPU found (or the one NNOPT_ISA forces: ref, avx2, avx512, avx512vnni, neon,
 * neondot). Ops call kernels through this table only; no ISA test appears anywhere
 * else. Every entry has a plain-C reference twin in src/kernels/ref/, which is what
 * the table holds when no faster kernel exists for the CPU.
 *
 * Each kernel family fills its own entries in its own file (src/kernels/config_*.c)
 * through an nn_kernels_init_* function, upgrading step by step as MLAS does:
 * ref -> avx2 -> avx512 -> avx512vnni (x86) or ref -> neon -> neondot (arm64).
 */
#ifndef NN_KERNELS_DISPATCH_H
#define NN_KERNELS_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

typedef enum nn_isa {
  NN_ISA_REF = 0,
  NN_ISA_AVX2 = 1,       /* AVX2 + FMA + F16C */
  NN_ISA_AVX512 = 2,     /* AVX-512 F/BW/VL/DQ */
  NN_ISA_AVX512VNNI = 3, /* + VNNI (vpdpbusd) */
  NN_ISA_NEON = 10,      /* AArch64 Advanced SIMD */
  NN_ISA_NEONDOT = 11,   /* + dot product (sdot/udot) */
} nn_isa;

typedef struct nn_kernels {
  nn_isa isa; /* the level the table was filled for */

  /* ---- float32 (config_f32.c) ---- */
  /* Same contract as nn_f32_gemm__ref (src/kernels/ref/gemm.h). */
  void (*f32_gemm)(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, int transA,
                   const float *B, int64_t ldb, int transB, float *C, int64_t ldc,
                   float alpha, float beta);

  /* ---- 8-bit integer (config_q8.c) ---- */
  /* Same contract as nn_x8_gemm__ref (src/kernels/ref/qgemm.h). */
  void (*x8_gemm)(int a_signed, int b_signed, size_t m, size_t n, size_t k, const void *a,
                  size_t lda, const void *a_zp, size_t a_zp_inc, const void *b, size_t ldb,
                  const void *b_zp, size_t b_zp_inc, int32_t *c, size_t ldc);
} nn_kernels;

/* The table for this process (detected once, thread-safe). */
const nn_kernels *nn_kernels_get(void);
/* The best level this CPU supports, ignoring NNOPT_ISA. */
nn_isa nn_isa_detect(void);
const char *nn_isa_name(nn_isa isa);
/* Parse an NNOPT_ISA value; -1 when unknown. */
int nn_isa_parse(const char *s);
/* Fill a table for an explicit level (tests compare every level on one machine). A
 * level above what the CPU supports is clamped down to it. */
void nn_kernels_fill(nn_kernels *k, nn_isa isa);

/* Per-family fillers (each in its config_*.c): set the family's entries for isa,
 * leaving the reference ones where no faster kernel exists. */
void nn_kernels_init_f32(nn_kernels *k, nn_isa isa);
void nn_kernels_init_q8(nn_kernels *k, nn_isa isa);

#endif
