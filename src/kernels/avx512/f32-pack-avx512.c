/*
 * f32-pack-avx512.c - packing of GEMM B panels with AVX-512: plain rows (pointwise
 * convolution, MatMul) and the implicit im2col of 2-D convolutions with width stride
 * 1 or 2. Each packed row k = (c, kh, kw) is written run by run: a run is the part of
 * an output row inside the column range, its taps inside the input are copied with
 * masked 16-lane loads/stores (stride 2: two loads and an even-lane permute) and those
 * in the padding are zero. Loads never reach outside the input row.
 * Reference twins: nn_f32_pack_b and nn_f32_conv_pack_b (pack_f32.c), matched exactly.
 */
#include <immintrin.h>

#include "kernels/f32_conv.h"
#include "kernels/f32_gemm.h"

static inline __mmask16 bits16(long long lo, long long hi) { /* lanes [lo, hi) */
  if (lo < 0) lo = 0;
  if (hi > 16) hi = 16;
  if (hi <= lo) return 0;
  return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

void nn_f32_pack_b__avx512(const float *B, size_t ldb, int transB, size_t k0, size_t kc,
                           size_t j0, size_t nj, size_t nr, float *dst) {
  if (transB || nr % 16) {
    nn_f32_pack_b(B, ldb, transB, k0, kc, j0, nj, nr, dst);
    return;
  }
  for (size_t q = 0; q < nj; q += nr, dst += kc * nr) {
    const size_t cols = nj - q < nr ? nj - q : nr;
    for (size_t k = 0; k < kc; k++) {
      const float *src = B + (k0 + k) * ldb + j0 + q;
      float *d = dst + k * nr;
      for (size_t v = 0; v < nr; v += 16) {
        const __mmask16 m = bits16(0, (long long)cols - (long long)v);
        _mm512_storeu_ps(d + v, _mm512_maskz_loadu_ps(m, src + v));
      }
    }
  }
}

/* Writes along one packed row k: column jj (relative to j0) lives in panel jj / nr at
 * lane jj % nr, panels kc * nr floats apart; (q, lane) follow jj as it advances. */
typedef struct cursor {
  float *d; /* row k of panel q */
  size_t lane, nr, panel;
} cursor;

static inline void put_zeros(cursor *cu, long long n) {
  while (n > 0) {
    long long piece = (long long)(cu->nr - cu->lane);
    if (piece > n) piece = n;
    for (long long o = 0; o < piece; o += 16)
      _mm512_mask_storeu_ps(cu->d + cu->lane + o, bits16(0, piece - o), _mm512_setzero_ps());
    n -= piece;
    cu->lane += (size_t)piece;
    if (cu->lane == cu->nr) cu->lane = 0, cu->d += cu->panel;
  }
}

/* n values src[t * SW], t < n, all inside the input row. */
static inline __attribute__((always_inline)) void put_run(const long long SW, cursor *cu,
                                                          const float *src, long long n,
                                                          __m512i even) {
  while (n > 0) {
    long long piece = (long long)(cu->nr - cu->lane);
    if (piece > n) piece = n;
    for (long long o = 0; o < piece; o += 16) {
      const long long cnt = piece - o < 16 ? piece - o : 16;
      __m512 v;
      if (SW == 1) {
        v = _mm512_maskz_loadu_ps(bits16(0, cnt), src + o);
      } else {
        const float *s2 = src + 2 * o; /* needs s2[0 .. 2*cnt-2] */
        const long long m = 2 * cnt - 1;
        const __m512 v0 = _mm512_maskz_loadu_ps(bits16(0, m), s2);
        const __m512 v1 = m > 16 ? _mm512_maskz_loadu_ps(bits16(0, m - 16), s2 + 16)
                                 : _mm512_setzero_ps();
        v = _mm512_permutex2var_ps(v0, even, v1);
      }
      _mm512_mask_storeu_ps(cu->d + cu->lane + o, bits16(0, cnt), v);
    }
    src += piece * SW;
    n -= piece;
    cu->lane += (size_t)piece;
    if (cu->lane == cu->nr) cu->lane = 0, cu->d += cu->panel;
  }
}

static inline __attribute__((always_inline)) void conv_pack(
    const long long SW, const nn_f32_conv_pack_ctx *ctx, size_t j0, size_t nj, size_t k0,
    size_t kc, size_t nr, float *dst) {
  const nn_conv_params *p = ctx->p;
  const long long kH = p->kernel[1], kW = p->kernel[2];
  const long long oW = p->out[2], iH = p->in[1], iW = p->in[2];
  const long long sh = p->stride[1], ph = p->pad_begin[1], pw = p->pad_begin[2];
  const long long dh = p->dilation[1], dw = p->dilation[2];
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                         28, 30);
  const long long oh0 = (long long)j0 / oW, ow0 = (long long)j0 % oW;
  const long long r0 = (long long)k0;
  long long kw = r0 % kW, kh = (r0 / kW) % kH, c = r0 / (kW * kH);
  const size_t tail = (nr - nj % nr) % nr;
  for (size_t k = 0; k < kc; k++) {
    const float *xc = ctx->x + c * iH * iW;
    const long long offh = kh * dh - ph, offw = kw * dw - pw;
    cursor cu = {dst + k * nr, 0, nr, kc * nr};
    long long oh = oh0, ow = ow0;
    for (long long jj = 0; jj < (long long)nj;) {
      long long len = oW - ow;
      if (len > (long long)nj - jj) len = (long long)nj - jj;
      const long long ih = oh * sh + offh;
      if (ih < 0 || ih >= iH) {
        put_zeros(&cu, len);
      } else {
        /* output t of the run reads iw = iw0 + t * SW, valid for t in [lo, hi) */
        const long long iw0 = ow * SW + offw;
        long long lo = 0, hi = len;
        if (iw0 < 0) lo = SW == 1 ? -iw0 : (1 - iw0) / 2;
        const long long last = iW - 1 - iw0;
        if (last < 0) hi = 0;
        else if ((SW == 1 ? last : last / 2) + 1 < hi) hi = (SW == 1 ? last : last / 2) + 1;
        if (lo > len) lo = len;
        if (hi < lo) hi = lo;
        put_zeros(&cu, lo);
        put_run(SW, &cu, xc + ih * iW + iw0 + lo * SW, hi - lo, even);
        put_zeros(&cu, len - hi);
      }
      jj += len;
      ow = 0;
      oh++;
    }
    put_zeros(&cu, (long long)tail);
    if (++kw == kW) {
      kw = 0;
      if (++kh == kH) kh = 0, c++;
    }
  }
}

