/*
 * elementwise_binary.c - broadcasting binary ops (arithmetic, comparison, logic, bit
 * shifts), variadic Max/Min/Sum/Mean, PRelu and Where. Shapes follow numpy rules from
 * opset 7; older opsets' "broadcast"/"axis" attributes (and opset-6 PRelu's per-channel
 * slope) are mapped onto an equivalent numpy shape of the second input.
 */
#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/f32_eltwise.h"
#include "kernels/ref/elementwise.h"
#include "ops/op.h"
#include "runtime/session.h"
#include "runtime/threadpool.h"

static int same_shape(int na, const int64_t *a, int nb, const int64_t *b) {
  return na == nb && (na == 0 || !memcmp(a, b, (size_t)na * sizeof *a));
}

/*
 * Shape of input 1 as numpy broadcasting should see it. Before opset 7, with
 * broadcast=1, B's dims line up with A's starting at "axis" (default: trailing).
 */
static nn_status second_dims(nn_op_ctx *ctx, const nn_value *a, const nn_value *b, int *nb,
                             int64_t *bd) {
  *nb = b->ndim;
  if (b->ndim) memcpy(bd, b->dims, (size_t)b->ndim * sizeof *bd);
  if (ctx->opset >= 7 || !nn_attr_int(ctx->node, "broadcast", 0)) return NN_OK;
  if (b->ndim > a->ndim)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'B' has rank %d, above rank %d of 'A'",
                       b->ndim, a->ndim);
  int64_t axis = nn_attr_int(ctx->node, "axis", a->ndim - b->ndim);
  if (axis < 0) axis += a->ndim;
  if (axis < 0 || axis + b->ndim > a->ndim)
    return nn_op_error(ctx, NN_ERR_INVALID,
                       "legacy broadcast axis %lld does not fit rank %d",
                       (long long)nn_attr_int(ctx->node, "axis", 0), a->ndim);
  for (int i = 0; i < a->ndim; i++)
    bd[i] = (i >= axis && i < axis + b->ndim) ? b->dims[i - axis] : 1;
  *nb = a->ndim;
  return NN_OK;
}

/* ---- plain binary ops ---- */

static int is_compare(nn_binop op) { return op >= NN_BIN_EQ && op <= NN_BIN_GE; }

static nn_status binop_of(nn_op_ctx *ctx, nn_binop base, nn_binop *op) {
  *op = base;
  if (base == NN_BIN_MOD && nn_attr_int(ctx->node, "fmod", 0)) *op = NN_BIN_FMOD;
  if (base == NN_BIN_SHL) {
    const char *dir = nn_attr_string(ctx->node, "direction", "");
    if (!strcmp(dir, "RIGHT"))
      *op = NN_BIN_SHR;
    else if (strcmp(dir, "LEFT"))
      return nn_op_error(ctx, NN_ERR_INVALID,
                         "attribute 'direction' is '%s', expected LEFT or RIGHT", dir);
  }
  return NN_OK;
}

static nn_status bin_infer(nn_op_ctx *ctx, nn_binop base) {
  nn_status st = nn_op_need_io(ctx, 2);
  if (st) return st;
  nn_binop op;
  if ((st = binop_of(ctx, base, &op))) return st;
  const nn_value *a = ctx->in[0], *b = ctx->in[1];
  int pow_mixed = op == NN_BIN_POW && a->dtype != b->dtype;
  if (!pow_mixed && a->dtype != b->dtype)
    return nn_op_error(ctx, NN_ERR_INVALID, "inputs have different dtypes (%s and %s)",
                       nn_dtype_name(a->dtype), nn_dtype_name(b->dtype));
  if (pow_mixed) {
    const nn_dtype_traits *ta = nn_dtype_traits_of(a->dtype),
                          *tb = nn_dtype_traits_of(b->dtype);
    if (!ta || !ta->to_f64 || !tb || !tb->to_f64 || a->dtype == NN_BOOL ||
        b->dtype == NN_BOOL)
      return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "Pow of %s by %s is not supported",
                         nn_dtype_name(a->dtype), nn_dtype_name(b->dtype));
  } else if (!nn_binary_lookup__ref(op, a->dtype)) {
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "dtype %s is not supported",
                       nn_dtype_name(a->dtype));
  }
  int nb, no;
  int64_t bd[NN_MAX_DIMS], od[NN_MAX_DIMS];
  if ((st = second_dims(ctx, a, b, &nb, bd))) return st;
  if ((st = nn_broadcast_shape(ctx, a->ndim, a->dims, nb, bd, &no, od))) return st;
  return nn_value_set(ctx, ctx->out[0], is_compare(op) ? NN_BOOL : a->dtype, no, od);
}

