/*
 * compare.c - tolerance comparison of tensors, shared by `nnopt run --compare`, the
 * conformance runner and the peer tests.
 */
#include <math.h>
#include <string.h>

#include "core/dtype.h"
#include "nnopt.h"

void nn_array_compare(const nn_array *got, const nn_array *want, double rtol, double atol,
                      nn_compare *out) {
  memset(out, 0, sizeof *out);
  out->first_bad = -1;
  out->shape_ok = got->dtype == want->dtype && got->ndim == want->ndim &&
                  !memcmp(got->dims, want->dims, (size_t)got->ndim * sizeof(int64_t));
  if (!out->shape_ok) {
    out->mismatches = 1;
    out->first_bad = 0;
    return;
  }
  int64_t n = nn_array_numel(want);
  const nn_dtype_traits *tr = nn_dtype_traits_of(want->dtype);
  if (want->dtype == NN_STRING) {
    const nn_bytes *a = got->data, *b = want->data;
    for (int64_t i = 0; i < n; i++)
      if (a[i].len != b[i].len || (a[i].len && memcmp(a[i].data, b[i].data, a[i].len))) {
        if (out->first_bad < 0) out->first_bad = i;
        out->mismatches++;
      }
    return;
  }
  if (!tr || !tr->to_f64) { /* complex: compare bytes */
    if (memcmp(got->data, want->data, want->nbytes)) out->mismatches = 1, out->first_bad = 0;
    return;
  }
  for (int64_t i = 0; i < n; i++) {
    const char *pa = (const char *)got->data + (size_t)i * tr->size;
    const char *pb = (const char *)want->data + (size_t)i * tr->size;
    int bad;
    double d = 0, b = 0;
    if (!tr->is_float) {
      int64_t x = tr->to_i64(pa), y = tr->to_i64(pb);
      if (want->dtype == NN_UINT64) {
        uint64_t ux, uy;
        memcpy(&ux, pa, 8);
        memcpy(&uy, pb, 8);
        bad = ux != uy;
      } else {
        bad = x != y;
      }
      d = fabs((double)x - (double)y);
      b = fabs((double)y);
    } else {
      double x = tr->to_f64(pa), y = tr->to_f64(pb);
      if (isnan(x) || isnan(y)) {
        bad = isnan(x) != isnan(y);
      } else if (isinf(x) || isinf(y)) {
        bad = x != y;
      } else {
        d = fabs(x - y);
        b = fabs(y);
        bad = !(d <= atol + rtol * b);
      }
    }
    if (d > out->max_abs) out->max_abs = d;
    if (b > 0 && d / b > out->max_rel) out->max_rel = d / b;
    if (bad) {
      if (out->first_bad < 0) out->first_bad = i;
      out->mismatches++;
    }
  }
}