void nn_f32_conv_pack_b__avx512(const void *ctx_, size_t j0, size_t nj, size_t k0, size_t kc,
                                size_t nr, float *dst) {
  const nn_f32_conv_pack_ctx *ctx = ctx_;
  const nn_conv_params *p = ctx->p;
  if (p->in[0] != 1 || p->kernel[0] != 1 || p->stride[2] > 2) { /* any nr: masked stores */
    nn_f32_conv_pack_b(ctx_, j0, nj, k0, kc, nr, dst);
    return;
  }
  if (p->stride[2] == 1)
    conv_pack(1, ctx, j0, nj, k0, kc, nr, dst);
  else
    conv_pack(2, ctx, j0, nj, k0, kc, nr, dst);
}

/* Convolution rows on the padded grid: each packed row of a panel is a plain copy of
 * nr floats (masked for the last panel's columns past nj). */
void nn_f32_conv_pack_b_shifted__avx512(const void *ctx_, size_t j0, size_t nj, size_t k0,
                                        size_t kc, size_t nr, float *dst) {
  const nn_f32_conv_shift_ctx *cx = ctx_;
  if (nr % 16) {
    nn_f32_conv_pack_b_shifted(ctx_, j0, nj, k0, kc, nr, dst);
    return;
  }
  for (size_t k = 0; k < kc; k++) {
    const float *src = cx->xp + cx->koff[k0 + k] + j0;
    float *d = dst + k * nr;
    for (size_t q = 0; q < nj; q += nr, d += kc * nr) {
      const long long cols = (long long)(nj - q);
      for (size_t v = 0; v < nr; v += 16) {
        const __mmask16 m = bits16(0, cols - (long long)v);
        _mm512_storeu_ps(d + v, _mm512_maskz_loadu_ps(m, src + q + v));
      }
    }
  }
}

/* dst[i] = src[2 * i] for i < n (a stride-2 phase row of the convolution grid): 32
 * inputs per step, even lanes kept (vpermt2ps); the tail is masked, so no element past
 * src[2 * (n - 1)] is read. */
void nn_f32_copy_stride2__avx512(const float *src, size_t n, float *dst) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                         28, 30);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __mmask16 hi = i + 16 < n ? (__mmask16)0xffff : (__mmask16)0x7fff;
    const __m512 a = _mm512_loadu_ps(src + 2 * i);
    const __m512 b = _mm512_maskz_loadu_ps(hi, src + 2 * i + 16);
    _mm512_storeu_ps(dst + i, _mm512_permutex2var_ps(a, even, b));
  }
  if (i < n) {
    const long long m = 2 * (long long)(n - i) - 1; /* inputs spanned */
    const __m512 a = _mm512_maskz_loadu_ps(bits16(0, m), src + 2 * i);
    const __m512 b = _mm512_maskz_loadu_ps(bits16(0, m - 16), src + 2 * i + 16);
    _mm512_mask_storeu_ps(dst + i, bits16(0, (long long)(n - i)),
                          _mm512_permutex2var_ps(a, even, b));
  }
}