/* float32 add / sub / mul / div (and x^2) on the table's vector loops (bit-exact with
 * the reference, f32_eltwise.h), the plan's inner runs split over the session's threads
 * when the output is large. */
typedef struct vbin_par {
  nn_binary_fn fn;
  const nn_bcast *p;
  const float *a, *b;
  float *y;
  int sa, sb;
  size_t rows_per_task;
} vbin_par;

static void vbin_task(void *ctx, size_t thread, size_t task) {
  const vbin_par *w = ctx;
  const nn_bcast *p = w->p;
  (void)thread;
  const int64_t inner = p->dims[p->ndim - 1], runs = p->numel / inner;
  const int64_t r0 = (int64_t)(task * w->rows_per_task);
  const int64_t r1 = r0 + (int64_t)w->rows_per_task < runs ? r0 + (int64_t)w->rows_per_task : runs;
  for (int64_t r = r0; r < r1; r++) {
    int64_t rem = r, oa = 0, ob = 0;
    for (int d = p->ndim - 2; d >= 0; d--) {
      const int64_t i = rem % p->dims[d];
      rem /= p->dims[d];
      oa += i * p->strides[0][d];
      ob += i * p->strides[1][d];
    }
    w->fn(inner, w->a + oa, w->sa, w->b + ob, w->sb, w->y + r * inner, NULL);
  }
}

/* Task of a single run: elements [task * rows_per_task, ...). */
static void vbin_piece_task(void *ctx, size_t thread, size_t task) {
  const vbin_par *w = ctx;
  (void)thread;
  const int64_t n = w->p->numel, i0 = (int64_t)(task * w->rows_per_task);
  const int64_t len = n - i0 < (int64_t)w->rows_per_task ? n - i0 : (int64_t)w->rows_per_task;
  w->fn(len, w->a + (w->sa ? i0 : 0), w->sa, w->b + (w->sb ? i0 : 0), w->sb, w->y + i0, NULL);
}

