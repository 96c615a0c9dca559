/*
 * elementwise.c - broadcast plans and the typed inner loops of binary ops. The inner
 * loops are stamped by macros per dtype, each specialised for the four stride cases
 * (vector/vector, scalar/vector, vector/scalar, scalar/scalar) so the compiler can
 * vectorise the common ones. float16/bfloat16 compute in float, one element at a time.
 */
#include "kernels/ref/elementwise.h"

#include <math.h>
#include <string.h>

#include "core/dtype.h"

/* ---- broadcast plan ---- */

void nn_bcast_init(nn_bcast *p, int n_in, const int *in_ndim, const int64_t *const *in_dims,
                   int out_ndim, const int64_t *out_dims) {
  memset(p, 0, sizeof *p);
  p->n_in = n_in;
  p->numel = 1;
  for (int i = 0; i < out_ndim; i++) p->numel *= out_dims[i];

  /* row-major strides of each input, aligned to the output's axes (right-aligned) */
  int64_t st[3][NN_MAX_DIMS];
  for (int k = 0; k < n_in; k++) {
    int off = out_ndim - in_ndim[k];
    int64_t s = 1;
    for (int i = out_ndim - 1; i >= 0; i--) {
      int64_t d = i >= off ? in_dims[k][i - off] : 1;
      st[k][i] = (d == 1) ? 0 : s;
      s *= d;
    }
  }
  int n = 0;
  for (int i = 0; i < out_ndim; i++) {
    if (out_dims[i] == 1) continue;
    int merge = n > 0;
    for (int k = 0; k < n_in && merge; k++)
      merge = p->strides[k][n - 1] == st[k][i] * out_dims[i];
    if (merge) {
      p->dims[n - 1] *= out_dims[i];
      for (int k = 0; k < n_in; k++) p->strides[k][n - 1] = st[k][i];
    } else {
      p->dims[n] = out_dims[i];
      for (int k = 0; k < n_in; k++) p->strides[k][n] = st[k][i];
      n++;
    }
  }
  if (n == 0) { /* scalar output (or all ones) */
    p->dims[0] = 1;
    n = 1;
  }
  p->ndim = n;
}

/*
 * Walk the outer axes of a plan (all but the innermost) as an odometer, keeping each
 * input's element offset; BODY runs once per inner run with off[k] and the run index r.
 */
#define BCAST_WALK(p, ...)                                                                 \
  do {                                                                                     \
    int64_t inner_ = (p)->dims[(p)->ndim - 1];                                             \
    if ((p)->numel == 0 || inner_ == 0) break;                                             \
    int64_t runs_ = (p)->numel / inner_;                                                   \
    int64_t idx_[NN_MAX_DIMS] = {0}, off[3] = {0, 0, 0};                                   \
    int no_ = (p)->ndim - 1;                                                               \
    for (int64_t r = 0; r < runs_; r++) {                                                  \
      __VA_ARGS__;                                                                         \
      for (int d_ = no_ - 1; d_ >= 0; d_--) {                                              \
        for (int k_ = 0; k_ < (p)->n_in; k_++) off[k_] += (p)->strides[k_][d_];            \
        if (++idx_[d_] < (p)->dims[d_]) break;                                             \
        for (int k_ = 0; k_ < (p)->n_in; k_++)                                             \
          off[k_] -= (p)->strides[k_][d_] * (p)->dims[d_];                                 \
        idx_[d_] = 0;                                                                      \
      }                                                                                    \
    }                                                                                      \
  } while (0)

void nn_binary__ref(const nn_bcast *p, nn_binary_fn fn, const void *a, size_t asz,
                    const void *b, size_t bsz, void *y, size_t ysz, const void *aux) {
  int64_t inner = p->dims[p->ndim - 1];
  int sa = p->strides[0][p->ndim - 1] != 0, sb = p->strides[1][p->ndim - 1] != 0;
  const char *pa = a, *pb = b;
  char *py = y;
  BCAST_WALK(p, fn(inner, pa + (size_t)off[0] * asz, sa, pb + (size_t)off[1] * bsz, sb,
                   py + (size_t)(r * inner) * ysz, aux));
}

