/*
 * integer.c - the ops computed by the 8-bit integer GEMM: MatMulInteger and ConvInteger
 * (int32 results), com.microsoft MatMulIntegerToFloat (int32 rescaled to float, the
 * fused dynamic-quantization MatMul) and DynamicQuantizeMatMul (the same with the
 * activations' DynamicQuantizeLinear done inside), QLinearMatMul and QLinearConv
 * (requantized to 8 bits exactly as kernels/ref/requant.h). MatMulInteger /
 * MatMulIntegerToFloat / DynamicQuantizeMatMul with a constant 2-D B pack it once and
 * run the packed GEMM (kernels/q8_matmul.h; uint8 activations with weight zero points 0
 * take its direct float path); other GEMMs go through the kernel table's x8_gemm.
 * QLinearConv with
 * constant weights packs them once in prepare and runs the packed GEMM with the fused
 * requantization epilogue (1x1 convolutions straight on NCHW, others through im2col
 * into the workspace), or the depthwise 3x3 kernel; anything else (or non-finite
 * multipliers) takes the reference path: im2col + GEMM + requantize per image and group.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/q8_dwconv.h"
#include "kernels/q8_gemm.h"
#include "kernels/q8_matmul.h"
#include "kernels/ref/qgemm.h"
#include "kernels/ref/requant.h"
#include "ops/op.h"
#include "runtime/session.h"
#include "runtime/threadpool.h"

/* Stand-in for an omitted zero point (used with increment 0, any 8-bit type). */
static const uint8_t g_zero_zp[1] = {0};

static int is_q8(nn_dtype t) { return t == NN_UINT8 || t == NN_INT8; }

static size_t align_up(size_t n) { return (n + 63) & ~(size_t)63; }

/* Check an optional zero point: dtype of its tensor, and numel 1 or (1-D) numel n1.
 * n1 <= 0 allows only per-tensor. Sets *inc to 0 (one value) or 1 (one per row/col). */
static nn_status check_zp(nn_op_ctx *ctx, int idx, const char *name, nn_dtype want,
                          int64_t n1, const char *what, size_t *inc) {
  const nn_value *z = nn_in(ctx, idx);
  *inc = 0;
  if (!z) return NN_OK;
  if (z->dtype != want)
    return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' has dtype %s, expected %s", name,
                       nn_dtype_name(z->dtype), nn_dtype_name(want));
  int64_t nz = nn_value_numel(z);
  if (nz == 1 && z->ndim <= 1) return NN_OK;
  if (n1 > 0 && z->ndim == 1 && nz == n1) {
    *inc = 1;
    return NN_OK;
  }
  return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' must be a scalar%s%s", name,
                     n1 > 0 ? " or a 1-D tensor with one value per " : "", n1 > 0 ? what : "");
}

/* Same for a float scale (dtype float32). */
static nn_status check_scale(nn_op_ctx *ctx, int idx, const char *name, int64_t n1,
                             const char *what, size_t *inc) {
  const nn_value *s = nn_in(ctx, idx);
  *inc = 0;
  if (!s) return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' is missing", name);
  if (s->dtype != NN_FLOAT)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input '%s' has dtype %s, expected float32",
                       name, nn_dtype_name(s->dtype));
  int64_t ns = nn_value_numel(s);
  if (ns == 1 && s->ndim <= 1) return NN_OK;
  if (n1 > 0 && s->ndim == 1 && ns == n1) {
    *inc = 1;
    return NN_OK;
  }
  return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' must be a scalar%s%s", name,
                     n1 > 0 ? " or a 1-D tensor with one value per " : "", n1 > 0 ? what : "");
}

static const void *zp_data(const nn_op_ctx *ctx, int idx) {
  const nn_value *z = nn_in(ctx, idx);
  return z ? z->data : g_zero_zp;
}

/* Inputs idx[] are absent or constants (initializers / folded): values that prepare may
 * bake into packed state. A graph input can have data at prepare (the session plans
 * with the first inputs bound) and still change on the next run. */
static int all_known(const nn_op_ctx *ctx, const int *idx, int n) {
  for (int i = 0; i < n; i++) {
    const nn_value *v = nn_in(ctx, idx[i]);
    if (v && (!v->data || !(v->flags & NN_V_CONST))) return 0;
  }
  return 1;
}

/* ============================================================ batched matmul */

/* numpy matmul of A [..., M, K] and B [..., K, N] with broadcast batch dims; a 1-D A is
 * [1, K] and a 1-D B is [K, 1], with that dim dropped from the output. */
typedef struct mm_plan {
  int64_t m, n, k;
  int nbd;                             /* output batch dims */
  int64_t batch[NN_MAX_DIMS];
  int64_t a_stride[NN_MAX_DIMS];       /* in matrices per batch index; 0 = broadcast */
  int64_t b_stride[NN_MAX_DIMS];
  int64_t nbatch;
  int out_ndim;
  int64_t out[NN_MAX_DIMS];
} mm_plan;

static nn_status mm_plan_make(nn_op_ctx *ctx, const nn_value *a, const nn_value *b,
                              const char *an, const char *bn, mm_plan *p) {
  if (a->ndim < 1) return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' is a scalar", an);
  if (b->ndim < 1) return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' is a scalar", bn);
  int na = a->ndim >= 2 ? a->ndim - 2 : 0, nb = b->ndim >= 2 ? b->ndim - 2 : 0;
  p->m = a->ndim >= 2 ? a->dims[a->ndim - 2] : 1;
  p->k = a->dims[a->ndim - 1];
  int64_t kb = b->ndim >= 2 ? b->dims[b->ndim - 2] : b->dims[0];
  p->n = b->ndim >= 2 ? b->dims[b->ndim - 1] : 1;
  if (p->k != kb)
    return nn_op_error(ctx, NN_ERR_INVALID,
                       "input '%s' has %lld columns but input '%s' has %lld rows", an,
                       (long long)p->k, bn, (long long)kb);
  nn_status st = nn_broadcast_shape(ctx, na, a->dims, nb, b->dims, &p->nbd, p->batch);
  if (st) return st;
  int64_t sa = 1, sb = 1;
  for (int d = p->nbd - 1; d >= 0; d--) {
    int da = d - (p->nbd - na), db = d - (p->nbd - nb);
    int64_t ea = da >= 0 ? a->dims[da] : 1, eb = db >= 0 ? b->dims[db] : 1;
    p->a_stride[d] = ea == 1 ? 0 : sa;
    p->b_stride[d] = eb == 1 ? 0 : sb;
    sa *= ea;
    sb *= eb;
  }
  p->nbatch = 1;
  p->out_ndim = 0;
  for (int d = 0; d < p->nbd; d++) {
    p->nbatch *= p->batch[d];
    p->out[p->out_ndim++] = p->batch[d];
  }
  if (p->out_ndim + 2 > NN_MAX_DIMS)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "output rank exceeds %d", NN_MAX_DIMS);
  if (a->ndim >= 2) p->out[p->out_ndim++] = p->m;
  if (b->ndim >= 2) p->out[p->out_ndim++] = p->n;
  return NN_OK;
}

/* Matrix offsets (in matrices) of A and B for output batch index bi. */
static void mm_batch_offsets(const mm_plan *p, int64_t bi, int64_t *ao, int64_t *bo) {
  *ao = *bo = 0;
  for (int d = p->nbd - 1; d >= 0; d--) {
    int64_t i = bi % p->batch[d];
    bi /= p->batch[d];
    *ao += i * p->a_stride[d];
    *bo += i * p->b_stride[d];
  }
}

/* ============================================================ MatMulInteger */

/* Packed path shared by MatMulInteger and MatMulIntegerToFloat: B a constant 2-D
 * matrix (and constant zero point), A with one zero point. B^T is packed once at
 * prepare (kernels/q8_matmul.h); the activation zero point's row terms are computed
 * per run (DynamicQuantizeLinear gives a new one each time). */
typedef struct mmq_state {
  int fast;
  const nn_kernels *k;
  int8_t *wp;  /* W^T packed for the table's q8 GEMM, or NULL on the direct path */
  int8_t *wd;  /* W^T packed for mmf (the direct float path), or NULL */
  nn_q8_mmf_ukernel_fn mmf;
  int32_t *rowsum, *wz, *row_mul;
  size_t threads, ws_stride;
} mmq_state;

static void mmq_release(void *p) {
  mmq_state *s = p;
  if (!s) return;
  free(s->wp);
  free(s->wd);
  free(s->rowsum);
  free(s->wz);
  free(s->row_mul);
  free(s);
}

/* Scratch of the packed path: per-thread workspaces, then row_bias [n] and mult [n]. */
static size_t mmq_scratch(const mmq_state *s, size_t n) {
  return s->threads * s->ws_stride + align_up(n * sizeof(int32_t)) + n * sizeof(float);
}

/* bi, bzi: input indices of B and of its zero point; azi_inc: A's zero point is per row;
 * direct_ok: float output from uint8 A, where the direct microkernel (q8_matmul.h) runs
 * when the table's level has one and B's zero points are all 0 (then only its packing
 * is kept). */
static nn_status mmq_setup(nn_op_ctx *ctx, const mm_plan *p, int bi, int bzi, size_t az_inc,
                           size_t bz_inc, int direct_ok, mmq_state *s) {
  const nn_value *b = nn_in(ctx, bi), *bz = nn_in(ctx, bzi);
  const int known[] = {bi, bzi};
  if (b->ndim != 2 || az_inc || !all_known(ctx, known, 2) || p->n <= 0 || p->k <= 0)
    return NN_OK;
  const size_t n = (size_t)p->n, k = (size_t)p->k;
  const int b_signed = b->dtype == NN_INT8;
  s->k = nn_kernels_get();
  s->threads = (size_t)nn_threadpool_size(nn_session_threadpool(ctx->session));
  if (!s->threads) s->threads = 1;
  s->rowsum = calloc(n, sizeof(int32_t));
  s->wz = calloc(n, sizeof(int32_t));
  if (!s->rowsum || !s->wz) return NN_ERR_NOMEM;
  int any = 0;
  for (size_t j = 0; j < n; j++) {
    const uint8_t zb = bz ? ((const uint8_t *)bz->data)[j * bz_inc] : 0;
    s->wz[j] = b_signed ? (int32_t)(int8_t)zb : (int32_t)zb - 128;
    any |= s->wz[j] != 0;
  }
  s->mmf = direct_ok && !any ? nn_q8_mmf_ukernel_for(s->k) : NULL;
  const size_t mr = s->mmf ? NN_Q8_MMF_NR : s->k->q8_mr;
  int8_t *w = malloc(nn_q8_packed_w_size(n, k, mr) + 1);
  uint8_t *bt = malloc(n * k + 1);
  if (!w || !bt) {
    free(w);
    free(bt);
    return NN_ERR_NOMEM;
  }
  *(s->mmf ? &s->wd : &s->wp) = w;
  const uint8_t *bd = b->data;
  for (size_t kk = 0; kk < k; kk++)
    for (size_t j = 0; j < n; j++) bt[j * k + kk] = bd[kk * n + j];
  nn_q8_pack_w(n, k, mr, bt, k, b_signed, w, s->rowsum);
  free(bt);
  if (any && !(s->row_mul = calloc(n, sizeof(int32_t)))) return NN_ERR_NOMEM;
  s->ws_stride = align_up(nn_q8_matmul_workspace(s->k, k));
  s->fast = 1;
  return NN_OK;
}

static nn_status mmq_prepare(nn_op_ctx *ctx, const mm_plan *p, int bi, int bzi, size_t az_inc,
                             size_t bz_inc, int direct_ok, size_t ref_need) {
  if (ctx->state) {
    mmq_release(ctx->state);
    ctx->state = NULL;
  }
  mmq_state *s = calloc(1, sizeof *s);
  if (!s) return nn_op_error(ctx, NN_ERR_NOMEM, "out of memory for packed weights");
  ctx->state = s;
  if (mmq_setup(ctx, p, bi, bzi, az_inc, bz_inc, direct_ok, s))
    return nn_op_error(ctx, NN_ERR_NOMEM, "out of memory for packed weights");
  const size_t fast_need = s->fast ? mmq_scratch(s, (size_t)p->n) : 0;
  ctx->scratch_size = ref_need > fast_need ? ref_need : fast_need;
  return NN_OK;
}

typedef struct mmq_par {
  const nn_q8_matmul_job *job;
  nn_q8_gemm_tasks tasks;
  char *ws;
  size_t ws_stride;
} mmq_par;

static void mmq_task(void *ctx, size_t thread, size_t task) {
  const mmq_par *w = ctx;
  nn_q8_matmul_run_task(w->job, &w->tasks, task, w->ws + thread * w->ws_stride);
}

/* y = (A - az) (B - bz) as int32 (a_scale NULL), or times a_scale * b_scale[j] (+ bias)
 * as float. A is given as data (ad: rows x k bytes, int8 when a_signed) with zero point
 * byte azb; scratch: mmq_scratch bytes. */