static int f32_fast(nn_op_ctx *ctx, nn_binop op, const nn_bcast *p, const nn_value *a,
                    const nn_value *b, nn_value *y) {
  const nn_kernels *k = nn_kernels_get();
  nn_binary_fn fn = NULL;
  vbin_par w = {.p = p, .a = a->data, .b = b->data, .y = y->data};
  nn_bcast sq;
  switch (op) {
    case NN_BIN_ADD: fn = k->f32_vbinary[NN_F32_VADD]; break;
    case NN_BIN_SUB: fn = k->f32_vbinary[NN_F32_VSUB]; break;
    case NN_BIN_MUL: fn = k->f32_vbinary[NN_F32_VMUL]; break;
    case NN_BIN_DIV: fn = k->f32_vbinary[NN_F32_VDIV]; break;
    case NN_BIN_POW:
      /* x^2 with a scalar exponent 2 (decomposed LayerNorm): x * x, as the reference */
      if (nn_value_numel(b) != 1 || *(const float *)b->data != 2.0f ||
          nn_value_numel(a) != p->numel)
        return 0;
      fn = k->f32_vbinary[NN_F32_VMUL];
      memset(&sq, 0, sizeof sq);
      sq.ndim = 1;
      sq.n_in = 2;
      sq.numel = sq.dims[0] = p->numel;
      sq.strides[0][0] = sq.strides[1][0] = 1;
      w.p = p = &sq;
      w.b = w.a;
      break;
    default: return 0;
  }
  if (!fn || !p->numel) return fn != NULL;
  const int64_t inner = p->dims[p->ndim - 1];
  if (!inner) return 1;
  w.fn = fn;
  w.sa = p->strides[0][p->ndim - 1] != 0;
  w.sb = p->strides[1][p->ndim - 1] != 0;
  nn_threadpool *pool = nn_session_threadpool(ctx->session);
  const size_t runs = (size_t)(p->numel / inner);
  if (p->numel < 65536 || nn_threadpool_size(pool) < 2) {
    nn_binary__ref(p, fn, a->data, sizeof(float), w.b, sizeof(float), y->data, sizeof(float),
                   NULL);
    return 1;
  }
  if (runs == 1) {
    /* one long run (same shapes, or a tensor and a scalar): pieces of it */
    w.rows_per_task = 16384;
    const size_t tasks = ((size_t)inner + w.rows_per_task - 1) / w.rows_per_task;
    nn_threadpool_parallelize(pool, vbin_piece_task, &w, tasks);
    return 1;
  }
  w.rows_per_task = (size_t)(16384 / inner) + 1;
  const size_t tasks = (runs + w.rows_per_task - 1) / w.rows_per_task;
  nn_threadpool_parallelize(tasks > 1 ? pool : NULL, vbin_task, &w, tasks);
  return 1;
}

static nn_status bin_run(nn_op_ctx *ctx, nn_binop base) {
  nn_binop op;
  nn_status st = binop_of(ctx, base, &op);
  if (st) return st;
  const nn_value *a = ctx->in[0], *b = ctx->in[1];
  nn_value *y = ctx->out[0];
  int nb;
  int64_t bd[NN_MAX_DIMS];
  if ((st = second_dims(ctx, a, b, &nb, bd))) return st;
  nn_bcast p;
  const int nd[2] = {a->ndim, nb};
  const int64_t *dims[2] = {a->dims, bd};
  nn_bcast_init(&p, 2, nd, dims, y->ndim, y->dims);
  nn_pow_types pt = {a->dtype, b->dtype, y->dtype};
  nn_binary_fn fn = nn_binary_lookup__ref(op, a->dtype);
  const void *aux = NULL;
  if (op == NN_BIN_POW && a->dtype != b->dtype) {
    fn = nn_any_pow__ref;
    aux = &pt;
  }
  if (!fn) return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "dtype not supported");
  if (a->dtype == NN_FLOAT && b->dtype == NN_FLOAT && f32_fast(ctx, op, &p, a, b, y))
    return NN_OK;
  nn_binary__ref(&p, fn, a->data, nn_dtype_size(a->dtype), b->data, nn_dtype_size(b->dtype),
                 y->data, nn_dtype_size(y->dtype), aux);
  return NN_OK;
}

