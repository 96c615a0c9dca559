/*
 * elementwise_cast.h - reference Cast between numeric dtypes (bool, integers, float16,
 * bfloat16, float, double). Integer <-> integer wraps like a C cast; float -> integer
 * truncates toward zero and saturates (NaN -> 0); anything -> bool is "!= 0"; casts to
 * float16/bfloat16 round to nearest even (from double without double rounding).
 */
#ifndef NN_KERNELS_REF_ELEMENTWISE_CAST_H
#define NN_KERNELS_REF_ELEMENTWISE_CAST_H

#include <stdint.h>

#include "nnopt.h"

/* 1 if the kernel converts from -> to. */
int nn_cast_supported__ref(nn_dtype from, nn_dtype to);

/* y[i] = (to)x[i] for n elements; returns 0, or -1 for an unsupported pair. x and y
 * must not overlap unless the dtypes are equal. */
int nn_cast__ref(int64_t n, const void *x, nn_dtype from, void *y, nn_dtype to);

/*
 * Strings. Formatting writes element i of x (numeric dtype from) into buf as numpy's
 * str() would: the shortest digits that read back to the same value, positional for
 * 1e-4 <= |v| < 1e16 ("0.5", "3.0"), else scientific ("1e-05"); "nan", "inf", "-inf".
 * Returns the length, or -1 for an unsupported dtype. Parsing reads one string (len
 * bytes, not NUL-terminated) into element i of y (numeric dtype to) like strtod/strtoll
 * ("NaN", "INF", "+INF", "-inf" included); returns 0, or -1 if it is not a number.
 */
int nn_cast_format__ref(const void *x, nn_dtype from, int64_t i, char *buf, size_t cap);
int nn_cast_parse__ref(const char *s, size_t len, void *y, nn_dtype to, int64_t i);

/* Round-to-nearest-even conversions from double straight to 16-bit floats. */
uint16_t nn_f64_to_f16__ref(double d);
uint16_t nn_f64_to_bf16__ref(double d);

#endif
