/*
 * matmul.c - MatMul (numpy semantics: batch broadcasting, 1-D operands promoted and
 * their unit dim removed) on the packed GEMM (small batched products on the direct
 * kernel of f32_mm_direct.h), and Einsum (opset 12) as a generic loop over the labels
 * of its equation.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/f32_gemm.h"
#include "kernels/f32_mm_direct.h"
#include "kernels/ref/gemm.h"
#include "ops/op.h"
#include "runtime/session.h"
#include "runtime/threadpool.h"

static int mm_dtype_ok(nn_dtype t) {
  return t == NN_FLOAT || t == NN_DOUBLE || t == NN_INT32 || t == NN_INT64 ||
         t == NN_UINT32 || t == NN_UINT64;
}

/* C (M x N, ldc) = A (M x K, lda) * B (K x N, ldb) for one dtype. */
static void gemm_any(nn_dtype t, int64_t M, int64_t N, int64_t K, const void *A,
                     int64_t lda, const void *B, int64_t ldb, void *C, int64_t ldc) {
  switch (t) {
  case NN_FLOAT: nn_f32_gemm__ref(M, N, K, A, lda, 0, B, ldb, 0, C, ldc, 1, 0); break;
  case NN_DOUBLE: nn_f64_gemm__ref(M, N, K, A, lda, 0, B, ldb, 0, C, ldc, 1, 0); break;
  case NN_INT32: nn_i32_gemm__ref(M, N, K, A, lda, 0, B, ldb, 0, C, ldc, 1, 0); break;
  case NN_INT64: nn_i64_gemm__ref(M, N, K, A, lda, 0, B, ldb, 0, C, ldc, 1, 0); break;
  case NN_UINT32: nn_u32_gemm__ref(M, N, K, A, lda, 0, B, ldb, 0, C, ldc, 1, 0); break;
  case NN_UINT64: nn_u64_gemm__ref(M, N, K, A, lda, 0, B, ldb, 0, C, ldc, 1, 0); break;
  default: break;
  }
}

typedef struct mm_shape {
  int64_t M, N, K;
  int nb;                       /* broadcast batch rank */
  int64_t batch[NN_MAX_DIMS];   /* broadcast batch dims */
  int64_t abatch[NN_MAX_DIMS];  /* A's batch dims right-aligned to nb (1 = broadcast) */
  int64_t bbatch[NN_MAX_DIMS];
  int ndim;                     /* output rank */
  int64_t dims[NN_MAX_DIMS];
} mm_shape;

static nn_status mm_setup(nn_op_ctx *ctx, mm_shape *sh) {
  const nn_value *a = nn_in(ctx, 0), *b = nn_in(ctx, 1);
  if (!a || !b) return nn_op_error(ctx, NN_ERR_INVALID, "inputs 'A' and 'B' are required");
  if (!mm_dtype_ok(a->dtype))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input 'A' has dtype %s (supported: float32, "
                       "float64, int32, int64, uint32, uint64)", nn_dtype_name(a->dtype));
  if (b->dtype != a->dtype)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'B' has dtype %s, 'A' has %s",
                       nn_dtype_name(b->dtype), nn_dtype_name(a->dtype));
  if (a->ndim < 1 || b->ndim < 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' is a scalar, expected rank >= 1",
                       a->ndim < 1 ? "A" : "B");
  const int a1 = a->ndim == 1, b1 = b->ndim == 1;
  sh->M = a1 ? 1 : a->dims[a->ndim - 2];
  sh->K = a->dims[a->ndim - 1];
  const int64_t kb = b1 ? b->dims[0] : b->dims[b->ndim - 2];
  sh->N = b1 ? 1 : b->dims[b->ndim - 1];
  if (kb != sh->K)
    return nn_op_error(ctx, NN_ERR_INVALID, "inner dims differ: 'A' has K = %lld, 'B' has %lld",
                       (long long)sh->K, (long long)kb);
  const int na = a1 ? 0 : a->ndim - 2, nbb = b1 ? 0 : b->ndim - 2;
  nn_status s = nn_broadcast_shape(ctx, na, a->dims, nbb, b->dims, &sh->nb, sh->batch);
  if (s) return s;
  for (int d = 0; d < sh->nb; d++) {
    sh->abatch[d] = d < sh->nb - na ? 1 : a->dims[d - (sh->nb - na)];
    sh->bbatch[d] = d < sh->nb - nbb ? 1 : b->dims[d - (sh->nb - nbb)];
  }
  sh->ndim = sh->nb;
  memcpy(sh->dims, sh->batch, (size_t)sh->nb * sizeof(int64_t));
  if (sh->ndim + !a1 + !b1 > NN_MAX_DIMS)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "output rank exceeds %d", NN_MAX_DIMS);
  if (!a1) sh->dims[sh->ndim++] = sh->M;
  if (!b1) sh->dims[sh->ndim++] = sh->N;
  return NN_OK;
}