#define DEF_BINOP(Name, OP)                                                                \
  static nn_status Name##_infer(nn_op_ctx *ctx) { return bin_infer(ctx, OP); }             \
  static nn_status Name##_run(nn_op_ctx *ctx) { return bin_run(ctx, OP); }                 \
  NN_OP(Name) = {.op_type = #Name, .domain = "", .infer = Name##_infer, .run = Name##_run};

DEF_BINOP(Add, NN_BIN_ADD)
DEF_BINOP(Sub, NN_BIN_SUB)
DEF_BINOP(Mul, NN_BIN_MUL)
DEF_BINOP(Div, NN_BIN_DIV)
DEF_BINOP(Pow, NN_BIN_POW)
DEF_BINOP(Mod, NN_BIN_MOD)
DEF_BINOP(BitShift, NN_BIN_SHL)
DEF_BINOP(And, NN_BIN_AND)
DEF_BINOP(Or, NN_BIN_OR)
DEF_BINOP(Xor, NN_BIN_XOR)
DEF_BINOP(Equal, NN_BIN_EQ)
DEF_BINOP(Less, NN_BIN_LT)
DEF_BINOP(Greater, NN_BIN_GT)
DEF_BINOP(LessOrEqual, NN_BIN_LE)
DEF_BINOP(GreaterOrEqual, NN_BIN_GE)

/* ---- PRelu: slope broadcasts to X (unidirectional) ---- */

static nn_status slope_dims(nn_op_ctx *ctx, const nn_value *x, const nn_value *s, int *ns,
                            int64_t *sd) {
  *ns = s->ndim;
  if (s->ndim) memcpy(sd, s->dims, (size_t)s->ndim * sizeof *sd);
  /* opset 6 PRelu: a 1-D slope of size C applies per channel (axis 1) */
  if (ctx->opset < 7 && s->ndim == 1 && x->ndim >= 2 && s->dims[0] == x->dims[1] &&
      s->dims[0] != 1) {
    for (int i = 0; i < x->ndim - 1; i++) sd[i] = i == 0 ? s->dims[0] : 1;
    *ns = x->ndim - 1;
  }
  int no;
  int64_t od[NN_MAX_DIMS];
  nn_status st = nn_broadcast_shape(ctx, x->ndim, x->dims, *ns, sd, &no, od);
  if (st) return st;
  if (!same_shape(no, od, x->ndim, x->dims))
    return nn_op_error(ctx, NN_ERR_INVALID,
                       "input 'slope' (rank %d) does not broadcast to the shape of 'X'",
                       s->ndim);
  return NN_OK;
}

static nn_status prelu_infer(nn_op_ctx *ctx) {
  nn_status st = nn_op_need_io(ctx, 2);
  if (st) return st;
  const nn_value *x = ctx->in[0], *s = ctx->in[1];
  if (x->dtype != s->dtype)
    return nn_op_error(ctx, NN_ERR_INVALID,
                       "inputs 'X' (%s) and 'slope' (%s) differ in dtype",
                       nn_dtype_name(x->dtype), nn_dtype_name(s->dtype));
  if (!nn_binary_lookup__ref(NN_BIN_PRELU, x->dtype))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "dtype %s is not supported",
                       nn_dtype_name(x->dtype));
  int ns;
  int64_t sd[NN_MAX_DIMS];
  if ((st = slope_dims(ctx, x, s, &ns, sd))) return st;
  return nn_value_set(ctx, ctx->out[0], x->dtype, x->ndim, x->dims);
}

static nn_status prelu_run(nn_op_ctx *ctx) {
  const nn_value *x = ctx->in[0], *s = ctx->in[1];
  nn_value *y = ctx->out[0];
  int ns;
  int64_t sd[NN_MAX_DIMS];
  nn_status st = slope_dims(ctx, x, s, &ns, sd);
  if (st) return st;
  nn_bcast p;
  const int nd[2] = {x->ndim, ns};
  const int64_t *dims[2] = {x->dims, sd};
  nn_bcast_init(&p, 2, nd, dims, y->ndim, y->dims);
  size_t es = nn_dtype_size(x->dtype);
  nn_binary__ref(&p, nn_binary_lookup__ref(NN_BIN_PRELU, x->dtype), x->data, es, s->data,
                 es, y->data, es, NULL);
  return NN_OK;
}

NN_OP(PRelu) = {.op_type = "PRelu", .domain = "", .infer = prelu_infer, .run = prelu_run};

/* ---- variadic Max / Min / Sum / Mean ---- */

