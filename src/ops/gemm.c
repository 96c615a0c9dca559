/*
 * gemm.c - the Gemm op (opsets 1-13): Y = alpha * op(A) * op(B) + beta * C with C
 * broadcast to (M, N) and optional from opset 11. float32 runs the packed GEMM of
 * kernels/f32_gemm.h (a constant B packed once at prepare, a constant row-vector C
 * fused as a column bias, threads of the session) when the dispatch table has it;
 * other dtypes, and everything under NNOPT_ISA=ref, run kernels/ref/gemm.c.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/f32_gemm.h"
#include "kernels/ref/gemm.h"
#include "ops/op.h"
#include "runtime/session.h"
#include "runtime/threadpool.h"

static int gemm_dtype_ok(nn_dtype t) {
  return t == NN_FLOAT || t == NN_DOUBLE || t == NN_INT32 || t == NN_INT64 ||
         t == NN_UINT32 || t == NN_UINT64;
}

static nn_status gemm_shape(nn_op_ctx *ctx, int64_t *M, int64_t *N, int64_t *K) {
  const nn_value *a = nn_in(ctx, 0), *b = nn_in(ctx, 1), *c = nn_in(ctx, 2);
  if (!a || !b) return nn_op_error(ctx, NN_ERR_INVALID, "inputs 'A' and 'B' are required");
  if (!gemm_dtype_ok(a->dtype))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input 'A' has dtype %s (supported: float32, "
                       "float64, int32, int64, uint32, uint64)", nn_dtype_name(a->dtype));
  if (b->dtype != a->dtype || (c && c->dtype != a->dtype))
    return nn_op_error(ctx, NN_ERR_INVALID, "inputs 'A', 'B' and 'C' must share one dtype "
                       "(got %s, %s%s%s)", nn_dtype_name(a->dtype), nn_dtype_name(b->dtype),
                       c ? ", " : "", c ? nn_dtype_name(c->dtype) : "");
  if (a->ndim != 2) return nn_op_error(ctx, NN_ERR_INVALID, "input 'A' has rank %d, expected 2", a->ndim);
  if (b->ndim != 2) return nn_op_error(ctx, NN_ERR_INVALID, "input 'B' has rank %d, expected 2", b->ndim);
  const int ta = nn_attr_int(ctx->node, "transA", 0) != 0;
  const int tb = nn_attr_int(ctx->node, "transB", 0) != 0;
  *M = ta ? a->dims[1] : a->dims[0];
  *K = ta ? a->dims[0] : a->dims[1];
  *N = tb ? b->dims[0] : b->dims[1];
  const int64_t kb = tb ? b->dims[1] : b->dims[0];
  if (kb != *K)
    return nn_op_error(ctx, NN_ERR_INVALID, "inner dims differ: op(A) is %lld x %lld, op(B) "
                       "is %lld x %lld", (long long)*M, (long long)*K, (long long)kb,
                       (long long)*N);
  if (c) {
    const int64_t want[2] = {*M, *N};
    if (c->ndim > 2)
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'C' has rank %d, expected <= 2", c->ndim);
    for (int d = 0; d < c->ndim; d++) {
      const int64_t cd = c->dims[d], wd = want[2 - c->ndim + d];
      if (cd != 1 && cd != wd)
        return nn_op_error(ctx, NN_ERR_INVALID, "input 'C' with shape [%lld%s%lld] does not "
                           "broadcast to [%lld, %lld]", (long long)c->dims[0],
                           c->ndim == 2 ? ", " : "", c->ndim == 2 ? (long long)c->dims[1] : 0LL,
                           (long long)*M, (long long)*N);
    }
  }
  return NN_OK;
}

static nn_status gemm_infer(nn_op_ctx *ctx) {
  int64_t M = 0, N = 0, K = 0;
  nn_status s = gemm_shape(ctx, &M, &N, &K);
  if (s) return s;
  const int64_t dims[2] = {M, N};
  return nn_value_set(ctx, nn_out(ctx, 0), nn_in(ctx, 0)->dtype, 2, dims);
}

/* Y <- C broadcast to M x N (the beta scaling happens in the kernel). */
static void fill_c(const nn_value *c, void *y, int64_t M, int64_t N, size_t es) {
  int64_t rows = c->ndim == 2 ? c->dims[0] : 1;
  int64_t cols = c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
  const char *src = c->data;
  char *dst = y;
  for (int64_t i = 0; i < M; i++) {
    const char *row = src + (size_t)(rows == 1 ? 0 : i) * (size_t)cols * es;
    char *out = dst + (size_t)i * (size_t)N * es;
    if (cols == N)
      memcpy(out, row, (size_t)N * es);
    else
      for (int64_t j = 0; j < N; j++) memcpy(out + (size_t)j * es, row, es);
  }
}

/* Prepared float32 Gemm: B packed when constant, beta * C as a column bias when C is
 * a constant row vector. */
typedef struct gemm_state {
  float *packed_b; /* or NULL: B packed per call */
  float *bias;     /* N values, or NULL */
} gemm_state;

static void gemm_release(void *state) {
  gemm_state *st = state;
  if (!st) return;
  free(st->packed_b);
  free(st->bias);
  free(st);
}