static nn_status matmul_infer(nn_op_ctx *ctx) {
  mm_shape sh;
  nn_status s = mm_setup(ctx, &sh);
  if (s) return s;
  return nn_value_set(ctx, nn_out(ctx, 0), nn_in(ctx, 0)->dtype, sh.ndim, sh.dims);
}

/* float32 on the packed GEMM (kernels/f32_gemm.h): a constant B shared by every
 * batch is packed once at prepare (the weights of a Linear layer). */
typedef struct mm_state {
  float *packed_b; /* or NULL */
  size_t ws1;      /* workspace of one single-threaded GEMM, 64-byte multiple */
} mm_state;

static void matmul_release(void *state) {
  mm_state *st = state;
  if (st) free(st->packed_b);
  free(st);
}

/* Rows of one GEMM over all batches when B is shared and A not broadcast, else 0. */
static int64_t mm_fused_rows(const mm_shape *sh) {
  int64_t nbatch = 1, bcount = 1;
  int a_full = 1;
  for (int d = 0; d < sh->nb; d++) {
    nbatch *= sh->batch[d];
    bcount *= sh->bbatch[d];
    a_full &= sh->abatch[d] == sh->batch[d];
  }
  return bcount == 1 && a_full ? nbatch * sh->M : 0;
}

static nn_status matmul_prepare(nn_op_ctx *ctx) {
  mm_shape sh;
  nn_status s = mm_setup(ctx, &sh);
  if (s) return s;
  const nn_value *a = nn_in(ctx, 0), *b = nn_in(ctx, 1);
  const nn_kernels *k = nn_kernels_get();
  if (a->dtype != NN_FLOAT || !k->f32_gemm_ukernel) return NN_OK;
  mm_state *st = calloc(1, sizeof *st);
  if (!st) return nn_op_error(ctx, NN_ERR_NOMEM, "out of memory");
  const int64_t rows = mm_fused_rows(&sh);
  if (rows && b->data && (b->flags & NN_V_CONST) && sh.K > 0 && sh.N > 0 &&
      !(nn_session_flags(ctx->session) & NN_SESSION_NO_PREPACK)) {
    const size_t n = nn_f32_packed_b_size((size_t)sh.K, (size_t)sh.N, k->f32_gemm_nr);
    st->packed_b = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!st->packed_b) {
      matmul_release(st);
      return nn_op_error(ctx, NN_ERR_NOMEM, "out of memory packing the weights");
    }
    nn_f32_pack_b(b->data, (size_t)sh.N, 0, 0, (size_t)sh.K, 0, (size_t)sh.N, k->f32_gemm_nr,
                  st->packed_b);
  }
  ctx->state = st;
  const int threads = nn_threadpool_size(nn_session_threadpool(ctx->session));
  const size_t w1 = nn_f32_gemm_workspace(k, (size_t)(rows ? rows : sh.M), (size_t)sh.N,
                                          (size_t)sh.K, 0, st->packed_b != NULL, threads);
  const size_t w2 = nn_f32_gemm_workspace(k, (size_t)sh.M, (size_t)sh.N, (size_t)sh.K, 0, 0,
                                          threads);
  /* batched products (attention's QK^T and AV): one whole GEMM per task and thread */
  st->ws1 = (nn_f32_gemm_workspace(k, (size_t)sh.M, (size_t)sh.N, (size_t)sh.K, 0, 0, 1) + 63) /
            64 * 64;
  const size_t w3 = st->ws1 * (size_t)threads;
  ctx->scratch_size = w1 > w2 ? w1 : w2;
  if (w3 > ctx->scratch_size) ctx->scratch_size = w3;
  return NN_OK;
}

static void mm_f32(nn_op_ctx *ctx, int64_t M, int64_t N, int64_t K, const float *A,
                   const float *B, const float *packed_b, float *C) {
  nn_f32_gemm_problem p = {.M = (size_t)M, .N = (size_t)N, .K = (size_t)K, .alpha = 1.0f,
                           .c = C, .ldc = (size_t)N};
  p.a.data = A;
  p.a.ld = (size_t)K;
  p.b.packed = packed_b;
  p.b.data = B;
  p.b.ld = (size_t)N;
  nn_f32_gemm_run(nn_kernels_get(), &p, ctx->scratch, ctx->scratch_size,
                  nn_session_threadpool(ctx->session));
}

