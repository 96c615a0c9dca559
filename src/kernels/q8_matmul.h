/*
 * q8_matmul.h - MatMul of 8-bit activations by constant 8-bit weights on the packed
 * q8 GEMM (q8_gemm.h), for MatMulInteger and MatMulIntegerToFloat: the thin adapter
 * that runs Y = X * W as Y^T = W^T X^T (weights packed once as the GEMM's left operand,
 * activation rows read as the transposed right operand) and stores each tile transposed
 * either as int32 or, fused, as float y = (float)t * mult[j] + bias[j].
 */
#ifndef NN_KERNELS_Q8_MATMUL_H
#define NN_KERNELS_Q8_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/q8_gemm.h"

/*
 * The direct microkernel of the float MatMul (MatMulIntegerToFloat with uint8
 * activations and weight zero points 0, as dynamic quantization writes it): Y = X * W
 * computed in place, mr <= 8 activation rows read straight from X (row stride ldx, k
 * bytes each, never read past) against nc <= 32 weight columns packed as one block of
 * nn_q8_pack_w(n, k, NN_Q8_MMF_NR, W^T, ...) (int8, [kq][32][4]), stored as
 *   y[r * ldy + j] = (float)(sum_kk x[r][kk] * w[kk][j] + col_bias[j]) * mult[j]
 *                    + (bias ? bias[j] : 0)      (int32 wrapping; a multiply, then an add)
 * which equals the transposed path's result bit for bit. The sums have no activation
 * offset (unlike q8_gemm's q8_x_offset), so for an activation zero point xz the column
 * terms are col_bias[j] = -xz * rowsum[j] (the row sums of nn_q8_pack_w).
 */
#define NN_Q8_MMF_MR 8
#define NN_Q8_MMF_NR 32
typedef void (*nn_q8_mmf_ukernel_fn)(size_t mr, size_t nc, size_t k, const uint8_t *x,
                                     size_t ldx, const int8_t *w, const int32_t *col_bias,
                                     const float *mult, const float *bias, float *y,
                                     size_t ldy);
void nn_q8_mmf_ukernel_8x32__scalar(size_t mr, size_t nc, size_t k, const uint8_t *x,
                                    size_t ldx, const int8_t *w, const int32_t *col_bias,
                                    const float *mult, const float *bias, float *y,
                                    size_t ldy);
void nn_q8_mmf_ukernel_8x32__avx512vnni(size_t mr, size_t nc, size_t k, const uint8_t *x,
                                        size_t ldx, const int8_t *w, const int32_t *col_bias,
                                        const float *mult, const float *bias, float *y,
                                        size_t ldy);
/* The direct microkernel for a kernel table's level, or NULL where the transposed path
 * is the faster one (config_f32_eltwise.c). */
nn_q8_mmf_ukernel_fn nn_q8_mmf_ukernel_for(const nn_kernels *kern);

/* Y [m x n] (row stride ldy) from X [m x k] (row stride ldx) and W [k x n]. */
typedef struct nn_q8_matmul_job {
  const nn_kernels *kern;
  size_t m, n, k;
  const int8_t *wp;         /* W^T packed by nn_q8_pack_w(n, k, kern->q8_mr, ...) */
  const int32_t *row_bias;  /* [n], nn_q8_gemm_row_terms for the run's zero point */
  const int32_t *row_mul;   /* [n] or NULL (all weight zero points 0) */
  const uint8_t *x;
  size_t ldx;
  uint8_t x_xor;            /* 0x80 for int8 activations */
  void *y;
  size_t ldy;
  const float *mult;        /* NULL: int32 output; else float output, [n] multipliers */
  const float *bias;        /* [n] or NULL (float output only) */
  /* Optional direct path, taken when both are set, the output is float, x_xor is 0 and
   * row_mul is NULL: the weights packed as NN_Q8_MMF_NR-column blocks and the kernel. */
  const int8_t *wd;
  nn_q8_mmf_ukernel_fn mmf;
} nn_q8_matmul_job;

/* The float epilogue of one tile (table entry q8_mmstore_f32; NULL: this scalar twin):
 * y[j * ldy + i] = (float)tile[i * ldt + j] * mult[i] + (bias ? bias[i] : 0) for i < mc,
 * j < nc, as a multiply then an add (no FMA), so every version gives the same bits. */
void nn_q8_mmstore_f32__scalar(size_t mc, size_t nc, const int32_t *tile, size_t ldt,
                               float *y, size_t ldy, const float *mult, const float *bias);
void nn_q8_mmstore_f32__avx2(size_t mc, size_t nc, const int32_t *tile, size_t ldt, float *y,
                             size_t ldy, const float *mult, const float *bias);

/* Activation panel from x^T (table entry q8_pack_xt; NULL: nn_q8_pack_xt): the panel of
 * nn_q8_pack_xt without the column sums, byte for byte. */
void nn_q8_pack_xt__avx2(size_t k, size_t nc, size_t nr, const uint8_t *xt, size_t ldxt,
                         uint8_t xor_mask, uint8_t *out);

/* Workspace bytes of one thread (64-byte aligned). */
size_t nn_q8_matmul_workspace(const nn_kernels *kern, size_t k);

/* Split into tasks for `threads` threads and run task `task` (the tile split of
 * nn_q8_gemm_split over features x rows; on the direct path, chunks of weight blocks,
 * about 4 per thread); ws: nn_q8_matmul_workspace bytes of the running thread, 64-byte
 * aligned (unused on the direct path). Never allocates. */
void nn_q8_matmul_split(const nn_q8_matmul_job *job, size_t threads, nn_q8_gemm_tasks *t);
void nn_q8_matmul_run_task(const nn_q8_matmul_job *job, const nn_q8_gemm_tasks *t,
                           size_t task, void *ws);


/* The range of DynamicQuantizeLinear, for DynamicQuantizeMatMul (ops/integer.c):
 * *lo = min(0, min x[i]), *hi = max(0, max x[i]) over n floats, NaN skipped (a compare
 * with NaN is false), each element taken as `x < lo ? x : lo` (so -0.0 never replaces
 * the starting +0.0). Exact: every version equals the scalar twin bit for bit. */
typedef void (*nn_f32_range_fn)(size_t n, const float *x, float *lo, float *hi);
void nn_f32_range__scalar(size_t n, const float *x, float *lo, float *hi);
void nn_f32_range__avx512(size_t n, const float *x, float *lo, float *hi);
/* The version for a kernel table's level (config_f32_eltwise.c; the scalar twin at the
 * reference level and off x86). */
nn_f32_range_fn nn_f32_range_for(const nn_kernels *kern);

#endif
