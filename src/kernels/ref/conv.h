/*
 * conv.h - reference convolution and transposed convolution over NC[D]HW tensors.
 * 1-D and 2-D convolutions are expressed as 3-D ones with leading spatial dims of
 * size 1 (kernel 1, stride 1, dilation 1, no padding), so one kernel covers all.
 */
#ifndef NN_KERNELS_REF_CONV_H
#define NN_KERNELS_REF_CONV_H

#include <stddef.h>
#include <stdint.h>

#define NN_CONV_SP 3 /* spatial dims of the normalized problem (D, H, W) */

typedef struct nn_conv_params {
  int64_t batch;    /* N */
  int64_t in_ch;    /* C: input channels (all groups) */
  int64_t out_ch;   /* M: output channels (all groups) */
  int64_t group;    /* C and M are multiples of group */
  int64_t in[NN_CONV_SP], out[NN_CONV_SP], kernel[NN_CONV_SP];
  int64_t stride[NN_CONV_SP], dilation[NN_CONV_SP];
  int64_t pad_begin[NN_CONV_SP]; /* end pads are implied by the output size */
} nn_conv_params;

/*
 * Conv: y[n, m, o] = b[m] + sum over c in m's group, kernel taps t of
 *   w[m, c, t] * x[n, g*C/G + c, o*stride - pad_begin + t*dilation] (taps outside x are 0).
 * x is N x C x in, w is M x C/G x kernel, b has M entries or is NULL, y is N x M x out.
 * Every output starts at b[m] (or 0) and accumulates taps in order (c, kd, kh, kw),
 * whichever of the two internal paths runs, so results do not depend on scratch.
 * scratch (scratch_elems elements, may be NULL/0) lets the kernel use im2col +
 * GEMM; nn_conv_scratch_elems() says how much it can use (0: none needed).
 */
size_t nn_conv_scratch_elems(const nn_conv_params *p);
void nn_f32_conv__ref(const nn_conv_params *p, const float *x, const float *w,
                      const float *b, float *y, float *scratch, size_t scratch_elems);
void nn_f64_conv__ref(const nn_conv_params *p, const double *x, const double *w,
                      const double *b, double *y, double *scratch, size_t scratch_elems);

/*
 * ConvTranspose (the adjoint of Conv): x is N x C x in, w is C x M/G x kernel,
 * y is N x M x out, with
 *   y[n, m, i*stride - pad_begin + t*dilation] += x[n, c, i] * w[c, m', t]
 * for every input position i and tap t that lands inside y, plus b[m].
 * Here p->in/out are the ConvTranspose input/output sizes.
 */
void nn_f32_conv_transpose__ref(const nn_conv_params *p, const float *x, const float *w,
                                const float *b, float *y);
void nn_f64_conv_transpose__ref(const nn_conv_params *p, const double *x,
                                const double *w, const double *b, double *y);

#endif
