/*
 * qgemm.h - reference integer GEMM with zero points (8-bit x 8-bit -> int32) and the
 * byte im2col that turns an integer convolution into that GEMM. These are the ground
 * truth the fast INT8 kernels (AVX2, AVX-512 VNNI, NEON dot) are tested against.
 *
 * Naming: nn_<a><b>_gemm__ref where the prefix says the operand types:
 *   qu8 = uint8 x uint8, qs8 = int8 x int8, qu8s8 = uint8 A x int8 B, qs8u8 = int8 A x
 *   uint8 B.
 */
#ifndef NN_KERNELS_REF_QGEMM_H
#define NN_KERNELS_REF_QGEMM_H

#include <stddef.h>
#include <stdint.h>

/*
 * C[i][j] = sum_k (A[i][k] - a_zp[i * a_zp_inc]) * (B[k][j] - b_zp[j * b_zp_inc])
 *
 * A is m x k (row stride lda), B is k x n (row stride ldb), C is m x n int32 (row stride
 * ldc), all row-major; C is overwritten. a_zp_inc is 0 for one zero point for all rows
 * (per tensor) or 1 for one per row (per output channel of a convolution weight);
 * b_zp_inc likewise per column. Each product is at most 255 * 255 in magnitude, so sums
 * are exact for k <= 33025; beyond that they wrap modulo 2^32 like the SIMD kernels.
 */
void nn_qu8_gemm__ref(size_t m, size_t n, size_t k, const uint8_t *a, size_t lda,
                      const uint8_t *a_zp, size_t a_zp_inc, const uint8_t *b, size_t ldb,
                      const uint8_t *b_zp, size_t b_zp_inc, int32_t *c, size_t ldc);
void nn_qs8_gemm__ref(size_t m, size_t n, size_t k, const int8_t *a, size_t lda,
                      const int8_t *a_zp, size_t a_zp_inc, const int8_t *b, size_t ldb,
                      const int8_t *b_zp, size_t b_zp_inc, int32_t *c, size_t ldc);
void nn_qu8s8_gemm__ref(size_t m, size_t n, size_t k, const uint8_t *a, size_t lda,
                        const uint8_t *a_zp, size_t a_zp_inc, const int8_t *b, size_t ldb,
                        const int8_t *b_zp, size_t b_zp_inc, int32_t *c, size_t ldc);
void nn_qs8u8_gemm__ref(size_t m, size_t n, size_t k, const int8_t *a, size_t lda,
                        const int8_t *a_zp, size_t a_zp_inc, const uint8_t *b, size_t ldb,
                        const uint8_t *b_zp, size_t b_zp_inc, int32_t *c, size_t ldc);

/* Dispatch on operand signedness (for ops that see the types only at run time):
 * a_signed/b_signed say whether A/B (and their zero points) are int8 or uint8. */
void nn_x8_gemm__ref(int a_signed, int b_signed, size_t m, size_t n, size_t k,
                     const void *a, size_t lda, const void *a_zp, size_t a_zp_inc,
                     const void *b, size_t ldb, const void *b_zp, size_t b_zp_inc,
                     int32_t *c, size_t ldc);

/* Geometry of an N-d convolution (1 <= rank <= 6) over one image and one group
 * (NC[D]HW layout). */
#define NN_CONV_MAX_SPATIAL 6
typedef struct nn_conv_geom {
  int rank;                              /* number of spatial dims */
  int64_t channels;                      /* input channels of the group */
  int64_t in[NN_CONV_MAX_SPATIAL];       /* input spatial dims */
  int64_t kernel[NN_CONV_MAX_SPATIAL];
  int64_t stride[NN_CONV_MAX_SPATIAL];
  int64_t dilation[NN_CONV_MAX_SPATIAL];
  int64_t pad_begin[NN_CONV_MAX_SPATIAL];
  int64_t out[NN_CONV_MAX_SPATIAL];      /* output spatial dims */
} nn_conv_geom;

/*
 * Byte im2col: col is (channels * prod(kernel)) x prod(out), row-major, rows ordered
 * (channel, kernel position) like a weight [M, C, k...] flattened, so the convolution is
 * W[M x K] * col[K x P]. Positions in the padding get the byte pad (the input zero point,
 * so they contribute nothing after zero-point subtraction). x points at the group's
 * first channel; channel c starts at x + c * prod(in). Works for int8 and uint8 alike.
 */
void nn_x8_im2col__ref(const nn_conv_geom *g, const uint8_t *x, uint8_t pad, uint8_t *col);

#endif
