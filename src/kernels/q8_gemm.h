/*
 * q8_gemm.h - packed 8-bit GEMM: the microkernel contract, the packed layouts and the
 * drivers the quantized ops call. Every ISA computes S = sum_k w * (x + x_offset) with
 * int8 weights w and uint8 activations x; zero points, bias and signedness are folded
 * into per-row / per-column int32 terms around it, so results match
 * nn_x8_gemm__ref and the requantization of src/kernels/ref/requant.h exactly.
 *
 * Layouts (kq = ceil(k / 4); padding bytes are 0):
 *   packed weights  blocks of MR rows: [ceil(m / MR)][kq][MR][4] int8, row r of block b
 *                   holding w[b * MR + r][4q .. 4q + 3] at [b][q][r][0..3].
 *   activation panel NR columns of a k x n matrix: [kq][NR][4] uint8, column j holding
 *                   x[4q .. 4q + 3][j] at [q][j][0..3].
 * MR and NR are the table's q8_mr / q8_nr (per ISA); the weight packing takes MR as a
 * parameter so prepare packs once for the table in force.
 *
 * Why weights on the left: convolutions run on NCHW, Y[M x P] = W[M x K] * col[K x P],
 * so rows of the tile are output channels and columns are contiguous output pixels.
 * The weight quad is broadcast (an embedded broadcast on AVX-512) and the activations
 * fill the vector lanes.
 *
 * AVX2 and AVX-512 without VNNI widen both operands to 16 bits and use vpmaddwd: exact
 * for every input (vpmaddubsw would saturate at 255 * -128 * 2). NEON with the dot
 * product instruction has only s8 x s8 (sdot), so it flips activations to int8
 * (x - 128) and reports x_offset = -128; plain NEON widens to 16 bits.
 */
#ifndef NN_KERNELS_Q8_GEMM_H
#define NN_KERNELS_Q8_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/dispatch.h"

#define NN_Q8_MAX_MR 16
#define NN_Q8_MAX_NR 32

/* Output modes of the microkernel. */
enum {
  NN_Q8_OUT_I32 = 0,     /* c (int32) = t */
  NN_Q8_OUT_I32_ACC = 1, /* c (int32) += t */
  NN_Q8_OUT_U8 = 2,      /* c (uint8) = requantize(t) */
  NN_Q8_OUT_S8 = 3,      /* c (int8)  = requantize(t) */
};

/*
 * Per-call terms of the epilogue. For row i < mr and column j < nc:
 *   t[i][j] = S[i][j] + row_bias[i] + row_mul[i] * col_vec[j]   (int32, wrapping)
 * row_bias and row_mul may be NULL (no term); col_vec is read only with row_mul.
 * Requantized modes then store saturate(round_half_even((float)t * scale[i]) + out_zp)
 * to [qmin, qmax]. scale must be finite (the drivers check; callers fall back to the
 * reference otherwise).
 */
typedef struct nn_q8_gemm_params {
  const int32_t *row_bias;
  const int32_t *row_mul;
  const int32_t *col_vec;
  const float *scale;
  int32_t out_zp, qmin, qmax;
} nn_q8_gemm_params;

/*
 * The microkernel (table entry q8_gemm): one tile of mr <= MR rows and nc <= NR columns
 * over kq depth quads. w is one packed weight block, x one activation panel (always NR
 * columns wide, padded). c is the tile's top-left element; ldc is its row stride in
 * elements of the output type. Only the mr x nc elements are written (or read for
 * NN_Q8_OUT_I32_ACC). Never allocates.
 */
typedef void (*nn_q8_gemm_ukernel_fn)(size_t mr, size_t nc, size_t kq, const int8_t *w,
                                      const uint8_t *x, void *c, size_t ldc, int mode,
                                      const nn_q8_gemm_params *p);

/*
 * Panel packer (table entry q8_pack_x): bytes rows[kk][col .. col + nc - 1] for kk < k
 * (nc <= nr) into the panel layout, each byte XORed with xor_mask (0x80 turns int8 into
 * uint8 + 128). Rows are given by pointer so a matrix (rows[kk] = x + kk * ldx) and a
 * convolution's shifted views of its padded input pack alike. Reads nothing else.
 */
typedef void (*nn_q8_pack_x_fn)(size_t k, size_t nc, size_t nr, const uint8_t *const *rows,
                                size_t col, uint8_t xor_mask, uint8_t *out);

/* Portable versions (the reference level of the table and the twins of the SIMD ones). */
void nn_q8_gemm_ukernel_4x8__scalar(size_t mr, size_t nc, size_t kq, const int8_t *w,
                                    const uint8_t *x, void *c, size_t ldc, int mode,
                                    const nn_q8_gemm_params *p);
void nn_q8_pack_x__scalar(size_t k, size_t nc, size_t nr, const uint8_t *const *rows,
                          size_t col, uint8_t xor_mask, uint8_t *out);

/* ---------------------------------------------------------------- weight packing */

/* Bytes of the packed weights of an m x k matrix for tile height mr. */
size_t nn_q8_packed_w_size(size_t m, size_t k, size_t mr);

/*
 * Pack w (m x k, row stride ldw, int8 when w_signed else uint8 which is flipped to int8
 * as w - 128) into out (nn_q8_packed_w_size bytes). rowsum[i] receives the sum over k of
 * the packed (int8) values of row i.
 */
void nn_q8_pack_w(size_t m, size_t k, size_t mr, const void *w, size_t ldw, int w_signed,
                  int8_t *out, int32_t *rowsum);

/* sum[j] = sum over kk < k of rows[kk][col + j] ^ xor_mask, for j < nc. */
void nn_q8_col_sums(size_t k, size_t nc, const uint8_t *const *rows, size_t col,
                    uint8_t xor_mask, int32_t *sum);

