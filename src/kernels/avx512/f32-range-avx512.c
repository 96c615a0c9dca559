/*
 * f32-range-avx512.c - the range of DynamicQuantizeLinear (min and max of x, widened to
 * include 0, NaN skipped) for DynamicQuantizeMatMul: 64 floats per step in four
 * accumulator pairs. Contract and scalar twin: src/kernels/q8_matmul.h (exact).
 */
#include <immintrin.h>

#include "kernels/q8_matmul.h"

void nn_f32_range__avx512(size_t n, const float *x, float *lo, float *hi) {
  /* vminps(v, acc) is v < acc ? v : acc, the scalar twin's select: a NaN v compares
   * false and leaves acc, and -0.0 never replaces the starting +0.0. */
  __m512 l0 = _mm512_setzero_ps(), l1 = l0, l2 = l0, l3 = l0;
  __m512 h0 = l0, h1 = l0, h2 = l0, h3 = l0;
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
    const __m512 v2 = _mm512_loadu_ps(x + i + 32), v3 = _mm512_loadu_ps(x + i + 48);
    l0 = _mm512_min_ps(v0, l0);
    l1 = _mm512_min_ps(v1, l1);
    l2 = _mm512_min_ps(v2, l2);
    l3 = _mm512_min_ps(v3, l3);
    h0 = _mm512_max_ps(v0, h0);
    h1 = _mm512_max_ps(v1, h1);
    h2 = _mm512_max_ps(v2, h2);
    h3 = _mm512_max_ps(v3, h3);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i); /* masked-off lanes read as 0 */
    l0 = _mm512_min_ps(v, l0);
    h0 = _mm512_max_ps(v, h0);
  }
  /* No lane holds NaN or -0.0 now, so the order of the reduction does not matter. */
  l0 = _mm512_min_ps(_mm512_min_ps(l0, l1), _mm512_min_ps(l2, l3));
  h0 = _mm512_max_ps(_mm512_max_ps(h0, h1), _mm512_max_ps(h2, h3));
  *lo = _mm512_reduce_min_ps(l0);
  *hi = _mm512_reduce_max_ps(h0);
}
