/*
 * transpose.c - reference transpose and strided copy, by element size.
 * Both first simplify the problem (drop size-1 axes, merge axes that stay adjacent)
 * so the common cases become a contiguous row copy or a cache-tiled 2-D transpose.
 */
#include "kernels/ref/transpose.h"

#include <string.h>

#include "nnopt.h"

/* ---- 2-D tile: out[a * os_a + b] = in[a + b * is_b], a < na, b < nb ---- */

#define TR_TILE 16
#define TR_STREAMS 16

/* With few rows on one side, stream: every read (or write) stream stays sequential.
 * Otherwise tile so that a tile's cache lines fit in L1 even for power-of-two strides. */
#define DEF_TILE(NAME, T)                                                              \
  static void NAME(const void *vin, void *vout, int64_t na, int64_t nb, int64_t is_b,  \
                   int64_t os_a) {                                                     \
    const T *in = (const T *)vin;                                                      \
    T *out = (T *)vout;                                                                \
    if (nb <= TR_STREAMS) {                                                            \
      for (int64_t a = 0; a < na; a++)                                                 \
        for (int64_t b = 0; b < nb; b++) out[a * os_a + b] = in[a + b * is_b];         \
      return;                                                                          \
    }                                                                                  \
    if (na <= TR_STREAMS) {                                                            \
      for (int64_t b = 0; b < nb; b++)                                                 \
        for (int64_t a = 0; a < na; a++) out[a * os_a + b] = in[a + b * is_b];         \
      return;                                                                          \
    }                                                                                  \
    for (int64_t a0 = 0; a0 < na; a0 += TR_TILE) {                                     \
      int64_t a1 = a0 + TR_TILE < na ? a0 + TR_TILE : na;                              \
      for (int64_t b0 = 0; b0 < nb; b0 += TR_TILE) {                                   \
        int64_t b1 = b0 + TR_TILE < nb ? b0 + TR_TILE : nb;                            \
        for (int64_t a = a0; a < a1; a++) {                                            \
          const T *ip = in + a;                                                        \
          T *op = out + a * os_a;                                                      \
          for (int64_t b = b0; b < b1; b++) op[b] = ip[b * is_b];                      \
        }                                                                              \
      }                                                                                \
    }                                                                                  \
  }
DEF_TILE(tile_x8, uint8_t)
DEF_TILE(tile_x16, uint16_t)
DEF_TILE(tile_x32, uint32_t)
DEF_TILE(tile_x64, uint64_t)

/* Wide elements (merged rows): fewer per tile, one memcpy each. */
static void tile_bytes(const char *in, char *out, size_t elem, int64_t na, int64_t nb,
                       int64_t is_b, int64_t os_a) {
  const int64_t t = 8;
  for (int64_t a0 = 0; a0 < na; a0 += t) {
    int64_t a1 = a0 + t < na ? a0 + t : na;
    for (int64_t b0 = 0; b0 < nb; b0 += t) {
      int64_t b1 = b0 + t < nb ? b0 + t : nb;
      for (int64_t a = a0; a < a1; a++)
        for (int64_t b = b0; b < b1; b++)
          memcpy(out + (size_t)(a * os_a + b) * elem, in + (size_t)(a + b * is_b) * elem,
                 elem);
    }
  }
}

static void tile_any(const char *in, char *out, size_t elem, int64_t na, int64_t nb,
                     int64_t is_b, int64_t os_a) {
  /* typed loops need aligned bases (a widened element may not be) */
  switch (((uintptr_t)in | (uintptr_t)out) % elem ? 0 : elem) {
  case 1: tile_x8(in, out, na, nb, is_b, os_a); break;
  case 2: tile_x16(in, out, na, nb, is_b, os_a); break;
  case 4: tile_x32(in, out, na, nb, is_b, os_a); break;
  case 8: tile_x64(in, out, na, nb, is_b, os_a); break;
  default: tile_bytes(in, out, elem, na, nb, is_b, os_a); break;
  }
}

