/*
 * f32-vbinary-avx2.c - float32 add / sub / mul / div with one side possibly a broadcast
 * scalar (the nn_binary_fn contract). One IEEE operation per element, so results equal
 * the reference loops exactly; compiled without contraction concerns (no a*b+c here).
 */
#include <immintrin.h>

#include "kernels/f32_eltwise.h"

#define VBIN(name, VOP, SOP)                                                               \
  void name(int64_t n, const void *a_, int sa, const void *b_, int sb, void *y_,           \
            const void *aux) {                                                             \
    const float *a = a_, *b = b_;                                                          \
    float *y = y_;                                                                         \
    (void)aux;                                                                             \
    int64_t i = 0;                                                                         \
    if (sa && sb) {                                                                        \
      for (; i + 16 <= n; i += 16) {                                                       \
        __m256 r0 = VOP(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));                   \
        __m256 r1 = VOP(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));           \
        _mm256_storeu_ps(y + i, r0);                                                       \
        _mm256_storeu_ps(y + i + 8, r1);                                                   \
      }                                                                                    \
      for (; i + 8 <= n; i += 8)                                                           \
        _mm256_storeu_ps(y + i, VOP(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));      \
      for (; i < n; i++) y[i] = SOP(a[i], b[i]);                                           \
    } else if (sa) {                                                                       \
      const float bs = b[0];                                                               \
      const __m256 vb = _mm256_set1_ps(bs);                                                \
      for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, VOP(_mm256_loadu_ps(a + i), vb)); \
      for (; i < n; i++) y[i] = SOP(a[i], bs);                                             \
    } else if (sb) {                                                                       \
      const float as = a[0];                                                               \
      const __m256 va = _mm256_set1_ps(as);                                                \
      for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, VOP(va, _mm256_loadu_ps(b + i))); \
      for (; i < n; i++) y[i] = SOP(as, b[i]);                                             \
    } else {                                                                               \
      const float v = SOP(a[0], b[0]);                                                     \
      for (; i < n; i++) y[i] = v;                                                         \
    }                                                                                      \
  }

#define S_ADD(x, z) ((x) + (z))
#define S_SUB(x, z) ((x) - (z))
#define S_MUL(x, z) ((x) * (z))
#define S_DIV(x, z) ((x) / (z))

VBIN(nn_f32_vadd__avx2, _mm256_add_ps, S_ADD)
VBIN(nn_f32_vsub__avx2, _mm256_sub_ps, S_SUB)
VBIN(nn_f32_vmul__avx2, _mm256_mul_ps, S_MUL)
VBIN(nn_f32_vdiv__avx2, _mm256_div_ps, S_DIV)