/* One float32 GEMM of a batch per task, single-threaded, on the thread's workspace. */
typedef struct mm_batch_par {
  const mm_shape *sh;
  nn_f32_mmd_ukernel_fn mmd; /* or NULL: the packed GEMM */
  const float *a, *b;
  float *y;
  char *ws;
  size_t ws1;
} mm_batch_par;

static void mm_batch_task(void *ctx, size_t thread, size_t t) {
  const mm_batch_par *w = ctx;
  const mm_shape *sh = w->sh;
  int64_t ao = 0, bo = 0, rem = (int64_t)t, idx[NN_MAX_DIMS];
  for (int d = sh->nb - 1; d >= 0; d--) {
    idx[d] = rem % sh->batch[d];
    rem /= sh->batch[d];
  }
  for (int d = 0; d < sh->nb; d++) {
    ao = ao * sh->abatch[d] + (sh->abatch[d] == 1 ? 0 : idx[d]);
    bo = bo * sh->bbatch[d] + (sh->bbatch[d] == 1 ? 0 : idx[d]);
  }
  if (w->mmd) {
    nn_f32_mmd_run(w->mmd, (size_t)sh->M, (size_t)sh->N, (size_t)sh->K,
                   w->a + (size_t)(ao * sh->M * sh->K), (size_t)sh->K,
                   w->b + (size_t)(bo * sh->K * sh->N), (size_t)sh->N,
                   w->y + (size_t)t * (size_t)(sh->M * sh->N), (size_t)sh->N);
    return;
  }
  nn_f32_gemm_problem p = {.M = (size_t)sh->M, .N = (size_t)sh->N, .K = (size_t)sh->K,
                           .alpha = 1.0f, .c = w->y + (size_t)t * (size_t)(sh->M * sh->N),
                           .ldc = (size_t)sh->N};
  p.a.data = w->a + (size_t)(ao * sh->M * sh->K);
  p.a.ld = (size_t)sh->K;
  p.b.data = w->b + (size_t)(bo * sh->K * sh->N);
  p.b.ld = (size_t)sh->N;
  nn_f32_gemm_run(nn_kernels_get(), &p, w->ws + thread * w->ws1, w->ws1, NULL);
}

static nn_status matmul_run(nn_op_ctx *ctx) {
  mm_shape sh;
  nn_status s = mm_setup(ctx, &sh);
  if (s) return s;
  const nn_value *a = nn_in(ctx, 0), *b = nn_in(ctx, 1);
  nn_value *y = nn_out(ctx, 0);
  if (!y || !nn_value_numel(y)) return NN_OK;
  const size_t es = nn_dtype_size(a->dtype);
  const int64_t M = sh.M, N = sh.N, K = sh.K;
  const mm_state *st = ctx->state;
  int64_t nbatch = 1;
  for (int d = 0; d < sh.nb; d++) nbatch *= sh.batch[d];
  /* B shared by every batch and A not broadcast: one GEMM over all rows of A. */
  const int64_t rows = mm_fused_rows(&sh);
  if (rows) {
    if (st)
      mm_f32(ctx, rows, N, K, a->data, b->data, st->packed_b, y->data);
    else
      gemm_any(a->dtype, rows, N, K, a->data, K, b->data, N, y->data, N);
    return NN_OK;
  }
  nn_threadpool *pool = nn_session_threadpool(ctx->session);
  /* Small batched products (attention's heads): the direct kernel, no packing. */
  const nn_f32_mmd_ukernel_fn mmd =
      st && K <= NN_F32_MMD_MAX_K ? nn_f32_mmd_ukernel_for(nn_kernels_get()) : NULL;
  if (st && nbatch > 1 && nn_threadpool_size(pool) > 1 &&
      st->ws1 * (size_t)nn_threadpool_size(pool) <= ctx->scratch_size) {
    mm_batch_par w = {.sh = &sh, .mmd = mmd, .a = a->data, .b = b->data, .y = y->data,
                      .ws = ctx->scratch, .ws1 = st->ws1};
    nn_threadpool_parallelize(pool, mm_batch_task, &w, (size_t)nbatch);
    return NN_OK;
  }
  int64_t idx[NN_MAX_DIMS] = {0};
  const char *ad = a->data, *bd = b->data;
  char *yd = y->data;
  for (int64_t t = 0; t < nbatch; t++) {
    int64_t ao = 0, bo = 0;
    for (int d = 0; d < sh.nb; d++) {
      ao = ao * sh.abatch[d] + (sh.abatch[d] == 1 ? 0 : idx[d]);
      bo = bo * sh.bbatch[d] + (sh.bbatch[d] == 1 ? 0 : idx[d]);
    }
    if (mmd)
      nn_f32_mmd_run(mmd, (size_t)M, (size_t)N, (size_t)K,
                     (const float *)(ad + (size_t)(ao * M * K) * es), (size_t)K,
                     (const float *)(bd + (size_t)(bo * K * N) * es), (size_t)N,
                     (float *)(yd + (size_t)(t * M * N) * es), (size_t)N);
    else if (st)
      mm_f32(ctx, M, N, K, (const float *)(ad + (size_t)(ao * M * K) * es),
             (const float *)(bd + (size_t)(bo * K * N) * es), NULL,
             (float *)(yd + (size_t)(t * M * N) * es));
    else
      gemm_any(a->dtype, M, N, K, ad + (size_t)(ao * M * K) * es, K,
               bd + (size_t)(bo * K * N) * es, N, yd + (size_t)(t * M * N) * es, N);
    for (int d = sh.nb - 1; d >= 0; d--) {
      if (++idx[d] < sh.batch[d]) break;
      idx[d] = 0;
    }
  }
  return NN_OK;
}