/* Drop size-1 axes and merge runs of input axes that stay consecutive in the output.
 * Returns the new rank m with merged dims md (input order) and perm mp. */
static int transpose_simplify(int ndim, const int64_t *dims, const int *perm, int64_t *md,
                              int *mp) {
  int newidx[NN_MAX_DIMS], q[NN_MAX_DIMS], n = 0, kept = 0;
  int64_t dd[NN_MAX_DIMS];
  for (int a = 0; a < ndim; a++) {
    newidx[a] = kept;
    if (dims[a] != 1) dd[kept++] = dims[a];
  }
  for (int k = 0; k < ndim; k++)
    if (dims[perm[k]] != 1) q[n++] = newidx[perm[k]];
  /* groups in output order: first input axis and merged size */
  int gfirst[NN_MAX_DIMS], ng = 0;
  int64_t gsize[NN_MAX_DIMS];
  for (int k = 0; k < n; k++) {
    if (k > 0 && q[k] == q[k - 1] + 1) {
      gsize[ng - 1] *= dd[q[k]];
    } else {
      gfirst[ng] = q[k];
      gsize[ng++] = dd[q[k]];
    }
  }
  for (int g = 0; g < ng; g++) {
    int rank = 0;
    for (int h = 0; h < ng; h++) rank += gfirst[h] < gfirst[g];
    md[rank] = gsize[g];
    mp[g] = rank;
  }
  return ng;
}

static void transpose_core(const char *in, char *out, size_t elem, int m, const int64_t *d,
                           const int *p) {
  /* an innermost axis that stays innermost is a contiguous row: widen the element */
  while (m > 0 && p[m - 1] == m - 1) {
    elem *= (size_t)d[m - 1];
    m--;
  }
  if (m <= 1) { /* after simplification a single axis is the identity */
    memcpy(out, in, elem * (size_t)(m ? d[0] : 1));
    return;
  }
  int64_t is[NN_MAX_DIMS], os[NN_MAX_DIMS];
  is[m - 1] = 1;
  for (int a = m - 2; a >= 0; a--) is[a] = is[a + 1] * d[a + 1];
  os[m - 1] = 1;
  for (int k = m - 2; k >= 0; k--) os[k] = os[k + 1] * d[p[k + 1]];
  const int A = m - 1, B = p[m - 1];
  int64_t os_a = 0;
  int64_t rd[NN_MAX_DIMS], ris[NN_MAX_DIMS], ros[NN_MAX_DIMS];
  int r = 0;
  for (int k = 0; k < m; k++) {
    if (p[k] == A) os_a = os[k];
    if (p[k] == A || p[k] == B) continue;
    rd[r] = d[p[k]];
    ris[r] = is[p[k]];
    ros[r++] = os[k];
  }
  int64_t idx[NN_MAX_DIMS] = {0}, ioff = 0, ooff = 0;
  for (;;) {
    tile_any(in + (size_t)ioff * elem, out + (size_t)ooff * elem, elem, d[A], d[B], is[B],
             os_a);
    int j = r - 1;
    for (; j >= 0; j--) {
      ioff += ris[j];
      ooff += ros[j];
      if (++idx[j] < rd[j]) break;
      ioff -= ris[j] * rd[j];
      ooff -= ros[j] * rd[j];
      idx[j] = 0;
    }
    if (j < 0) break;
  }
}

void nn_xN_transpose__ref(const void *in, void *out, size_t elem, int ndim,
                          const int64_t *dims, const int *perm) {
  for (int a = 0; a < ndim; a++)
    if (dims[a] == 0) return;
  int64_t md[NN_MAX_DIMS];
  int mp[NN_MAX_DIMS];
  int m = transpose_simplify(ndim, dims, perm, md, mp);
  transpose_core((const char *)in, (char *)out, elem, m, md, mp);
}

