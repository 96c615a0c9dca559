/*
 * tensor_misc.c - Trilu, TopK, NonZero, ReverseSequence and Unique: ops that select or
 * reorder elements by position or value. Values are compared through one comparator
 * (NaN sorts above every number and equals itself, as in NumPy), positions as int64.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"

/* ---- element comparison ---- */

typedef struct elem_cmp {
  const char *base;
  nn_dtype dt;
  size_t elem;
  const nn_dtype_traits *tr;
} elem_cmp;

static int cmp_f64(double a, double b) {
  int na = a != a, nb = b != b;
  if (na || nb) return na - nb;
  return (a > b) - (a < b);
}

/* -1, 0, 1 comparing elements at offsets a and b (in elements). */
static int cmp_elems(const elem_cmp *c, int64_t a, int64_t b) {
  const char *pa = c->base + (size_t)a * c->elem, *pb = c->base + (size_t)b * c->elem;
  switch (c->dt) {
  case NN_FLOAT: {
    float x, y;
    memcpy(&x, pa, 4);
    memcpy(&y, pb, 4);
    return cmp_f64(x, y);
  }
  case NN_UINT64: {
    uint64_t x, y;
    memcpy(&x, pa, 8);
    memcpy(&y, pb, 8);
    return (x > y) - (x < y);
  }
  case NN_STRING: {
    const nn_bytes *x = (const nn_bytes *)pa, *y = (const nn_bytes *)pb;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = n ? memcmp(x->data, y->data, n) : 0;
    if (r) return r < 0 ? -1 : 1;
    return (x->len > y->len) - (x->len < y->len);
  }
  default:
    if (c->tr->is_float) return cmp_f64(c->tr->to_f64(pa), c->tr->to_f64(pb));
    int64_t x = c->tr->to_i64(pa), y = c->tr->to_i64(pb);
    return (x > y) - (x < y);
  }
}

static nn_status make_cmp(nn_op_ctx *ctx, const nn_value *x, elem_cmp *c, int allow_string) {
  c->base = x->data;
  c->dt = x->dtype;
  c->elem = nn_dtype_size(x->dtype);
  c->tr = nn_dtype_traits_of(x->dtype);
  if (!c->tr || (!c->tr->is_numeric && !(allow_string && x->dtype == NN_STRING)))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "dtype %s cannot be compared",
                       nn_dtype_name(x->dtype));
  return NN_OK;
}

/* ---- Trilu ---- */

static nn_status trilu_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 1)) return NN_ERR_INVALID;
  const nn_value *x = ctx->in[0], *k = nn_in(ctx, 1);
  if (x->ndim < 2)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'input' has rank %d, expected >= 2",
                       x->ndim);
  if (k && (k->dtype != NN_INT64 || nn_value_numel(k) != 1))
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'k' must be one int64");
  return nn_value_set(ctx, ctx->out[0], x->dtype, x->ndim, x->dims);
}

static nn_status trilu_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0], *kv = nn_in(ctx, 1);
  nn_value *y = ctx->out[0];
  const int64_t k = kv ? nn_value_get_i64(kv, 0) : 0;
  const int upper = (int)nn_attr_int(ctx->node, "upper", 1);
  const size_t elem = nn_dtype_size(x->dtype);
  const int64_t rows = x->dims[x->ndim - 2], cols = x->dims[x->ndim - 1];
  const int64_t mats = (rows * cols) != 0 ? nn_value_numel(x) / (rows * cols) : 0;
  if (y->data != x->data && x->nbytes) memcpy(y->data, x->data, x->nbytes);
  for (int64_t m = 0; m < mats; m++) {
    char *base = (char *)y->data + (size_t)(m * rows * cols) * elem;
    for (int64_t i = 0; i < rows; i++) {
      /* zero columns [z0, z1) of row i */
      int64_t z0, z1;
      if (upper) { /* keep j - i >= k */
        z0 = 0;
        z1 = i + k;
      } else { /* keep j - i <= k */
        z0 = i + k + 1;
        z1 = cols;
      }
      z0 = z0 < 0 ? 0 : z0 > cols ? cols : z0;
      z1 = z1 < 0 ? 0 : z1 > cols ? cols : z1;
      if (z1 > z0) memset(base + (size_t)(i * cols + z0) * elem, 0, (size_t)(z1 - z0) * elem);
    }
  }
  return y->data != x->data ? nn_value_own_strings(ctx, y) : NN_OK;
}