NN_OP(MatMul) = {.op_type = "MatMul", .domain = "", .infer = matmul_infer,
                 .prepare = matmul_prepare, .run = matmul_run, .release = matmul_release};

/* ---- Einsum ---- */

#define ES_MAX_IN 8
#define ES_MAX_LABELS 64 /* 52 letters plus up to NN_MAX_DIMS ellipsis dims */

typedef struct es_plan {
  int n_in;
  int n_labels;
  int64_t dim[ES_MAX_LABELS];
  /* Element stride of each label in each input (summed for repeated labels, which
   * walks a diagonal) and in the output; 0 when absent or broadcast. */
  int64_t in_stride[ES_MAX_IN][ES_MAX_LABELS];
  int64_t out_stride[ES_MAX_LABELS];
  int order[ES_MAX_LABELS]; /* output labels first (in output order), then summed */
  int n_out_labels;
  int out_ndim;
  int64_t out_dims[NN_MAX_DIMS];
} es_plan;

static int es_letter(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return 26 + c - 'A';
  return -1;
}

/* Parse one term into label ids; ellipsis dims get ids 52 + k (right-aligned over
 * the widest ellipsis). Returns the count, -1 on a syntax error. */
static int es_term(const char *s, size_t len, int *ids, int *ell_pos) {
  int n = 0;
  *ell_pos = -1;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (c == ' ') continue;
    if (c == '.') {
      if (i + 2 >= len) return -1;
      if (s[i + 1] != '.' || s[i + 2] != '.' || *ell_pos >= 0) return -1;
      *ell_pos = n;
      i += 2;
      continue;
    }
    int l = es_letter(c);
    if (l < 0 || n >= NN_MAX_DIMS) return -1;
    ids[n++] = l;
  }
  return n;
}