#define WHERE_LOOP(T)                                                                      \
  do {                                                                                     \
    const T *x_ = x, *y_ = y;                                                              \
    T *o_ = out;                                                                           \
    BCAST_WALK(p, {                                                                        \
      const uint8_t *c = cond + off[0];                                                    \
      const T *xa = x_ + off[1], *ya = y_ + off[2];                                        \
      T *o = o_ + r * inner;                                                               \
      for (int64_t i = 0; i < inner; i++) o[i] = c[i * sc] ? xa[i * sx] : ya[i * sy];      \
    });                                                                                    \
  } while (0)

void nn_where__ref(const nn_bcast *p, const uint8_t *cond, const void *x, const void *y,
                   void *out, size_t esize) {
  int64_t inner = p->dims[p->ndim - 1];
  int64_t sc = p->strides[0][p->ndim - 1], sx = p->strides[1][p->ndim - 1],
          sy = p->strides[2][p->ndim - 1];
  switch (esize) {
  case 1: WHERE_LOOP(uint8_t); break;
  case 2: WHERE_LOOP(uint16_t); break;
  case 4: WHERE_LOOP(uint32_t); break;
  case 8: WHERE_LOOP(uint64_t); break;
  default: {
    const char *xc = x, *yc = y;
    char *oc = out;
    BCAST_WALK(p, {
      for (int64_t i = 0; i < inner; i++) {
        const char *src = cond[off[0] + i * sc] ? xc + (size_t)(off[1] + i * sx) * esize
                                                : yc + (size_t)(off[2] + i * sy) * esize;
        memcpy(oc + (size_t)(r * inner + i) * esize, src, esize);
      }
    });
  }
  }
}

void nn_bcast_copy__ref(const nn_bcast *p, const void *x, void *out, size_t esize) {
  int64_t inner = p->dims[p->ndim - 1];
  int64_t sx = p->strides[0][p->ndim - 1];
  const char *xc = x;
  char *oc = out;
  if (sx) {
    BCAST_WALK(p, memcpy(oc + (size_t)(r * inner) * esize, xc + (size_t)off[0] * esize,
                         (size_t)inner * esize));
  } else {
    BCAST_WALK(p, {
      char *o = oc + (size_t)(r * inner) * esize;
      const char *s = xc + (size_t)off[0] * esize;
      for (int64_t i = 0; i < inner; i++) memcpy(o + (size_t)i * esize, s, esize);
    });
  }
}

/* ---- scalar helpers ---- */

#define ID(x) (x)
#define TO_BOOL(x) ((uint8_t)((x) ? 1 : 0))