NN_OP(Trilu) = {.op_type = "Trilu", .domain = "", .infer = trilu_infer, .run = trilu_run};

/* ---- TopK ---- */

/* k from the attribute (opset < 10) or input 1; NN_INFER_DEFERRED when unknown. */
static nn_status topk_params(nn_op_ctx *ctx, int *axis, int64_t *k) {
  const nn_value *x = ctx->in[0];
  nn_status st = nn_norm_axis(ctx, nn_attr_int(ctx->node, "axis", -1), x->ndim, axis);
  if (st) return st;
  if (x->ndim == 0) return nn_op_error(ctx, NN_ERR_INVALID, "input 'X' is a scalar");
  if (ctx->opset < 10) {
    const nn_attr *a = nn_node_attr(ctx->node, "k");
    if (!a) return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'k' is missing");
    *k = a->i;
  } else {
    const nn_value *kv = nn_in(ctx, 1);
    if (!kv) return nn_op_error(ctx, NN_ERR_INVALID, "input 'K' is missing");
    if (kv->dtype != NN_INT64 || nn_value_numel(kv) != 1)
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'K' must be one int64");
    if (!kv->data) return NN_INFER_DEFERRED;
    *k = nn_value_get_i64(kv, 0);
  }
  if (*k < 0 || *k > x->dims[*axis])
    return nn_op_error(ctx, NN_ERR_INVALID, "k = %lld is out of range for axis size %lld",
                       (long long)*k, (long long)x->dims[*axis]);
  return NN_OK;
}

static nn_status topk_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 1)) return NN_ERR_INVALID;
  const nn_value *x = ctx->in[0];
  elem_cmp c;
  int axis;
  int64_t k;
  nn_status st = make_cmp(ctx, x, &c, 0);
  if (st) return st;
  st = topk_params(ctx, &axis, &k);
  if (st == NN_INFER_DEFERRED) {
    if (ctx->out[0]) ctx->out[0]->dtype = x->dtype;
    if (nn_out(ctx, 1)) ctx->out[1]->dtype = NN_INT64;
  }
  if (st) return st;
  int64_t d[NN_MAX_DIMS];
  memcpy(d, x->dims, sizeof d);
  d[axis] = k;
  if ((st = nn_value_set(ctx, ctx->out[0], x->dtype, x->ndim, d))) return st;
  return nn_value_set(ctx, nn_out(ctx, 1), NN_INT64, x->ndim, d);
}

/* Without the indices output the heap lives in scratch (k entries). */
static nn_status topk_prepare(nn_op_ctx *ctx) {
  if (!nn_out(ctx, 1) && ctx->in[0]->ndim > 0) {
    int axis;
    if (nn_norm_axis(ctx, nn_attr_int(ctx->node, "axis", -1), ctx->in[0]->ndim, &axis) == NN_OK)
      ctx->scratch_size = (size_t)ctx->in[0]->dims[axis] * sizeof(int64_t);
  }
  return NN_OK;
}

/* Heap of slice positions with the worst kept element at the root. */
typedef struct topk_heap {
  const elem_cmp *c;
  int64_t base, inner; /* element offset of position j: base + j * inner */
  int largest;
  int64_t *h, hs;      /* heap slot i is h[i * hs] */
} topk_heap;

/* 1 if position a ranks before position b (ties: lower position first). */
static int topk_better(const topk_heap *t, int64_t a, int64_t b) {
  int r = cmp_elems(t->c, t->base + a * t->inner, t->base + b * t->inner);
  if (!t->largest) r = -r;
  return r > 0 || (r == 0 && a < b);
}

