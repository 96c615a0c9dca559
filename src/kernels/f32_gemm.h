/*
 * f32_gemm.h - the packed, register-blocked float32 GEMM: microkernels (one per ISA,
 * reached through nn_kernels.f32_gemm_ukernel), the panel layouts they read, the
 * packing routines (pack_f32.c) and the blocked, multi-threaded driver (f32_gemm.c)
 * that ops call with weights packed once at prepare time.
 *
 * Layouts (MR/NR are the table's f32_gemm_mr/f32_gemm_nr):
 *   packed A: ceil(M/MR) panels; panel p holds rows p*MR .. p*MR+MR-1 as K groups of MR
 *             values (k-major: panel[k*MR + r]); rows past M are zero.
 *   packed B: ceil(N/NR) panels; panel q holds columns q*NR .. q*NR+NR-1 as K groups of
 *             NR values (panel[k*NR + c]); columns past N are zero.
 * A block packed for K range [k0, k0+kc) uses the same layout with K = kc, so a whole
 * packed matrix is addressed at k0 as panel + k0*MR (or k0*NR).
 *
 * Rounding: a fast GEMM sums the K products in a different order than the reference
 * (blocks of KC, FMA contraction), so results agree with nn_f32_gemm__ref within
 * |error| <= 1e-6 * (K + 4) * (sum_k |a_ik * b_kj| + |bias| + |c|), not exactly (the
 * bound tests/kernels/test_f32_kernels.c asserts).
 */
#ifndef NN_KERNELS_F32_GEMM_H
#define NN_KERNELS_F32_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/dispatch.h"

struct nn_threadpool;

/* Microkernel flags. Without NN_F32_GEMM_ACC the tile's C is not read. */
enum {
  NN_F32_GEMM_ACC = 1u << 0,      /* add the products to C */
  NN_F32_GEMM_BIAS_ROW = 1u << 1, /* add bias[i] to row i (conv: per output channel) */
  NN_F32_GEMM_BIAS_COL = 1u << 2, /* add bias[j] to column j (Gemm/MatMul bias) */
  NN_F32_GEMM_CLAMP = 1u << 3,    /* clamp the result to [minmax[0], minmax[1]] */
};

/*
 * C[i][j] (op)= sum_{k<kc} a[k*MR + i] * b[k*NR + j] for i < mr <= MR, j < nr <= NR.
 * a and b are one packed panel each (layouts above); c has row stride ldc elements.
 * Only the mr x nr tile of C is touched, bias reads mr (row) or nr (column) values.
 * Order of the epilogue: products (+ C when ACC) + bias, then clamp.
 */
typedef void (*nn_f32_gemm_ukernel_fn)(size_t mr, size_t nr, size_t kc, const float *a,
                                       const float *b, float *c, size_t ldc,
                                       const float *bias, unsigned flags,
                                       const float *minmax);

void nn_f32_gemm_ukernel_6x16__avx2(size_t mr, size_t nr, size_t kc, const float *a,
                                    const float *b, float *c, size_t ldc, const float *bias,
                                    unsigned flags, const float *minmax);
void nn_f32_gemm_ukernel_8x32__avx512(size_t mr, size_t nr, size_t kc, const float *a,
                                      const float *b, float *c, size_t ldc,
                                      const float *bias, unsigned flags,
                                      const float *minmax);
void nn_f32_gemm_ukernel_12x32__avx512(size_t mr, size_t nr, size_t kc, const float *a,
                                       const float *b, float *c, size_t ldc,
                                       const float *bias, unsigned flags,
                                       const float *minmax);
void nn_f32_gemm_ukernel_8x8__neon(size_t mr, size_t nr, size_t kc, const float *a,
                                   const float *b, float *c, size_t ldc, const float *bias,
                                   unsigned flags, const float *minmax);
/*
 * Direct-B microkernel: the same tile, with row k of B read in place at b + koff[k]
 * (nr contiguous floats) instead of from a packed panel - a convolution's zero-padded
 * input grid, whose rows k = (c, kh, kw) are slices at fixed offsets (f32_conv.c), so
 * B is never packed. Reads only the first nr floats of each row.
 */
