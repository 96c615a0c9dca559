/*
 * q8_matmul.c - the MatMul adapter over the packed q8 GEMM microkernel (q8_matmul.h).
 * Results match nn_x8_gemm__ref exactly (int32, wrapping); the float epilogue is the
 * one multiply-add per element that ONNX Runtime's MatMulIntegerToFloat does.
 */
#include "kernels/q8_matmul.h"

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

size_t nn_q8_matmul_workspace(const nn_kernels *kern, size_t k) {
  return align64((k + 3) / 4 * 4 * kern->q8_nr) + align64(kern->q8_nr * sizeof(int32_t));
}

void nn_q8_matmul_split(const nn_q8_matmul_job *job, size_t threads, nn_q8_gemm_tasks *t) {
  /* GEMM rows are the features (n), columns the activation rows (m). */
  nn_q8_gemm_job g = {.kern = job->kern, .m = job->n, .n = job->m, .k = job->k};
  nn_q8_gemm_split(&g, threads, t);
}

void nn_q8_mmstore_f32__scalar(size_t mc, size_t nc, const int32_t *tile, size_t ldt,
                               float *y, size_t ldy, const float *mult, const float *bias) {
  for (size_t j = 0; j < nc; j++, y += ldy)
    for (size_t i = 0; i < mc; i++) {
      const float t = (float)tile[i * ldt + j] * mult[i];
      y[i] = t + (bias ? bias[i] : 0.0f);
    }
}

static void store_tile(const nn_q8_matmul_job *job, const int32_t *tile, size_t i0, size_t mc,
                       size_t j0, size_t nc) {
  if (!job->mult) {
    int32_t *y = (int32_t *)job->y + j0 * job->ldy + i0;
    for (size_t j = 0; j < nc; j++, y += job->ldy)
      for (size_t i = 0; i < mc; i++) y[i] = tile[i * NN_Q8_MAX_NR + j];
    return;
  }
  void (*st)(size_t, size_t, const int32_t *, size_t, float *, size_t, const float *,
             const float *) =
      job->kern->q8_mmstore_f32 ? job->kern->q8_mmstore_f32 : nn_q8_mmstore_f32__scalar;
  st(mc, nc, tile, NN_Q8_MAX_NR, (float *)job->y + j0 * job->ldy + i0, job->ldy, job->mult + i0,
     job->bias ? job->bias + i0 : NULL);
}

void nn_q8_matmul_run_task(const nn_q8_matmul_job *job, const nn_q8_gemm_tasks *t,
                           size_t task, void *ws) {
  const nn_kernels *kern = job->kern;
  const size_t mr = kern->q8_mr, nr = kern->q8_nr, kq = (job->k + 3) / 4;
  const size_t ct = task % t->col_tasks, rt = task / t->col_tasks;
  const size_t c0 = ct * t->col_chunk, r0 = rt * t->row_chunk;
  const size_t c1 = c0 + t->col_chunk < job->m ? c0 + t->col_chunk : job->m;
  const size_t r1 = r0 + t->row_chunk < job->n ? r0 + t->row_chunk : job->n;
  uint8_t *panel = ws;
  int32_t *cs = (int32_t *)((char *)ws + align64(kq * 4 * nr));
  nn_q8_gemm_params p = {.col_vec = cs};
  int32_t tile[NN_Q8_MAX_MR * NN_Q8_MAX_NR];
  for (size_t j0 = c0; j0 < c1; j0 += nr) {
    const size_t nc = c1 - j0 < nr ? c1 - j0 : nr;
    if (kern->q8_pack_xt && !job->row_mul)
      kern->q8_pack_xt(job->k, nc, nr, job->x + j0 * job->ldx, job->ldx, job->x_xor, panel);
    else
      nn_q8_pack_xt(job->k, nc, nr, job->x + j0 * job->ldx, job->ldx, job->x_xor, panel,
                    job->row_mul ? cs : NULL);
    for (size_t i0 = r0; i0 < r1; i0 += mr) {
      const size_t mc = r1 - i0 < mr ? r1 - i0 : mr;
      p.row_bias = job->row_bias + i0;
      p.row_mul = job->row_mul ? job->row_mul + i0 : NULL;
      kern->q8_gemm(mc, nc, kq, job->wp + i0 * kq * 4, panel, tile, NN_Q8_MAX_NR,
                    NN_Q8_OUT_I32, &p);
      store_tile(job, tile, i0, mc, j0, nc);
    }
  }
}