static void topk_sift(topk_heap *t, int64_t i, int64_t n) {
  for (;;) {
    int64_t l = 2 * i + 1, w = i;
    if (l < n && topk_better(t, t->h[w * t->hs], t->h[l * t->hs])) w = l;
    if (l + 1 < n && topk_better(t, t->h[w * t->hs], t->h[(l + 1) * t->hs])) w = l + 1;
    if (w == i) return;
    int64_t tmp = t->h[i * t->hs];
    t->h[i * t->hs] = t->h[w * t->hs];
    t->h[w * t->hs] = tmp;
    i = w;
  }
}

static nn_status topk_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0];
  nn_value *vals = nn_out(ctx, 0), *idx = nn_out(ctx, 1);
  elem_cmp c;
  int axis;
  int64_t k;
  nn_status st = make_cmp(ctx, x, &c, 0);
  if (st) return st;
  if ((st = topk_params(ctx, &axis, &k)))
    return st == NN_INFER_DEFERRED ? nn_op_error(ctx, NN_ERR_RUNTIME, "K unknown") : st;
  if (!idx && ctx->scratch_size < (size_t)k * sizeof(int64_t))
    return nn_op_error(ctx, NN_ERR_RUNTIME, "scratch too small for k = %lld", (long long)k);
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; i++) outer *= x->dims[i];
  for (int i = axis + 1; i < x->ndim; i++) inner *= x->dims[i];
  const int64_t n = x->dims[axis];
  topk_heap t = {.c = &c, .inner = inner, .largest = (int)nn_attr_int(ctx->node, "largest", 1)};
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t i = 0; i < inner; i++) {
      t.base = o * n * inner + i;
      if (idx) {
        t.h = (int64_t *)idx->data + o * k * inner + i;
        t.hs = inner;
      } else {
        t.h = ctx->scratch;
        t.hs = 1;
      }
      if (k == 0) continue;
      int64_t size = 0;
      for (int64_t j = 0; j < n; j++) {
        if (size < k) { /* push: sift up */
          int64_t p = size++;
          t.h[p * t.hs] = j;
          while (p > 0) {
            int64_t q = (p - 1) / 2;
            if (!topk_better(&t, t.h[q * t.hs], t.h[p * t.hs])) break;
            int64_t tmp = t.h[q * t.hs];
            t.h[q * t.hs] = t.h[p * t.hs];
            t.h[p * t.hs] = tmp;
            p = q;
          }
        } else if (topk_better(&t, j, t.h[0])) {
          t.h[0] = j;
          topk_sift(&t, 0, k);
        }
      }
      for (int64_t e = k - 1; e > 0; e--) { /* heap sort: worst to the end */
        int64_t tmp = t.h[0];
        t.h[0] = t.h[e * t.hs];
        t.h[e * t.hs] = tmp;
        topk_sift(&t, 0, e);
      }
      if (vals)
        for (int64_t e = 0; e < k; e++)
          memcpy((char *)vals->data + (size_t)(o * k * inner + e * inner + i) * c.elem,
                 c.base + (size_t)(t.base + t.h[e * t.hs] * inner) * c.elem, c.elem);
    }
  }
  return NN_OK;
}

NN_OP(TopK) = {.op_type = "TopK", .domain = "", .infer = topk_infer,
               .prepare = topk_prepare, .run = topk_run};

/* ---- NonZero ---- */

static int is_nonzero(const nn_dtype_traits *tr, nn_dtype dt, const char *p) {
  if (dt == NN_STRING) return ((const nn_bytes *)p)->len != 0;
  if (tr->is_float) return tr->to_f64(p) != 0.0;
  for (size_t b = 0; b < tr->size; b++)
    if (p[b]) return 1;
  return 0;
}

static nn_status nonzero_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 1)) return NN_ERR_INVALID;
  const nn_value *x = ctx->in[0];
  const nn_dtype_traits *tr = nn_dtype_traits_of(x->dtype);
  if (!tr || (!tr->is_numeric && x->dtype != NN_STRING))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "NonZero on dtype %s", nn_dtype_name(x->dtype));
  if (!x->data) {
    ctx->out[0]->dtype = NN_INT64;
    return NN_INFER_DEFERRED;
  }
  int64_t n = nn_value_numel(x), cnt = 0;
  for (int64_t i = 0; i < n; i++) cnt += is_nonzero(tr, x->dtype, (const char *)x->data + (size_t)i * tr->size);
  int64_t d[2] = {x->ndim, cnt};
  return nn_value_set(ctx, ctx->out[0], NN_INT64, 2, d);
}