static nn_status es_setup(nn_op_ctx *ctx, es_plan *p) {
  const char *eq = nn_attr_string(ctx->node, "equation", NULL);
  if (!eq) return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'equation' is required");
  memset(p, 0, sizeof *p);
  p->n_in = ctx->n_in;
  if (p->n_in < 1 || p->n_in > ES_MAX_IN)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "%d inputs (1 to %d supported)", p->n_in,
                       ES_MAX_IN);
  const nn_value *x0 = nn_in(ctx, 0);
  for (int i = 0; i < p->n_in; i++) {
    const nn_value *x = nn_in(ctx, i);
    if (!x) return nn_op_error(ctx, NN_ERR_INVALID, "input %d is missing", i);
    if (x->dtype != x0->dtype)
      return nn_op_error(ctx, NN_ERR_INVALID, "input %d has dtype %s, input 0 has %s", i,
                         nn_dtype_name(x->dtype), nn_dtype_name(x0->dtype));
  }
  if (x0->dtype != NN_FLOAT && x0->dtype != NN_DOUBLE && x0->dtype != NN_INT32 &&
      x0->dtype != NN_INT64 && x0->dtype != NN_UINT32 && x0->dtype != NN_UINT64)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "dtype %s (supported: float32, float64, "
                       "int32, int64, uint32, uint64)", nn_dtype_name(x0->dtype));

  const char *arrow = strstr(eq, "->");
  const char *lhs_end = arrow ? arrow : eq + strlen(eq);
  int ids[ES_MAX_IN][NN_MAX_DIMS], cnt[ES_MAX_IN], ell[ES_MAX_IN];
  int ell_rank = 0, count[ES_MAX_LABELS] = {0};
  const char *t = eq;
  for (int i = 0; i < p->n_in; i++) {
    const char *e = memchr(t, ',', (size_t)(lhs_end - t));
    if (!e) e = lhs_end;
    if ((i < p->n_in - 1) != (e != lhs_end))
      return nn_op_error(ctx, NN_ERR_INVALID, "equation '%s' does not have %d input terms",
                         eq, p->n_in);
    cnt[i] = es_term(t, (size_t)(e - t), ids[i], &ell[i]);
    if (cnt[i] < 0)
      return nn_op_error(ctx, NN_ERR_INVALID, "equation '%s': bad term %d", eq, i);
    const nn_value *x = nn_in(ctx, i);
    int er = x->ndim - cnt[i];
    if (er < 0 || (er > 0 && ell[i] < 0))
      return nn_op_error(ctx, NN_ERR_INVALID, "equation '%s': term %d has %d labels, input "
                         "has rank %d", eq, i, cnt[i], x->ndim);
    if (ell[i] >= 0 && er > ell_rank) ell_rank = er;
    t = e + 1;
  }
  for (int k = 0; k < ES_MAX_LABELS; k++) p->dim[k] = -1;
  /* Dims and strides per label. */
  for (int i = 0; i < p->n_in; i++) {
    const nn_value *x = nn_in(ctx, i);
    int64_t stride = 1, st[NN_MAX_DIMS];
    for (int d = x->ndim - 1; d >= 0; d--) {
      st[d] = stride;
      stride *= x->dims[d];
    }
    const int er = x->ndim - cnt[i];
    int seen[ES_MAX_LABELS] = {0};
    for (int d = 0; d < x->ndim; d++) {
      int label;
      if (ell[i] >= 0 && d >= ell[i] && d < ell[i] + er)
        label = 52 + (ell_rank - er) + (d - ell[i]);
      else
        label = ids[i][d >= ell[i] + er && ell[i] >= 0 ? d - er : d];
      const int64_t n = x->dims[d];
      if (label >= 52) {
        if (p->dim[label] < 0 || p->dim[label] == 1) p->dim[label] = n;
        else if (n != 1 && n != p->dim[label])
          return nn_op_error(ctx, NN_ERR_INVALID, "equation '%s': ellipsis dims do not "
                             "broadcast (%lld vs %lld)", eq, (long long)n,
                             (long long)p->dim[label]);
        if (n != 1) p->in_stride[i][label] += st[d];
      } else {
        if (p->dim[label] >= 0 && p->dim[label] != n)
          return nn_op_error(ctx, NN_ERR_INVALID, "equation '%s': label '%c' has sizes %lld "
                             "and %lld", eq, label < 26 ? 'a' + label : 'A' + label - 26,
                             (long long)n, (long long)p->dim[label]);
        p->dim[label] = n;
        p->in_stride[i][label] += st[d];
        if (!seen[label]) count[label]++;
        seen[label] = 1;
      }
    }
  }
  /* Output labels: explicit, or implicit (ellipsis, then labels used once, sorted). */
  int out_ids[NN_MAX_DIMS + 52], n_out = 0;
  int in_out[ES_MAX_LABELS] = {0};
  if (arrow) {
    int oell;
    int on = es_term(arrow + 2, strlen(arrow + 2), ids[0], &oell);
    if (on < 0) return nn_op_error(ctx, NN_ERR_INVALID, "equation '%s': bad output term", eq);
    for (int k = 0; k < on; k++) {
      if (oell == k)
        for (int e = 0; e < ell_rank; e++) out_ids[n_out++] = 52 + e;
      if (p->dim[ids[0][k]] < 0 || in_out[ids[0][k]])
        return nn_op_error(ctx, NN_ERR_INVALID, "equation '%s': output label %d is unknown "
                           "or repeated", eq, k);
      in_out[ids[0][k]] = 1;
      out_ids[n_out++] = ids[0][k];
    }
    if (oell == on)
      for (int e = 0; e < ell_rank; e++) out_ids[n_out++] = 52 + e;
  } else {
    for (int e = 0; e < ell_rank; e++) out_ids[n_out++] = 52 + e;
    for (int l = 0; l < 52; l++)
      if (count[l] == 1 && p->dim[l] >= 0) {
        /* a label repeated inside one term is a diagonal, summed implicitly */
        int once = 1;
        for (int i = 0; i < p->n_in; i++) {
          int c = 0;
          for (int k = 0; k < cnt[i]; k++) c += ids[i][k] == l;
          if (c > 1) once = 0;
        }
        if (once) out_ids[n_out++] = l;
      }
  }
  if (n_out > NN_MAX_DIMS)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "output rank %d exceeds %d", n_out, NN_MAX_DIMS);
  for (int k = 0; k < n_out; k++) in_out[out_ids[k]] = 2;
  int64_t stride = 1;
  for (int k = n_out - 1; k >= 0; k--) {
    p->out_stride[out_ids[k]] = stride;
    stride *= p->dim[out_ids[k]];
  }
  p->out_ndim = n_out;
  p->n_labels = 0;
  for (int k = 0; k < n_out; k++) {
    p->out_dims[k] = p->dim[out_ids[k]];
    p->order[p->n_labels++] = out_ids[k];
  }
  p->n_out_labels = n_out;
  for (int l = 0; l < ES_MAX_LABELS; l++)
    if (p->dim[l] >= 0 && in_out[l] != 2) p->order[p->n_labels++] = l;
  return NN_OK;
}