static nn_status var_infer(nn_op_ctx *ctx, nn_binop op) {
  if (ctx->n_in < 1 || !nn_out(ctx, 0))
    return nn_op_error(ctx, NN_ERR_INVALID, "needs at least one input");
  nn_status st = nn_op_need_io(ctx, ctx->n_in);
  if (st) return st;
  nn_dtype dt = ctx->in[0]->dtype;
  if (!nn_binary_lookup__ref(op, dt))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "dtype %s is not supported",
                       nn_dtype_name(dt));
  int nd = ctx->in[0]->ndim;
  int64_t d[NN_MAX_DIMS];
  if (nd) memcpy(d, ctx->in[0]->dims, (size_t)nd * sizeof *d);
  for (int i = 1; i < ctx->n_in; i++) {
    const nn_value *v = ctx->in[i];
    if (v->dtype != dt)
      return nn_op_error(ctx, NN_ERR_INVALID, "input %d is %s, input 0 is %s", i,
                         nn_dtype_name(v->dtype), nn_dtype_name(dt));
    int64_t t[NN_MAX_DIMS];
    if ((st = nn_broadcast_shape(ctx, nd, d, v->ndim, v->dims, &nd, t))) return st;
    if (nd) memcpy(d, t, (size_t)nd * sizeof *d);
  }
  return nn_value_set(ctx, ctx->out[0], dt, nd, d);
}

static void run_pair(const nn_value *a, const nn_value *b, nn_value *y, nn_binary_fn fn) {
  nn_bcast p;
  const int nd[2] = {a->ndim, b->ndim};
  const int64_t *dims[2] = {a->dims, b->dims};
  nn_bcast_init(&p, 2, nd, dims, y->ndim, y->dims);
  size_t es = nn_dtype_size(y->dtype);
  nn_binary__ref(&p, fn, a->data, es, b->data, es, y->data, es, NULL);
}

static nn_status var_run(nn_op_ctx *ctx, nn_binop op, int mean) {
  nn_value *y = ctx->out[0];
  const nn_value *x0 = ctx->in[0];
  nn_binary_fn fn = nn_binary_lookup__ref(op, y->dtype);
  size_t es = nn_dtype_size(y->dtype);
  int start = 1;
  int direct = 0;
  if (ctx->n_in >= 2) { /* first step straight from inputs 0 and 1 if it fills y */
    const nn_value *x1 = ctx->in[1];
    int n;
    int64_t d[NN_MAX_DIMS];
    nn_status st = nn_broadcast_shape(ctx, x0->ndim, x0->dims, x1->ndim, x1->dims, &n, d);
    if (st) return st;
    direct = same_shape(n, d, y->ndim, y->dims);
  }
  if (direct) {
    run_pair(x0, ctx->in[1], y, fn);
    start = 2;
  } else if (y->data != x0->data) {
    nn_bcast p;
    const int nd[1] = {x0->ndim};
    const int64_t *dims[1] = {x0->dims};
    nn_bcast_init(&p, 1, nd, dims, y->ndim, y->dims);
    nn_bcast_copy__ref(&p, x0->data, y->data, es);
  }
  for (int i = start; i < ctx->n_in; i++) run_pair(y, ctx->in[i], y, fn);
  if (mean) {
    uint64_t cnt_buf = 0;
    nn_value cnt = {.dtype = y->dtype, .ndim = 0, .data = &cnt_buf};
    nn_dtype_traits_of(y->dtype)->from_f64(&cnt_buf, (double)ctx->n_in);
    run_pair(y, &cnt, y, nn_binary_lookup__ref(NN_BIN_DIV, y->dtype));
  }
  return NN_OK;
}

static nn_status Max_infer(nn_op_ctx *ctx) { return var_infer(ctx, NN_BIN_MAX); }
static nn_status Max_run(nn_op_ctx *ctx) { return var_run(ctx, NN_BIN_MAX, 0); }
static nn_status Min_infer(nn_op_ctx *ctx) { return var_infer(ctx, NN_BIN_MIN); }
static nn_status Min_run(nn_op_ctx *ctx) { return var_run(ctx, NN_BIN_MIN, 0); }
static nn_status Sum_infer(nn_op_ctx *ctx) { return var_infer(ctx, NN_BIN_ADD); }
static nn_status Sum_run(nn_op_ctx *ctx) { return var_run(ctx, NN_BIN_ADD, 0); }
static nn_status Mean_infer(nn_op_ctx *ctx) {
  nn_status st = var_infer(ctx, NN_BIN_ADD);
  if (st) return st;
  if (!nn_dtype_traits_of(ctx->in[0]->dtype)->is_float)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "Mean needs a float dtype, got %s",
                       nn_dtype_name(ctx->in[0]->dtype));
  return NN_OK;
}
static nn_status Mean_run(nn_op_ctx *ctx) { return var_run(ctx, NN_BIN_ADD, 1); }