static nn_status nonzero_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0];
  nn_value *y = ctx->out[0];
  const nn_dtype_traits *tr = nn_dtype_traits_of(x->dtype);
  const int64_t n = nn_value_numel(x), cnt = y->dims[1];
  int64_t c[NN_MAX_DIMS] = {0}, j = 0;
  int64_t *out = y->data;
  for (int64_t i = 0; i < n; i++) {
    if (is_nonzero(tr, x->dtype, (const char *)x->data + (size_t)i * tr->size)) {
      if (j >= cnt) return nn_op_error(ctx, NN_ERR_RUNTIME, "NonZero count changed");
      for (int d = 0; d < x->ndim; d++) out[d * cnt + j] = c[d];
      j++;
    }
    for (int d = x->ndim - 1; d >= 0; d--) {
      if (++c[d] < x->dims[d]) break;
      c[d] = 0;
    }
  }
  return NN_OK;
}

NN_OP(NonZero) = {.op_type = "NonZero", .domain = "", .infer = nonzero_infer,
                  .run = nonzero_run};

/* ---- ReverseSequence ---- */

static nn_status revseq_axes(nn_op_ctx *ctx, int *ba, int *ta) {
  const nn_value *x = ctx->in[0], *sl = ctx->in[1];
  int64_t b = nn_attr_int(ctx->node, "batch_axis", 1), t = nn_attr_int(ctx->node, "time_axis", 0);
  if (x->ndim < 2)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'input' has rank %d, expected >= 2", x->ndim);
  if ((b != 0 && b != 1) || (t != 0 && t != 1) || b == t)
    return nn_op_error(ctx, NN_ERR_INVALID, "batch_axis %lld / time_axis %lld must be 0 and 1",
                       (long long)b, (long long)t);
  if (sl->dtype != NN_INT64 || sl->ndim != 1 || sl->dims[0] != x->dims[b])
    return nn_op_error(ctx, NN_ERR_INVALID,
                       "input 'sequence_lens' must be int64 of shape [%lld]", (long long)x->dims[b]);
  *ba = (int)b;
  *ta = (int)t;
  return NN_OK;
}

static nn_status revseq_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 2)) return NN_ERR_INVALID;
  int b, t;
  nn_status st = revseq_axes(ctx, &b, &t);
  if (st) return st;
  return nn_value_set(ctx, ctx->out[0], ctx->in[0]->dtype, ctx->in[0]->ndim, ctx->in[0]->dims);
}

static nn_status revseq_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0], *sl = ctx->in[1];
  int ba, ta;
  nn_status st = revseq_axes(ctx, &ba, &ta);
  if (st) return st;
  int64_t inner = 1;
  for (int i = 2; i < x->ndim; i++) inner *= x->dims[i];
  const size_t row = (size_t)inner * nn_dtype_size(x->dtype);
  const int64_t B = x->dims[ba], T = x->dims[ta];
  /* element (b, t) sits at row b * sb + t * st */
  const int64_t sb = ba == 0 ? T : 1, stt = ta == 0 ? B : 1;
  const char *src = x->data;
  char *dst = ctx->out[0]->data;
  for (int64_t b = 0; b < B; b++) {
    int64_t len = nn_value_get_i64(sl, b);
    if (len < 0 || len > T)
      return nn_op_error(ctx, NN_ERR_RUNTIME, "sequence_lens[%lld] = %lld is out of [0, %lld]",
                         (long long)b, (long long)len, (long long)T);
    for (int64_t t = 0; t < T; t++) {
      int64_t from = t < len ? len - 1 - t : t;
      memcpy(dst + (size_t)(b * sb + t * stt) * row, src + (size_t)(b * sb + from * stt) * row, row);
    }
  }
  return nn_value_own_strings(ctx, ctx->out[0]);
}

NN_OP(ReverseSequence) = {.op_type = "ReverseSequence", .domain = "",
                          .infer = revseq_infer, .run = revseq_run};

/* ---- Unique ---- */