typedef void (*nn_f32_gemm_direct_ukernel_fn)(size_t mr, size_t nr, size_t kc, const float *a,
                                              const float *b, const int32_t *koff, float *c,
                                              size_t ldc, const float *bias, unsigned flags,
                                              const float *minmax);
/*
 * Direct-A microkernel: A[i][k] = a[koff[k] + i] (mr consecutive floats of row k, e.g. mr
 * output positions of one row on a convolution grid), B a packed panel. Its own tile
 * (table: f32_gemm_direct_a_mr x f32_gemm_nr).
 */
typedef void (*nn_f32_gemm_direct_a_ukernel_fn)(size_t mr, size_t nr, size_t kc,
                                                const float *a, const int32_t *koff,
                                                const float *b, float *c, size_t ldc,
                                                const float *bias, unsigned flags,
                                                const float *minmax);
void nn_f32_gemm_direct_a_ukernel_7x32__avx512(size_t mr, size_t nr, size_t kc, const float *a,
                                               const int32_t *koff, const float *b, float *c,
                                               size_t ldc, const float *bias, unsigned flags,
                                               const float *minmax);
void nn_f32_gemm_direct_a_ukernel_3x8__scalar(size_t mr, size_t nr, size_t kc, const float *a,
                                              const int32_t *koff, const float *b, float *c,
                                              size_t ldc, const float *bias, unsigned flags,
                                              const float *minmax);
/*
 * One row of A times one packed B panel of `panel` columns (M == 1: Gemm/MatMul of a
 * single vector): c[j] (op)= alpha * sum_k a[k * a_inc] * b[k * panel + j] for j < n,
 * then the epilogue of the flags (ACC, BIAS_ROW with bias[0], BIAS_COL, CLAMP). The
 * table's f32_gemv has panel == f32_gemm_nr.
 */
typedef void (*nn_f32_gemv_fn)(size_t n, size_t K, const float *a, size_t a_inc, float alpha,
                               const float *b, size_t panel, float *c, const float *bias,
                               unsigned flags, const float *minmax);
void nn_f32_gemv_1x32__avx512(size_t n, size_t K, const float *a, size_t a_inc, float alpha,
                              const float *b, size_t panel, float *c, const float *bias,
                              unsigned flags, const float *minmax);
void nn_f32_gemv__scalar(size_t n, size_t K, const float *a, size_t a_inc, float alpha,
                         const float *b, size_t panel, float *c, const float *bias,
                         unsigned flags, const float *minmax);
void nn_f32_gemm_direct_ukernel_8x48__avx512(size_t mr, size_t nr, size_t kc, const float *a,
                                             const float *b, const int32_t *koff, float *c,
                                             size_t ldc, const float *bias, unsigned flags,
                                             const float *minmax);
/* Plain C twin of the direct microkernel (4 x 8 tile; tests). */
void nn_f32_gemm_direct_ukernel_4x8__scalar(size_t mr, size_t nr, size_t kc, const float *a,
                                            const float *b, const int32_t *koff, float *c,
                                            size_t ldc, const float *bias, unsigned flags,
                                            const float *minmax);
/* Plain C, any MR <= 8 / NR <= 16 given by the table (tests of the driver logic). */
void nn_f32_gemm_ukernel_4x8__scalar(size_t mr, size_t nr, size_t kc, const float *a,
                                     const float *b, float *c, size_t ldc, const float *bias,
                                     unsigned flags, const float *minmax);

/* ---- packing (pack_f32.c) ---- */

/* Floats of a packed A (M x K) / packed B (K x N) for tile size mr / nr. */
size_t nn_f32_packed_a_size(size_t M, size_t K, size_t mr);
size_t nn_f32_packed_b_size(size_t K, size_t N, size_t nr);

/*
 * Pack rows [i0, i0+mi) x columns [k0, k0+kc) of op(A) (A, or A^T stored K x M when
 * transA), each value times alpha, into dst as ceil(mi/mr) panels of kc x mr.
 */
void nn_f32_pack_a(const float *A, size_t lda, int transA, float alpha, size_t i0,
                   size_t mi, size_t k0, size_t kc, size_t mr, float *dst);
