/*
 * q8c_conv.c - weight packing, the scalar twins and the selectors of the channel-last
 * 8-bit convolution kernels (contracts in q8c_conv.h).
 */
#include "kernels/q8c_conv.h"

#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/ref/requant.h"

size_t nn_q8c_pack_w_size(size_t m, size_t ntaps, size_t kc) {
  const size_t panels = (m + NN_Q8C_NR - 1) / NN_Q8C_NR;
  return panels * ntaps * ((kc + 3) / 4) * NN_Q8C_NR * 4;
}

void nn_q8c_pack_w(size_t m, size_t ntaps, size_t kc, size_t wc, const int8_t *w, int8_t *out) {
  const size_t kq = (kc + 3) / 4, panel = ntaps * kq * NN_Q8C_NR * 4;
  memset(out, 0, nn_q8c_pack_w_size(m, ntaps, kc));
  for (size_t j = 0; j < m; j++) {
    int8_t *o = out + j / NN_Q8C_NR * panel + (j % NN_Q8C_NR) * 4;
    for (size_t t = 0; t < ntaps; t++)
      for (size_t c = 0; c < wc; c++)
        o[(t * kq + c / 4) * NN_Q8C_NR * 4 + c % 4] = w[(j * wc + c) * ntaps + t];
  }
}

void nn_q8c_conv_8x32__scalar(size_t mr, size_t nc, size_t ntaps, size_t kc,
                              const void *const *ind, size_t step, const int8_t *w,
                              const int32_t *bias,
                              const float *scale, const nn_q8c_params *p, uint8_t *y,
                              size_t ldy) {
  const size_t kq = (kc + 3) / 4;
  for (size_t r = 0; r < mr; r++)
    for (size_t j = 0; j < nc; j++) {
      uint32_t acc = (uint32_t)bias[j]; /* int32 wrapping, as the vector kernel */
      for (size_t t = 0; t < ntaps; t++) {
        const uint8_t *x = step ? (const uint8_t *)ind[t] + r * step
                                : (const uint8_t *)ind[t * NN_Q8C_MR + r];
        const int8_t *wt = w + t * kq * NN_Q8C_NR * 4 + j * 4;
        for (size_t c = 0; c < kc; c++)
          acc += (uint32_t)((int32_t)x[c] * (int32_t)wt[c / 4 * NN_Q8C_NR * 4 + c % 4]);
      }
      y[r * ldy + j] =
          (uint8_t)nn_requantize_one((int32_t)acc, scale[j], p->out_zp, p->qmin, p->qmax);
    }
}

size_t nn_q8c_pack_dw_size(size_t c, size_t ntaps) {
  return (c + NN_Q8C_DW_CB - 1) / NN_Q8C_DW_CB * ntaps * 4 * NN_Q8C_DW_CB;
}

size_t nn_q8c_dw_terms(size_t c) {
  return (c + NN_Q8C_DW_CB - 1) / NN_Q8C_DW_CB * NN_Q8C_DW_CB;
}


void nn_q8c_pack_dw(size_t c, size_t ntaps, const int8_t *w, const int32_t *bias,
                    const float *scale, int8_t *wout, int32_t *bout, float *sout) {
  memset(wout, 0, nn_q8c_pack_dw_size(c, ntaps));
  const size_t nt = nn_q8c_dw_terms(c);
  for (size_t i = 0; i < nt; i++) {
    bout[i] = 0;
    sout[i] = 0.0f;
  }
  for (size_t ch = 0; ch < c; ch++) {
    for (size_t t = 0; t < ntaps; t++) wout[nn_q8c_dw_w_index(ch, t, ntaps)] = w[ch * ntaps + t];
    bout[nn_q8c_dw_term_index(ch)] = bias[ch];
    sout[nn_q8c_dw_term_index(ch)] = scale[ch];
  }
}

void nn_q8c_dw__scalar(size_t npix, size_t c, size_t ntaps, const void *const *ind,
                       size_t step, const int8_t *w, const int32_t *bias, const float *scale,
                       const nn_q8c_params *p, uint8_t *y, size_t ldy) {
  for (size_t i = 0; i < npix; i++)
    for (size_t ch = 0; ch < c; ch++) {
      uint32_t acc = (uint32_t)bias[nn_q8c_dw_term_index(ch)];
      for (size_t t = 0; t < ntaps; t++)
        acc += (uint32_t)((int32_t)((const uint8_t *)ind[t])[i * step + ch] * (int32_t)w[nn_q8c_dw_w_index(ch, t, ntaps)]);
      y[i * ldy + ch] = (uint8_t)nn_requantize_one((int32_t)acc, scale[nn_q8c_dw_term_index(ch)],
                                                   p->out_zp, p->qmin, p->qmax);
    }
}

nn_q8c_conv_fn nn_q8c_conv_for(const nn_kernels *k) {
#if defined(__x86_64__)
  if (k->isa == NN_ISA_AVX512VNNI) return nn_q8c_conv_8x32__avx512vnni;
  if (k->isa == NN_ISA_AVX2 || k->isa == NN_ISA_AVX512) return nn_q8c_conv_8x32__avx2;
#else
  (void)k;
#endif
  return NULL;
}

nn_q8c_dw_fn nn_q8c_dw_for(const nn_kernels *k) {
#if defined(__x86_64__)
  if (k->isa == NN_ISA_AVX512VNNI) return nn_q8c_dw__avx512vnni;
  if (k->isa == NN_ISA_AVX2 || k->isa == NN_ISA_AVX512) return nn_q8c_dw__avx2;
#else
  (void)k;
#endif
  return NULL;
}