/* Items are elements (no axis) or slices along the axis, compared lexicographically
 * over the row-major order of the remaining axes (as np.unique with axis). */
typedef struct uniq {
  elem_cmp c;
  int has_axis, axis;
  int64_t outer, n, inner; /* X viewed as [outer, n, inner]; n items */
} uniq;

static nn_status uniq_geom(nn_op_ctx *ctx, uniq *u) {
  const nn_value *x = ctx->in[0];
  nn_status st = make_cmp(ctx, x, &u->c, 1);
  if (st) return st;
  u->has_axis = nn_node_attr(ctx->node, "axis") != NULL;
  u->outer = u->inner = 1;
  u->n = nn_value_numel(x);
  u->axis = 0;
  if (u->has_axis) {
    if ((st = nn_norm_axis(ctx, nn_attr_int(ctx->node, "axis", 0), x->ndim, &u->axis))) return st;
    if (x->ndim == 0) return nn_op_error(ctx, NN_ERR_INVALID, "input 'X' is a scalar");
    u->n = x->dims[u->axis];
    for (int i = 0; i < u->axis; i++) u->outer *= x->dims[i];
    for (int i = u->axis + 1; i < x->ndim; i++) u->inner *= x->dims[i];
  }
  return NN_OK;
}

static int uniq_cmp(const uniq *u, int64_t a, int64_t b) {
  for (int64_t o = 0; o < u->outer; o++) {
    int64_t ba = (o * u->n + a) * u->inner, bb = (o * u->n + b) * u->inner;
    for (int64_t i = 0; i < u->inner; i++) {
      int r = cmp_elems(&u->c, ba + i, bb + i);
      if (r) return r;
    }
  }
  return 0;
}

/* Stable bottom-up merge sort of item ids v[0..n) by uniq_cmp; tmp holds n entries. */
static void uniq_sort(const uniq *u, int64_t *v, int64_t *tmp, int64_t n) {
  for (int64_t w = 1; w < n; w *= 2) {
    for (int64_t lo = 0; lo < n; lo += 2 * w) {
      int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
      int64_t i = lo, j = mid, o = lo;
      while (i < mid && j < hi) {
        tmp[o++] = uniq_cmp(u, v[i], v[j]) <= 0 ? v[i++] : v[j++];
      }
      while (i < mid) tmp[o++] = v[i++];
      while (j < hi) tmp[o++] = v[j++];
    }
    memcpy(v, tmp, (size_t)n * sizeof *v);
  }
}

/* Work: 5 * n int64. Finds the unique items; returns their count in *count and, in
 * work: rep[g] = first position of group g (output order), inv[p] = group of item p,
 * cnt[g] = occurrences. Layout: perm | tmp | rep | inv | cnt. */
static int64_t uniq_compute(const uniq *u, int sorted, int64_t *work) {
  const int64_t n = u->n;
  int64_t *perm = work, *tmp = work + n, *rep = work + 2 * n, *inv = work + 3 * n,
          *cnt = work + 4 * n;
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  uniq_sort(u, perm, tmp, n);
  int64_t g = -1;
  for (int64_t i = 0; i < n; i++) {
    if (i == 0 || uniq_cmp(u, perm[i - 1], perm[i]) != 0) {
      rep[++g] = perm[i]; /* stable sort: the first occurrence leads its run */
      cnt[g] = 0;
    }
    inv[perm[i]] = g;
    cnt[g]++;
  }
  const int64_t ng = g + 1;
  if (!sorted) { /* renumber groups by first occurrence */
    int64_t *newid = tmp, *order = perm, k = 0; /* both free now, n >= ng entries */
    for (int64_t i = 0; i < ng; i++) newid[i] = -1;
    for (int64_t p = 0; p < n; p++)
      if (newid[inv[p]] < 0) {
        newid[inv[p]] = k;
        order[k++] = inv[p];
      }
    for (int64_t p = 0; p < n; p++) inv[p] = newid[inv[p]];
    for (int64_t i = 0; i < ng; i++) tmp[i] = rep[order[i]];
    memcpy(rep, tmp, (size_t)ng * sizeof *rep);
    for (int64_t i = 0; i < ng; i++) tmp[i] = cnt[order[i]];
    memcpy(cnt, tmp, (size_t)ng * sizeof *cnt);
  }
  return ng;
}

