/*
 * f32c_conv.c - weight packing, the scalar twins and the selectors of the channel-last
 * float32 convolution kernels (contracts in f32c_conv.h).
 */
#include "kernels/f32c_conv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/dispatch.h"

size_t nn_f32c_pack_w_size(size_t m, size_t ntaps, size_t kc) {
  return (m + NN_F32C_NR - 1) / NN_F32C_NR * ntaps * kc * NN_F32C_NR;
}

void nn_f32c_pack_w(size_t m, size_t ntaps, size_t kc, const float *w, float *out) {
  const size_t panel = ntaps * kc * NN_F32C_NR;
  memset(out, 0, nn_f32c_pack_w_size(m, ntaps, kc) * sizeof *out);
  for (size_t j = 0; j < m; j++)
    for (size_t t = 0; t < ntaps; t++)
      for (size_t c = 0; c < kc; c++)
        out[j / NN_F32C_NR * panel + (t * kc + c) * NN_F32C_NR + j % NN_F32C_NR] =
            w[(j * kc + c) * ntaps + t];
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

void nn_f32c_conv_8x32__scalar(size_t mr, size_t nc, size_t ntaps, size_t kc,
                               const void *const *ind, size_t step, const float *w,
                               const float *bias, const float *z, float lo, float hi, float *y,
                               size_t ldy) {
  for (size_t r = 0; r < mr; r++)
    for (size_t j = 0; j < nc; j++) {
      float acc = bias[j];
      for (size_t t = 0; t < ntaps; t++) {
        const float *x = step ? (const float *)ind[t] + r * step
                              : (const float *)ind[t * NN_F32C_MR + r];
        for (size_t c = 0; c < kc; c++) acc = fmaf(x[c], w[(t * kc + c) * NN_F32C_NR + j], acc);
      }
      if (z) acc += z[r * ldy + j];
      y[r * ldy + j] = clampf(acc, lo, hi);
    }
}

void nn_f32c_dw__scalar(size_t npix, size_t c, size_t ntaps, const void *const *ind,
                        size_t step, const float *w, size_t ws, const float *bias, const float *z,
                        float lo, float hi, float *y, size_t ldy) {
  for (size_t i = 0; i < npix; i++)
    for (size_t ch = 0; ch < c; ch++) {
      float acc = bias[ch];
      for (size_t t = 0; t < ntaps; t++) acc = fmaf(((const float *)ind[t])[i * step + ch], w[t * ws + ch], acc);
      if (z) acc += z[i * ldy + ch];
      y[i * ldy + ch] = clampf(acc, lo, hi);
    }
}

/* ---------------------------------------------------------------- Winograd F(2x2, 3x3) */

void nn_f32c_wino_in__scalar(size_t c, const float *const *p, float *v, size_t vs) {
  for (size_t ch = 0; ch < c; ch++) {
    float d[16], t[16];
    for (int i = 0; i < 16; i++) d[i] = p[i][ch];
    for (int j = 0; j < 4; j++) { /* B^T d */
      t[j] = d[j] - d[8 + j];
      t[4 + j] = d[4 + j] + d[8 + j];
      t[8 + j] = d[8 + j] - d[4 + j];
      t[12 + j] = d[4 + j] - d[12 + j];
    }
    for (int i = 0; i < 4; i++) { /* (B^T d) B */
      const float *r = t + 4 * i;
      v[(4 * i + 0) * vs + ch] = r[0] - r[2];
      v[(4 * i + 1) * vs + ch] = r[1] + r[2];
      v[(4 * i + 2) * vs + ch] = r[2] - r[1];
      v[(4 * i + 3) * vs + ch] = r[1] - r[3];
    }
  }
}

void nn_f32c_wino_out__scalar(size_t c, const float *m, size_t ms, const float *bias,
                              const float *const *z, float lo, float hi, float *const *y) {
  for (size_t ch = 0; ch < c; ch++) {
    float s[8];
    for (int j = 0; j < 4; j++) { /* A^T M */
      s[j] = m[j * ms + ch] + m[(4 + j) * ms + ch] + m[(8 + j) * ms + ch];
      s[4 + j] = m[(4 + j) * ms + ch] - m[(8 + j) * ms + ch] - m[(12 + j) * ms + ch];
    }
    for (int r = 0; r < 2; r++) { /* (A^T M) A */
      const float *q = s + 4 * r;
      float o[2] = {q[0] + q[1] + q[2], q[1] - q[2] - q[3]};
      for (int k = 0; k < 2; k++) {
        float *yp = y[2 * r + k];
        if (!yp) continue;
        float a = o[k] + bias[ch];
        if (z) a += z[2 * r + k][ch];
        yp[ch] = clampf(a, lo, hi);
      }
    }
  }
}

int nn_f32c_wino_fits(long kh, long kw, long sy, long sx, long dy, long dx, long pt, long pl,
                      long c, long m) {
  const char *e = getenv("NNOPT_WINOGRAD");
  if (e && !strcmp(e, "0")) return 0;
  return kh == 3 && kw == 3 && sy == 1 && sx == 1 && dy == 1 && dx == 1 && pt >= 0 && pt <= 2 &&
         pl >= 0 && pl <= 2 && c >= 8 && m >= 8;
}

size_t nn_f32c_wino_w_size(size_t m, size_t kc) {
  return NN_F32C_WINO_XI * nn_f32c_pack_w_size(m, 1, kc);
}

void nn_f32c_wino_pack_w(size_t m, size_t kc, const float *w, float *out) {
  const size_t usz = nn_f32c_pack_w_size(m, 1, kc);
  memset(out, 0, nn_f32c_wino_w_size(m, kc) * sizeof *out);
  for (size_t j = 0; j < m; j++)
    for (size_t c = 0; c < kc; c++) {
      const float *g = w + (j * kc + c) * 9;
      double t[4][3], u[4][4];
      for (int k = 0; k < 3; k++) { /* G g */
        t[0][k] = g[k];
        t[1][k] = 0.5 * ((double)g[k] + g[3 + k] + g[6 + k]);
        t[2][k] = 0.5 * ((double)g[k] - g[3 + k] + g[6 + k]);
        t[3][k] = g[6 + k];
      }
      for (int r = 0; r < 4; r++) { /* (G g) G^T */
        u[r][0] = t[r][0];
        u[r][1] = 0.5 * (t[r][0] + t[r][1] + t[r][2]);
        u[r][2] = 0.5 * (t[r][0] - t[r][1] + t[r][2]);
        u[r][3] = t[r][2];
      }
      for (int xi = 0; xi < NN_F32C_WINO_XI; xi++)
        out[xi * usz + j / NN_F32C_NR * kc * NN_F32C_NR + c * NN_F32C_NR + j % NN_F32C_NR] =
            (float)u[xi / 4][xi % 4];
    }
}

size_t nn_f32c_wino_tiles(const nn_f32c_wino *p) {
  return p->n * ((p->oh + 1) / 2) * ((p->ow + 1) / 2);
}

size_t nn_f32c_wino_ws_size(const nn_f32c_wino *p, size_t j0, size_t j1) {
  return NN_F32C_WINO_XI * p->tb * (p->c + (j1 - j0));
}

void nn_f32c_wino_block(const nn_f32c_wino *p, const float *x, const float *z, float *y,
                        size_t t0, size_t nt, size_t j0, size_t j1, float *ws) {
  const size_t c = p->c, mw = j1 - j0, th = (p->oh + 1) / 2, tw = (p->ow + 1) / 2;
  const size_t vs = p->tb * c, ms = p->tb * mw, usz = nn_f32c_pack_w_size(p->m, 1, c);
  float *v = ws, *mm = ws + NN_F32C_WINO_XI * vs;
  for (size_t i = 0; i < nt; i++) { /* input transforms */
    const size_t t = t0 + i, tx = t % tw, ty = t / tw % th, img = t / (tw * th);
    const float *xn = x + img * p->h * p->w * c, *pp[16];
    for (size_t r = 0; r < 4; r++) {
      const size_t iy = 2 * ty + r - p->pt; /* wraps below 0: then >= h */
      for (size_t q = 0; q < 4; q++) {
        const size_t ix = 2 * tx + q - p->pl;
        pp[4 * r + q] = 2 * ty + r >= p->pt && iy < p->h && 2 * tx + q >= p->pl && ix < p->w
                            ? xn + (iy * p->w + ix) * c
                            : p->zero;
      }
    }
    p->in(c, pp, v + i * c, vs);
  }
  for (size_t xi = 0; xi < NN_F32C_WINO_XI; xi++) { /* the 16 products */
    const float *vx = v + xi * vs;
    float *mx = mm + xi * ms;
    for (size_t j = j0; j < j1; j += NN_F32C_NR) {
      const size_t nc = j1 - j < NN_F32C_NR ? j1 - j : NN_F32C_NR;
      const float *u = p->u + xi * usz + j / NN_F32C_NR * c * NN_F32C_NR;
      for (size_t r = 0; r < nt; r += NN_F32C_MR) {
        const size_t mr = nt - r < NN_F32C_MR ? nt - r : NN_F32C_MR;
        const void *ind[NN_F32C_MR];
        size_t step = c;
        ind[0] = vx + r * c;
        if (mr < NN_F32C_MR) { /* rows past the block repeat its first */
          step = 0;
          for (size_t q = 0; q < NN_F32C_MR; q++) ind[q] = vx + (r + (q < mr ? q : 0)) * c;
        }
        p->gemm(mr, nc, 1, c, ind, step, u, p->zero, NULL, -INFINITY, INFINITY,
                mx + r * mw + (j - j0), mw);
      }
    }
  }
  for (size_t i = 0; i < nt; i++) { /* output transforms */
    const size_t t = t0 + i, tx = t % tw, ty = t / tw % th, img = t / (tw * th);
    float *yp[4];
    const float *zp[4];
    for (size_t k = 0; k < 4; k++) {
      const size_t oy = 2 * ty + k / 2, ox = 2 * tx + k % 2;
      const size_t off = ((img * p->oh + oy) * p->ow + ox) * p->m + j0;
      const int in = oy < p->oh && ox < p->ow;
      yp[k] = in ? y + off : NULL;
      zp[k] = in && z ? z + off : NULL;
    }
    p->out(mw, mm + i * mw, ms, p->bias + j0, z ? zp : NULL, p->lo, p->hi, yp);
  }
}

nn_f32c_conv_fn nn_f32c_conv_for(const nn_kernels *k) {
#if defined(__x86_64__)
  if (k->isa >= NN_ISA_AVX512 && k->isa <= NN_ISA_AVX512VNNI) return nn_f32c_conv_8x32__avx512;
  if (k->isa == NN_ISA_AVX2) return nn_f32c_conv_8x32__avx2;
#elif defined(__aarch64__)
  if (k->isa >= NN_ISA_NEON) return nn_f32c_conv_8x32__neon;
#else
  (void)k;
#endif
  return NULL;
}

nn_f32c_dw_fn nn_f32c_dw_for(const nn_kernels *k) {
#if defined(__x86_64__)
  if (k->isa >= NN_ISA_AVX512 && k->isa <= NN_ISA_AVX512VNNI) return nn_f32c_dw__avx512;
  if (k->isa == NN_ISA_AVX2) return nn_f32c_dw__avx2;
#elif defined(__aarch64__)
  if (k->isa >= NN_ISA_NEON) return nn_f32c_dw__neon;
#else
  (void)k;
#endif
  return NULL;
}

nn_f32c_wino_in_fn nn_f32c_wino_in_for(const nn_kernels *k) {
#if defined(__x86_64__)
  if (k->isa >= NN_ISA_AVX512 && k->isa <= NN_ISA_AVX512VNNI) return nn_f32c_wino_in__avx512;
  if (k->isa == NN_ISA_AVX2) return nn_f32c_wino_in__avx2;
#elif defined(__aarch64__)
  if (k->isa >= NN_ISA_NEON) return nn_f32c_wino_in__neon;
#else
  (void)k;
#endif
  return nn_f32c_wino_in__scalar;
}

nn_f32c_wino_out_fn nn_f32c_wino_out_for(const nn_kernels *k) {
#if defined(__x86_64__)
  if (k->isa >= NN_ISA_AVX512 && k->isa <= NN_ISA_AVX512VNNI) return nn_f32c_wino_out__avx512;
  if (k->isa == NN_ISA_AVX2) return nn_f32c_wino_out__avx2;
#elif defined(__aarch64__)
  if (k->isa >= NN_ISA_NEON) return nn_f32c_wino_out__neon;
#else
  (void)k;
#endif
  return nn_f32c_wino_out__scalar;
}