static nn_status mmq_run_a(nn_op_ctx *ctx, const mm_plan *p, mmq_state *s, const uint8_t *ad,
                           int a_signed, uint8_t azb, char *scratch, size_t scratch_size,
                           const float *a_scale, const float *b_scale, size_t bs_inc,
                           const float *bias) {
  nn_value *y = nn_out(ctx, 0);
  const size_t n = (size_t)p->n, k = (size_t)p->k;
  const size_t rows = (size_t)(p->nbatch * p->m); /* B is 2-D: A's rows are contiguous */
  if (!y || !rows) return NN_OK;
  nn_threadpool *pool = nn_session_threadpool(ctx->session);
  size_t threads = (size_t)nn_threadpool_size(pool);
  if (threads > s->threads) threads = s->threads;
  if (!threads) threads = 1;
  if (scratch_size < mmq_scratch(s, n) || !scratch)
    return nn_op_error(ctx, NN_ERR_RUNTIME, "scratch of %zu bytes is too small", scratch_size);
  int32_t *row_bias = (int32_t *)(scratch + s->threads * s->ws_stride);
  float *mult = (float *)((char *)row_bias + align_up(n * sizeof(int32_t)));
  const int32_t xz = a_signed ? (int32_t)(int8_t)azb + 128 : azb;
  if (s->mmf) /* the direct path sums w * x (no activation offset); weight zp are 0 */
    for (size_t j = 0; j < n; j++)
      row_bias[j] = (int32_t)(0u - (uint32_t)xz * (uint32_t)s->rowsum[j]);
  else
    nn_q8_gemm_row_terms(s->k, n, k, s->rowsum, s->row_mul ? s->wz : NULL, xz, NULL, row_bias,
                         s->row_mul);
  if (a_scale)
    for (size_t j = 0; j < n; j++) mult[j] = *a_scale * b_scale[j * bs_inc];
  nn_q8_matmul_job job = {.kern = s->k, .m = rows, .n = n, .k = k, .wp = s->wp,
                          .row_bias = row_bias, .row_mul = s->row_mul, .x = ad,
                          .ldx = k, .x_xor = a_signed ? 0x80 : 0, .y = y->data, .ldy = n,
                          .mult = a_scale ? mult : NULL, .bias = bias, .wd = s->wd,
                          .mmf = s->mmf};
  if (!s->wp && !(s->mmf && a_scale && !a_signed))
    return nn_op_error(ctx, NN_ERR_RUNTIME, "weights were packed for another path");
  mmq_par w = {.job = &job, .ws = scratch, .ws_stride = s->ws_stride};
  nn_q8_matmul_split(&job, rows * n * k < ((size_t)1 << 20) ? 1 : threads, &w.tasks);
  nn_threadpool_parallelize(w.tasks.tasks > 1 ? pool : NULL, mmq_task, &w, w.tasks.tasks);
  return NN_OK;
}

/* mmq_run_a with A and its zero point from inputs ai, azi and the op's scratch. */
static nn_status mmq_run_fast(nn_op_ctx *ctx, const mm_plan *p, mmq_state *s, int ai, int azi,
                              const float *a_scale, const float *b_scale, size_t bs_inc,
                              const float *bias) {
  const nn_value *a = nn_in(ctx, ai), *az = nn_in(ctx, azi);
  return mmq_run_a(ctx, p, s, a->data, a->dtype == NN_INT8, az ? *(const uint8_t *)az->data : 0,
                   ctx->scratch, ctx->scratch_size, a_scale, b_scale, bs_inc, bias);
}

static nn_status mmi_check(nn_op_ctx *ctx, mm_plan *p, size_t *azi, size_t *bzi) {
  const nn_value *a = nn_in(ctx, 0), *b = nn_in(ctx, 1);
  if (!a || !b) return nn_op_error(ctx, NN_ERR_INVALID, "inputs 'A' and 'B' are required");
  if (!is_q8(a->dtype) || !is_q8(b->dtype))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED,
                       "inputs 'A' (%s) and 'B' (%s) must be uint8 or int8",
                       nn_dtype_name(a->dtype), nn_dtype_name(b->dtype));
  nn_status st = mm_plan_make(ctx, a, b, "A", "B", p);
  if (!st) st = check_zp(ctx, 2, "a_zero_point", a->dtype, p->m, "row of 'A'", azi);
  if (!st) st = check_zp(ctx, 3, "b_zero_point", b->dtype, p->n, "column of 'B'", bzi);
  return st;
}

static nn_status mmi_infer(nn_op_ctx *ctx) {
  mm_plan p;
  size_t azi, bzi;
  nn_status st = mmi_check(ctx, &p, &azi, &bzi);
  if (st) return st;
  return nn_value_set(ctx, nn_out(ctx, 0), NN_INT32, p.out_ndim, p.out);
}

static nn_status mmi_prepare(nn_op_ctx *ctx) {
  mm_plan p;
  size_t azi, bzi;
  nn_status st = mmi_check(ctx, &p, &azi, &bzi);
  if (st) return st;
  return mmq_prepare(ctx, &p, 1, 3, azi, bzi, 0, 0);
}

static nn_status mmi_run(nn_op_ctx *ctx) {
  const nn_value *a = nn_in(ctx, 0), *b = nn_in(ctx, 1);
  nn_value *y = nn_out(ctx, 0);
  mm_plan p;
  size_t azi, bzi;
  nn_status st = mmi_check(ctx, &p, &azi, &bzi);
  if (st) return st;
  mmq_state *s = ctx->state;
  if (s && s->fast) return mmq_run_fast(ctx, &p, s, 0, 2, NULL, NULL, 0, NULL);
  const size_t m = (size_t)p.m, n = (size_t)p.n, k = (size_t)p.k;
  for (int64_t bi = 0; bi < p.nbatch; bi++) {
    int64_t ao, bo;
    mm_batch_offsets(&p, bi, &ao, &bo);
    nn_kernels_get()->x8_gemm(a->dtype == NN_INT8, b->dtype == NN_INT8, m, n, k,
                    (const uint8_t *)a->data + (size_t)ao * m * k, k, zp_data(ctx, 2), azi,
                    (const uint8_t *)b->data + (size_t)bo * k * n, n, zp_data(ctx, 3), bzi,
                    (int32_t *)y->data + (size_t)bi * m * n, n);
  }
  return NN_OK;
}

NN_OP(MatMulInteger) = {.op_type = "MatMulInteger",
                        .domain = "",
                        .infer = mmi_infer,
                        .prepare = mmi_prepare,
                        .run = mmi_run,
                        .release = mmq_release};

/* ================================================ MatMulIntegerToFloat (com.microsoft) */

/* ONNX Runtime's fused dynamic-quantization MatMul: inputs A, B, a_scale, b_scale,
 * a_zero_point, b_zero_point, bias; Y = (A - a_zp)(B - b_zp) * (a_scale * b_scale) +
 * bias in float32, with a_scale / a_zero_point per tensor and b_scale / b_zero_point /
 * bias per tensor or per column of B. */
typedef struct mmf_info {
  mm_plan p;
  size_t az_inc, bz_inc, bs_inc, bias_inc;
} mmf_info;


/* The optional float bias of MatMulIntegerToFloat / DynamicQuantizeMatMul: a scalar or one
 * value per column of B (q->bias_inc: 0 broadcast, 1 per column). */
static nn_status check_bias(nn_op_ctx *ctx, const nn_value *bias, mmf_info *q) {
  if (bias->dtype != NN_FLOAT)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input 'bias' has dtype %s, expected float32",
                       nn_dtype_name(bias->dtype));
  if (!(bias->ndim <= 1 && nn_value_numel(bias) == 1) &&
      !(bias->ndim == 1 && bias->dims[0] == q->p.n))
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'bias' must be a scalar or a 1-D tensor "
                       "with one value per column of 'B' (%lld)", (long long)q->p.n);
  q->bias_inc = nn_value_numel(bias) == 1 && q->p.n != 1 ? 0 : 1;
  return NN_OK;
}
static nn_status mmf_check(nn_op_ctx *ctx, mmf_info *q) {
  const nn_value *a = nn_in(ctx, 0), *b = nn_in(ctx, 1), *bias = nn_in(ctx, 6);
  if (!a || !b) return nn_op_error(ctx, NN_ERR_INVALID, "inputs 'A' and 'B' are required");
  if (!is_q8(a->dtype) || !is_q8(b->dtype))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED,
                       "inputs 'A' (%s) and 'B' (%s) must be uint8 or int8",
                       nn_dtype_name(a->dtype), nn_dtype_name(b->dtype));
  nn_status st = mm_plan_make(ctx, a, b, "A", "B", &q->p);
  size_t as_inc;
  if (!st) st = check_scale(ctx, 2, "a_scale", 0, "", &as_inc);
  if (!st) st = check_scale(ctx, 3, "b_scale", q->p.n, "column of 'B'", &q->bs_inc);
  if (!st) st = check_zp(ctx, 4, "a_zero_point", a->dtype, 0, "", &q->az_inc);
  if (!st) st = check_zp(ctx, 5, "b_zero_point", b->dtype, q->p.n, "column of 'B'", &q->bz_inc);
  q->bias_inc = 0;
  if (!st && bias) st = check_bias(ctx, bias, q);
  return st;
}

static nn_status mmf_infer(nn_op_ctx *ctx) {
  mmf_info q;
  nn_status st = mmf_check(ctx, &q);
  if (st) return st;
  return nn_value_set(ctx, nn_out(ctx, 0), NN_FLOAT, q.p.out_ndim, q.p.out);
}

static size_t mmf_ref_scratch(const mmf_info *q) {
  return align_up((size_t)(q->p.m * q->p.n) * sizeof(int32_t)) + (size_t)q->p.n * sizeof(float);
}

static nn_status mmf_prepare(nn_op_ctx *ctx) {
  mmf_info q;
  nn_status st = mmf_check(ctx, &q);
  if (st) return st;
  /* The fused epilogue wants a bias per column; a scalar bias takes the reference. */
  const nn_value *bias = nn_in(ctx, 6);
  size_t need = mmf_ref_scratch(&q);
  if (bias && !q.bias_inc) {
    ctx->scratch_size = need;
    return NN_OK;
  }
  return mmq_prepare(ctx, &q.p, 1, 5, q.az_inc, q.bz_inc, nn_in(ctx, 0)->dtype == NN_UINT8,
                     need);
}

static nn_status mmf_run(nn_op_ctx *ctx) {
  const nn_value *a = nn_in(ctx, 0), *b = nn_in(ctx, 1), *bias = nn_in(ctx, 6);
  nn_value *y = nn_out(ctx, 0);
  mmf_info q;
  nn_status st = mmf_check(ctx, &q);
  if (st) return st;
  const float *as = nn_in(ctx, 2)->data, *bs = nn_in(ctx, 3)->data;
  const float *bd = bias ? bias->data : NULL;
  mmq_state *s = ctx->state;
  if (s && s->fast && (!bias || q.bias_inc))
    return mmq_run_fast(ctx, &q.p, s, 0, 4, as, bs, q.bs_inc, bd);
  if (!y || !nn_value_numel(y)) return NN_OK;
  if (ctx->scratch_size < mmf_ref_scratch(&q) || !ctx->scratch)
    return nn_op_error(ctx, NN_ERR_RUNTIME, "scratch of %zu bytes is too small (%zu needed)",
                       ctx->scratch_size, mmf_ref_scratch(&q));
  const size_t m = (size_t)q.p.m, n = (size_t)q.p.n, k = (size_t)q.p.k;
  int32_t *acc = ctx->scratch;
  float *mult = (float *)((char *)ctx->scratch + align_up(m * n * sizeof(int32_t)));
  for (size_t j = 0; j < n; j++) mult[j] = as[0] * bs[j * q.bs_inc];
  for (int64_t bi = 0; bi < q.p.nbatch; bi++) {
    int64_t ao, bo;
    mm_batch_offsets(&q.p, bi, &ao, &bo);
    nn_kernels_get()->x8_gemm(a->dtype == NN_INT8, b->dtype == NN_INT8, m, n, k,
                    (const uint8_t *)a->data + (size_t)ao * m * k, k, zp_data(ctx, 4), 0,
                    (const uint8_t *)b->data + (size_t)bo * k * n, n, zp_data(ctx, 5),
                    q.bz_inc, acc, n);
    float *yd = (float *)y->data + (size_t)bi * m * n;
    for (size_t i = 0; i < m; i++)
      for (size_t j = 0; j < n; j++)
        yd[i * n + j] = (float)acc[i * n + j] * mult[j] + (bd ? bd[j * q.bias_inc] : 0.0f);
  }
  return NN_OK;
}

NN_OP(MatMulIntegerToFloat) = {.op_type = "MatMulIntegerToFloat",
                               .domain = "com.microsoft",
                               .infer = mmf_infer,
                               .prepare = mmf_prepare,
                               .run = mmf_run,
                               .release = mmq_release};

