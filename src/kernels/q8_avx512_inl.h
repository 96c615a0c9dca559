/*
 * q8_avx512_inl.h - shared inline pieces of the AVX-512 8-bit kernels (included only by
 * files under avx512/, which are compiled with the AVX-512 flags): the GEMM tile
 * epilogue and the exact requantization (cvtdq2ps, one float multiply, round to
 * nearest even, clamp in float, + zero point), identical to nn_requantize_one for
 * finite scales.
 */
#ifndef NN_KERNELS_Q8_AVX512_INL_H
#define NN_KERNELS_Q8_AVX512_INL_H

#include <immintrin.h>
#include <string.h>

#include "kernels/q8_gemm.h"

static inline __mmask16 q8_mask16(size_t n) {
  return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

/* (float)v * scale rounded half to even and clamped to [lo, hi] (= q range - zp). lo and
 * hi are integers, so clamping first and rounding in the conversion gives the same
 * result as rounding first. */
static inline __m512i q8_requant16_nozp(__m512i v, __m512 scale, __m512 lo, __m512 hi) {
  __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), scale);
  f = _mm512_min_ps(_mm512_max_ps(f, lo), hi);
  return _mm512_cvt_roundps_epi32(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

/* The same, + zp. */
static inline __m512i q8_requant16(__m512i v, __m512 scale, __m512 lo, __m512 hi, __m512i zp) {
  return _mm512_add_epi32(q8_requant16_nozp(v, scale, lo, hi), zp);
}

/* Epilogue constants of a tile, read once (stores through c may alias *p, so the
 * compiler would otherwise reload them for every row). */
typedef struct q8_epi512 {
  __m512 lo, hi;
  __m256i zp8; /* the zero point's byte: added after narrowing (v + zp is in the 8-bit
                * range, so its low byte is the low byte of v plus that of zp) */
} q8_epi512;

static inline q8_epi512 q8_epi512_make(const nn_q8_gemm_params *p) {
  q8_epi512 e;
  e.lo = _mm512_set1_ps((float)(p->qmin - p->out_zp));
  e.hi = _mm512_set1_ps((float)(p->qmax - p->out_zp));
  e.zp8 = _mm256_set1_epi8((char)(uint8_t)p->out_zp);
  return e;
}

/* Store row r (< mr) of a tile held as two vectors of 16 columns (nc <= 32 valid).
 * bias_done: the accumulators started from row_bias[r] (q8_acc_init). */
static inline void q8_store_row32_b(__m512i v0, __m512i v1, size_t r, size_t nc, void *c,
                                    size_t ldc, int mode, const nn_q8_gemm_params *p,
                                    const q8_epi512 *e, int bias_done) {
  const __mmask16 k0 = q8_mask16(nc), k1 = nc > 16 ? q8_mask16(nc - 16) : 0;
  if (p->row_bias && !bias_done) {
    const __m512i b = _mm512_set1_epi32(p->row_bias[r]);
    v0 = _mm512_add_epi32(v0, b);
    v1 = _mm512_add_epi32(v1, b);
  }
  if (p->row_mul) {
    const __m512i m = _mm512_set1_epi32(p->row_mul[r]);
    v0 = _mm512_add_epi32(v0, _mm512_mullo_epi32(m, _mm512_maskz_loadu_epi32(k0, p->col_vec)));
    v1 = _mm512_add_epi32(v1,
                          _mm512_mullo_epi32(m, _mm512_maskz_loadu_epi32(k1, p->col_vec + 16)));
  }
  if (mode == NN_Q8_OUT_I32 || mode == NN_Q8_OUT_I32_ACC) {
    int32_t *d = (int32_t *)c + r * ldc;
    if (mode == NN_Q8_OUT_I32_ACC) {
      v0 = _mm512_add_epi32(v0, _mm512_maskz_loadu_epi32(k0, d));
      v1 = _mm512_add_epi32(v1, _mm512_maskz_loadu_epi32(k1, d + 16));
    }
    _mm512_mask_storeu_epi32(d, k0, v0);
    _mm512_mask_storeu_epi32(d + 16, k1, v1);
    return;
  }
  const __m512 s = _mm512_set1_ps(p->scale[r]);
  __m128i q0 = _mm512_cvtepi32_epi8(q8_requant16_nozp(v0, s, e->lo, e->hi));
  __m128i q1 = _mm512_cvtepi32_epi8(q8_requant16_nozp(v1, s, e->lo, e->hi));
  __m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(q0), q1, 1);
  q = _mm256_add_epi8(q, e->zp8);
  const __mmask32 km = nc >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << nc) - 1u);
  _mm256_mask_storeu_epi8((uint8_t *)c + r * ldc, km, q);
}

