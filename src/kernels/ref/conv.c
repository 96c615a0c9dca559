/*
 * conv.c - reference Conv and ConvTranspose. Conv takes one of three paths that
 * add the same products in the same order (so results match bit for bit, padding
 * taps contributing +0): pointwise (1x1, stride 1, no pad) as a direct GEMM,
 * im2col + GEMM in column chunks when there are several output channels per group
 * and scratch is given, and direct loops otherwise (depthwise convolutions).
 */
#include "kernels/ref/conv.h"

#include "kernels/ref/gemm.h"

/* im2col budget: chunks of output columns are sized so the column buffer stays
 * near this many elements. */
enum { CONV_COL_BUDGET = 1 << 21, CONV_MIN_COLS = 256 };

static int64_t floor_div(int64_t a, int64_t b) { /* b > 0 */
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* Range [lo, hi) of output positions o with 0 <= o*s + off < in, clipped to
 * [0, out). Used both for Conv (o = output, in = input) and ConvTranspose. */
static void valid_range(int64_t off, int64_t s, int64_t in, int64_t out, int64_t *lo,
                        int64_t *hi) {
  int64_t a = -floor_div(off, s);             /* ceil(-off / s) */
  int64_t b = floor_div(in - 1 - off, s) + 1; /* floor((in - 1 - off) / s) + 1 */
  if (a < 0) a = 0;
  if (b > out) b = out;
  if (b < a) b = a;
  *lo = a;
  *hi = b;
}

static int64_t kernel_size(const nn_conv_params *p) {
  return p->kernel[0] * p->kernel[1] * p->kernel[2];
}

static int is_pointwise(const nn_conv_params *p) {
  for (int d = 0; d < NN_CONV_SP; d++)
    if (p->kernel[d] != 1 || p->stride[d] != 1 || p->pad_begin[d] != 0 ||
        p->in[d] != p->out[d])
      return 0;
  return 1;
}

size_t nn_conv_scratch_elems(const nn_conv_params *p) {
  const int64_t mg = p->out_ch / p->group, cg = p->in_ch / p->group;
  if (mg < 2 || is_pointwise(p)) return 0;
  const int64_t k = cg * kernel_size(p);
  const int64_t s = p->out[0] * p->out[1] * p->out[2];
  if (k <= 0 || s <= 0) return 0;
  int64_t cols = CONV_COL_BUDGET / k;
  if (cols < CONV_MIN_COLS) cols = CONV_MIN_COLS;
  if (cols > s) cols = s;
  return (size_t)(k * cols);
}

#define NN_CONV_REF(T, conv, convt, gemm)                                               \
  /* Fill rows (c, kd, kh, kw) x columns [s0, s0 + cols) of the column matrix. */      \
  static void conv##_im2col(const nn_conv_params *p, const T *x, int64_t cg, int64_t s0, \
                            int64_t cols, T *col) {                                     \
    const int64_t kD = p->kernel[0], kH = p->kernel[1], kW = p->kernel[2];              \
    const int64_t oH = p->out[1], oW = p->out[2];                                       \
    const int64_t iD = p->in[0], iH = p->in[1], iW = p->in[2];                          \
    const int64_t rows = cg * kD * kH * kW;                                             \
    for (int64_t r = 0; r < rows; r++) {                                                \
      const int64_t kw = r % kW, kh = (r / kW) % kH, kd = (r / (kW * kH)) % kD;         \
      const int64_t c = r / (kW * kH * kD);                                             \
      const T *xc = x + c * iD * iH * iW;                                               \
      T *dst = col + r * cols;                                                          \
      int64_t ow = s0 % oW, oh = (s0 / oW) % oH, od = s0 / (oW * oH);                   \
      for (int64_t j = 0; j < cols;) {                                                  \
        int64_t run = oW - ow < cols - j ? oW - ow : cols - j;                          \
        const int64_t id = od * p->stride[0] - p->pad_begin[0] + kd * p->dilation[0];   \
        const int64_t ih = oh * p->stride[1] - p->pad_begin[1] + kh * p->dilation[1];   \
        if (id < 0 || id >= iD || ih < 0 || ih >= iH) {                                 \
          for (int64_t q = 0; q < run; q++) dst[j + q] = (T)0;                          \
        } else {                                                                        \
          const T *src = xc + (id * iH + ih) * iW;                                      \
          const int64_t off = kw * p->dilation[2] - p->pad_begin[2];                    \
          for (int64_t q = 0; q < run; q++) {                                           \
            const int64_t iw = (ow + q) * p->stride[2] + off;                           \
            dst[j + q] = (iw >= 0 && iw < iW) ? src[iw] : (T)0;                         \
          }                                                                             \
        }                                                                               \
        j += run;                                                                       \
        ow = 0;                                                                         \
        if (++oh == oH) {                                                               \
          oh = 0;                                                                       \
          od++;                                                                         \
        }                                                                               \
      }                                                                                 \
    }                                                                                   \
  }                                                                                     \
                                                                                        \
  /* One output plane of channel m from the cg input planes of its group. */            \
  static void conv##_direct_plane(const nn_conv_params *p, const T *x, const T *w,      \
                                  int64_t cg, T *y) {                                   \
    const int64_t kD = p->kernel[0], kH = p->kernel[1], kW = p->kernel[2];              \
    const int64_t oD = p->out[0], oH = p->out[1], oW = p->out[2];                       \
    const int64_t iD = p->in[0], iH = p->in[1], iW = p->in[2];                          \
    for (int64_t c = 0; c < cg; c++) {                                                  \
      const T *xc = x + c * iD * iH * iW;                                               \
      for (int64_t kd = 0; kd < kD; kd++)                                               \
        for (int64_t kh = 0; kh < kH; kh++)                                             \
          for (int64_t kw = 0; kw < kW; kw++) {                                         \
            const T wv = w[((c * kD + kd) * kH + kh) * kW + kw];                        \
            const int64_t offd = kd * p->dilation[0] - p->pad_begin[0];                 \
            const int64_t offh = kh * p->dilation[1] - p->pad_begin[1];                 \
            const int64_t offw = kw * p->dilation[2] - p->pad_begin[2];                 \
            int64_t d0, d1, h0, h1, w0, w1;                                             \
            valid_range(offd, p->stride[0], iD, oD, &d0, &d1);                          \
            valid_range(offh, p->stride[1], iH, oH, &h0, &h1);                          \
            valid_range(offw, p->stride[2], iW, oW, &w0, &w1);                          \
            const int64_t sw = p->stride[2];                                            \
            for (int64_t od = d0; od < d1; od++)                                        \
              for (int64_t oh = h0; oh < h1; oh++) {                                    \
                const T *src = xc + ((od * p->stride[0] + offd) * iH +                  \
                                     oh * p->stride[1] + offh) * iW;                    \
                T *dst = y + (od * oH + oh) * oW;                                       \
                if (sw == 1)                                                            \
                  for (int64_t ow = w0; ow < w1; ow++) dst[ow] += wv * src[ow + offw];  \
                else                                                                    \
                  for (int64_t ow = w0; ow < w1; ow++)                                  \
                    dst[ow] += wv * src[ow * sw + offw];                                \
              }                                                                         \
          }                                                                             \
    }                                                                                   \
  }                                                                                     \
                                                                                        \
  void conv(const nn_conv_params *p, const T *x, const T *w, const T *b, T *y,          \
            T *scratch, size_t scratch_elems) {                                         \
    const int64_t G = p->group, cg = p->in_ch / G, mg = p->out_ch / G;                  \
    const int64_t ksz = kernel_size(p), kk = cg * ksz;                                  \
    const int64_t in_sz = p->in[0] * p->in[1] * p->in[2];                               \
    const int64_t out_sz = p->out[0] * p->out[1] * p->out[2];                           \
    const int pointwise = is_pointwise(p);                                              \
    int64_t cols = 0;                                                                   \
    if (!pointwise && mg >= 2 && scratch && kk > 0) {                                   \
      cols = (int64_t)(scratch_elems / (size_t)kk);                                     \
      if (cols > out_sz) cols = out_sz;                                                 \
    }                                                                                   \
    for (int64_t n = 0; n < p->batch; n++) {                                            \
      const T *xn = x + n * p->in_ch * in_sz;                                           \
      T *yn = y + n * p->out_ch * out_sz;                                               \
      for (int64_t m = 0; m < p->out_ch; m++) {                                         \
        const T bv = b ? b[m] : (T)0;                                                   \
        T *ym = yn + m * out_sz;                                                        \
        for (int64_t s = 0; s < out_sz; s++) ym[s] = bv;                                \
      }                                                                                 \
      for (int64_t g = 0; g < G; g++) {                                                 \
        const T *xg = xn + g * cg * in_sz, *wg = w + g * mg * kk;                       \
        T *yg = yn + g * mg * out_sz;                                                   \
        if (pointwise) {                                                                \
          gemm(mg, out_sz, cg, wg, kk, 0, xg, in_sz, 0, yg, out_sz, (T)1, (T)1);        \
        } else if (cols > 0) {                                                          \
          for (int64_t s0 = 0; s0 < out_sz; s0 += cols) {                               \
            const int64_t nc = out_sz - s0 < cols ? out_sz - s0 : cols;                 \
            conv##_im2col(p, xg, cg, s0, nc, scratch);                                  \
            gemm(mg, nc, kk, wg, kk, 0, scratch, nc, 0, yg + s0, out_sz, (T)1, (T)1);   \
          }                                                                             \
        } else {                                                                        \
          for (int64_t m = 0; m < mg; m++)                                              \
            conv##_direct_plane(p, xg, wg + m * kk, cg, yg + m * out_sz);               \
        }                                                                               \
      }                                                                                 \
    }                                                                                   \
  }                                                                                     \
                                                                                        \
  void convt(const nn_conv_params *p, const T *x, const T *w, const T *b, T *y) {       \
    const int64_t G = p->group, cg = p->in_ch / G, mg = p->out_ch / G;                  \
    const int64_t kD = p->kernel[0], kH = p->kernel[1], kW = p->kernel[2];              \
    const int64_t iD = p->in[0], iH = p->in[1], iW = p->in[2];                          \
    const int64_t oD = p->out[0], oH = p->out[1], oW = p->out[2];                       \
    const int64_t in_sz = iD * iH * iW, out_sz = oD * oH * oW, ksz = kD * kH * kW;      \
    for (int64_t n = 0; n < p->batch; n++) {                                            \
      const T *xn = x + n * p->in_ch * in_sz;                                           \
      T *yn = y + n * p->out_ch * out_sz;                                               \
      for (int64_t m = 0; m < p->out_ch; m++) {                                         \
        const T bv = b ? b[m] : (T)0;                                                   \
        for (int64_t s = 0; s < out_sz; s++) yn[m * out_sz + s] = bv;                   \
      }                                                                                 \
      for (int64_t g = 0; g < G; g++)                                                   \
        for (int64_t mm = 0; mm < mg; mm++) {                                           \
          T *ym = yn + (g * mg + mm) * out_sz;                                          \
          for (int64_t c = 0; c < cg; c++) {                                            \
            const int64_t ci = g * cg + c;                                              \
            const T *xc = xn + ci * in_sz, *wc = w + (ci * mg + mm) * ksz;              \
            for (int64_t kd = 0; kd < kD; kd++)                                         \
              for (int64_t kh = 0; kh < kH; kh++)                                       \
                for (int64_t kw = 0; kw < kW; kw++) {                                   \
                  const T wv = wc[(kd * kH + kh) * kW + kw];                            \
                  const int64_t offd = kd * p->dilation[0] - p->pad_begin[0];           \
                  const int64_t offh = kh * p->dilation[1] - p->pad_begin[1];           \
                  const int64_t offw = kw * p->dilation[2] - p->pad_begin[2];           \
                  int64_t d0, d1, h0, h1, w0, w1;                                       \
                  valid_range(offd, p->stride[0], oD, iD, &d0, &d1);                    \
                  valid_range(offh, p->stride[1], oH, iH, &h0, &h1);                    \
                  valid_range(offw, p->stride[2], oW, iW, &w0, &w1);                    \
                  const int64_t sw = p->stride[2];                                      \
                  for (int64_t id = d0; id < d1; id++)                                  \
                    for (int64_t ih = h0; ih < h1; ih++) {                              \
                      const T *src = xc + (id * iH + ih) * iW;                          \
                      T *dst = ym + ((id * p->stride[0] + offd) * oH +                  \
                                     ih * p->stride[1] + offh) * oW;                    \
                      for (int64_t iw = w0; iw < w1; iw++)                              \
                        dst[iw * sw + offw] += src[iw] * wv;                            \
                    }                                                                   \
                }                                                                       \
          }                                                                             \
        }                                                                               \
    }                                                                                   \
  }

NN_CONV_REF(float, nn_f32_conv__ref, nn_f32_conv_transpose__ref, nn_f32_gemm__ref)
NN_CONV_REF(double, nn_f64_conv__ref, nn_f64_conv_transpose__ref, nn_f64_gemm__ref)
