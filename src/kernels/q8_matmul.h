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
 * nn_q8_gemm_split over features x rows); ws: nn_q8_matmul_workspace bytes of the
 * running thread, 64-byte aligned. Never allocates. */
void nn_q8_matmul_split(const nn_q8_matmul_job *job, size_t threads, nn_q8_gemm_tasks *t);
void nn_q8_matmul_run_task(const nn_q8_matmul_job *job, const nn_q8_gemm_tasks *t,
                           size_t task, void *ws);

#endif