/* ================================================ DynamicQuantizeMatMul (com.microsoft) */

/* ONNX Runtime's fusion of DynamicQuantizeLinear into MatMulIntegerToFloat (written by
 * passes/fuse_transformer.c): inputs A (float32), B, b_scale, b_zero_point, bias. A is
 * quantized per run exactly as DynamicQuantizeLinear does (same scale, zero point and
 * bytes, into scratch), then Y is MatMulIntegerToFloat's, bit for bit. */

/* A's quantization split over the pool: phase 0 takes the range of each chunk, phase 1
 * quantizes each chunk. Min and max are exact and quantization is per element, so the
 * split gives the same bytes as one pass. */
#define DQ_MAX_TASKS 64
typedef struct dq_par {
  const nn_kernels *kern;
  nn_f32_range_fn range;
  const float *x;
  uint8_t *y;
  size_t n, chunk;
  int phase;
  float scale;
  uint8_t zp;
  float lo[DQ_MAX_TASKS], hi[DQ_MAX_TASKS];
} dq_par;

static void dq_task(void *ctx, size_t thread, size_t t) {
  dq_par *w = ctx;
  (void)thread;
  const size_t i0 = t * w->chunk, n = w->n - i0 < w->chunk ? w->n - i0 : w->chunk;
  if (w->phase == 0)
    w->range(n, w->x + i0, &w->lo[t], &w->hi[t]);
  else
    w->kern->q8_quantize(n, w->x + i0, w->scale, w->zp, 0, 255, w->y + i0);
}

/* Scale and zero point of DynamicQuantizeLinear (ops/quantize.c), same float32 math,
 * from the range [lo, hi]. */
static void dq_params(float lo, float hi, float *scale_out, uint8_t *zp_out) {
  const float scale = hi == lo ? 1.0f : (hi - lo) / 255.0f;
  float zpf = 0.0f - lo / scale;
  if (zpf < 0.0f) zpf = 0.0f;
  if (zpf > 255.0f) zpf = 255.0f;
  *scale_out = scale;
  *zp_out = (uint8_t)nn_round_half_even_f32(zpf);
}

static nn_status dqmm_check(nn_op_ctx *ctx, mmf_info *q) {
  const nn_value *a = nn_in(ctx, 0), *b = nn_in(ctx, 1), *bias = nn_in(ctx, 4);
  if (!a || !b) return nn_op_error(ctx, NN_ERR_INVALID, "inputs 'A' and 'B' are required");
  if (a->dtype != NN_FLOAT || !is_q8(b->dtype))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED,
                       "inputs 'A' (%s) and 'B' (%s) must be float32 and uint8 or int8",
                       nn_dtype_name(a->dtype), nn_dtype_name(b->dtype));
  nn_status st = mm_plan_make(ctx, a, b, "A", "B", &q->p);
  if (!st) st = check_scale(ctx, 2, "b_scale", q->p.n, "column of 'B'", &q->bs_inc);
  if (!st) st = check_zp(ctx, 3, "b_zero_point", b->dtype, q->p.n, "column of 'B'", &q->bz_inc);
  q->az_inc = 0;
  q->bias_inc = 0;
  if (!st && bias) st = check_bias(ctx, bias, q);
  return st;
}

static nn_status dqmm_infer(nn_op_ctx *ctx) {
  mmf_info q;
  nn_status st = dqmm_check(ctx, &q);
  if (st) return st;
  return nn_value_set(ctx, nn_out(ctx, 0), NN_FLOAT, q.p.out_ndim, q.p.out);
}

/* Scratch: the quantized A first, then the matmul's (packed path or reference). */
static size_t dqmm_a_bytes(const nn_op_ctx *ctx) {
  return align_up((size_t)nn_value_numel(nn_in(ctx, 0)));
}

static nn_status dqmm_prepare(nn_op_ctx *ctx) {
  mmf_info q;
  nn_status st = dqmm_check(ctx, &q);
  if (st) return st;
  const nn_value *bias = nn_in(ctx, 4);
  const size_t need = mmf_ref_scratch(&q);
  if (bias && !q.bias_inc)
    ctx->scratch_size = need;
  else if ((st = mmq_prepare(ctx, &q.p, 1, 3, 0, q.bz_inc, 1, need)))
    return st;
  ctx->scratch_size += dqmm_a_bytes(ctx);
  return NN_OK;
}

static nn_status dqmm_run(nn_op_ctx *ctx) {
  const nn_value *a = nn_in(ctx, 0), *b = nn_in(ctx, 1), *bias = nn_in(ctx, 4);
  nn_value *y = nn_out(ctx, 0);
  mmf_info q;
  nn_status st = dqmm_check(ctx, &q);
  if (st) return st;
  const size_t abytes = dqmm_a_bytes(ctx), na = (size_t)nn_value_numel(a);
  if (!ctx->scratch || ctx->scratch_size < abytes)
    return nn_op_error(ctx, NN_ERR_RUNTIME, "scratch of %zu bytes is too small",
                       ctx->scratch_size);
  uint8_t *aq = ctx->scratch;
  char *rest = (char *)ctx->scratch + abytes;
  const size_t rest_size = ctx->scratch_size - abytes;
  float as;
  uint8_t azp;
  nn_threadpool *pool = nn_session_threadpool(ctx->session);
  const size_t threads = (size_t)nn_threadpool_size(pool);
  dq_par w = {.kern = nn_kernels_get(), .x = a->data, .y = aq, .n = na, .chunk = na};
  w.range = nn_f32_range_for(w.kern);
  size_t tasks = 1;
  if (threads > 1 && na >= ((size_t)1 << 15)) { /* below, the split costs more than it saves */
    tasks = threads < DQ_MAX_TASKS ? threads : DQ_MAX_TASKS;
    w.chunk = (na + tasks - 1) / tasks;
    w.chunk = (w.chunk + 63) & ~(size_t)63;
    tasks = (na + w.chunk - 1) / w.chunk;
  }
  nn_threadpool_parallelize(tasks > 1 ? pool : NULL, dq_task, &w, tasks);
  float lo = w.lo[0], hi = w.hi[0];
  for (size_t t = 1; t < tasks; t++) {
    lo = w.lo[t] < lo ? w.lo[t] : lo;
    hi = w.hi[t] > hi ? w.hi[t] : hi;
  }
  dq_params(lo, hi, &as, &azp);
  w.phase = 1;
  w.scale = as;
  w.zp = azp;
  nn_threadpool_parallelize(tasks > 1 ? pool : NULL, dq_task, &w, tasks);
  const float *bs = nn_in(ctx, 2)->data;
  const float *bd = bias ? bias->data : NULL;
  mmq_state *s = ctx->state;
  if (s && s->fast && (!bias || q.bias_inc))
    return mmq_run_a(ctx, &q.p, s, aq, 0, azp, rest, rest_size, &as, bs, q.bs_inc, bd);
  if (!y || !nn_value_numel(y)) return NN_OK;
  if (rest_size < mmf_ref_scratch(&q))
    return nn_op_error(ctx, NN_ERR_RUNTIME, "scratch of %zu bytes is too small (%zu needed)",
                       ctx->scratch_size, abytes + mmf_ref_scratch(&q));
  const size_t m = (size_t)q.p.m, n = (size_t)q.p.n, k = (size_t)q.p.k;
  int32_t *acc = (int32_t *)rest;
  float *mult = (float *)(rest + align_up(m * n * sizeof(int32_t)));
  for (size_t j = 0; j < n; j++) mult[j] = as * bs[j * q.bs_inc];
  for (int64_t bi = 0; bi < q.p.nbatch; bi++) {
    int64_t ao, bo;
    mm_batch_offsets(&q.p, bi, &ao, &bo);
    nn_kernels_get()->x8_gemm(0, b->dtype == NN_INT8, m, n, k, aq + (size_t)ao * m * k, k,
                              &azp, 0, (const uint8_t *)b->data + (size_t)bo * k * n, n,
                              zp_data(ctx, 3), q.bz_inc, acc, n);
    float *yd = (float *)y->data + (size_t)bi * m * n;
    for (size_t i = 0; i < m; i++)
      for (size_t j = 0; j < n; j++)
        yd[i * n + j] = (float)acc[i * n + j] * mult[j] + (bd ? bd[j * q.bias_inc] : 0.0f);
  }
  return NN_OK;
}

NN_OP(DynamicQuantizeMatMul) = {.op_type = "DynamicQuantizeMatMul",
                                .domain = "com.microsoft",
                                .infer = dqmm_infer,
                                .prepare = dqmm_prepare,
                                .run = dqmm_run,
                                .release = mmq_release};

/* ============================================================ QLinearMatMul */

/* Inputs: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point. */
typedef struct qlmm_info {
  mm_plan p;
  size_t as_inc, bs_inc, az_inc, bz_inc;
  nn_dtype out;
} qlmm_info;

static nn_status qlmm_check(nn_op_ctx *ctx, qlmm_info *q) {
  const nn_value *a = nn_in(ctx, 0), *b = nn_in(ctx, 3), *yz = nn_in(ctx, 7);
  if (!a || !b) return nn_op_error(ctx, NN_ERR_INVALID, "inputs 'a' and 'b' are required");
  if (!is_q8(a->dtype) || !is_q8(b->dtype))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED,
                       "inputs 'a' (%s) and 'b' (%s) must be uint8 or int8",
                       nn_dtype_name(a->dtype), nn_dtype_name(b->dtype));
  q->out = yz ? yz->dtype : a->dtype;
  if (!is_q8(q->out))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input 'y_zero_point' has dtype %s, expected "
                       "uint8 or int8", nn_dtype_name(q->out));
  nn_status st = mm_plan_make(ctx, a, b, "a", "b", &q->p);
  size_t yi;
  if (!st) st = check_scale(ctx, 1, "a_scale", q->p.m, "row of 'a'", &q->as_inc);
  if (!st) st = check_zp(ctx, 2, "a_zero_point", a->dtype, q->p.m, "row of 'a'", &q->az_inc);
  if (!st) st = check_scale(ctx, 4, "b_scale", q->p.n, "column of 'b'", &q->bs_inc);
  if (!st) st = check_zp(ctx, 5, "b_zero_point", b->dtype, q->p.n, "column of 'b'", &q->bz_inc);
  if (!st) st = check_scale(ctx, 6, "y_scale", 0, "", &yi);
  if (!st) st = check_zp(ctx, 7, "y_zero_point", q->out, 0, "", &yi);
  return st;
}

static size_t qlmm_scratch(const qlmm_info *q) {
  return align_up((size_t)(q->p.m * q->p.n) * sizeof(int32_t)) +
         (size_t)q->p.n * sizeof(float);
}

static nn_status qlmm_infer(nn_op_ctx *ctx) {
  qlmm_info q;
  nn_status st = qlmm_check(ctx, &q);
  if (st) return st;
  return nn_value_set(ctx, nn_out(ctx, 0), q.out, q.p.out_ndim, q.p.out);
}

/* Packed path: b a constant 2-D matrix, a with one scale and zero point. The product
 * runs transposed, Y^T = B^T A^T: B^T packed once as the GEMM's left operand (rows =
 * output columns, so per-column scales and zero points become per-row terms), A read as
 * the transposed right operand, Y written transposed. */
typedef struct qlmm_state {
  int fast, terms_const, terms_ok;
  const nn_kernels *k;
  int8_t *wp;
  int32_t *rowsum, *wz, *bias, *row_mul;
  float *mult;
  size_t threads, ws_stride;
} qlmm_state;

static void qlmm_release(void *p) {
  qlmm_state *s = p;
  if (!s) return;
  free(s->wp);
  free(s->rowsum);
  free(s->wz);
  free(s->bias);
  free(s->row_mul);
  free(s->mult);
  free(s);
}

static void qlmm_terms(nn_op_ctx *ctx, const qlmm_info *q, qlmm_state *s) {
  const size_t n = (size_t)q->p.n, k = (size_t)q->p.k;
  const float as = *(const float *)nn_in(ctx, 1)->data, ys = *(const float *)nn_in(ctx, 6)->data;
  const float *bs = nn_in(ctx, 4)->data;
  const nn_value *az = nn_in(ctx, 2);
  const uint8_t azb = az ? *(const uint8_t *)az->data : 0;
  const int32_t xz = nn_in(ctx, 0)->dtype == NN_INT8 ? (int32_t)(int8_t)azb + 128 : azb;
  s->terms_ok = 1;
  for (size_t j = 0; j < n; j++) {
    s->mult[j] = as * bs[j * q->bs_inc] / ys; /* as the reference computes it */
    if (!isfinite(s->mult[j])) s->terms_ok = 0;
  }
  nn_q8_gemm_row_terms(s->k, n, k, s->rowsum, s->row_mul ? s->wz : NULL, xz, NULL, s->bias,
                       s->row_mul);
}