static nn_status gemm_prepare(nn_op_ctx *ctx) {
  int64_t M = 0, N = 0, K = 0;
  nn_status s = gemm_shape(ctx, &M, &N, &K);
  if (s) return s;
  const nn_value *a = nn_in(ctx, 0), *b = nn_in(ctx, 1), *c = nn_in(ctx, 2);
  const nn_kernels *k = nn_kernels_get();
  if (a->dtype != NN_FLOAT || !k->f32_gemm_ukernel) return NN_OK;
  gemm_state *st = calloc(1, sizeof *st);
  if (!st) return nn_op_error(ctx, NN_ERR_NOMEM, "out of memory");
  const int tb = nn_attr_int(ctx->node, "transB", 0) != 0;
  const float beta = nn_attr_float(ctx->node, "beta", 1.0f);
  if (b->data && (b->flags & NN_V_CONST) &&
      !(nn_session_flags(ctx->session) & NN_SESSION_NO_PREPACK)) {
    const size_t n = nn_f32_packed_b_size((size_t)K, (size_t)N, k->f32_gemm_nr);
    st->packed_b = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64 + 64);
    if (!st->packed_b) goto nomem;
    nn_f32_pack_b(b->data, (size_t)b->dims[1], tb, 0, (size_t)K, 0, (size_t)N,
                  k->f32_gemm_nr, st->packed_b);
  }
  /* C of N values (shape [N] or [1, N]) becomes a bias added in the GEMM epilogue. */
  if (c && c->data && (c->flags & NN_V_CONST) && beta != 0 && nn_value_numel(c) == N &&
      (c->ndim == 1 || (c->ndim == 2 && c->dims[0] == 1))) {
    st->bias = malloc((size_t)N * sizeof(float));
    if (!st->bias) goto nomem;
    for (int64_t j = 0; j < N; j++) st->bias[j] = beta * ((const float *)c->data)[j];
  }
  ctx->state = st;
  const int threads = nn_threadpool_size(nn_session_threadpool(ctx->session));
  ctx->scratch_size = nn_f32_gemm_workspace(k, (size_t)M, (size_t)N, (size_t)K, 0,
                                            st->packed_b != NULL, threads);
  return NN_OK;
nomem:
  gemm_release(st);
  return nn_op_error(ctx, NN_ERR_NOMEM, "out of memory packing the weights");
}

static nn_status gemm_run(nn_op_ctx *ctx) {
  int64_t M = 0, N = 0, K = 0;
  nn_status s = gemm_shape(ctx, &M, &N, &K);
  if (s) return s;
  const nn_value *a = nn_in(ctx, 0), *b = nn_in(ctx, 1), *c = nn_in(ctx, 2);
  nn_value *y = nn_out(ctx, 0);
  if (!y || !M || !N) return NN_OK;
  const int ta = nn_attr_int(ctx->node, "transA", 0) != 0;
  const int tb = nn_attr_int(ctx->node, "transB", 0) != 0;
  const float alpha = nn_attr_float(ctx->node, "alpha", 1.0f);
  float beta = nn_attr_float(ctx->node, "beta", 1.0f);
  const gemm_state *st = ctx->state;
  if (st) {
    nn_f32_gemm_problem p = {.M = (size_t)M, .N = (size_t)N, .K = (size_t)K, .alpha = alpha,
                             .c = y->data, .ldc = (size_t)N};
    p.a.data = a->data;
    p.a.ld = (size_t)a->dims[1];
    p.a.trans = ta;
    p.b.packed = st->packed_b;
    p.b.data = b->data;
    p.b.ld = (size_t)b->dims[1];
    p.b.trans = tb;
    if (st->bias) {
      p.bias = st->bias;
      p.flags = NN_F32_GEMM_BIAS_COL;
    } else if (c && nn_value_numel(c) && beta != 0) {
      fill_c(c, y->data, M, N, sizeof(float));
      if (beta != 1.0f)
        for (int64_t i = 0; i < M * N; i++) ((float *)y->data)[i] *= beta;
      p.flags = NN_F32_GEMM_ACC;
    }
    nn_f32_gemm_run(nn_kernels_get(), &p, ctx->scratch, ctx->scratch_size,
                    nn_session_threadpool(ctx->session));
    return NN_OK;
  }
  if (c && nn_value_numel(c) && beta != 0)
    fill_c(c, y->data, M, N, nn_dtype_size(a->dtype));
  else
    beta = 0;
  const int64_t lda = a->dims[1], ldb = b->dims[1];
  switch (a->dtype) {
  case NN_FLOAT:
    nn_f32_gemm__ref(M, N, K, a->data, lda, ta, b->data, ldb, tb, y->data, N, alpha, beta);
    break;
  case NN_DOUBLE:
    nn_f64_gemm__ref(M, N, K, a->data, lda, ta, b->data, ldb, tb, y->data, N, alpha, beta);
    break;
  case NN_INT32:
    nn_i32_gemm__ref(M, N, K, a->data, lda, ta, b->data, ldb, tb, y->data, N,
                     (int32_t)alpha, (int32_t)beta);
    break;
  case NN_INT64:
    nn_i64_gemm__ref(M, N, K, a->data, lda, ta, b->data, ldb, tb, y->data, N,
                     (int64_t)alpha, (int64_t)beta);
    break;
  case NN_UINT32:
    nn_u32_gemm__ref(M, N, K, a->data, lda, ta, b->data, ldb, tb, y->data, N,
                     (uint32_t)(int64_t)alpha, (uint32_t)(int64_t)beta);
    break;
  case NN_UINT64:
    nn_u64_gemm__ref(M, N, K, a->data, lda, ta, b->data, ldb, tb, y->data, N,
                     (uint64_t)(int64_t)alpha, (uint64_t)(int64_t)beta);
    break;
  default:
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "dtype %s", nn_dtype_name(a->dtype));
  }
  return NN_OK;
}

NN_OP(Gemm) = {.op_type = "Gemm", .domain = "", .infer = gemm_infer, .prepare = gemm_prepare,
               .run = gemm_run, .release = gemm_release};
