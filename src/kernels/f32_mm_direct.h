/*
 * f32_mm_direct.h - the direct float32 matmul of small batched products (attention's
 * Q K^T and P V: M x K by K x N with K up to a few hundred, one product per head): no
 * packing, a tile of 8 rows x 32 columns of C with A's elements broadcast from its rows
 * and B's rows loaded in place, so a 32-column panel of B (K x 32) stays in L1 while
 * every row block of A streams past it. Used by ops/matmul.c.
 */
#ifndef NN_KERNELS_F32_MM_DIRECT_H
#define NN_KERNELS_F32_MM_DIRECT_H

#include <stddef.h>

#include "kernels/dispatch.h"

#define NN_F32_MMD_MR 8
#define NN_F32_MMD_NR 32
/* Panels of B past this depth leave L1: the packed GEMM is the better choice then. */
#define NN_F32_MMD_MAX_K 256

/*
 * The microkernel: C[r][j] = sum over kk < k of A[r][kk] * B[kk][j] for r < mr <= 8,
 * j < nc <= 32, accumulated from 0 in increasing kk, one fused multiply-add per term
 * (so every version equals the scalar twin bit for bit). Row strides lda, ldb, ldc in
 * elements; reads only the mr x k and k x nc elements, writes only the mr x nc ones.
 */
typedef void (*nn_f32_mmd_ukernel_fn)(size_t mr, size_t nc, size_t k, const float *a,
                                      size_t lda, const float *b, size_t ldb, float *c,
                                      size_t ldc);
void nn_f32_mmd_ukernel_8x32__scalar(size_t mr, size_t nc, size_t k, const float *a,
                                     size_t lda, const float *b, size_t ldb, float *c,
                                     size_t ldc);
void nn_f32_mmd_ukernel_8x32__avx512(size_t mr, size_t nc, size_t k, const float *a,
                                     size_t lda, const float *b, size_t ldb, float *c,
                                     size_t ldc);

/* The microkernel for a table's level, or NULL where the packed GEMM stays
 * (config_f32_eltwise.c). */
nn_f32_mmd_ukernel_fn nn_f32_mmd_ukernel_for(const nn_kernels *kern);

/* C (m x n, ldc) = A (m x k, lda) * B (k x n, ldb) over the microkernel: panels of
 * NN_F32_MMD_NR columns, each over all row blocks. One thread, never allocates. */
void nn_f32_mmd_run(nn_f32_mmd_ukernel_fn uk, size_t m, size_t n, size_t k, const float *a,
                    size_t lda, const float *b, size_t ldb, float *c, size_t ldc);

#endif