static nn_status qlmm_setup(nn_op_ctx *ctx, const qlmm_info *q, qlmm_state *s) {
  const nn_value *b = nn_in(ctx, 3), *bz = nn_in(ctx, 5);
  const int known[] = {3, 4, 5};
  if (b->ndim != 2 || q->as_inc || q->az_inc || !all_known(ctx, known, 3)) return NN_OK;
  const size_t n = (size_t)q->p.n, k = (size_t)q->p.k;
  const int b_signed = b->dtype == NN_INT8;
  s->k = nn_kernels_get();
  s->threads = (size_t)nn_threadpool_size(nn_session_threadpool(ctx->session));
  s->rowsum = calloc(n ? n : 1, sizeof(int32_t));
  s->wz = calloc(n ? n : 1, sizeof(int32_t));
  s->bias = calloc(n ? n : 1, sizeof(int32_t));
  s->mult = calloc(n ? n : 1, sizeof(float));
  s->wp = malloc(nn_q8_packed_w_size(n, k, s->k->q8_mr) + 1);
  uint8_t *bt = malloc(n * k + 1);
  if (!s->rowsum || !s->wz || !s->bias || !s->mult || !s->wp || !bt) {
    free(bt);
    return NN_ERR_NOMEM;
  }
  const uint8_t *bd = b->data;
  for (size_t kk = 0; kk < k; kk++)
    for (size_t j = 0; j < n; j++) bt[j * k + kk] = bd[kk * n + j];
  nn_q8_pack_w(n, k, s->k->q8_mr, bt, k, b_signed, s->wp, s->rowsum);
  free(bt);
  int any = 0;
  for (size_t j = 0; j < n; j++) {
    const uint8_t zb = bz ? ((const uint8_t *)bz->data)[j * q->bz_inc] : 0;
    s->wz[j] = b_signed ? (int32_t)(int8_t)zb : (int32_t)zb - 128;
    any |= s->wz[j] != 0;
  }
  if (any && !(s->row_mul = calloc(n ? n : 1, sizeof(int32_t)))) return NN_ERR_NOMEM;
  s->ws_stride = align_up(nn_q8_gemm_workspace(s->k, k, 0));
  s->fast = 1;
  const int consts[] = {1, 2, 6, 7};
  if (all_known(ctx, consts, 4)) {
    qlmm_terms(ctx, q, s);
    s->terms_const = 1;
  }
  return NN_OK;
}

static nn_status qlmm_prepare(nn_op_ctx *ctx) {
  qlmm_info q;
  nn_status st = qlmm_check(ctx, &q);
  if (st) return st;
  if (ctx->state) {
    qlmm_release(ctx->state);
    ctx->state = NULL;
  }
  qlmm_state *s = calloc(1, sizeof *s);
  if (!s) return nn_op_error(ctx, NN_ERR_NOMEM, "out of memory for packed weights");
  ctx->state = s;
  if ((st = qlmm_setup(ctx, &q, s)))
    return nn_op_error(ctx, st, "out of memory for packed weights");
  const size_t ref_need = qlmm_scratch(&q), fast_need = s->fast ? s->threads * s->ws_stride : 0;
  ctx->scratch_size = ref_need > fast_need ? ref_need : fast_need;
  return NN_OK;
}

typedef struct qlmm_par {
  const nn_q8_gemm_job *job;
  nn_q8_gemm_tasks tasks;
  char *ws;
  size_t ws_stride;
} qlmm_par;

static void qlmm_task(void *ctx, size_t thread, size_t task) {
  const qlmm_par *w = ctx;
  nn_q8_gemm_run_task(w->job, &w->tasks, task, w->ws + thread * w->ws_stride);
}

static nn_status qlmm_run_fast(nn_op_ctx *ctx, const qlmm_info *q, qlmm_state *s) {
  const nn_value *a = nn_in(ctx, 0);
  nn_value *y = nn_out(ctx, 0);
  nn_threadpool *pool = nn_session_threadpool(ctx->session);
  size_t threads = (size_t)nn_threadpool_size(pool);
  if (threads > s->threads) threads = s->threads;
  if (ctx->scratch_size < threads * s->ws_stride || !ctx->scratch)
    return nn_op_error(ctx, NN_ERR_RUNTIME, "scratch of %zu bytes is too small",
                       ctx->scratch_size);
  const size_t n = (size_t)q->p.n, k = (size_t)q->p.k;
  const size_t rows = (size_t)(q->p.nbatch * q->p.m); /* b is 2-D: a's rows are contiguous */
  const int out_signed = q->out == NN_INT8;
  const int32_t yz = nn_in(ctx, 7) ? (int32_t)nn_value_get_i64(nn_in(ctx, 7), 0) : 0;
  nn_q8_gemm_job job = {.kern = s->k, .m = n, .n = rows, .k = k, .w = s->wp,
                        .row_bias = s->bias, .row_mul = s->row_mul,
                        .x_xor = a->dtype == NN_INT8 ? 0x80 : 0,
                        .mode = out_signed ? NN_Q8_OUT_S8 : NN_Q8_OUT_U8, .scale = s->mult,
                        .out_zp = yz, .qmin = out_signed ? -128 : 0,
                        .qmax = out_signed ? 127 : 255, .y = y->data, .ldy = n,
                        .xt = a->data, .ldxt = k, .y_trans = 1};
  qlmm_par w = {.job = &job, .ws = ctx->scratch, .ws_stride = s->ws_stride};
  nn_q8_gemm_split(&job, job.m * job.n * job.k < ((size_t)1 << 20) ? 1 : threads, &w.tasks);
  nn_threadpool_parallelize(w.tasks.tasks > 1 ? pool : NULL, qlmm_task, &w, w.tasks.tasks);
  return NN_OK;
}

static nn_status qlmm_run(nn_op_ctx *ctx) {
  const nn_value *a = nn_in(ctx, 0), *b = nn_in(ctx, 3);
  nn_value *y = nn_out(ctx, 0);
  qlmm_info q;
  nn_status st = qlmm_check(ctx, &q);
  if (st) return st;
  qlmm_state *s = ctx->state;
  if (s && s->fast) {
    if (!s->terms_const) qlmm_terms(ctx, &q, s);
    if (s->terms_ok) return qlmm_run_fast(ctx, &q, s);
  }
  if (ctx->scratch_size < qlmm_scratch(&q) || !ctx->scratch)
    return nn_op_error(ctx, NN_ERR_RUNTIME, "scratch of %zu bytes is too small (%zu needed)",
                       ctx->scratch_size, qlmm_scratch(&q));
  const size_t m = (size_t)q.p.m, n = (size_t)q.p.n, k = (size_t)q.p.k;
  int32_t *acc = ctx->scratch;
  float *mult = (float *)((char *)ctx->scratch + align_up(m * n * sizeof(int32_t)));
  const float *as = nn_in(ctx, 1)->data, *bs = nn_in(ctx, 4)->data;
  const float ys = *(const float *)nn_in(ctx, 6)->data;
  const int32_t yz = nn_in(ctx, 7) ? (int32_t)nn_value_get_i64(nn_in(ctx, 7), 0) : 0;
  const int out_signed = q.out == NN_INT8;
  const size_t mult_inc = q.bs_inc; /* per column of b, else one value */
  for (int64_t bi = 0; bi < q.p.nbatch; bi++) {
    int64_t ao, bo;
    mm_batch_offsets(&q.p, bi, &ao, &bo);
    nn_kernels_get()->x8_gemm(a->dtype == NN_INT8, b->dtype == NN_INT8, m, n, k,
                    (const uint8_t *)a->data + (size_t)ao * m * k, k, zp_data(ctx, 2),
                    q.az_inc, (const uint8_t *)b->data + (size_t)bo * k * n, n,
                    zp_data(ctx, 5), q.bz_inc, acc, n);
    for (size_t i = 0; i < m; i++) {
      /* The real multiplier, in float32 as ONNX Runtime computes it. */
      float asi = as[i * q.as_inc];
      for (size_t j = 0; j < (mult_inc ? n : 1); j++) mult[j] = asi * bs[j] / ys;
      size_t off = (size_t)bi * m * n + i * n;
      if (out_signed)
        nn_qs8_requantize__ref(n, acc + i * n, mult, mult_inc, (int8_t)yz,
                               (int8_t *)y->data + off);
      else
        nn_qu8_requantize__ref(n, acc + i * n, mult, mult_inc, (uint8_t)yz,
                               (uint8_t *)y->data + off);
    }
  }
  return NN_OK;
}

NN_OP(QLinearMatMul) = {.op_type = "QLinearMatMul",
                        .domain = "",
                        .infer = qlmm_infer,
                        .prepare = qlmm_prepare,
                        .run = qlmm_run,
                        .release = qlmm_release};

/* ============================================================ convolution geometry */

typedef struct conv_plan {
  int64_t n, c, m, group, cg, mg;
  nn_conv_geom g;     /* per image and group */
  int64_t in_size;    /* prod(input spatial) */
  int64_t out_size;   /* prod(output spatial) */
  int64_t ksize;      /* prod(kernel) */
  int direct;         /* 1x1 kernel, stride 1, no padding: x is its own im2col */
  int out_ndim;
  int64_t out[NN_MAX_DIMS];
} conv_plan;

/* Resolve Conv attributes (auto_pad, dilations, group, kernel_shape, pads, strides)
 * against x [N, C, D...] and w [M, C/group, k...]. xn/wn name the inputs. */
static nn_status conv_plan_make(nn_op_ctx *ctx, const nn_value *x, const nn_value *w,
                                const char *xn, const char *wn, conv_plan *p) {
  const nn_node *nd = ctx->node;
  if (x->ndim < 3 || x->ndim - 2 > NN_CONV_MAX_SPATIAL)
    return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' has rank %d, expected 3 to %d", xn,
                       x->ndim, NN_CONV_MAX_SPATIAL + 2);
  if (w->ndim != x->ndim)
    return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' has rank %d, expected %d like '%s'",
                       wn, w->ndim, x->ndim, xn);
  const int r = x->ndim - 2;
  memset(p, 0, sizeof *p);
  p->n = x->dims[0];
  p->c = x->dims[1];
  p->m = w->dims[0];
  p->group = nn_attr_int(nd, "group", 1);
  if (p->group < 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'group' is %lld, expected >= 1",
                       (long long)p->group);
  if (p->c % p->group || p->m % p->group || w->dims[1] * p->group != p->c)
    return nn_op_error(ctx, NN_ERR_INVALID,
                       "input '%s' has %lld channels and '%s' has shape [%lld, %lld, ...]: "
                       "incompatible with group %lld", xn, (long long)p->c, wn,
                       (long long)p->m, (long long)w->dims[1], (long long)p->group);
  p->cg = p->c / p->group;
  p->mg = p->m / p->group;

  const int64_t *ks, *st, *dl, *pd;
  int nks = nn_attr_ints(nd, "kernel_shape", &ks), nst = nn_attr_ints(nd, "strides", &st);
  int ndl = nn_attr_ints(nd, "dilations", &dl), npd = nn_attr_ints(nd, "pads", &pd);
  if (nks >= 0 && nks != r)
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'kernel_shape' has %d values, expected %d",
                       nks, r);
  if (nst >= 0 && nst != r)
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'strides' has %d values, expected %d",
                       nst, r);
  if (ndl >= 0 && ndl != r)
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'dilations' has %d values, expected %d",
                       ndl, r);
  if (npd >= 0 && npd != 2 * r)
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'pads' has %d values, expected %d", npd,
                       2 * r);
  const char *ap = nn_attr_string(nd, "auto_pad", "NOTSET");
  int same_upper = !strcmp(ap, "SAME_UPPER"), same_lower = !strcmp(ap, "SAME_LOWER");
  int valid = !strcmp(ap, "VALID");
  if (!same_upper && !same_lower && !valid && strcmp(ap, "NOTSET"))
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'auto_pad' is '%s'", ap);

  nn_conv_geom *g = &p->g;
  g->rank = r;
  g->channels = p->cg;
  p->in_size = p->out_size = p->ksize = 1;
  p->direct = 1;
  p->out[0] = p->n;
  p->out[1] = p->m;
  p->out_ndim = x->ndim;
  for (int d = 0; d < r; d++) {
    int64_t in = x->dims[d + 2], k = w->dims[d + 2];
    if (k < 1)
      return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' has an empty kernel (dim %d is 0)",
                         wn, d + 2);
    if (nks >= 0 && ks[d] != k)
      return nn_op_error(ctx, NN_ERR_INVALID,
                         "attribute 'kernel_shape' [%d] is %lld but '%s' has %lld", d,
                         (long long)ks[d], wn, (long long)k);
    int64_t s = nst >= 0 ? st[d] : 1, dil = ndl >= 0 ? dl[d] : 1;
    if (s < 1 || dil < 1)
      return nn_op_error(ctx, NN_ERR_INVALID, "strides and dilations must be >= 1");
    int64_t pb = npd >= 0 ? pd[d] : 0, pe = npd >= 0 ? pd[d + r] : 0, out;
    int64_t ek = (k - 1) * dil + 1; /* dilated kernel extent */
    if (same_upper || same_lower) {
      out = (in + s - 1) / s;
      int64_t total = (out - 1) * s + ek - in;
      if (total < 0) total = 0;
      pb = same_upper ? total / 2 : total - total / 2;
      pe = total - pb;
    } else {
      if (valid) pb = pe = 0;
      if (pb < 0 || pe < 0)
        return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'pads' has a negative value");
      if (in + pb + pe < ek)
        return nn_op_error(ctx, NN_ERR_INVALID,
                           "kernel extent %lld exceeds padded input %lld on spatial dim %d",
                           (long long)ek, (long long)(in + pb + pe), d);
      out = (in + pb + pe - ek) / s + 1;
    }
    g->in[d] = in;
    g->kernel[d] = k;
    g->stride[d] = s;
    g->dilation[d] = dil;
    g->pad_begin[d] = pb;
    g->out[d] = out;
    p->out[d + 2] = out;
    p->in_size *= in;
    p->out_size *= out;
    p->ksize *= k;
    if (k != 1 || s != 1 || pb || pe) p->direct = 0;
  }
  return NN_OK;
}

