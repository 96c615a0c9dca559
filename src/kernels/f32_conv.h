/*
 * f32_conv.h - fast float32 convolution over NC[D]HW tensors on the packed GEMM
 * (f32_gemm.h) and the depthwise 3x3 kernels of the dispatch table:
 *   pointwise (1x1, stride 1, no pad):  Y[m, s] = W[m, c] X[c, s], X read as the GEMM's B;
 *   depthwise 3x3, stride 1 or 2:       direct kernels (nn_kernels.f32_dwconv3x3);
 *   anything else:                      GEMM with the input packed from the image by
 *                                       nn_f32_conv_pack_b (implicit im2col).
 * Weights are packed once (nn_f32_conv_plan_create, at the op's prepare); a run does
 * not allocate: it uses a workspace of nn_f32_conv_plan_workspace() bytes.
 * Reference twin: nn_f32_conv__ref (kernels/ref/conv.h); results agree within the
 * GEMM tolerance of f32_gemm.h.
 */
#ifndef NN_KERNELS_F32_CONV_H
#define NN_KERNELS_F32_CONV_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/dispatch.h"
#include "kernels/ref/conv.h"

struct nn_threadpool;

/* Context of nn_f32_conv_pack_b: one image of one group. */
typedef struct nn_f32_conv_pack_ctx {
  const nn_conv_params *p;
  const float *x; /* first input channel of the group, image n */
} nn_f32_conv_pack_ctx;
/* B-operand packer (nn_f32_gemm_operand.pack): rows k = (c, kd, kh, kw) in [k0, k0+kc),
 * columns = output positions [j0, j0+nj), zero where a tap falls in the padding. */
void nn_f32_conv_pack_b(const void *ctx, size_t j0, size_t nj, size_t k0, size_t kc,
                        size_t nr, float *dst);
/* Context of nn_f32_conv_pack_b_shifted: one image of one group of a 2-D convolution
 * whose input was copied into a zero-padded grid xp: for stride s > 1 one plane per
 * stride phase (py, px), plane (py, px) holding padded rows py, py+s, ... and columns
 * px, px+s, ..., so every tap reads a stride-1 window of one plane. Output positions
 * are taken on the grid's width wp (the wp - out_w columns past each row's end are
 * computed and dropped), so row k = (c, kh, kw) of the GEMM's B is the contiguous
 * slice xp + koff[k]: packing is a plain copy (or none: the direct microkernel reads
 * it in place). */
typedef struct nn_f32_conv_shift_ctx {
  const float *xp;
  const int32_t *koff;
} nn_f32_conv_shift_ctx;
void nn_f32_conv_pack_b_shifted(const void *ctx, size_t j0, size_t nj, size_t k0, size_t kc,
                                size_t nr, float *dst);
void nn_f32_conv_pack_b_shifted__avx512(const void *ctx, size_t j0, size_t nj, size_t k0,
                                        size_t kc, size_t nr, float *dst);

/* dst[i] = src[2 * i] for i < n (reads src[0 .. 2n - 2] only): the stride-2 phase rows
 * of the grid (f32_copy_stride2 of the table; plain C when NULL). */
void nn_f32_copy_stride2__avx512(const float *src, size_t n, float *dst);

/* The same with AVX-512 for 2-D convolutions of width stride 1 or 2 (others fall back). */
void nn_f32_conv_pack_b__avx512(const void *ctx, size_t j0, size_t nj, size_t k0, size_t kc,
                                size_t nr, float *dst);

/* Depthwise 3x3 on one plane: y[oy][ox] = bias + sum_{kh,kw} w[kh*3+kw] *
 * x[oy*s - pad_top + kh][ox*s - pad_left + kw] (zero outside x), then clamped to
 * [minmax[0], minmax[1]] when minmax is not NULL. y is oh x ow, x is ih x iw. */
void nn_f32_dwconv3x3s1__avx2(size_t ih, size_t iw, size_t oh, size_t ow, size_t pad_top,
                              size_t pad_left, const float *x, const float *w, float bias,
                              float *y, const float *minmax);
void nn_f32_dwconv3x3s2__avx2(size_t ih, size_t iw, size_t oh, size_t ow, size_t pad_top,
                              size_t pad_left, const float *x, const float *w, float bias,
                              float *y, const float *minmax);
void nn_f32_dwconv3x3s1__avx512(size_t ih, size_t iw, size_t oh, size_t ow, size_t pad_top,
                                size_t pad_left, const float *x, const float *w, float bias,
                                float *y, const float *minmax);
void nn_f32_dwconv3x3s2__avx512(size_t ih, size_t iw, size_t oh, size_t ow, size_t pad_top,
                                size_t pad_left, const float *x, const float *w, float bias,
                                float *y, const float *minmax);
