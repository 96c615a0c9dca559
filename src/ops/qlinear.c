/*
 * qlinear.c - quantized element-wise ops of the com.microsoft domain that ONNX Runtime's
 * quantizer emits in QOperator format: QLinearAdd and QLinearMul. Both dequantize
 * implicitly, combine in float32 with ONNX Runtime's scale ratios, and requantize with
 * round half to even (kernels/ref/requant.h). Inputs: A, A_scale, A_zero_point, B,
 * B_scale, B_zero_point, C_scale, C_zero_point (zero points optional); numpy broadcast.
 * QLinearAdd is MLAS's expression (kernels/q8_eltwise.h: fused multiply-adds onto a
 * zero-point constant, the output zero point added before rounding), so that codes a
 * hair from a tie round as in ONNX Runtime; same-shape operands (or one scalar operand)
 * run the table's q8_add kernel, which computes it too. Like ONNX Runtime, a run where A
 * is the broadcast operand puts B first.
 */
#include <math.h>
#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/q8_eltwise.h"
#include "kernels/ref/requant.h"
#include "ops/op.h"
#include "runtime/session.h"
#include "runtime/threadpool.h"

/* The reference expressions must round like q8_add (a multiply, then an add): no
 * contraction into fused multiply-adds (GCC's ISO mode already does not). */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

typedef enum { QL_ADD, QL_MUL } ql_kind;

static const char *const g_names[] = {"A", "A_scale", "A_zero_point", "B",
                                      "B_scale", "B_zero_point", "C_scale", "C_zero_point"};

static nn_status check_scalar(nn_op_ctx *ctx, int idx, int is_scale, nn_dtype zdt) {
  const nn_value *v = nn_in(ctx, idx);
  if (!v) {
    if (is_scale) return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' is missing", g_names[idx]);
    return NN_OK;
  }
  if (nn_value_numel(v) != 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' must hold one value (per tensor)",
                       g_names[idx]);
  nn_dtype want = is_scale ? NN_FLOAT : zdt;
  if (v->dtype != want)
    return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' has dtype %s, expected %s",
                       g_names[idx], nn_dtype_name(v->dtype), nn_dtype_name(want));
  return NN_OK;
}

static nn_status ql_check(nn_op_ctx *ctx, int *nout, int64_t *out) {
  const nn_value *a = nn_in(ctx, 0), *b = nn_in(ctx, 3);
  if (!a || !b) return nn_op_error(ctx, NN_ERR_INVALID, "inputs 'A' and 'B' are required");
  if ((a->dtype != NN_UINT8 && a->dtype != NN_INT8) || b->dtype != a->dtype)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED,
                       "inputs 'A' (%s) and 'B' (%s) must both be uint8 or both int8",
                       nn_dtype_name(a->dtype), nn_dtype_name(b->dtype));
  for (int i = 1; i < 8; i++) {
    if (i == 3) continue;
    nn_status st = check_scalar(ctx, i, i == 1 || i == 4 || i == 6, a->dtype);
    if (st) return st;
  }
  return nn_broadcast_shape(ctx, a->ndim, a->dims, b->ndim, b->dims, nout, out);
}

static nn_status ql_infer(nn_op_ctx *ctx) {
  int nout;
  int64_t out[NN_MAX_DIMS];
  nn_status st = ql_check(ctx, &nout, out);
  if (st) return st;
  return nn_value_set(ctx, nn_out(ctx, 0), nn_in(ctx, 0)->dtype, nout, out);
}

static int32_t read_q(const nn_value *v, int sgn, size_t i) {
  return sgn ? ((const int8_t *)v->data)[i] : ((const uint8_t *)v->data)[i];
}

static int32_t zp_of(const nn_op_ctx *ctx, int idx) {
  const nn_value *z = nn_in(ctx, idx);
  return z ? (int32_t)nn_value_get_i64(z, 0) : 0;
}

/* The same-shape QLinearAdd kernel over chunks of the output (element-wise, so the split
 * does not change the result). */
typedef struct qladd_job {
  const nn_q8_add_params *p;
  const uint8_t *a, *b;
  uint8_t *c;
  size_t n, chunk;
} qladd_job;

static void qladd_task(void *ctx, size_t thread, size_t t) {
  const qladd_job *j = ctx;
  const size_t off = t * j->chunk, n = j->n - off < j->chunk ? j->n - off : j->chunk;
  nn_kernels_get()->q8_add(n, j->a + off, j->p->b_scalar ? j->b : j->b + off, j->p, j->c + off);
  (void)thread;
}

enum { QLADD_CHUNK_MIN = 16384 }; /* below this a parallel loop costs more than it saves */