/*
 * Pack rows [k0, k0+kc) x columns [j0, j0+nj) of op(B) (B, or B^T stored N x K when
 * transB) into dst as ceil(nj/nr) panels of kc x nr.
 */
void nn_f32_pack_b(const float *B, size_t ldb, int transB, size_t k0, size_t kc, size_t j0,
                   size_t nj, size_t nr, float *dst);

/* The same with AVX-512 (nr a multiple of 16; otherwise it falls back to the above). */
void nn_f32_pack_b__avx512(const float *B, size_t ldb, int transB, size_t k0, size_t kc,
                           size_t j0, size_t nj, size_t nr, float *dst);

/* ---- driver (f32_gemm.c) ---- */

/*
 * One operand of the driver, in one of four forms:
 *   packed != NULL: a whole packed matrix (nn_f32_pack_a/b over all of K), e.g. weights
 *                   packed at prepare;
 *   direct != NULL: read in place through 32-bit offsets koff, with the table's direct
 *                   microkernels (which must be set): B[k][j] = direct[koff[k] + j];
 *                   A[i][k] = direct[koff[k] + (i / row_w) * row_stride + i % row_w]
 *                   (rows = positions of row_w-wide output rows on a row_stride-wide
 *                   grid; row tiles never straddle two output rows, so row_w must be
 *                   a multiple of the direct-A tile unless row_w == row_stride);
 *   pack != NULL:   a callback that packs a block, for operands that are not plain
 *                   matrices (convolution input: implicit im2col);
 *   otherwise:      a plain row-major matrix (data, ld, trans; A is scaled by alpha).
 * The callback packs rows [i0, i0+ni) x k range [k0, k0+kc) for A, or k range x columns
 * [i0, i0+ni) for B, into the layout above with tile r.
 */
typedef struct nn_f32_gemm_operand {
  const float *packed;
  void (*pack)(const void *ctx, size_t i0, size_t ni, size_t k0, size_t kc, size_t r,
               float *dst);
  const void *ctx;
  const float *data;
  size_t ld;
  int trans;
  const float *direct;
  const int32_t *koff;
  size_t row_w, row_stride; /* direct A only */
} nn_f32_gemm_operand;

typedef struct nn_f32_gemm_problem {
  size_t M, N, K;
  nn_f32_gemm_operand a, b;
  float alpha;        /* applies to a plain A only (packed/callback A: pre-scaled) */
  float *c;
  size_t ldc;
  const float *bias;  /* with flags BIAS_ROW (M values) or BIAS_COL (N values) */
  unsigned flags;     /* NN_F32_GEMM_*: ACC adds to C; CLAMP uses min/max */
  float min, max;
} nn_f32_gemm_problem;

/* Workspace bytes nn_f32_gemm_run needs for this shape with `threads` threads (the
 * blocks of the operands that are not pre-packed; a direct B counts as packed). k must
 * have a ukernel. */
size_t nn_f32_gemm_workspace(const nn_kernels *k, size_t M, size_t N, size_t K,
                             int a_packed, int b_packed, int threads);
/*
 * C = op(A) * op(B) (+ C with ACC) (+ bias), clamped with CLAMP. Splits the work
 * over the pool's threads (pool may be NULL) and never allocates: ws must hold
 * nn_f32_gemm_workspace() bytes for the pool's thread count (64-byte aligned).
 */
void nn_f32_gemm_run(const nn_kernels *k, const nn_f32_gemm_problem *p, void *ws,
                     size_t ws_bytes, struct nn_threadpool *pool);

/* The nn_f32_gemm__ref contract (alpha, beta, transposes) through a microkernel:
 * blocked with packing buffers on the stack, one thread. The table's f32_gemm
 * entries of the fast levels (config_f32.c) are this with their microkernel. */
void nn_f32_gemm_blocked(nn_f32_gemm_ukernel_fn uk, size_t mr, size_t nr, int64_t M,
                         int64_t N, int64_t K, const float *A, int64_t lda, int transA,
                         const float *B, int64_t ldb, int transB, float *C, int64_t ldc,
                         float alpha, float beta);

#endif