static nn_status einsum_infer(nn_op_ctx *ctx) {
  es_plan p;
  nn_status s = es_setup(ctx, &p);
  if (s) return s;
  return nn_value_set(ctx, nn_out(ctx, 0), nn_in(ctx, 0)->dtype, p.out_ndim, p.out_dims);
}

/* Sums in double for floats, in wrapping 64-bit integers for integer types. */
static nn_status einsum_run(nn_op_ctx *ctx) {
  es_plan p;
  nn_status s = es_setup(ctx, &p);
  if (s) return s;
  nn_value *y = nn_out(ctx, 0);
  if (!y) return NN_OK;
  const nn_dtype dt = y->dtype;
  const int64_t nout = nn_value_numel(y);
  const int isf = dt == NN_FLOAT || dt == NN_DOUBLE;
  int64_t nsum = 1;
  for (int k = p.n_out_labels; k < p.n_labels; k++) nsum *= p.dim[p.order[k]];
  int64_t idx[ES_MAX_LABELS] = {0}, off[ES_MAX_IN] = {0};
  const nn_dtype_traits *tr = nn_dtype_traits_of(dt);
  for (int64_t o = 0; o < nout; o++) {
    double accf = 0;
    uint64_t acci = 0;
    for (int64_t r = 0; r < nsum; r++) {
      if (isf) {
        double prod = 1;
        for (int i = 0; i < p.n_in; i++) prod *= nn_value_get_f64(nn_in(ctx, i), off[i]);
        accf += prod;
      } else {
        uint64_t prod = 1;
        for (int i = 0; i < p.n_in; i++)
          prod *= (uint64_t)nn_value_get_i64(nn_in(ctx, i), off[i]);
        acci += prod;
      }
      /* next combination of summed labels (innermost last) */
      for (int k = p.n_labels - 1; k >= p.n_out_labels; k--) {
        const int l = p.order[k];
        for (int i = 0; i < p.n_in; i++) off[i] += p.in_stride[i][l];
        if (++idx[l] < p.dim[l]) break;
        for (int i = 0; i < p.n_in; i++) off[i] -= p.in_stride[i][l] * p.dim[l];
        idx[l] = 0;
      }
    }
    char *dst = (char *)y->data + (size_t)o * tr->size;
    if (isf) tr->from_f64(dst, accf);
    else tr->from_i64(dst, (int64_t)acci);
    for (int k = p.n_out_labels - 1; k >= 0; k--) {
      const int l = p.order[k];
      for (int i = 0; i < p.n_in; i++) off[i] += p.in_stride[i][l];
      if (++idx[l] < p.dim[l]) break;
      for (int i = 0; i < p.n_in; i++) off[i] -= p.in_stride[i][l] * p.dim[l];
      idx[l] = 0;
    }
  }
  return NN_OK;
}

NN_OP(Einsum) = {.op_type = "Einsum", .domain = "", .infer = einsum_infer, .run = einsum_run};