NN_OP(Max) = {.op_type = "Max", .domain = "", .infer = Max_infer, .run = Max_run};
NN_OP(Min) = {.op_type = "Min", .domain = "", .infer = Min_infer, .run = Min_run};
NN_OP(Sum) = {.op_type = "Sum", .domain = "", .infer = Sum_infer, .run = Sum_run};
NN_OP(Mean) = {.op_type = "Mean", .domain = "", .infer = Mean_infer, .run = Mean_run};

/* ---- Where ---- */

static nn_status where_infer(nn_op_ctx *ctx) {
  nn_status st = nn_op_need_io(ctx, 3);
  if (st) return st;
  const nn_value *c = ctx->in[0], *x = ctx->in[1], *y = ctx->in[2];
  if (c->dtype != NN_BOOL)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'condition' is %s, expected bool",
                       nn_dtype_name(c->dtype));
  if (x->dtype != y->dtype)
    return nn_op_error(ctx, NN_ERR_INVALID, "inputs 'X' (%s) and 'Y' (%s) differ in dtype",
                       nn_dtype_name(x->dtype), nn_dtype_name(y->dtype));
  if (x->dtype == NN_STRING || !nn_dtype_size(x->dtype))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "dtype %s is not supported",
                       nn_dtype_name(x->dtype));
  int n1, n2;
  int64_t d1[NN_MAX_DIMS], d2[NN_MAX_DIMS];
  if ((st = nn_broadcast_shape(ctx, c->ndim, c->dims, x->ndim, x->dims, &n1, d1)))
    return st;
  if ((st = nn_broadcast_shape(ctx, n1, d1, y->ndim, y->dims, &n2, d2))) return st;
  return nn_value_set(ctx, ctx->out[0], x->dtype, n2, d2);
}

static nn_status where_run(nn_op_ctx *ctx) {
  const nn_value *c = ctx->in[0], *x = ctx->in[1], *y = ctx->in[2];
  nn_value *o = ctx->out[0];
  nn_bcast p;
  const int nd[3] = {c->ndim, x->ndim, y->ndim};
  const int64_t *dims[3] = {c->dims, x->dims, y->dims};
  nn_bcast_init(&p, 3, nd, dims, o->ndim, o->dims);
  const nn_kernels *k = nn_kernels_get();
  const int64_t inner = p.dims[p.ndim - 1];
  if (nn_dtype_size(o->dtype) == 4 && k->x32_where && p.numel && inner >= 8) {
    /* 32-bit elements (the attention mask): the vector select per inner run */
    const int sc = p.strides[0][p.ndim - 1] != 0, sx = p.strides[1][p.ndim - 1] != 0,
              sy = p.strides[2][p.ndim - 1] != 0;
    const uint8_t *cd = c->data;
    const uint32_t *xd = x->data, *yd = y->data;
    uint32_t *od = o->data;
    for (int64_t r = 0; r < p.numel / inner; r++) {
      int64_t rem = r, off[3] = {0, 0, 0};
      for (int d = p.ndim - 2; d >= 0; d--) {
        const int64_t i = rem % p.dims[d];
        rem /= p.dims[d];
        for (int q = 0; q < 3; q++) off[q] += i * p.strides[q][d];
      }
      k->x32_where(inner, cd + off[0], sc, xd + off[1], sx, yd + off[2], sy, od + r * inner);
    }
    return NN_OK;
  }
  nn_where__ref(&p, c->data, x->data, y->data, o->data, nn_dtype_size(o->dtype));
  return NN_OK;
}

NN_OP(Where) = {.op_type = "Where", .domain = "", .infer = where_infer, .run = where_run};