static size_t conv_col_bytes(const conv_plan *p) {
  return p->direct ? 0 : (size_t)(p->cg * p->ksize * p->out_size);
}

/* int32 accumulators of one image and group of a conv (x, w of any 8-bit types):
 * acc[Mg x P] = W_g * im2col(x_ng), zero points subtracted. */
static void conv_group_gemm(const conv_plan *p, int64_t n, int64_t grp, const nn_value *x,
                            const void *xzp, const nn_value *w, const void *wzp,
                            size_t wz_inc, uint8_t *col, int32_t *acc) {
  const uint8_t *xg = (const uint8_t *)x->data + (size_t)((n * p->c + grp * p->cg) * p->in_size);
  const uint8_t *b = xg;
  if (!p->direct) {
    nn_x8_im2col__ref(&p->g, xg, *(const uint8_t *)xzp, col);
    b = col;
  }
  const size_t kk = (size_t)(p->cg * p->ksize), np = (size_t)p->out_size;
  const uint8_t *a = (const uint8_t *)w->data + (size_t)(grp * p->mg) * kk;
  const uint8_t *az = (const uint8_t *)wzp + (wz_inc ? (size_t)(grp * p->mg) : 0);
  nn_kernels_get()->x8_gemm(w->dtype == NN_INT8, x->dtype == NN_INT8, (size_t)p->mg, np, kk, a,
                            kk, az, wz_inc, b, np, xzp, 0, acc, np);
}

/* ============================================================ ConvInteger */

/* Inputs: x, w, x_zero_point, w_zero_point. */
static nn_status convi_check(nn_op_ctx *ctx, conv_plan *p, size_t *wzi) {
  const nn_value *x = nn_in(ctx, 0), *w = nn_in(ctx, 1);
  if (!x || !w) return nn_op_error(ctx, NN_ERR_INVALID, "inputs 'x' and 'w' are required");
  if (!is_q8(x->dtype) || !is_q8(w->dtype))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED,
                       "inputs 'x' (%s) and 'w' (%s) must be uint8 or int8",
                       nn_dtype_name(x->dtype), nn_dtype_name(w->dtype));
  size_t xzi;
  nn_status st = conv_plan_make(ctx, x, w, "x", "w", p);
  if (!st) st = check_zp(ctx, 2, "x_zero_point", x->dtype, 0, "", &xzi);
  if (!st) st = check_zp(ctx, 3, "w_zero_point", w->dtype, p->m, "output channel", wzi);
  return st;
}

static nn_status convi_infer(nn_op_ctx *ctx) {
  conv_plan p;
  size_t wzi;
  nn_status st = convi_check(ctx, &p, &wzi);
  if (st) return st;
  return nn_value_set(ctx, nn_out(ctx, 0), NN_INT32, p.out_ndim, p.out);
}

static nn_status convi_prepare(nn_op_ctx *ctx) {
  conv_plan p;
  size_t wzi;
  nn_status st = convi_check(ctx, &p, &wzi);
  if (st) return st;
  ctx->scratch_size = conv_col_bytes(&p);
  return NN_OK;
}

static nn_status convi_run(nn_op_ctx *ctx) {
  const nn_value *x = nn_in(ctx, 0), *w = nn_in(ctx, 1);
  nn_value *y = nn_out(ctx, 0);
  conv_plan p;
  size_t wzi;
  nn_status st = convi_check(ctx, &p, &wzi);
  if (st) return st;
  size_t need = conv_col_bytes(&p);
  if (need && (ctx->scratch_size < need || !ctx->scratch))
    return nn_op_error(ctx, NN_ERR_RUNTIME, "scratch of %zu bytes is too small (%zu needed)",
                       ctx->scratch_size, need);
  for (int64_t n = 0; n < p.n; n++)
    for (int64_t grp = 0; grp < p.group; grp++) {
      int32_t *acc = (int32_t *)y->data + (size_t)((n * p.m + grp * p.mg) * p.out_size);
      conv_group_gemm(&p, n, grp, x, zp_data(ctx, 2), w, zp_data(ctx, 3), wzi, ctx->scratch,
                      acc);
    }
  return NN_OK;
}

NN_OP(ConvInteger) = {.op_type = "ConvInteger",
                      .domain = "",
                      .infer = convi_infer,
                      .prepare = convi_prepare,
                      .run = convi_run};

/* ============================================================ QLinearConv */

/* Inputs: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B. */
typedef struct qlconv_info {
  conv_plan p;
  size_t ws_inc, wz_inc;
  nn_dtype out;
} qlconv_info;

static nn_status qlconv_check(nn_op_ctx *ctx, qlconv_info *q) {
  const nn_value *x = nn_in(ctx, 0), *w = nn_in(ctx, 3), *yz = nn_in(ctx, 7),
                 *bias = nn_in(ctx, 8);
  if (!x || !w) return nn_op_error(ctx, NN_ERR_INVALID, "inputs 'x' and 'w' are required");
  if (!is_q8(x->dtype) || !is_q8(w->dtype))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED,
                       "inputs 'x' (%s) and 'w' (%s) must be uint8 or int8",
                       nn_dtype_name(x->dtype), nn_dtype_name(w->dtype));
  q->out = yz ? yz->dtype : x->dtype;
  if (!is_q8(q->out))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input 'y_zero_point' has dtype %s, expected "
                       "uint8 or int8", nn_dtype_name(q->out));
  size_t one;
  nn_status st = conv_plan_make(ctx, x, w, "x", "w", &q->p);
  if (!st) st = check_scale(ctx, 1, "x_scale", 0, "", &one);
  if (!st) st = check_zp(ctx, 2, "x_zero_point", x->dtype, 0, "", &one);
  if (!st) st = check_scale(ctx, 4, "w_scale", q->p.m, "output channel", &q->ws_inc);
  if (!st) st = check_zp(ctx, 5, "w_zero_point", w->dtype, q->p.m, "output channel", &q->wz_inc);
  if (!st) st = check_scale(ctx, 6, "y_scale", 0, "", &one);
  if (!st) st = check_zp(ctx, 7, "y_zero_point", q->out, 0, "", &one);
  if (st) return st;
  if (bias && (bias->dtype != NN_INT32 || bias->ndim != 1 || bias->dims[0] != q->p.m))
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'B' must be int32 of shape [%lld]",
                       (long long)q->p.m);
  return NN_OK;
}

/* Scratch: int32 accumulators of one group, the per-channel multipliers, the im2col. */
static size_t qlconv_scratch(const qlconv_info *q, size_t *mult_off, size_t *col_off) {
  size_t acc = align_up((size_t)(q->p.mg * q->p.out_size) * sizeof(int32_t));
  size_t mult = align_up((size_t)q->p.m * sizeof(float));
  *mult_off = acc;
  *col_off = acc + mult;
  return acc + mult + conv_col_bytes(&q->p);
}

static nn_status qlconv_infer(nn_op_ctx *ctx) {
  qlconv_info q;
  nn_status st = qlconv_check(ctx, &q);
  if (st) return st;
  return nn_value_set(ctx, nn_out(ctx, 0), q.out, q.p.out_ndim, q.p.out);
}

/* Fast paths (packed weights, chosen in prepare). */
enum { QLC_REF = 0, QLC_GEMM = 1, QLC_DW = 2 };
/* x rows of the GEMM path: the input itself (1x1, stride 1, no padding); shifted views
 * of a zero-point-padded copy of the input split into its stride phases (phase (a, b)
 * holds padded pixels (i * s + a, j * s + b), so kernel offset (ky, kx) reads phase
 * (ky % s, kx % s) shifted by (ky / s, kx / s)), the output computed over the phase
 * width and compacted (wide outputs: no im2col at all); im2col gathered panel by panel
 * (other 2-D); a whole im2col matrix (other ranks). */
enum { GX_DIRECT = 0, GX_SHIFT = 1, GX_PANEL = 2, GX_FULL = 3 };

typedef struct qlconv_state {
  int path;
  const nn_kernels *k;
  size_t kdim;          /* GEMM depth: channels per group x kernel size */
  size_t wp_group;      /* packed weight bytes per group */
  int8_t *wp;           /* GEMM: packed weights of every group */
  int32_t *rowsum;      /* [M] sums of packed weights (GEMM) or of w - wz (DW) */
  int32_t *wz;          /* [M] weight zero points in the packed domain, NULL if all 0 */
  int8_t *dw;           /* DW: [M][12] weights w - wz, rows padded to 4 */
  int32_t *bias;        /* [M] row terms: bias and zero-point corrections */
  int32_t *row_mul;     /* [M] -wz (GEMM with weight zero points) or NULL */
  float *mult;          /* [M] requantization multipliers */
  int terms_const;      /* multipliers and row terms fixed at prepare */
  int terms_ok;         /* multipliers finite (else the reference path runs) */
  /* scratch layout of the fast path (offsets past the reference path's need) */
  int gemm_x;           /* GX_*: where the GEMM's x rows come from */
  size_t pad_h, pad_w;  /* GX_SHIFT: one stride phase of the padded input plane */
  size_t off_col, off_rows, off_pad, off_tmp, off_ws, fast_need;
  size_t threads, ws_stride; /* per-thread workspaces at off_ws, ws_stride apart */
  size_t dw_ldx, dw_rows;
  /* DW with implicit padding (uint8 inputs, wide planes): the kernel reads the output
   * rows [dw_t, dw_b) x columns [dw_l, dw_r), whose windows lie inside the input, from
   * the input itself; the rows above and below go through the padded buffer; the columns
   * left and right of that block through a narrow buffer holding, per padded row, the
   * left columns at 0 and the right ones from dw_nc0 (a multiple of the stride), ldx
   * dw_nldx, whose dw_nout outputs per row land in a temporary at dw_ntmp. dw_ext: bytes
   * the interior reads from the start of a plane (slack included). */
  int dw_implicit;
  size_t dw_t, dw_b, dw_l, dw_r, dw_nc0, dw_nldx, dw_nout, dw_ntmp, dw_ext;
  /* DW over 16 channels at once (small planes): nn_q8_dwconv3x3_cl, padding implicit. */
  nn_q8_dwconv3x3_cl_fn dw_cl;
} qlconv_state;

static void qlconv_release(void *p) {
  qlconv_state *st = p;
  if (!st) return;
  free(st->wp);
  free(st->rowsum);
  free(st->wz);
  free(st->dw);
  free(st->bias);
  free(st->row_mul);
  free(st->mult);
  free(st);
}


/* Activation zero point in the packed (uint8) domain and the byte XOR that gets there. */
static int32_t qlconv_xz(const nn_op_ctx *ctx, uint8_t *xor_mask, uint8_t *raw) {
  const nn_value *x = nn_in(ctx, 0), *z = nn_in(ctx, 2);
  const uint8_t b = z ? *(const uint8_t *)z->data : 0;
  *raw = b;
  if (x->dtype == NN_INT8) {
    *xor_mask = 0x80;
    return (int32_t)(int8_t)b + 128;
  }
  *xor_mask = 0;
  return b;
}