static inline float mod_f(float a, float b) {
  float r = fmodf(a, b);
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}
static inline double mod_d(double a, double b) {
  double r = fmod(a, b);
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

/* Integer power by squaring with wrap-around, as a C loop of multiplies would do. */
static inline uint64_t ipow_u64(uint64_t a, uint64_t e) {
  uint64_t r = 1;
  while (e) {
    if (e & 1) r *= a;
    a *= a;
    e >>= 1;
  }
  return r;
}
static inline int64_t ipow_i64(int64_t a, int64_t e) {
  if (e < 0) { /* 1/a^|e| truncated toward zero */
    if (a == 1) return 1;
    if (a == -1) return (e & 1) ? -1 : 1;
    return 0;
  }
  return (int64_t)ipow_u64((uint64_t)a, (uint64_t)e);
}

/* signed integer helpers: wrap on overflow, never trap */
#define S_DIV(T, UT, a, b)                                                                 \
  ((b) == 0 ? (T)0 : (b) == -1 ? (T)(0u - (UT)(a)) : (T)((a) / (b)))
#define S_FMOD(T, a, b) ((b) == 0 || (b) == -1 ? (T)0 : (T)((a) % (b)))
static inline int64_t s_mod(int64_t a, int64_t b) {
  if (b == 0 || b == -1) return 0;
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

/*
 * One inner loop: T input element type, CT compute type, YT output type, LD loads T
 * into CT, ST converts the expression (in A, B) to YT.
 */
#define DEFBIN(fname, T, CT, YT, LD, ST, EXPR)                                             \
  static void fname(int64_t n, const void *a_, int sa, const void *b_, int sb, void *y_,   \
                    const void *aux) {                                                     \
    const T *a = a_, *b = b_;                                                              \
    YT *y = y_;                                                                            \
    (void)aux;                                                                             \
    if (sa && sb) {                                                                        \
      for (int64_t i = 0; i < n; i++) {                                                    \
        CT A = LD(a[i]), B = LD(b[i]);                                                     \
        y[i] = ST(EXPR);                                                                   \
      }                                                                                    \
    } else if (sb) {                                                                       \
      const CT A = LD(a[0]);                                                               \
      for (int64_t i = 0; i < n; i++) {                                                    \
        CT B = LD(b[i]);                                                                   \
        y[i] = ST(EXPR);                                                                   \
      }                                                                                    \
    } else if (sa) {                                                                       \
      const CT B = LD(b[0]);                                                               \
      for (int64_t i = 0; i < n; i++) {                                                    \
        CT A = LD(a[i]);                                                                   \
        y[i] = ST(EXPR);                                                                   \
      }                                                                                    \
    } else {                                                                               \
      const CT A = LD(a[0]), B = LD(b[0]);                                                 \
      const YT v = ST(EXPR);                                                               \
      for (int64_t i = 0; i < n; i++) y[i] = v;                                            \
    }                                                                                      \
  }

/* x^2 (the variance of a decomposed LayerNorm) as one multiply: vectorizes, and is the
 * correctly rounded square; any other exponent goes to libm. */
#define POW2(A, B, POW) ((B) == 2 ? (A) * (A) : POW(A, B))

/* Float types: (short name, storage, compute, load, store, libm suffix). */
#define FLOAT_TYPES(X)                                                                     \
  X(f32, float, float, ID, ID, f, mod_f)                                                   \
  X(f64, double, double, ID, ID, , mod_d)                                                  \
  X(f16, uint16_t, float, nn_f16_to_f32, nn_f32_to_f16, f, mod_f)                          \
  X(bf16, uint16_t, float, nn_bf16_to_f32, nn_f32_to_bf16, f, mod_f)

#define FLOAT_OPS(s, T, CT, LD, ST, SFX, MOD)                                              \
  DEFBIN(nn_##s##_add__ref, T, CT, T, LD, ST, A + B)                                       \
  DEFBIN(nn_##s##_sub__ref, T, CT, T, LD, ST, A - B)                                       \
  DEFBIN(nn_##s##_mul__ref, T, CT, T, LD, ST, A *B)                                        \
  DEFBIN(nn_##s##_div__ref, T, CT, T, LD, ST, A / B)                                       \
  DEFBIN(nn_##s##_pow__ref, T, CT, T, LD, ST, POW2(A, B, pow##SFX))                        \
  DEFBIN(nn_##s##_mod__ref, T, CT, T, LD, ST, MOD(A, B))                                   \
  DEFBIN(nn_##s##_fmod__ref, T, CT, T, LD, ST, fmod##SFX(A, B))                            \
  DEFBIN(nn_##s##_max__ref, T, CT, T, LD, ST, (A != A || A > B) ? A : B)                   \
  DEFBIN(nn_##s##_min__ref, T, CT, T, LD, ST, (A != A || A < B) ? A : B)                   \
  DEFBIN(nn_##s##_prelu__ref, T, CT, T, LD, ST, A < 0 ? A * B : A)                         \
  DEFBIN(nn_##s##_eq__ref, T, CT, uint8_t, LD, TO_BOOL, A == B)                            \
  DEFBIN(nn_##s##_lt__ref, T, CT, uint8_t, LD, TO_BOOL, A < B)                             \
  DEFBIN(nn_##s##_gt__ref, T, CT, uint8_t, LD, TO_BOOL, A > B)                             \
  DEFBIN(nn_##s##_le__ref, T, CT, uint8_t, LD, TO_BOOL, A <= B)                            \
  DEFBIN(nn_##s##_ge__ref, T, CT, uint8_t, LD, TO_BOOL, A >= B)
FLOAT_TYPES(FLOAT_OPS)

/* Integer types: (short name, type, unsigned type wide enough to wrap without UB). */
#define SINT_TYPES(X)                                                                      \
  X(i8, int8_t, uint32_t)                                                                  \
  X(i16, int16_t, uint32_t)                                                                \
  X(i32, int32_t, uint32_t)                                                                \
  X(i64, int64_t, uint64_t)
#define UINT_TYPES(X)                                                                      \
  X(u8, uint8_t, uint32_t)                                                                 \
  X(u16, uint16_t, uint32_t)                                                               \
  X(u32, uint32_t, uint32_t)                                                               \
  X(u64, uint64_t, uint64_t)

#define INT_COMMON_OPS(s, T, UT)                                                           \
  DEFBIN(nn_##s##_add__ref, T, T, T, ID, ID, (T)((UT)A + (UT)B))                           \
  DEFBIN(nn_##s##_sub__ref, T, T, T, ID, ID, (T)((UT)A - (UT)B))                           \
  DEFBIN(nn_##s##_mul__ref, T, T, T, ID, ID, (T)((UT)A * (UT)B))                           \
  DEFBIN(nn_##s##_max__ref, T, T, T, ID, ID, A > B ? A : B)                                \
  DEFBIN(nn_##s##_min__ref, T, T, T, ID, ID, A < B ? A : B)                                \
  DEFBIN(nn_##s##_eq__ref, T, T, uint8_t, ID, TO_BOOL, A == B)                             \
  DEFBIN(nn_##s##_lt__ref, T, T, uint8_t, ID, TO_BOOL, A < B)                              \
  DEFBIN(nn_##s##_gt__ref, T, T, uint8_t, ID, TO_BOOL, A > B)                              \
  DEFBIN(nn_##s##_le__ref, T, T, uint8_t, ID, TO_BOOL, A <= B)                             \
  DEFBIN(nn_##s##_ge__ref, T, T, uint8_t, ID, TO_BOOL, A >= B)

#define SINT_OPS(s, T, UT)                                                                 \
  INT_COMMON_OPS(s, T, UT)                                                                 \
  DEFBIN(nn_##s##_div__ref, T, T, T, ID, ID, S_DIV(T, UT, A, B))                           \
  DEFBIN(nn_##s##_pow__ref, T, T, T, ID, ID, (T)ipow_i64(A, B))                            \
  DEFBIN(nn_##s##_mod__ref, T, T, T, ID, ID, (T)s_mod(A, B))                               \
  DEFBIN(nn_##s##_fmod__ref, T, T, T, ID, ID, S_FMOD(T, A, B))                             \
  DEFBIN(nn_##s##_prelu__ref, T, T, T, ID, ID, A < 0 ? (T)((UT)A * (UT)B) : A)
SINT_TYPES(SINT_OPS)

#define SHIFT_BITS(T) ((T)(sizeof(T) * 8))
#define UINT_OPS(s, T, UT)                                                                 \
  INT_COMMON_OPS(s, T, UT)                                                                 \
  DEFBIN(nn_##s##_div__ref, T, T, T, ID, ID, B == 0 ? (T)0 : (T)(A / B))                   \
  DEFBIN(nn_##s##_pow__ref, T, T, T, ID, ID, (T)ipow_u64(A, B))                            \
  DEFBIN(nn_##s##_mod__ref, T, T, T, ID, ID, B == 0 ? (T)0 : (T)(A % B))                   \
  DEFBIN(nn_##s##_fmod__ref, T, T, T, ID, ID, B == 0 ? (T)0 : (T)(A % B))                  \
  DEFBIN(nn_##s##_prelu__ref, T, T, T, ID, ID, ((void)B, A))                               \
  DEFBIN(nn_##s##_shl__ref, T, T, T, ID, ID, B >= SHIFT_BITS(T) ? (T)0 : (T)((UT)A << B))  \
  DEFBIN(nn_##s##_shr__ref, T, T, T, ID, ID, B >= SHIFT_BITS(T) ? (T)0 : (T)(A >> B))
UINT_TYPES(UINT_OPS)

DEFBIN(nn_b8_and__ref, uint8_t, uint8_t, uint8_t, ID, TO_BOOL, A &&B)
DEFBIN(nn_b8_or__ref, uint8_t, uint8_t, uint8_t, ID, TO_BOOL, A || B)
DEFBIN(nn_b8_xor__ref, uint8_t, uint8_t, uint8_t, ID, TO_BOOL, (A != 0) != (B != 0))
DEFBIN(nn_b8_eq__ref, uint8_t, uint8_t, uint8_t, ID, TO_BOOL, (A != 0) == (B != 0))
DEFBIN(nn_b8_max__ref, uint8_t, uint8_t, uint8_t, ID, TO_BOOL, A || B)
DEFBIN(nn_b8_min__ref, uint8_t, uint8_t, uint8_t, ID, TO_BOOL, A &&B)

/* ---- mixed-dtype Pow ---- */

void nn_any_pow__ref(int64_t n, const void *a, int sa, const void *b, int sb, void *y,
                     const void *aux) {
  const nn_pow_types *t = aux;
  const nn_dtype_traits *ta = nn_dtype_traits_of(t->base),
                        *tb = nn_dtype_traits_of(t->exponent),
                        *ty = nn_dtype_traits_of(t->out);
  const char *pa = a, *pb = b;
  char *py = y;
  int exact = ta->is_integer && tb->is_integer && ty->is_integer;
  for (int64_t i = 0; i < n; i++) {
    const void *ea = pa + (size_t)(sa ? i : 0) * ta->size;
    const void *eb = pb + (size_t)(sb ? i : 0) * tb->size;
    void *ey = py + (size_t)i * ty->size;
    if (exact) {
      int64_t e = tb->to_i64(eb);
      if (!ta->is_signed && tb->is_signed && e < 0)
        ty->from_i64(ey, ipow_i64(ta->to_i64(ea), e));
      else if (!ta->is_signed)
        ty->from_i64(ey, (int64_t)ipow_u64((uint64_t)ta->to_i64(ea), (uint64_t)e));
      else
        ty->from_i64(ey, ipow_i64(ta->to_i64(ea), e));
    } else {
      ty->from_f64(ey, pow(ta->to_f64(ea), tb->to_f64(eb)));
    }
  }
}

/* ---- lookup ---- */

#define ENTRY_ROW(s)                                                                       \
  [NN_BIN_ADD] = nn_##s##_add__ref, [NN_BIN_SUB] = nn_##s##_sub__ref,                      \
  [NN_BIN_MUL] = nn_##s##_mul__ref, [NN_BIN_DIV] = nn_##s##_div__ref,                      \
  [NN_BIN_POW] = nn_##s##_pow__ref, [NN_BIN_MOD] = nn_##s##_mod__ref,                      \
  [NN_BIN_FMOD] = nn_##s##_fmod__ref, [NN_BIN_MAX] = nn_##s##_max__ref,                    \
  [NN_BIN_MIN] = nn_##s##_min__ref, [NN_BIN_PRELU] = nn_##s##_prelu__ref,                  \
  [NN_BIN_EQ] = nn_##s##_eq__ref, [NN_BIN_LT] = nn_##s##_lt__ref,                          \
  [NN_BIN_GT] = nn_##s##_gt__ref, [NN_BIN_LE] = nn_##s##_le__ref,                          \
  [NN_BIN_GE] = nn_##s##_ge__ref

static const nn_binary_fn g_bin[NN_DTYPE_COUNT][NN_BIN_COUNT] = {
    [NN_FLOAT] = {ENTRY_ROW(f32)},
    [NN_DOUBLE] = {ENTRY_ROW(f64)},
    [NN_FLOAT16] = {ENTRY_ROW(f16)},
    [NN_BFLOAT16] = {ENTRY_ROW(bf16)},
    [NN_INT8] = {ENTRY_ROW(i8)},
    [NN_INT16] = {ENTRY_ROW(i16)},
    [NN_INT32] = {ENTRY_ROW(i32)},
    [NN_INT64] = {ENTRY_ROW(i64)},
    [NN_UINT8] =
        {ENTRY_ROW(u8), [NN_BIN_SHL] = nn_u8_shl__ref, [NN_BIN_SHR] = nn_u8_shr__ref},
    [NN_UINT16] =
        {ENTRY_ROW(u16), [NN_BIN_SHL] = nn_u16_shl__ref, [NN_BIN_SHR] = nn_u16_shr__ref},
    [NN_UINT32] =
        {ENTRY_ROW(u32), [NN_BIN_SHL] = nn_u32_shl__ref, [NN_BIN_SHR] = nn_u32_shr__ref},
    [NN_UINT64] =
        {ENTRY_ROW(u64), [NN_BIN_SHL] = nn_u64_shl__ref, [NN_BIN_SHR] = nn_u64_shr__ref},
    [NN_BOOL] = {[NN_BIN_AND] = nn_b8_and__ref,
                 [NN_BIN_OR] = nn_b8_or__ref,
                 [NN_BIN_XOR] = nn_b8_xor__ref,
                 [NN_BIN_EQ] = nn_b8_eq__ref,
                 [NN_BIN_MAX] = nn_b8_max__ref,
                 [NN_BIN_MIN] = nn_b8_min__ref},
};

nn_binary_fn nn_binary_lookup__ref(nn_binop op, nn_dtype dt) {
  if (!nn_dtype_valid((int)dt) || (int)op < 0 || op >= NN_BIN_COUNT) return NULL;
  return g_bin[dt][op];
}
