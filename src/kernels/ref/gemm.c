/*
 * gemm.c - reference GEMM: plain loops in an order that streams memory (i-k-j with
 * the inner loop over contiguous rows of B and C, blocked over k and j so a block
 * of B stays in cache). Every C element accumulates in increasing k (see gemm.h).
 */
#include "kernels/ref/gemm.h"

#include <stddef.h>

/* Block sizes: a KB x NB block of B (256 KB in f32) stays in L2 while all rows of
 * A stream past it; for transposed B, JB rows of B are reused across rows of A. */
enum { GEMM_KB = 256, GEMM_NB = 256, GEMM_JB = 32 };

/* T is the storage type, U the arithmetic type (unsigned for integers so overflow
 * wraps instead of being undefined). */
#define NN_GEMM_REF(name, T, U)                                                        \
  void name(int64_t M, int64_t N, int64_t K, const T *A, int64_t lda, int transA,      \
            const T *B, int64_t ldb, int transB, T *C, int64_t ldc, T alpha_, T beta_) { \
    const U alpha = (U)alpha_, beta = (U)beta_;                                        \
    if (M <= 0 || N <= 0) return;                                                      \
    for (int64_t i = 0; i < M; i++) {                                                  \
      T *c = C + i * ldc;                                                              \
      if (beta == (U)0)                                                                \
        for (int64_t j = 0; j < N; j++) c[j] = (T)0;                                   \
      else if (beta != (U)1)                                                           \
        for (int64_t j = 0; j < N; j++) c[j] = (T)(beta * (U)c[j]);                    \
    }                                                                                  \
    if (K <= 0) return;                                                                \
    if (!transB) {                                                                     \
      for (int64_t j0 = 0; j0 < N; j0 += GEMM_NB) {                                    \
        const int64_t jn = N - j0 < GEMM_NB ? N - j0 : GEMM_NB;                        \
        for (int64_t k0 = 0; k0 < K; k0 += GEMM_KB) {                                  \
          const int64_t k1 = K - k0 < GEMM_KB ? K : k0 + GEMM_KB;                      \
          for (int64_t i = 0; i < M; i++) {                                            \
            T *restrict c = C + i * ldc + j0;                                          \
            for (int64_t k = k0; k < k1; k++) {                                        \
              const U a = alpha * (U)(transA ? A[k * lda + i] : A[i * lda + k]);       \
              const T *restrict b = B + k * ldb + j0;                                  \
              for (int64_t j = 0; j < jn; j++) c[j] = (T)((U)c[j] + a * (U)b[j]);      \
            }                                                                          \
          }                                                                            \
        }                                                                              \
      }                                                                                \
    } else {                                                                           \
      for (int64_t j0 = 0; j0 < N; j0 += GEMM_JB) {                                    \
        const int64_t j1 = N - j0 < GEMM_JB ? N : j0 + GEMM_JB;                        \
        for (int64_t i = 0; i < M; i++) {                                              \
          T *c = C + i * ldc;                                                          \
          for (int64_t j = j0; j < j1; j++) {                                          \
            const T *b = B + j * ldb;                                                  \
            U acc = (U)c[j];                                                           \
            if (transA)                                                                \
              for (int64_t k = 0; k < K; k++)                                          \
                acc = (U)(acc + (U)(alpha * (U)A[k * lda + i]) * (U)b[k]);             \
            else                                                                       \
              for (int64_t k = 0; k < K; k++)                                          \
                acc = (U)(acc + (U)(alpha * (U)A[i * lda + k]) * (U)b[k]);             \
            c[j] = (T)acc;                                                             \
          }                                                                            \
        }                                                                              \
      }                                                                                \
    }                                                                                  \
  }

NN_GEMM_REF(nn_f32_gemm__ref, float, float)
NN_GEMM_REF(nn_f64_gemm__ref, double, double)
NN_GEMM_REF(nn_i32_gemm__ref, int32_t, uint32_t)
NN_GEMM_REF(nn_i64_gemm__ref, int64_t, uint64_t)
NN_GEMM_REF(nn_u32_gemm__ref, uint32_t, uint32_t)
NN_GEMM_REF(nn_u64_gemm__ref, uint64_t, uint64_t)