/* Multipliers and per-row terms from the current scale / zero point / bias values. */
static void qlconv_terms(nn_op_ctx *ctx, const qlconv_info *q, qlconv_state *st) {
  const conv_plan *p = &q->p;
  const float xs = *(const float *)nn_in(ctx, 1)->data, ys = *(const float *)nn_in(ctx, 6)->data;
  const float *ws = nn_in(ctx, 4)->data;
  const nn_value *bias = nn_in(ctx, 8);
  const int32_t *b = bias ? (const int32_t *)bias->data : NULL;
  uint8_t xm, raw;
  const int32_t xz = qlconv_xz(ctx, &xm, &raw);
  st->terms_ok = 1;
  for (int64_t m = 0; m < p->m; m++) {
    st->mult[m] = xs * ws[(size_t)m * q->ws_inc] / ys; /* as the reference computes it */
    if (!isfinite(st->mult[m])) st->terms_ok = 0;
  }
  if (st->path == QLC_DW) {
    for (int64_t m = 0; m < p->m; m++)
      st->bias[m] = (int32_t)((b ? (uint32_t)b[m] : 0u) - (uint32_t)xz * (uint32_t)st->rowsum[m]);
    return;
  }
  for (int64_t g = 0; g < p->group; g++) {
    const size_t o = (size_t)(g * p->mg);
    nn_q8_gemm_row_terms(st->k, (size_t)p->mg, st->kdim, st->rowsum + o,
                         st->wz ? st->wz + o : NULL, xz, b ? b + o : NULL, st->bias + o,
                         st->row_mul ? st->row_mul + o : NULL);
  }
}

static int qlconv_is_dw(const conv_plan *p) {
  if (p->g.rank != 2 || p->cg != 1 || p->mg != 1 || p->group != p->c) return 0;
  for (int d = 0; d < 2; d++)
    if (p->g.kernel[d] != 3 || p->g.dilation[d] != 1 || p->g.stride[d] != p->g.stride[0] ||
        (p->g.stride[d] != 1 && p->g.stride[d] != 2))
      return 0;
  return 1;
}

/* Output positions [lo, hi) of one dimension whose 3-wide windows lie inside the input. */
static void dw_inner(size_t in, size_t out, size_t s, size_t pad, size_t *lo, size_t *hi) {
  size_t a = (pad + s - 1) / s, b = in + pad >= 3 ? (in + pad - 3) / s + 1 : 0;
  if (a > out) a = out;
  if (b > out) b = out;
  if (b < a) b = a;
  *lo = a;
  *hi = b;
}

/* Widest depthwise plane for nn_q8_dwconv3x3_cl (channels in the lanes): on MobileNetV2
 * (Zen 4) it beats the padded copy and a call per plane at 28 and below, not at 56. */
enum { DW_CL_MAX_W = 28 };

/* Plan the implicit padding of the depthwise path (see qlconv_state). Planes narrower
 * than 96 columns keep the padded copy: it replaces three extra kernel calls (rows
 * above, below, columns beside), and on MobileNetV2 it only paid off on the 112-wide
 * planes (neutral at 56, slower at 28 and 14). int8 inputs keep it too (the copy flips
 * them to uint8). */
static void qlconv_dw_implicit(const conv_plan *p, nn_dtype xt, qlconv_state *st) {
  const size_t ih = (size_t)p->g.in[0], iw = (size_t)p->g.in[1];
  const size_t oh = (size_t)p->g.out[0], ow = (size_t)p->g.out[1];
  const size_t s = (size_t)p->g.stride[0];
  const size_t pt = (size_t)p->g.pad_begin[0], pl = (size_t)p->g.pad_begin[1];
  st->dw_implicit = 0;
  if (xt != NN_UINT8 || iw < 96) return;
  dw_inner(ih, oh, s, pt, &st->dw_t, &st->dw_b);
  dw_inner(iw, ow, s, pl, &st->dw_l, &st->dw_r);
  if (st->dw_b == st->dw_t || st->dw_r == st->dw_l) return;
  const size_t lw = st->dw_l ? (st->dw_l - 1) * s + 3 : 0;
  const size_t rw = st->dw_r < ow ? (ow - 1 - st->dw_r) * s + 3 : 0;
  st->dw_nc0 = (lw + s - 1) / s * s;
  st->dw_nout = st->dw_r < ow ? st->dw_nc0 / s + (ow - st->dw_r) : st->dw_l;
  st->dw_nldx = (st->dw_nc0 + rw + NN_Q8_DW_SLACK + 63) & ~(size_t)63;
  const size_t nrows = (st->dw_b - st->dw_t - 1) * s + 3;
  st->dw_ntmp = align_up(st->dw_nldx * nrows);
  const size_t need = align_up(st->dw_ntmp + (st->dw_b - st->dw_t) * st->dw_nout);
  if (need > st->ws_stride) {
    st->ws_stride = need;
    st->fast_need = st->threads * st->ws_stride;
  }
  st->dw_ext = ((st->dw_b - 1) * s + 2 - pt) * iw + (st->dw_r - 1) * s + 2 - pl +
               NN_Q8_DW_SLACK + 1;
  st->dw_implicit = 1;
}

/* Choose the path, pack the weights. Returns an error only for allocation failures. */
static nn_status qlconv_setup(nn_op_ctx *ctx, const qlconv_info *q, qlconv_state *st) {
  const conv_plan *p = &q->p;
  const nn_value *w = nn_in(ctx, 3), *wzv = nn_in(ctx, 5);
  const int known[] = {3, 5};
  st->path = QLC_REF;
  if (!all_known(ctx, known, 2)) return NN_OK;
  const size_t m = (size_t)p->m;
  const int w_signed = w->dtype == NN_INT8;
  st->k = nn_kernels_get();
  st->threads = (size_t)nn_threadpool_size(nn_session_threadpool(ctx->session));
  st->kdim = (size_t)(p->cg * p->ksize);
  st->rowsum = calloc(m, sizeof(int32_t));
  st->bias = calloc(m, sizeof(int32_t));
  st->mult = calloc(m, sizeof(float));
  if (!st->rowsum || !st->bias || !st->mult) return NN_ERR_NOMEM;
  /* Weight zero points in the packed (int8) domain. */
  int any_wz = 0;
  int32_t *wz = calloc(m, sizeof(int32_t));
  if (!wz) return NN_ERR_NOMEM;
  for (size_t i = 0; i < m; i++) {
    int32_t z = 0;
    if (wzv) {
      const uint8_t zb = ((const uint8_t *)wzv->data)[i * q->wz_inc];
      z = w_signed ? (int32_t)(int8_t)zb : (int32_t)zb;
    }
    wz[i] = w_signed ? z : z - 128;
    any_wz |= wz[i] != 0;
  }
  const uint8_t *wd = w->data;
  if (qlconv_is_dw(p)) {
    /* Depthwise: weights w - wz must fit int8 (always true for symmetric weights). */
    int fits = 1;
    for (size_t i = 0; i < m && fits; i++)
      for (int t = 0; t < 9; t++) {
        int32_t v = (w_signed ? (int32_t)(int8_t)wd[i * 9 + t] : (int32_t)wd[i * 9 + t] - 128) - wz[i];
        if (v < -128 || v > 127) fits = 0;
      }
    if (fits) {
      st->path = QLC_DW;
      if (!(st->dw = calloc(m, 12))) {
        free(wz);
        return NN_ERR_NOMEM;
      }
      for (size_t i = 0; i < m; i++) {
        int32_t sum = 0;
        for (int t = 0; t < 9; t++) {
          int32_t v = (w_signed ? (int32_t)(int8_t)wd[i * 9 + t] : (int32_t)wd[i * 9 + t] - 128) - wz[i];
          st->dw[i * 12 + 4 * (t / 3) + t % 3] = (int8_t)v;
          sum += v;
        }
        st->rowsum[i] = sum;
      }
      free(wz);
      const size_t ow = (size_t)p->g.out[1], s = (size_t)p->g.stride[0];
      st->dw_ldx = ((ow - 1) * s + 3 + NN_Q8_DW_SLACK + 63) & ~(size_t)63;
      st->dw_rows = ((size_t)p->g.out[0] - 1) * s + 3;
      st->off_ws = 0;
      st->ws_stride = align_up(st->dw_ldx * st->dw_rows);
      st->fast_need = st->threads * st->ws_stride;
      qlconv_dw_implicit(p, nn_in(ctx, 0)->dtype, st);
      /* Small planes: channels in the lanes instead of a padded copy and a call per
       * plane (which cost more than the arithmetic at 28x28 and below). */
      if (!st->dw_implicit && (size_t)p->g.in[1] <= DW_CL_MAX_W &&
          nn_q8_dwconv3x3_cl_select(st->k) != nn_q8_dwconv3x3_cl__scalar) {
        nn_q8_dwcl_args ca = {.ih = (size_t)p->g.in[0], .iw = (size_t)p->g.in[1],
                              .oh = (size_t)p->g.out[0], .ow = (size_t)p->g.out[1],
                              .stride = (unsigned)s};
        st->dw_cl = nn_q8_dwconv3x3_cl_select(st->k);
        const size_t need = align_up(nn_q8_dwconv3x3_cl_workspace(&ca));
        if (need > st->ws_stride) {
          st->ws_stride = need;
          st->fast_need = st->threads * st->ws_stride;
        }
      }
      return NN_OK;
    }
  }
  st->path = QLC_GEMM;
  if (any_wz) {
    st->wz = wz;
    if (!(st->row_mul = calloc(m, sizeof(int32_t)))) return NN_ERR_NOMEM;
  } else {
    free(wz);
  }
  st->wp_group = nn_q8_packed_w_size((size_t)p->mg, st->kdim, st->k->q8_mr);
  if (!(st->wp = malloc(st->wp_group * (size_t)p->group))) return NN_ERR_NOMEM;
  for (int64_t g = 0; g < p->group; g++)
    nn_q8_pack_w((size_t)p->mg, st->kdim, st->k->q8_mr, wd + (size_t)(g * p->mg) * st->kdim,
                 st->kdim, w_signed, st->wp + (size_t)g * st->wp_group,
                 st->rowsum + g * p->mg);
  const size_t kdim = st->kdim, mg = (size_t)p->mg;
  size_t off = 0;
  if (p->direct) {
    st->gemm_x = GX_DIRECT;
  } else if (p->g.rank == 2) {
    const size_t ow = (size_t)p->g.out[1], oh = (size_t)p->g.out[0];
    const size_t sy = (size_t)p->g.stride[0], sx = (size_t)p->g.stride[1];
    /* Padded extent read by the convolution, then per stride phase. */
    const size_t hp = (oh - 1) * sy + (size_t)((p->g.kernel[0] - 1) * p->g.dilation[0]) + 1;
    const size_t wpd = (ow - 1) * sx + (size_t)((p->g.kernel[1] - 1) * p->g.dilation[1]) + 1;
    st->pad_h = (hp + sy - 1) / sy;
    st->pad_w = (wpd + sx - 1) / sx;
    /* The phase width costs (pad_w - ow) / pad_w more GEMM columns; gathering an
     * im2col of short rows costs more than that up to about a third (7x7 maps with a
     * 3x3 kernel: 2/9). */
    st->gemm_x = (st->pad_w - ow) * 3 <= st->pad_w ? GX_SHIFT : GX_PANEL;
  } else {
    st->gemm_x = p->g.rank == 2 ? GX_PANEL : GX_FULL;
  }
  if (st->gemm_x == GX_SHIFT) {
    st->off_pad = off;
    off += align_up((size_t)p->cg * (size_t)(p->g.stride[0] * p->g.stride[1]) * st->pad_h *
                    st->pad_w);
    st->off_tmp = off;
    off += align_up(mg * (((size_t)p->g.out[0] - 1) * st->pad_w + (size_t)p->g.out[1]));
  }
  if (st->gemm_x == GX_FULL) {
    st->off_col = off;
    off += align_up(conv_col_bytes(p));
  }
  st->off_rows = off;
  off += align_up(kdim * sizeof(uint8_t *));
  st->off_ws = off;
  st->ws_stride = align_up(nn_q8_gemm_workspace(st->k, kdim, st->gemm_x == GX_PANEL));
  st->fast_need = off + st->threads * st->ws_stride;
  return NN_OK;
}

static nn_status qlconv_prepare(nn_op_ctx *ctx) {
  qlconv_info q;
  size_t mo, co;
  nn_status st = qlconv_check(ctx, &q);
  if (st) return st;
  const size_t ref_need = qlconv_scratch(&q, &mo, &co);
  if (ctx->state) {
    qlconv_release(ctx->state);
    ctx->state = NULL;
  }
  qlconv_state *s = calloc(1, sizeof *s);
  if (!s) return nn_op_error(ctx, NN_ERR_NOMEM, "out of memory for packed weights");
  ctx->state = s;
  if ((st = qlconv_setup(ctx, &q, s)))
    return nn_op_error(ctx, st, "out of memory for packed weights");
  const int consts[] = {1, 2, 4, 6, 7, 8};
  if (s->path != QLC_REF && all_known(ctx, consts, 6)) {
    qlconv_terms(ctx, &q, s);
    s->terms_const = 1;
  }
  /* The reference path stays available (non-finite multipliers seen at run time). */
  ctx->scratch_size = ref_need > s->fast_need ? ref_need : s->fast_need;
  return NN_OK;
}