/* ---------------------------------------------------------------- drivers */

/*
 * A GEMM with packed weights and a fused epilogue, for the quantized ops:
 *   y[i][j] = epilogue(sum_k (w[i][k] - wz[i]) * (x[k][j] - xz) + bias[i])
 * with x uint8 (x_xor = 0) or int8 (x_xor = 0x80; xz is then the int8 zero point + 128,
 * i.e. in the flipped domain). row_bias / row_mul come from nn_q8_gemm_row_terms.
 */
typedef struct nn_q8_gemm_job {
  const nn_kernels *kern;
  size_t m, n, k;
  const int8_t *w;          /* packed with mr = kern->q8_mr */
  const int32_t *row_bias;  /* [m] */
  const int32_t *row_mul;   /* [m] or NULL (all weight zero points 0) */
  const uint8_t *const *xrows; /* k row pointers of x (k x n, uint8 or int8) */
  uint8_t x_xor;
  int mode;                 /* NN_Q8_OUT_* */
  const float *scale;       /* [m] requant multipliers (requantized modes) */
  int32_t out_zp, qmin, qmax;
  void *y;                  /* m x n, row stride ldy elements */
  size_t ldy;
  /* Optional implicit x (a convolution's im2col): when conv is set, xrows is not used
   * and columns come from nn_q8_im2col_panel over conv (one image and group at conv_x,
   * padded with the raw byte conv_pad). */
  const struct nn_conv_geom *conv;
  const uint8_t *conv_x;
  uint8_t conv_pad;
  /* Optional transposed operands (a MatMul with constant weights on the right runs as
   * Y^T = W^T X^T): when xt is set, x is given as its transpose, n rows of k bytes (row
   * stride ldxt), and xrows is not used; when y_trans is set, y receives the result
   * transposed (element (i, j) at y[j * ldy + i], 8-bit modes only). */
  const uint8_t *xt;
  size_t ldxt;
  int y_trans;
} nn_q8_gemm_job;

/* Panel of columns [0, nc) of x given transposed (xt: nc rows of k bytes, stride ldxt),
 * XOR xor_mask; the layout of nn_q8_pack_x_fn. Column sums too when sum is not NULL. */
void nn_q8_pack_xt(size_t k, size_t nc, size_t nr, const uint8_t *xt, size_t ldxt,
                   uint8_t xor_mask, uint8_t *out, int32_t *sum);

/* Workspace bytes for one call of nn_q8_gemm_run (one panel, its column sums and, for
 * implicit im2col, k x 256 gathered bytes and their row pointers). */
size_t nn_q8_gemm_workspace(const nn_kernels *kern, size_t k, int implicit);

/*
 * Columns [p0, p0 + nc) of the byte im2col of a 2-D convolution (layout of
 * nn_x8_im2col__ref) as a k x nc row-major block (row stride nr >= nc, nc <= 256),
 * k = channels * kh * kw.
 * Positions in the padding get pad. Only rank 2 is supported (1-D convolutions are
 * rank 2 with a unit dim).
 */
void nn_q8_im2col_panel(const struct nn_conv_geom *g, const uint8_t *x, uint8_t pad, size_t p0,
                        size_t nc, size_t nr, uint8_t *rows);

/* Columns [n0, n1) of the job (n0 a multiple of kern->q8_nr, for splitting over
 * threads); ws holds nn_q8_gemm_workspace bytes, 64-byte aligned. */
void nn_q8_gemm_run(const nn_q8_gemm_job *job, size_t n0, size_t n1, void *ws);
/* Rows [m0, m1) (m0 a multiple of kern->q8_mr) of columns [n0, n1). */
void nn_q8_gemm_run_tile(const nn_q8_gemm_job *job, size_t m0, size_t m1, size_t n0,
                         size_t n1, void *ws);

/* A split of a job into independent tasks for a thread pool: column chunks (whole
 * panels) times row chunks (whole tiles), about 4 tasks per thread, 1 task for 1. */
typedef struct nn_q8_gemm_tasks {
  size_t col_chunk, row_chunk, col_tasks, row_tasks, tasks;
} nn_q8_gemm_tasks;
void nn_q8_gemm_split(const nn_q8_gemm_job *job, size_t threads, nn_q8_gemm_tasks *t);
/* Task index < t->tasks; each running thread passes its own workspace. */
void nn_q8_gemm_run_task(const nn_q8_gemm_job *job, const nn_q8_gemm_tasks *t, size_t task,
                         void *ws);

/*
 * Per-row terms for a job: with rowsum from nn_q8_pack_w (packed int8 weights), wz the
 * weight zero points in the packed domain (the int8 value, or the uint8 value - 128;
 * NULL for all zero), xz the activation zero point in the flipped domain, bias (NULL for
 * none):
 *   row_bias[i] = bias[i] - (xz + x_offset) * rowsum[i] + k * wz[i] * xz
 *   row_mul[i]  = -wz[i]     (only when wz is given)
 */
void nn_q8_gemm_row_terms(const nn_kernels *kern, size_t m, size_t k, const int32_t *rowsum,
                          const int32_t *wz, int32_t xz, const int32_t *bias,
                          int32_t *row_bias, int32_t *row_mul);

/* The x8_gemm entry (contract of nn_x8_gemm__ref) over a table's microkernel: packs
 * blocks on the stack, never allocates. */
void nn_x8_gemm__packed(const nn_kernels *kern, int a_signed, int b_signed, size_t m,
                        size_t n, size_t k, const void *a, size_t lda, const void *a_zp,
                        size_t a_zp_inc, const void *b, size_t ldb, const void *b_zp,
                        size_t b_zp_inc, int32_t *c, size_t ldc);

#endif