void nn_f32_dwconv3x3s1__neon(size_t ih, size_t iw, size_t oh, size_t ow, size_t pad_top,
                              size_t pad_left, const float *x, const float *w, float bias,
                              float *y, const float *minmax);
void nn_f32_dwconv3x3s2__neon(size_t ih, size_t iw, size_t oh, size_t ow, size_t pad_top,
                              size_t pad_left, const float *x, const float *w, float bias,
                              float *y, const float *minmax);

/*
 * Depthwise 3x3 on nc <= 16 planes at once, channels in vector lanes (for planes narrower
 * than a vector): x holds nc input planes of ih x iw, w nc x 9 weights, bias nc values
 * (or NULL), z nc planes of oh x ow added after the bias (or NULL), then the clamp to
 * minmax (when not NULL), into nc planes y. scratch: nn_f32_dwconv3x3c16_scratch() floats
 * (any alignment; 64 bytes is faster). Same results as nn_f32_conv__ref up to FMA rounding.
 */
typedef struct nn_f32_dwconv3x3c16_args {
  size_t ih, iw, oh, ow, stride, pad_top, pad_left;
  const float *minmax;
} nn_f32_dwconv3x3c16_args;
size_t nn_f32_dwconv3x3c16_scratch(size_t ih, size_t iw, size_t oh, size_t ow, size_t stride);
void nn_f32_dwconv3x3c16__avx512(const nn_f32_dwconv3x3c16_args *a, const float *x,
                                 const float *w, const float *bias, const float *z, float *y,
                                 size_t nc, float *scratch);

/* One output of the depthwise 3x3 plane (borders of the SIMD kernels). */
static inline float nn_f32_dwconv3x3_point(size_t ih, size_t iw, size_t stride,
                                           size_t pad_top, size_t pad_left, const float *x,
                                           const float *w, float bias, size_t oy,
                                           size_t ox) {
  float acc = bias;
  for (int kh = 0; kh < 3; kh++) {
    const long long iy = (long long)(oy * stride) - (long long)pad_top + kh;
    if (iy < 0 || iy >= (long long)ih) continue;
    for (int kw = 0; kw < 3; kw++) {
      const long long ix = (long long)(ox * stride) - (long long)pad_left + kw;
      if (ix < 0 || ix >= (long long)iw) continue;
      acc += w[kh * 3 + kw] * x[iy * (long long)iw + ix];
    }
  }
  return acc;
}

/* A convolution prepared for the fast path: weights packed, path chosen. */
typedef struct nn_f32_conv_plan nn_f32_conv_plan;

/*
 * Prepare p with weights w (M x C/G x kernel) and bias b (M values or NULL); minmax
 * (NULL: none) clamps the outputs (a fused Relu/Clip). Returns NULL when the table
 * has no fast kernel for this convolution (the caller keeps the reference path) or
 * memory runs out. The plan copies what it needs from p, w and b.
 */
nn_f32_conv_plan *nn_f32_conv_plan_create(const nn_kernels *k, const nn_conv_params *p,
                                          const float *w, const float *b,
                                          const float *minmax);
void nn_f32_conv_plan_free(nn_f32_conv_plan *pl);
/* Workspace bytes for a run with `threads` threads. */
size_t nn_f32_conv_plan_workspace(const nn_f32_conv_plan *pl, int threads);
/* y = conv(x): x is N x C x in, y is N x M x out (as nn_f32_conv__ref). */
void nn_f32_conv_plan_run(const nn_f32_conv_plan *pl, const float *x, float *y, void *ws,
                          size_t ws_bytes, struct nn_threadpool *pool);
/* y = clamp(conv(x) + z) (com.microsoft FusedConv's input Z: a residual Add fused into
 * the epilogue; the plan's minmax clamps after the sum), z shaped as y or NULL and not
 * overlapping y. Not for ConvTranspose plans. */
void nn_f32_conv_plan_run_sum(const nn_f32_conv_plan *pl, const float *x, const float *z,
                              float *y, void *ws, size_t ws_bytes,
                              struct nn_threadpool *pool);

/*
 * ConvTranspose (reference twin nn_f32_conv_transpose__ref, p as there: in/out are the
 * ConvTranspose input/output sizes, w is C x M/G x kernel). Per image and group one
 * GEMM forms the columns W^T X ((M/G * kernel) x in, in the workspace), and col2im adds
 * them into y, which starts at the bias. Same plan functions otherwise.
 */
nn_f32_conv_plan *nn_f32_convt_plan_create(const nn_kernels *k, const nn_conv_params *p,
                                           const float *w, const float *b);

#endif
