/*
 * integer.c - the ops computed by the 8-bit integer GEMM (kernels/ref/qgemm.h):
 * MatMulInteger and ConvInteger (int32 results), QLinearMatMul and QLinearConv
 * (requantized to 8 bits with kernels/ref/requant.h). Convolutions are im2col (into the
 * scratch sized by prepare) followed by the GEMM, per image and group.
 */
#include <string.h>

#include "kernels/ref/qgemm.h"
#include "kernels/ref/requant.h"
#include "ops/op.h"

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

static nn_status mmi_run(nn_op_ctx *ctx) {
  const nn_value *a = nn_in(ctx, 0), *b = nn_in(ctx, 1);
  nn_value *y = nn_out(ctx, 0);
  mm_plan p;
  size_t azi, bzi;
  nn_status st = mmi_check(ctx, &p, &azi, &bzi);
  if (st) return st;
  const size_t m = (size_t)p.m, n = (size_t)p.n, k = (size_t)p.k;
  for (int64_t bi = 0; bi < p.nbatch; bi++) {
    int64_t ao, bo;
    mm_batch_offsets(&p, bi, &ao, &bo);
    nn_x8_gemm__ref(a->dtype == NN_INT8, b->dtype == NN_INT8, m, n, k,
                    (const uint8_t *)a->data + (size_t)ao * m * k, k, zp_data(ctx, 2), azi,
                    (const uint8_t *)b->data + (size_t)bo * k * n, n, zp_data(ctx, 3), bzi,
                    (int32_t *)y->data + (size_t)bi * m * n, n);
  }
  return NN_OK;
}

NN_OP(MatMulInteger) = {.op_type = "MatMulInteger",
                        .domain = "",
                        .infer = mmi_infer,
                        .run = mmi_run};

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

static nn_status qlmm_prepare(nn_op_ctx *ctx) {
  qlmm_info q;
  nn_status st = qlmm_check(ctx, &q);
  if (st) return st;
  ctx->scratch_size = qlmm_scratch(&q);
  return NN_OK;
}

static nn_status qlmm_run(nn_op_ctx *ctx) {
  const nn_value *a = nn_in(ctx, 0), *b = nn_in(ctx, 3);
  nn_value *y = nn_out(ctx, 0);
  qlmm_info q;
  nn_status st = qlmm_check(ctx, &q);
  if (st) return st;
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
    nn_x8_gemm__ref(a->dtype == NN_INT8, b->dtype == NN_INT8, m, n, k,
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
                        .run = qlmm_run};

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
  nn_x8_gemm__ref(w->dtype == NN_INT8, x->dtype == NN_INT8, (size_t)p->mg, np, kk, a, kk, az,
                  wz_inc, b, np, xzp, 0, acc, np);
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

static nn_status qlconv_prepare(nn_op_ctx *ctx) {
  qlconv_info q;
  size_t mo, co;
  nn_status st = qlconv_check(ctx, &q);
  if (st) return st;
  ctx->scratch_size = qlconv_scratch(&q, &mo, &co);
  return NN_OK;
}

static nn_status qlconv_run(nn_op_ctx *ctx) {
  const nn_value *x = nn_in(ctx, 0), *w = nn_in(ctx, 3), *bias = nn_in(ctx, 8);
  nn_value *y = nn_out(ctx, 0);
  qlconv_info q;
  nn_status st = qlconv_check(ctx, &q);
  if (st) return st;
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

NN_OP(QLinearConv) = {.op_type = "QLinearConv",
                      .domain = "",
                      .infer = qlconv_infer,
                      .prepare = qlconv_prepare,
                      .run = qlconv_run};