static nn_status qlconv_run_ref(nn_op_ctx *ctx, const qlconv_info *qi) {
  const nn_value *x = nn_in(ctx, 0), *w = nn_in(ctx, 3), *bias = nn_in(ctx, 8);
  nn_value *y = nn_out(ctx, 0);
  const qlconv_info q = *qi;
  size_t mo, co, need = qlconv_scratch(&q, &mo, &co);
  if (ctx->scratch_size < need || !ctx->scratch)
    return nn_op_error(ctx, NN_ERR_RUNTIME, "scratch of %zu bytes is too small (%zu needed)",
                       ctx->scratch_size, need);
  const conv_plan *p = &q.p;
  int32_t *acc = ctx->scratch;
  float *mult = (float *)((char *)ctx->scratch + mo);
  uint8_t *col = (uint8_t *)ctx->scratch + co;
  const float xs = *(const float *)nn_in(ctx, 1)->data, ys = *(const float *)nn_in(ctx, 6)->data;
  const float *ws = nn_in(ctx, 4)->data;
  /* The real multipliers, in float32 as ONNX Runtime computes them. */
  for (int64_t m = 0; m < p->m; m++) mult[m] = xs * ws[(size_t)m * q.ws_inc] / ys;
  const int32_t yz = nn_in(ctx, 7) ? (int32_t)nn_value_get_i64(nn_in(ctx, 7), 0) : 0;
  const size_t np = (size_t)p->out_size;
  for (int64_t n = 0; n < p->n; n++)
    for (int64_t grp = 0; grp < p->group; grp++) {
      conv_group_gemm(p, n, grp, x, zp_data(ctx, 2), w, zp_data(ctx, 5), q.wz_inc, col, acc);
      for (int64_t mi = 0; mi < p->mg; mi++) {
        int64_t oc = grp * p->mg + mi;
        int32_t *row = acc + (size_t)mi * np;
        if (bias) {
          int32_t bv = ((const int32_t *)bias->data)[oc];
          for (size_t j = 0; j < np; j++) row[j] = (int32_t)((uint32_t)row[j] + (uint32_t)bv);
        }
        size_t off = (size_t)(n * p->m + oc) * np;
        if (q.out == NN_INT8)
          nn_qs8_requantize__ref(np, row, &mult[oc], 0, (int8_t)yz, (int8_t *)y->data + off);
        else
          nn_qu8_requantize__ref(np, row, &mult[oc], 0, (uint8_t)yz, (uint8_t *)y->data + off);
      }
    }
  return NN_OK;
}

/* d[0 .. pl) = pad, d[pl .. pl + n) = src ^ xor_mask, d[pl + n .. used) = pad (pv: 16 pad
 * bytes, xm: 16 copies of xor_mask), with 16 / 8 / 4-byte moves instead of library calls
 * (rows are short and many); may write up to 15 bytes past used (the depthwise buffer
 * has NN_Q8_DW_SLACK there). Reads only src[0, n). */
static void copy_row_padded(uint8_t *d, const uint8_t *src, size_t pl, size_t n, size_t used,
                            const uint8_t *pv, const uint8_t *xm) {
  const uint8_t xor_mask = xm[0];
  for (size_t j = 0; j < pl; j += 16) memcpy(d + j, pv, 16);
  uint8_t *o = d + pl;
  if (n >= 16) {
    size_t j = 0;
    for (;; j += 16) {
      if (j + 16 > n) j = n - 16; /* last chunk overlaps the previous one */
      uint8_t v[16];
      memcpy(v, src + j, 16);
      for (int b = 0; b < 16; b++) v[b] ^= xm[b];
      memcpy(o + j, v, 16);
      if (j + 16 >= n) break;
    }
  } else if (n >= 4) {
    /* Two overlapping moves of 8 (or 4) bytes: narrow planes have many short rows. */
    const size_t h = n >= 8 ? 8 : 4;
    uint64_t a = 0, b = 0, m;
    memcpy(&m, xm, 8);
    memcpy(&a, src, h);
    memcpy(&b, src + n - h, h);
    a ^= m;
    b ^= m;
    memcpy(o, &a, h);
    memcpy(o + n - h, &b, h);
  } else {
    for (size_t j = 0; j < n; j++) o[j] = src[j] ^ xor_mask;
  }
  for (size_t j = pl + n; j < used; j += 16) memcpy(d + j, pv, 16);
}

/* Copy the padded rows [r0, r1) of one channel plane into the zero-point-padded buffer
 * of the depthwise kernel (padded row r0 at buf). */
static void dw_pad_rows(const conv_plan *p, const qlconv_state *s, const uint8_t *x,
                        uint8_t xor_mask, uint8_t pad, size_t r0, size_t r1, uint8_t *buf) {
  const size_t ih = (size_t)p->g.in[0], iw = (size_t)p->g.in[1];
  const size_t pt = (size_t)p->g.pad_begin[0], pl = (size_t)p->g.pad_begin[1];
  /* Columns the outputs read; the kernel's slack past them only feeds lanes that are
   * not stored, so it is left as it is. */
  const size_t used = ((size_t)p->g.out[1] - 1) * (size_t)p->g.stride[1] + 3;
  uint8_t pv[16], xm[16]; /* once per plane, not per row */
  memset(pv, pad, 16);
  memset(xm, xor_mask, 16);
  for (size_t r = r0; r < r1; r++) {
    uint8_t *d = buf + (r - r0) * s->dw_ldx;
    if (r < pt || r - pt >= ih) {
      memset(d, pad, used);
      continue;
    }
    const size_t n = pl + iw <= used ? iw : used - pl;
    copy_row_padded(d, x + (r - pt) * iw, pl, n, used, pv, xm);
  }
}

/* d[0, n) = s[0, n) with 16 / 8 / 4-byte moves (the last one overlapping) instead of
 * a library call: the rows of small maps are a few bytes. */
static void copy_short(uint8_t *d, const uint8_t *s, size_t n) {
  if (n >= 16) {
    for (size_t j = 0;; j += 16) {
      if (j + 16 > n) j = n - 16;
      memcpy(d + j, s + j, 16);
      if (j + 16 >= n) return;
    }
  }
  const size_t h = n >= 8 ? 8 : n >= 4 ? 4 : 0;
  if (!h) {
    for (size_t j = 0; j < n; j++) d[j] = s[j];
    return;
  }
  uint64_t a, b;
  memcpy(&a, s, h);
  memcpy(&b, s + n - h, h);
  memcpy(d, &a, h);
  memcpy(d + n - h, &b, h);
}

/* d[j] = s[2 * j] for j < n; reads only s[0, 2n - 1). */
static void gather_even(uint8_t *d, const uint8_t *s, size_t n) {
  size_t j = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  /* 8 outputs from 16 bytes, each 8-byte word folded to its 4 even bytes. The last
   * byte read, s[2j + 15], stays below s[2n - 2] while j + 8 < n. */
  for (; j + 8 < n; j += 8) {
    uint64_t a, b;
    memcpy(&a, s + 2 * j, 8);
    memcpy(&b, s + 2 * j + 8, 8);
    a &= 0x00FF00FF00FF00FFull;
    b &= 0x00FF00FF00FF00FFull;
    a = (a | a >> 8) & 0x0000FFFF0000FFFFull;
    b = (b | b >> 8) & 0x0000FFFF0000FFFFull;
    a = (a | a >> 16) & 0xFFFFFFFFull;
    b = (b | b >> 16) & 0xFFFFFFFFull;
    a |= b << 32;
    memcpy(d + j, &a, 8);
  }
#endif
  for (; j < n; j++) d[j] = s[2 * j];
}

/* The stride phases of one zero-point-padded channel plane: phase (a, b) (hp x wp, at
 * out + (a * sx + b) * hp * wp) holds padded pixel (i * sy + a, j * sx + b). Only the
 * phases whose bit (a * sx + b) is set in used are written (a 1x1 stride-2 kernel reads
 * one of four). */
static void shift_phases(const conv_plan *p, const uint8_t *x, uint8_t pad, size_t hp,
                         size_t wp, uint64_t used, uint8_t *out) {
  const int64_t ih = p->g.in[0], iw = p->g.in[1], pt = p->g.pad_begin[0], pl = p->g.pad_begin[1];
  const int64_t sy = p->g.stride[0], sx = p->g.stride[1];
  for (int64_t a = 0; a < sy; a++)
    for (int64_t b = 0; b < sx; b++) {
      if (a * sx + b < 64 && !((used >> (a * sx + b)) & 1)) continue;
      uint8_t *ph = out + (size_t)(a * sx + b) * hp * wp;
      /* valid j: 0 <= j * sx + b - pl < iw */
      const int64_t off = b - pl;
      int64_t jlo = off >= 0 ? 0 : (-off + sx - 1) / sx;
      int64_t jhi = iw - 1 - off < 0 ? -1 : (iw - 1 - off) / sx;
      if (jhi > (int64_t)wp - 1) jhi = (int64_t)wp - 1;
      for (size_t i = 0; i < hp; i++) {
        uint8_t *d = ph + i * wp;
        const int64_t y = (int64_t)i * sy + a - pt;
        if (y < 0 || y >= ih || jhi < jlo) {
          memset(d, pad, wp);
          continue;
        }
        const uint8_t *src = x + y * iw + jlo * sx + off;
        /* the borders are a few bytes: plain loops, no calls */
        for (int64_t j = 0; j < jlo; j++) d[j] = pad;
        if (sx == 1)
          copy_short(d + jlo, src, (size_t)(jhi - jlo + 1));
        else if (sx == 2)
          gather_even(d + jlo, src, (size_t)(jhi - jlo + 1));
        else
          for (int64_t j = 0; j <= jhi - jlo; j++) d[jlo + j] = src[j * sx];
        for (size_t j = (size_t)(jhi + 1); j < wp; j++) d[j] = pad;
      }
    }
}

/* Work shared by the threads of one QLinearConv run. */
typedef struct qlc_par {
  const conv_plan *p;
  const qlconv_state *s;
  char *ws;                 /* per-thread workspaces, s->ws_stride bytes apart */
  /* GEMM */
  const nn_q8_gemm_job *job;
  nn_q8_gemm_tasks tasks;
  const uint8_t *xg;        /* the image and group being convolved */
  uint8_t raw;              /* raw byte of the input zero point */
  uint8_t *xpad;            /* GX_SHIFT phases */
  const uint8_t **xrows;
  uint8_t *tmp, *ybase;     /* GX_SHIFT output over the phase width, and its target */
  uint64_t shift_used;      /* GX_SHIFT: the stride phases read (see shift_phases) */
  /* depthwise */
  nn_q8_dw_args dw;
  const uint8_t *xd;
  uint8_t *yd;
  uint8_t xm;
  size_t x_bytes;           /* size of the input tensor */
} qlc_par;

static void qlc_gemm_task(void *ctx, size_t thread, size_t task) {
  const qlc_par *w = ctx;
  nn_q8_gemm_run_task(w->job, &w->tasks, task, w->ws + thread * w->s->ws_stride);
}

/* GX_SHIFT prologue for channel c: its stride phases and its x rows. Channel 0 comes
 * first: the others' rows are its rows moved by whole channels (no divisions). */
static void qlc_shift_task(void *ctx, size_t thread, size_t c) {
  const qlc_par *w = ctx;
  const conv_plan *p = w->p;
  const size_t kk = (size_t)(p->g.kernel[0] * p->g.kernel[1]);
  const size_t hp = w->s->pad_h, wp = w->s->pad_w, plane = hp * wp;
  const size_t sy = (size_t)p->g.stride[0], sx = (size_t)p->g.stride[1];
  const size_t cstep = sy * sx * plane;
  uint8_t *d = w->xpad + c * cstep;
  shift_phases(p, w->xg + c * (size_t)p->in_size, w->raw, hp, wp, w->shift_used, d);
  {
    const size_t kw = (size_t)p->g.kernel[1];
    const size_t dy = (size_t)p->g.dilation[0], dx = (size_t)p->g.dilation[1];
    for (size_t t = 0; t < kk; t++) {
      const size_t ey = t / kw * dy, ex = t % kw * dx;
      w->xrows[c * kk + t] = d + ((ey % sy) * sx + ex % sx) * plane + (ey / sy) * wp + ex / sx;
    }
  }
  (void)thread;
}

/* Stride phases a GX_SHIFT convolution reads (bit a * sx + b; all of them past 64). */
static uint64_t shift_used(const conv_plan *p) {
  const size_t kh = (size_t)p->g.kernel[0], kw = (size_t)p->g.kernel[1];
  const size_t sy = (size_t)p->g.stride[0], sx = (size_t)p->g.stride[1];
  const size_t dy = (size_t)p->g.dilation[0], dx = (size_t)p->g.dilation[1];
  uint64_t used = 0;
  for (size_t ky = 0; ky < kh; ky++)
    for (size_t kx = 0; kx < kw; kx++) {
      const size_t ph = ((ky * dy) % sy) * sx + (kx * dx) % sx;
      used |= ph < 64 ? (uint64_t)1 << ph : 0;
    }
  return used;
}

