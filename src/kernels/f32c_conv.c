/*
 * f32c_conv.c - weight packing, the scalar twins and the selectors of the channel-last
 * float32 convolution kernels (contracts in f32c_conv.h).
 */
#include "kernels/f32c_conv.h"

#include <math.h>
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

nn_f32c_conv_fn nn_f32c_conv_for(const nn_kernels *k) {
#if defined(__x86_64__)
  if (k->isa >= NN_ISA_AVX512 && k->isa <= NN_ISA_AVX512VNNI) return nn_f32c_conv_8x32__avx512;
#else
  (void)k;
#endif
  return NULL;
}

nn_f32c_dw_fn nn_f32c_dw_for(const nn_kernels *k) {
#if defined(__x86_64__)
  if (k->isa >= NN_ISA_AVX512 && k->isa <= NN_ISA_AVX512VNNI) return nn_f32c_dw__avx512;
#else
  (void)k;
#endif
  return NULL;
}