static nn_status uniq_set_shapes(nn_op_ctx *ctx, const uniq *u, int64_t ng) {
  const nn_value *x = ctx->in[0];
  nn_status st;
  if (u->has_axis) {
    int64_t d[NN_MAX_DIMS];
    memcpy(d, x->dims, sizeof d);
    d[u->axis] = ng;
    st = nn_value_set(ctx, ctx->out[0], x->dtype, x->ndim, d);
  } else {
    st = nn_value_set(ctx, ctx->out[0], x->dtype, 1, &ng);
  }
  if (st) return st;
  if ((st = nn_value_set(ctx, nn_out(ctx, 1), NN_INT64, 1, &ng))) return st;
  if ((st = nn_value_set(ctx, nn_out(ctx, 2), NN_INT64, 1, &u->n))) return st;
  return nn_value_set(ctx, nn_out(ctx, 3), NN_INT64, 1, &ng);
}

static nn_status unique_infer(nn_op_ctx *ctx) {
  if (nn_op_need_io(ctx, 1)) return NN_ERR_INVALID;
  uniq u;
  nn_status st = uniq_geom(ctx, &u);
  if (st) return st;
  if (!ctx->in[0]->data) {
    ctx->out[0]->dtype = ctx->in[0]->dtype;
    for (int i = 1; i < 4; i++)
      if (nn_out(ctx, i)) ctx->out[i]->dtype = NN_INT64;
    return NN_INFER_DEFERRED;
  }
  /* infer is not the run: a temporary work buffer is fine here */
  int64_t *work = malloc((size_t)(5 * u.n + 1) * sizeof *work);
  if (!work) return nn_op_error(ctx, NN_ERR_NOMEM, "out of memory");
  int64_t ng = uniq_compute(&u, (int)nn_attr_int(ctx->node, "sorted", 1), work);
  free(work);
  return uniq_set_shapes(ctx, &u, ng);
}

static nn_status unique_prepare(nn_op_ctx *ctx) {
  uniq u;
  if (uniq_geom(ctx, &u) == NN_OK) ctx->scratch_size = (size_t)(5 * u.n + 1) * sizeof(int64_t);
  return NN_OK;
}

static nn_status unique_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0];
  uniq u;
  nn_status st = uniq_geom(ctx, &u);
  if (st) return st;
  if (ctx->scratch_size < (size_t)(5 * u.n + 1) * sizeof(int64_t) || !ctx->scratch)
    return nn_op_error(ctx, NN_ERR_RUNTIME, "scratch too small for %lld items", (long long)u.n);
  int64_t *work = ctx->scratch;
  const int64_t ng = uniq_compute(&u, (int)nn_attr_int(ctx->node, "sorted", 1), work);
  const int64_t *rep = work + 2 * u.n, *inv = work + 3 * u.n, *cnt = work + 4 * u.n;
  nn_value *y = ctx->out[0], *yi = nn_out(ctx, 1), *yinv = nn_out(ctx, 2), *yc = nn_out(ctx, 3);
  if (nn_value_numel(y) != ng * u.outer * u.inner)
    return nn_op_error(ctx, NN_ERR_RUNTIME, "unique count differs from the inferred one");
  const size_t row = (size_t)u.inner * u.c.elem;
  for (int64_t o = 0; o < u.outer; o++)
    for (int64_t g = 0; g < ng; g++)
      memcpy((char *)y->data + (size_t)(o * ng + g) * row,
             (const char *)x->data + (size_t)(o * u.n + rep[g]) * row, row);
  if (yi) memcpy(yi->data, rep, (size_t)ng * sizeof(int64_t));
  if (yinv) memcpy(yinv->data, inv, (size_t)u.n * sizeof(int64_t));
  if (yc) memcpy(yc->data, cnt, (size_t)ng * sizeof(int64_t));
  return nn_value_own_strings(ctx, y);
}

NN_OP(Unique) = {.op_type = "Unique", .domain = "", .infer = unique_infer,
                 .prepare = unique_prepare, .run = unique_run};
