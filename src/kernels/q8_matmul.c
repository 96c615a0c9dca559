/*
 * q8_matmul.c - the MatMul adapter over the packed q8 GEMM microkernel (q8_matmul.h),
 * its direct float path (the mmf microkernel, no transposes) and the scalar twins of
 * the mmf microkernel and of DynamicQuantizeLinear's range. Results match
 * nn_x8_gemm__ref exactly (int32, wrapping); the float epilogue is the one multiply-add
 * per element that ONNX Runtime's MatMulIntegerToFloat does.
 */
#include "kernels/q8_matmul.h"

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

size_t nn_q8_matmul_workspace(const nn_kernels *kern, size_t k) {
  return align64((k + 3) / 4 * 4 * kern->q8_nr) + align64(kern->q8_nr * sizeof(int32_t));
}

static int direct(const nn_q8_matmul_job *job) {
  return job->mmf && job->wd && job->mult && !job->x_xor && !job->row_mul;
}

void nn_q8_mmf_ukernel_8x32__scalar(size_t mr, size_t nc, size_t k, const uint8_t *x,
                                    size_t ldx, const int8_t *w, const int32_t *col_bias,
                                    const float *mult, const float *bias, float *y,
                                    size_t ldy) {
  for (size_t r = 0; r < mr; r++)
    for (size_t j = 0; j < nc; j++) {
      uint32_t acc = (uint32_t)col_bias[j];
      for (size_t kk = 0; kk < k; kk++)
        acc += (uint32_t)((int32_t)x[r * ldx + kk] *
                          (int32_t)w[(kk / 4) * NN_Q8_MMF_NR * 4 + j * 4 + kk % 4]);
      const float t = (float)(int32_t)acc * mult[j];
      y[r * ldy + j] = t + (bias ? bias[j] : 0.0f);
    }
}

/* Direct path: weight blocks [b0, b1) of NN_Q8_MMF_NR columns, each over all rows (the
 * block stays in cache while the rows stream past it). */
static void run_direct(const nn_q8_matmul_job *job, size_t b0, size_t b1) {
  const size_t kq = (job->k + 3) / 4, nr = NN_Q8_MMF_NR, mr = NN_Q8_MMF_MR;
  float *y = job->y;
  for (size_t b = b0; b < b1; b++) {
    const size_t j0 = b * nr, nc = job->n - j0 < nr ? job->n - j0 : nr;
    const int8_t *w = job->wd + j0 * kq * 4;
    const float *bias = job->bias ? job->bias + j0 : NULL;
    for (size_t r0 = 0; r0 < job->m; r0 += mr)
      job->mmf(job->m - r0 < mr ? job->m - r0 : mr, nc, job->k, job->x + r0 * job->ldx,
               job->ldx, w, job->row_bias + j0, job->mult + j0, bias, y + r0 * job->ldy + j0,
               job->ldy);
  }
}

void nn_q8_matmul_split(const nn_q8_matmul_job *job, size_t threads, nn_q8_gemm_tasks *t) {
  if (direct(job)) {
    const size_t blocks = (job->n + NN_Q8_MMF_NR - 1) / NN_Q8_MMF_NR;
    size_t tasks = threads > 1 ? 4 * threads : 1;
    if (tasks > blocks) tasks = blocks ? blocks : 1;
    t->col_tasks = 1;
    t->col_chunk = job->m;
    t->row_chunk = (blocks + tasks - 1) / tasks; /* in blocks */
    t->row_tasks = t->row_chunk ? (blocks + t->row_chunk - 1) / t->row_chunk : 1;
    if (!t->row_tasks) t->row_tasks = 1;
    t->tasks = t->row_tasks;
    return;
  }
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
  if (direct(job)) {
    const size_t blocks = (job->n + NN_Q8_MMF_NR - 1) / NN_Q8_MMF_NR;
    const size_t b0 = task * t->row_chunk;
    run_direct(job, b0, b0 + t->row_chunk < blocks ? b0 + t->row_chunk : blocks);
    return;
  }
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

void nn_f32_range__scalar(size_t n, const float *x, float *lo, float *hi) {
  float l = 0.0f, h = 0.0f;
  for (size_t i = 0; i < n; i++) {
    l = x[i] < l ? x[i] : l;
    h = x[i] > h ? x[i] : h;
  }
  *lo = l;
  *hi = h;
}