static nn_status ql_run(nn_op_ctx *ctx, ql_kind kind) {
  int nd;
  int64_t out[NN_MAX_DIMS];
  nn_status st = ql_check(ctx, &nd, out);
  if (st) return st;
  const nn_value *a = nn_in(ctx, 0), *b = nn_in(ctx, 3);
  nn_value *c = nn_out(ctx, 0);
  const int sgn = a->dtype == NN_INT8;
  const int32_t qmin = sgn ? -128 : 0, qmax = sgn ? 127 : 255;
  const float sa = *(const float *)nn_in(ctx, 1)->data, sb = *(const float *)nn_in(ctx, 4)->data,
              sc = *(const float *)nn_in(ctx, 6)->data;
  const int32_t za = zp_of(ctx, 2), zb = zp_of(ctx, 5), zc = zp_of(ctx, 7);
  /* ONNX Runtime's formulation: ratios to the output scale, computed once in float32. */
  const float ra = sa / sc, rb = sb / sc, rab = sa * sb / sc;
  /* QLinearAdd's zero-point constant, A first and B first (see q8_eltwise.h). */
  const nn_q8_add_params pab = {.ra = ra, .rb = rb, .za = za, .zb = zb, .zc = zc};
  const nn_q8_add_params pba = {.ra = rb, .rb = ra, .za = zb, .zb = za, .zc = zc};
  const float fixed_ab = nn_q8_add_fixed(&pab), fixed_ba = nn_q8_add_fixed(&pba);
  const int64_t na = nn_value_numel(a), nb = nn_value_numel(b), nc = nn_value_numel(c);
  if (kind == QL_ADD && isfinite(ra) && isfinite(rb) && nc > 0 &&
      ((na == nc && (nb == nc || nb == 1)) || (na == 1 && nb == nc))) {
    /* Same shape, or one scalar operand (float addition commutes exactly). */
    const int swap = na == 1 && nb != 1;
    nn_q8_add_params p = {.ra = swap ? rb : ra, .rb = swap ? ra : rb, .za = swap ? zb : za,
                          .zb = swap ? za : zb, .zc = zc, .qmin = qmin, .qmax = qmax,
                          .is_signed = sgn, .b_scalar = (swap ? na : nb) == 1 && nc != 1};
    qladd_job j = {&p, swap ? b->data : a->data, swap ? a->data : b->data, c->data,
                   (size_t)nc, (size_t)nc};
    nn_threadpool *pool = nn_session_threadpool(ctx->session);
    const size_t threads = (size_t)nn_threadpool_size(pool);
    if (threads > 1 && j.n >= 2 * QLADD_CHUNK_MIN) {
      size_t tasks = j.n / QLADD_CHUNK_MIN;
      if (tasks > 4 * threads) tasks = 4 * threads;
      j.chunk = ((j.n + tasks - 1) / tasks + 63) & ~(size_t)63;
    }
    nn_threadpool_parallelize(j.chunk < j.n ? pool : NULL, qladd_task, &j,
                              (j.n + j.chunk - 1) / j.chunk);
    return NN_OK;
  }

  /* Element strides of a and b per output dim (0 where broadcast). */
  int64_t sta[NN_MAX_DIMS], stb[NN_MAX_DIMS], idx[NN_MAX_DIMS];
  int64_t ea = 1, eb = 1;
  for (int d = nd - 1; d >= 0; d--) {
    int da = d - (nd - a->ndim), db = d - (nd - b->ndim);
    int64_t na = da >= 0 ? a->dims[da] : 1, nb = db >= 0 ? b->dims[db] : 1;
    sta[d] = na == 1 ? 0 : ea;
    stb[d] = nb == 1 ? 0 : eb;
    ea *= na;
    eb *= nb;
    idx[d] = 0;
  }
  const int64_t n = nn_value_numel(c);
  const int64_t inner = nd ? out[nd - 1] : 1;
  const int64_t ia = nd ? sta[nd - 1] : 0, ib = nd ? stb[nd - 1] : 0;
  const int b_first = ia == 0 && ib != 0; /* A broadcast along the run */
  int64_t oa = 0, ob = 0;
  for (int64_t o = 0; o < n; o += inner) {
    for (int64_t j = 0; j < inner; j++) {
      const int32_t qa = read_q(a, sgn, (size_t)(oa + j * ia));
      const int32_t qb = read_q(b, sgn, (size_t)(ob + j * ib));
      int32_t q;
      if (kind == QL_ADD) {
        const float v = b_first ? fmaf((float)qb, rb, fmaf((float)qa, ra, fixed_ba))
                                : fmaf((float)qa, ra, fmaf((float)qb, rb, fixed_ab));
        q = nn_quantize_round_sat(v, 0, qmin, qmax);
      } else {
        const float v = (float)(qa - za) * (float)(qb - zb) * rab;
        q = nn_quantize_round_sat(v, zc, qmin, qmax);
      }
      if (sgn)
        ((int8_t *)c->data)[o + j] = (int8_t)q;
      else
        ((uint8_t *)c->data)[o + j] = (uint8_t)q;
    }
    /* advance the odometer over the outer dims */
    for (int d = nd - 2; d >= 0; d--) {
      idx[d]++;
      oa += sta[d];
      ob += stb[d];
      if (idx[d] < out[d]) break;
      oa -= sta[d] * out[d];
      ob -= stb[d] * out[d];
      idx[d] = 0;
    }
  }
  return NN_OK;
}

static nn_status qladd_run(nn_op_ctx *ctx) { return ql_run(ctx, QL_ADD); }
static nn_status qlmul_run(nn_op_ctx *ctx) { return ql_run(ctx, QL_MUL); }

NN_OP(QLinearAdd) = {.op_type = "QLinearAdd",
                     .domain = "com.microsoft",
                     .infer = ql_infer,
                     .run = qladd_run};
NN_OP(QLinearMul) = {.op_type = "QLinearMul",
                     .domain = "com.microsoft",
                     .infer = ql_infer,
                     .run = qlmul_run};