/* GX_SHIFT epilogue for output channel mi: drop the phase-width padding columns. */
static void qlc_compact_task(void *ctx, size_t thread, size_t mi) {
  const qlc_par *w = ctx;
  const size_t oh = (size_t)w->p->g.out[0], ow = (size_t)w->p->g.out[1];
  const size_t np = (size_t)w->p->out_size;
  for (size_t r = 0; r < oh; r++)
    copy_short(w->ybase + mi * np + r * ow, w->tmp + mi * w->job->ldy + r * w->s->pad_w, ow);
  (void)thread;
}

/* Depthwise plane with implicit padding (s->dw_implicit, uint8 input): the inner block
 * straight from the input, the rows above and below it through the padded buffer, the
 * columns beside it through the narrow one. */
static void qlc_dw_implicit(const qlc_par *w, const uint8_t *x, nn_q8_dw_args a,
                            uint8_t *buf) {
  const conv_plan *p = w->p;
  const qlconv_state *s = w->s;
  const size_t iw = (size_t)p->g.in[1], oh = a.oh, ow = a.ow, st = a.stride;
  const size_t pt = (size_t)p->g.pad_begin[0], pl = (size_t)p->g.pad_begin[1];
  const size_t t = s->dw_t, b = s->dw_b, l = s->dw_l, r = s->dw_r;
  uint8_t *y = a.y;
  const uint8_t pad = w->raw;
  nn_q8_dw_args k = a;
  k.x = x + (t * st - pt) * iw + (l * st - pl);
  k.ldx = iw;
  k.oh = b - t;
  k.ow = r - l;
  k.y = y + t * ow + l;
  s->k->q8_dwconv3x3(&k);
  if (t) { /* rows above: padded rows [0, (t - 1) * st + 3) */
    dw_pad_rows(p, s, x, 0, pad, 0, (t - 1) * st + 3, buf);
    k = a;
    k.x = buf;
    k.oh = t;
    s->k->q8_dwconv3x3(&k);
  }
  if (b < oh) { /* rows below */
    dw_pad_rows(p, s, x, 0, pad, b * st, (oh - 1) * st + 3, buf);
    k = a;
    k.x = buf;
    k.oh = oh - b;
    k.y = y + b * ow;
    s->k->q8_dwconv3x3(&k);
  }
  if (l == 0 && r == ow) return;
  /* Columns beside the block, rows [t, b): padded columns [0, lw) and [r * st, ...). */
  const size_t lw = l ? (l - 1) * st + 3 : 0, rw = r < ow ? (ow - 1 - r) * st + 3 : 0;
  const size_t nrows = (b - t - 1) * st + 3, ldn = s->dw_nldx, c0 = s->dw_nc0;
  /* The inner block reads input columns [l * st - pl, ...), so the left part holds
   * pl pads then input columns; the right part starts inside the input (r * st - pl <
   * iw as st <= 2) and ends with pads. */
  const size_t lp = pl < lw ? pl : lw, rb = r * st - pl;
  const size_t rv = iw - rb < rw ? iw - rb : rw;
  for (size_t i = 0; i < nrows; i++) {
    const uint8_t *src = x + (t * st + i - pt) * iw; /* inside the input (rows [t, b)) */
    uint8_t *d = buf + i * ldn;
    for (size_t j = 0; j < lp; j++) d[j] = pad;
    for (size_t j = lp; j < lw; j++) d[j] = src[j - pl];
    for (size_t j = 0; j < rv; j++) d[c0 + j] = src[rb + j];
    for (size_t j = rv; j < rw; j++) d[c0 + j] = pad;
  }
  uint8_t *tmp = buf + s->dw_ntmp;
  k = a;
  k.x = buf;
  k.ldx = ldn;
  k.oh = b - t;
  k.ow = s->dw_nout;
  k.y = tmp;
  k.ldy = s->dw_nout;
  s->k->q8_dwconv3x3(&k);
  const size_t j0 = c0 / st;
  for (size_t i = 0; i < b - t; i++) {
    uint8_t *yr = y + (t + i) * ow;
    const uint8_t *tr = tmp + i * s->dw_nout;
    for (size_t j = 0; j < l; j++) yr[j] = tr[j];
    for (size_t j = r; j < ow; j++) yr[j] = tr[j0 + j - r];
  }
}

/* 16 channels of one image (task = image * blocks + block). */
static void qlc_dwcl_task(void *ctx, size_t thread, size_t task) {
  const qlc_par *w = ctx;
  const conv_plan *p = w->p;
  const qlconv_state *s = w->s;
  const size_t c = (size_t)p->c, blocks = (c + 15) / 16;
  const size_t n = task / blocks, c0 = task % blocks * 16, c1 = c0 + 16 < c ? c0 + 16 : c;
  nn_q8_dwcl_args a = {.ih = (size_t)p->g.in[0], .iw = (size_t)p->g.in[1],
                       .oh = w->dw.oh, .ow = w->dw.ow, .stride = w->dw.stride,
                       .pt = (size_t)p->g.pad_begin[0], .pl = (size_t)p->g.pad_begin[1],
                       .x = w->xd + n * c * (size_t)p->in_size, .xor_mask = w->xm,
                       .pad = (uint8_t)(w->raw ^ w->xm), .w = s->dw, .bias = s->bias,
                       .scale = s->mult, .out_zp = w->dw.out_zp, .qmin = w->dw.qmin,
                       .qmax = w->dw.qmax, .y = w->yd + n * c * (size_t)p->out_size};
  s->dw_cl(&a, c0, c1, (uint8_t *)w->ws + thread * s->ws_stride);
}

static void qlc_dw_task(void *ctx, size_t thread, size_t plane) {
  const qlc_par *w = ctx;
  const conv_plan *p = w->p;
  const qlconv_state *s = w->s;
  const size_t c = plane % (size_t)p->c;
  uint8_t *buf = (uint8_t *)w->ws + thread * s->ws_stride;
  const uint8_t *x = w->xd + plane * (size_t)p->in_size;
  nn_q8_dw_args a = w->dw;
  a.w = s->dw + 12 * c;
  a.bias = s->bias[c];
  a.scale = s->mult[c];
  a.y = w->yd + plane * (size_t)p->out_size; /* depthwise: M == C */
  /* The inner block's reads (slack included) must stay inside the input tensor. */
  if (s->dw_implicit && plane * (size_t)p->in_size + s->dw_ext <= w->x_bytes) {
    qlc_dw_implicit(w, x, a, buf);
    return;
  }
  dw_pad_rows(p, s, x, w->xm, w->raw ^ w->xm, 0, s->dw_rows, buf);
  a.x = buf;
  s->k->q8_dwconv3x3(&a);
}

static nn_status qlconv_run(nn_op_ctx *ctx) {
  qlconv_info q;
  nn_status st = qlconv_check(ctx, &q);
  if (st) return st;
  qlconv_state *s = ctx->state;
  if (!s || s->path == QLC_REF) return qlconv_run_ref(ctx, &q);
  if (!s->terms_const) qlconv_terms(ctx, &q, s);
  if (!s->terms_ok) return qlconv_run_ref(ctx, &q);
  if (ctx->scratch_size < s->fast_need || !ctx->scratch)
    return nn_op_error(ctx, NN_ERR_RUNTIME, "scratch of %zu bytes is too small (%zu needed)",
                       ctx->scratch_size, s->fast_need);
  nn_threadpool *pool = nn_session_threadpool(ctx->session);
  size_t threads = (size_t)nn_threadpool_size(pool);
  if (threads > s->threads) threads = s->threads; /* workspaces planned in prepare */
  const conv_plan *p = &q.p;
  const nn_value *x = nn_in(ctx, 0);
  nn_value *y = nn_out(ctx, 0);
  const int32_t yz = nn_in(ctx, 7) ? (int32_t)nn_value_get_i64(nn_in(ctx, 7), 0) : 0;
  const int out_signed = q.out == NN_INT8;
  qlc_par w;
  memset(&w, 0, sizeof w);
  w.p = p;
  w.s = s;
  w.ws = (char *)ctx->scratch + s->off_ws;
  (void)qlconv_xz(ctx, &w.xm, &w.raw);
  const size_t np = (size_t)p->out_size;
  const uint8_t *xd = x->data;
  uint8_t *yd = y->data;
  if (s->path == QLC_DW) {
    nn_q8_dw_args a = {.oh = (size_t)p->g.out[0], .ow = (size_t)p->g.out[1],
                       .stride = (unsigned)p->g.stride[0], .ldx = s->dw_ldx,
                       .out_zp = yz, .qmin = out_signed ? -128 : 0,
                       .qmax = out_signed ? 127 : 255, .ldy = (size_t)p->g.out[1]};
    w.dw = a;
    w.xd = xd;
    w.yd = yd;
    w.x_bytes = (size_t)(p->n * p->c * p->in_size);
    if (s->dw_cl) {
      const size_t tasks = (size_t)p->n * (((size_t)p->c + 15) / 16);
      nn_threadpool_parallelize(threads > 1 && tasks > 1 ? pool : NULL, qlc_dwcl_task, &w,
                                tasks);
      return NN_OK;
    }
    nn_threadpool_parallelize(threads > 1 ? pool : NULL, qlc_dw_task, &w,
                              (size_t)(p->n * p->c));
    return NN_OK;
  }
  uint8_t *col = (uint8_t *)ctx->scratch + s->off_col;
  w.xpad = (uint8_t *)ctx->scratch + s->off_pad;
  w.tmp = (uint8_t *)ctx->scratch + s->off_tmp;
  w.xrows = (const uint8_t **)((char *)ctx->scratch + s->off_rows);
  if (s->gemm_x == GX_SHIFT) w.shift_used = shift_used(p);
  const size_t oh = p->g.rank == 2 ? (size_t)p->g.out[0] : 1;
  const size_t ow = p->g.rank == 2 ? (size_t)p->g.out[1] : 1;
  nn_q8_gemm_job job = {.kern = s->k, .m = (size_t)p->mg, .n = np, .k = s->kdim,
                        .x_xor = w.xm, .mode = out_signed ? NN_Q8_OUT_S8 : NN_Q8_OUT_U8,
                        .out_zp = yz, .qmin = out_signed ? -128 : 0,
                        .qmax = out_signed ? 127 : 255};
  w.job = &job;
  nn_threadpool *tp = threads > 1 ? pool : NULL;
  for (int64_t n = 0; n < p->n; n++)
    for (int64_t g = 0; g < p->group; g++) {
      const uint8_t *xg = xd + (size_t)((n * p->c + g * p->cg) * p->in_size);
      const size_t o = (size_t)(g * p->mg);
      job.w = s->wp + (size_t)g * s->wp_group;
      job.row_bias = s->bias + o;
      job.row_mul = s->row_mul ? s->row_mul + o : NULL;
      job.scale = s->mult + o;
      job.y = yd + (size_t)(n * p->m) * np + o * np;
      job.n = np;
      job.ldy = np;
      job.conv = NULL;
      job.xrows = w.xrows;
      w.xg = xg;
      w.ybase = job.y;
      switch (s->gemm_x) {
        case GX_DIRECT:
          for (size_t kk = 0; kk < s->kdim; kk++) w.xrows[kk] = xg + kk * np;
          break;
        case GX_FULL:
          nn_x8_im2col__ref(&p->g, xg, w.raw, col);
          for (size_t kk = 0; kk < s->kdim; kk++) w.xrows[kk] = col + kk * np;
          break;
        case GX_PANEL:
          job.conv = &p->g;
          job.conv_x = xg;
          job.conv_pad = w.raw;
          break;
        case GX_SHIFT:
          /* Memory-bound: split over channels once there is enough of it. */
          nn_threadpool_parallelize(
              (size_t)p->cg * (size_t)p->in_size >= 32768 ? tp : NULL, qlc_shift_task, &w,
              (size_t)p->cg);
          if (s->pad_w == ow) break; /* no padding columns (1x1 stride 2): y directly */
          job.n = (oh - 1) * s->pad_w + ow;
          job.ldy = job.n;
          job.y = w.tmp;
          break;
      }
      /* Small GEMMs stay on one thread: a pool round costs microseconds. */
      const size_t macs = job.m * job.n * job.k;
      nn_q8_gemm_split(&job, macs < ((size_t)1 << 20) ? 1 : threads, &w.tasks);
      nn_threadpool_parallelize(w.tasks.tasks > 1 ? tp : NULL, qlc_gemm_task, &w,
                                w.tasks.tasks);
      if (s->gemm_x == GX_SHIFT && s->pad_w != ow) /* channels split once worth it */
        nn_threadpool_parallelize((size_t)p->mg * (size_t)p->out_size >= 32768 ? tp : NULL,
                                  qlc_compact_task, &w, (size_t)p->mg);
    }
  return NN_OK;
}

NN_OP(QLinearConv) = {.op_type = "QLinearConv",
                      .domain = "",
                      .infer = qlconv_infer,
                      .prepare = qlconv_prepare,
                      .run = qlconv_run,
                      .release = qlconv_release};