void nn_x8_transpose__ref(const uint8_t *in, uint8_t *out, int ndim, const int64_t *dims,
                          const int *perm) {
  nn_xN_transpose__ref(in, out, 1, ndim, dims, perm);
}
void nn_x16_transpose__ref(const uint16_t *in, uint16_t *out, int ndim,
                           const int64_t *dims, const int *perm) {
  nn_xN_transpose__ref(in, out, 2, ndim, dims, perm);
}
void nn_x32_transpose__ref(const uint32_t *in, uint32_t *out, int ndim,
                           const int64_t *dims, const int *perm) {
  nn_xN_transpose__ref(in, out, 4, ndim, dims, perm);
}
void nn_x64_transpose__ref(const uint64_t *in, uint64_t *out, int ndim,
                           const int64_t *dims, const int *perm) {
  nn_xN_transpose__ref(in, out, 8, ndim, dims, perm);
}

/* ---- strided copy ---- */

#define DEF_ROW(NAME, T)                                                               \
  static void NAME(const void *vin, void *vout, int64_t n, int64_t s) {                \
    const T *in = (const T *)vin;                                                      \
    T *out = (T *)vout;                                                                \
    if (s == 0) {                                                                      \
      T v = in[0];                                                                     \
      for (int64_t i = 0; i < n; i++) out[i] = v;                                      \
    } else {                                                                           \
      for (int64_t i = 0; i < n; i++) out[i] = in[i * s];                              \
    }                                                                                  \
  }
DEF_ROW(row_x8, uint8_t)
DEF_ROW(row_x16, uint16_t)
DEF_ROW(row_x32, uint32_t)
DEF_ROW(row_x64, uint64_t)

static void row_any(const char *in, char *out, size_t elem, int64_t n, int64_t s) {
  if (s == 1) {
    memcpy(out, in, (size_t)n * elem);
    return;
  }
  switch (((uintptr_t)in | (uintptr_t)out) % elem ? 0 : elem) {
  case 1: row_x8(in, out, n, s); return;
  case 2: row_x16(in, out, n, s); return;
  case 4: row_x32(in, out, n, s); return;
  case 8: row_x64(in, out, n, s); return;
  default:
    for (int64_t i = 0; i < n; i++)
      memcpy(out + (size_t)i * elem, in + (ptrdiff_t)(i * s) * (ptrdiff_t)elem, elem);
  }
}

void nn_xN_strided_copy__ref(const void *in, void *out, size_t elem, int ndim,
                             const int64_t *out_dims, const int64_t *in_strides) {
  int64_t d[2 * NN_MAX_DIMS], s[2 * NN_MAX_DIMS];
  int m = 0;
  for (int k = 0; k < ndim; k++) {
    if (out_dims[k] == 0) return;
    if (out_dims[k] == 1) continue;
    if (m > 0 && s[m - 1] == in_strides[k] * out_dims[k]) { /* merge into previous */
      d[m - 1] *= out_dims[k];
      s[m - 1] = in_strides[k];
    } else {
      d[m] = out_dims[k];
      s[m++] = in_strides[k];
    }
  }
  const char *ip = (const char *)in;
  char *op = (char *)out;
  if (m == 0) {
    memcpy(op, ip, elem);
    return;
  }
  const int64_t n = d[m - 1], st = s[m - 1];
  const int r = m - 1;
  int64_t idx[2 * NN_MAX_DIMS] = {0}, ioff = 0;
  for (;;) {
    row_any(ip + (ptrdiff_t)ioff * (ptrdiff_t)elem, op, elem, n, st);
    op += (size_t)n * elem;
    int j = r - 1;
    for (; j >= 0; j--) {
      ioff += s[j];
      if (++idx[j] < d[j]) break;
      ioff -= s[j] * d[j];
      idx[j] = 0;
    }
    if (j < 0) break;
  }
}
