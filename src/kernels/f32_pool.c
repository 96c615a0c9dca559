/*
 * f32_pool.c - see f32_pool.h. Plain C written so the compiler vectorizes the row
 * pass; the result equals the reference (max is exact), including windows that
 * hold no input tap (-inf). A NaN survives a pass only as that pass's first tap (the
 * first row, then the first column), so with NaN it can differ from the reference.
 */
#include "kernels/f32_pool.h"

#include <math.h>

void nn_f32_maxpool2d(const nn_pool_params *p, const float *x, float *y, size_t plane0,
                      size_t n) {
  const int64_t iH = p->in[1], iW = p->in[2], oH = p->out[1], oW = p->out[2];
  const int64_t kH = p->kernel[1], kW = p->kernel[2], sH = p->stride[1], sW = p->stride[2];
  const int64_t dH = p->dilation[1], dW = p->dilation[2];
  const int64_t pH = p->pad_begin[1], pW = p->pad_begin[2];
  float row[NN_F32_MAXPOOL_MAX_W];
  for (size_t pl = plane0; pl < plane0 + n; pl++) {
    const float *xp = x + (int64_t)pl * iH * iW;
    float *yp = y + (int64_t)pl * oH * oW;
    for (int64_t oh = 0; oh < oH; oh++) {
      /* rows of the window inside x */
      const int64_t h0 = oh * sH - pH;
      int64_t t0 = 0, t1 = kH;
      while (t0 < kH && h0 + t0 * dH < 0) t0++;
      while (t1 > t0 && h0 + (t1 - 1) * dH >= iH) t1--;
      float *yr = yp + oh * oW;
      if (t0 >= t1) {
        for (int64_t ow = 0; ow < oW; ow++) yr[ow] = -INFINITY;
        continue;
      }
      const float *r0 = xp + (h0 + t0 * dH) * iW;
      for (int64_t w = 0; w < iW; w++) row[w] = r0[w];
      for (int64_t t = t0 + 1; t < t1; t++) {
        const float *r = xp + (h0 + t * dH) * iW;
        for (int64_t w = 0; w < iW; w++) row[w] = r[w] > row[w] ? r[w] : row[w];
      }
      /* outputs [oa, ob) have every column tap inside the row: no bounds checks */
      int64_t oa = (pW + sW - 1) / sW, ob = iW + pW - (kW - 1) * dW - 1;
      ob = ob < 0 ? 0 : ob / sW + 1;
      if (oa > oW) oa = oW;
      if (ob > oW) ob = oW;
      if (ob < oa) ob = oa;
      for (int64_t ow = 0; ow < oW; ow++) {
        if (ow == oa) {
          for (; ow < ob; ow++) {
            const float *r = row + ow * sW - pW;
            float best = r[0];
            for (int64_t c = 1; c < kW; c++) best = r[c * dW] > best ? r[c * dW] : best;
            yr[ow] = best;
          }
          if (ow >= oW) break;
        }
        const int64_t w0 = ow * sW - pW;
        float best = -INFINITY;
        int first = 1;
        for (int64_t c = 0; c < kW; c++) {
          const int64_t iw = w0 + c * dW;
          if (iw < 0 || iw >= iW) continue;
          if (first || row[iw] > best) best = row[iw];
          first = 0;
        }
        yr[ow] = best;
      }
    }
  }
}

void nn_f32_global_avgpool(int64_t planes, int64_t n, const float *x, float *y) {
  for (int64_t pl = 0; pl < planes; pl++, x += n) {
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (int l = 0; l < 8; l++) s[l] += (double)x[i + l];
    for (int l = 0; i < n; i++, l++) s[l] += (double)x[i];
    const double acc = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    y[pl] = n ? (float)(acc / (double)n) : 0.0f;
  }
}