/* Whether the 8-bit output range is the whole type (the usual case: no fused clip), so
 * q8_store_2rows32_sat may clamp with saturating packs. */
static inline int q8_full_range(int mode, const nn_q8_gemm_params *p) {
  return (mode == NN_Q8_OUT_U8 && p->qmin == 0 && p->qmax == 255) ||
         (mode == NN_Q8_OUT_S8 && p->qmin == -128 && p->qmax == 127);
}

/* Rows r and r + 1 (both < mr) of a tile, each two vectors of 16 columns (nc <= 32 valid),
 * requantized to a full-range 8-bit type (q8_full_range). The accumulators started from
 * row_bias and there is no row_mul. Equal to q8_store_row32_b: only the upper clamp is
 * done in float (a float below -2^31 converts to INT32_MIN, which the saturating packs
 * take to qmin as the lower clamp would); the pack to int16, + zp and the pack to 8 bits
 * saturate, which is the clamp to [qmin, qmax] after rounding (qmin - zp is an integer,
 * so clamping before or after rounding agrees). One pass packs both rows (4 vectors),
 * instead of four vpmovdb. */
static inline void q8_store_2rows32_sat(__m512i a0, __m512i a1, __m512i b0, __m512i b1,
                                        size_t r, size_t nc, void *c, size_t ldc, int is_signed,
                                        const nn_q8_gemm_params *p, __m512 hi, __m512i zp16) {
  const __m512 sa = _mm512_set1_ps(p->scale[r]), sb = _mm512_set1_ps(p->scale[r + 1]);
#define Q8_RQ(v, s)                                                              \
  _mm512_cvt_roundps_epi32(_mm512_min_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(v), s), hi), \
                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
  const __m512i pa = _mm512_adds_epi16(_mm512_packs_epi32(Q8_RQ(a0, sa), Q8_RQ(a1, sa)), zp16);
  const __m512i pb = _mm512_adds_epi16(_mm512_packs_epi32(Q8_RQ(b0, sb), Q8_RQ(b1, sb)), zp16);
#undef Q8_RQ
  /* 128-bit lane L now holds the dwords (row r, columns 4L..), (row r, 16 + 4L..),
   * (row r + 1, 4L..), (row r + 1, 16 + 4L..). */
  const __m512i q = is_signed ? _mm512_packs_epi16(pa, pb) : _mm512_packus_epi16(pa, pb);
  const __m512i idx = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
  const __m512i o = _mm512_permutexvar_epi32(idx, q);
  const __mmask32 km = nc >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << nc) - 1u);
  _mm256_mask_storeu_epi8((uint8_t *)c + r * ldc, km, _mm512_castsi512_si256(o));
  _mm256_mask_storeu_epi8((uint8_t *)c + (r + 1) * ldc, km, _mm512_extracti64x4_epi64(o, 1));
}

static inline void q8_store_row32(__m512i v0, __m512i v1, size_t r, size_t nc, void *c,
                                  size_t ldc, int mode, const nn_q8_gemm_params *p,
                                  const q8_epi512 *e) {
  q8_store_row32_b(v0, v1, r, nc, c, ldc, mode, p, e, 0);
}

/* Accumulator start of row r: row_bias[r] (then stored with bias_done), or 0. */
static inline __m512i q8_acc_init(const nn_q8_gemm_params *p, size_t r, size_t mr) {
  return p->row_bias && r < mr ? _mm512_set1_epi32(p->row_bias[r]) : _mm512_setzero_si512();
}

static inline __m512i q8_bcst_quad(const int8_t *w) {
  int32_t v;
  memcpy(&v, w, 4);
  return _mm512_set1_epi32(v);
}

#endif
