/*
 * gemm.h - reference matrix multiply, the ground truth of every fast GEMM and the
 * workhorse of the reference Conv (im2col), MatMul and Gemm ops.
 */
#ifndef NN_KERNELS_REF_GEMM_H
#define NN_KERNELS_REF_GEMM_H

#include <stdint.h>

/*
 * C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, all row-major.
 * op(A) is A (M x K, row stride lda) or, when transA, A^T with A stored K x M.
 * op(B) is B (K x N, row stride ldb) or, when transB, B^T with B stored N x K.
 * C has row stride ldc. When beta == 0, C is not read (NaN/garbage in C is ignored).
 *
 * Rounding contract (what a fast kernel must reproduce within tolerance): each
 * C[i,j] starts at beta*C[i,j] (0 when beta == 0, C[i,j] itself when beta == 1) and
 * accumulates (alpha*opA[i,k]) * opB[k,j] for k = 0..K-1 in increasing k, in the
 * element type. With alpha == 1 the result is the plain sequential sum started
 * from C, which is what Conv relies on to add its bias exactly.
 * M, N or K may be 0 (K == 0 yields beta*C).
 */
void nn_f32_gemm__ref(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                      int transA, const float *B, int64_t ldb, int transB, float *C,
                      int64_t ldc, float alpha, float beta);
void nn_f64_gemm__ref(int64_t M, int64_t N, int64_t K, const double *A, int64_t lda,
                      int transA, const double *B, int64_t ldb, int transB, double *C,
                      int64_t ldc, double alpha, double beta);
/* Integer variants wrap around on overflow like unsigned arithmetic (as numpy). */
void nn_i32_gemm__ref(int64_t M, int64_t N, int64_t K, const int32_t *A, int64_t lda,
                      int transA, const int32_t *B, int64_t ldb, int transB, int32_t *C,
                      int64_t ldc, int32_t alpha, int32_t beta);
void nn_i64_gemm__ref(int64_t M, int64_t N, int64_t K, const int64_t *A, int64_t lda,
                      int transA, const int64_t *B, int64_t ldb, int transB, int64_t *C,
                      int64_t ldc, int64_t alpha, int64_t beta);
void nn_u32_gemm__ref(int64_t M, int64_t N, int64_t K, const uint32_t *A, int64_t lda,
                      int transA, const uint32_t *B, int64_t ldb, int transB, uint32_t *C,
                      int64_t ldc, uint32_t alpha, uint32_t beta);
void nn_u64_gemm__ref(int64_t M, int64_t N, int64_t K, const uint64_t *A, int64_t lda,
                      int transA, const uint64_t *B, int64_t ldb, int transB, uint64_t *C,
                      int64_t ldc, uint64_t alpha, uint64_t beta);

#endif
