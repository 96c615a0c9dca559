/*
 * f32c_conv.h - float32 convolution on channel-last (NHWC) activations, the float twin
 * of q8c_conv.h: the input is read through an indirection buffer (one pointer per output
 * pixel and kernel tap, a buffer of zeros where the tap falls in the padding), weights
 * are packed once. Epilogue: y = clamp(acc + z, lo, hi), acc starting from the bias
 * and accumulating with FMA in tap, then channel order; z (the fused residual of
 * com.microsoft FusedConv) is optional.
 *
 * Reference twins: the __scalar functions (the same order of operations, fmaf), checked
 * against nn_f32_conv__ref within a tolerance in tests/kernels/test_f32c_conv.c.
 */
#ifndef NN_KERNELS_F32C_CONV_H
#define NN_KERNELS_F32C_CONV_H

#include <stddef.h>

/*
 * Dense tile: mr <= 8 output pixels x nc <= 32 output channels,
 *   y[r * ldy + j] = clamp(bias[j] + sum_t sum_c x(t, r)[c] * w[t][c][j]
 *                          (+ z[r * ldy + j]), lo, hi)
 * with x(t, r) = ind[8 t + r] (step 0) or ind[t] + r * step (a tile inside one output
 * row). Rows r >= mr must be readable (callers repeat a row). w: one panel of
 * nn_f32c_pack_w ([t][c][32], zero past the panel's channels); bias: 32 values.
 */
#define NN_F32C_MR 8
#define NN_F32C_NR 32
typedef void (*nn_f32c_conv_fn)(size_t mr, size_t nc, size_t ntaps, size_t kc,
                                const void *const *ind, size_t step, const float *w,
                                const float *bias, const float *z, float lo, float hi, float *y,
                                size_t ldy);
void nn_f32c_conv_8x32__scalar(size_t mr, size_t nc, size_t ntaps, size_t kc,
                               const void *const *ind, size_t step, const float *w,
                               const float *bias, const float *z, float lo, float hi, float *y,
                               size_t ldy);
void nn_f32c_conv_8x32__avx2(size_t mr, size_t nc, size_t ntaps, size_t kc,
                             const void *const *ind, size_t step, const float *w,
                             const float *bias, const float *z, float lo, float hi, float *y,
                             size_t ldy);
void nn_f32c_conv_8x32__neon(size_t mr, size_t nc, size_t ntaps, size_t kc,
                             const void *const *ind, size_t step, const float *w,
                             const float *bias, const float *z, float lo, float hi, float *y,
                             size_t ldy);
void nn_f32c_conv_8x32__avx512(size_t mr, size_t nc, size_t ntaps, size_t kc,
                               const void *const *ind, size_t step, const float *w,
                               const float *bias, const float *z, float lo, float hi, float *y,
                               size_t ldy);

/* Floats of the packed weights of m output channels, ntaps taps of kc channels. */
size_t nn_f32c_pack_w_size(size_t m, size_t ntaps, size_t kc);
/* The ONNX weight w[j][c][t] into panels of 32 output channels. */
void nn_f32c_pack_w(size_t m, size_t ntaps, size_t kc, const float *w, float *out);

/*
 * Depthwise, npix pixels of one output row whose tap pointers advance by step floats:
 *   y[i * ldy + ch] = clamp(bias[ch] + sum_t (ind[t] + i * step)[ch] * w[t * ws + ch]
 *                           (+ z[i * ldy + ch]), lo, hi)
 * for ch < c (w: a tap's weights ws >= c floats apart).
 */
typedef void (*nn_f32c_dw_fn)(size_t npix, size_t c, size_t ntaps, const void *const *ind,
                              size_t step, const float *w, size_t ws, const float *bias, const float *z,
                              float lo, float hi, float *y, size_t ldy);
void nn_f32c_dw__scalar(size_t npix, size_t c, size_t ntaps, const void *const *ind,
                        size_t step, const float *w, size_t ws, const float *bias, const float *z,
                        float lo, float hi, float *y, size_t ldy);
void nn_f32c_dw__avx2(size_t npix, size_t c, size_t ntaps, const void *const *ind, size_t step,
                      const float *w, size_t ws, const float *bias, const float *z, float lo,
                      float hi, float *y, size_t ldy);
void nn_f32c_dw__neon(size_t npix, size_t c, size_t ntaps, const void *const *ind, size_t step,
                      const float *w, size_t ws, const float *bias, const float *z, float lo,
                      float hi, float *y, size_t ldy);
void nn_f32c_dw__avx512(size_t npix, size_t c, size_t ntaps, const void *const *ind,
                        size_t step, const float *w, size_t ws, const float *bias, const float *z,
                        float lo, float hi, float *y, size_t ldy);


/*
 * Winograd F(2x2, 3x3) for 3x3 convolutions of stride 1 and dilation 1, group 1 (as
 * Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): every 2x2
 * block of output pixels (a tile) from the 4x4 input pixels around it through 16
 * element-wise products of transformed tiles, 16 multiply-adds per tile and channel pair
 * instead of 36. The products of all channels are 16 GEMMs (one per transformed position
 * xi), run by the dense tile above with one tap:
 *   V[xi][tile][c] = (B^T d B)[xi]  of the tile's input pixels d (4x4, zeros outside),
 *   U[xi][c][j]    = (G g G^T)[xi]  of the weights g = w[j][c] (3x3), packed at prepare,
 *   M[xi][tile][j] = sum_c V[xi][tile][c] U[xi][c][j],
 *   y(tile)[j]     = clamp((A^T M A)[j] + bias[j] (+ z), lo, hi)  (2x2 pixels).
 * B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
 * A^T = [1 1 1 0; 0 1 -1 -1]. Sums in another order than the direct convolution: within
 * the float tolerance of the tests (values grow at most 4x in the transforms). A NaN or
 * infinite input reaches all four outputs of every tile that reads it (the direct
 * convolution: only those whose 3x3 window holds it), as in other Winograd runtimes.
 *
 * wino_in: the tile's 16 input pixels p[4 * row + col] (c floats each; padding points at
 * zeros) into v[xi * vs + ch]. wino_out: m[xi * ms + ch] into the tile's output pixels
 * y[2 * row + col] (NULL: outside the output), z the same for the residual (z NULL: none).
 */
#define NN_F32C_WINO_XI 16
typedef void (*nn_f32c_wino_in_fn)(size_t c, const float *const *p, float *v, size_t vs);
typedef void (*nn_f32c_wino_out_fn)(size_t c, const float *m, size_t ms, const float *bias,
                                    const float *const *z, float lo, float hi, float *const *y);
void nn_f32c_wino_in__scalar(size_t c, const float *const *p, float *v, size_t vs);
void nn_f32c_wino_out__scalar(size_t c, const float *m, size_t ms, const float *bias,
                              const float *const *z, float lo, float hi, float *const *y);
void nn_f32c_wino_in__avx2(size_t c, const float *const *p, float *v, size_t vs);
void nn_f32c_wino_out__avx2(size_t c, const float *m, size_t ms, const float *bias,
                            const float *const *z, float lo, float hi, float *const *y);
void nn_f32c_wino_in__neon(size_t c, const float *const *p, float *v, size_t vs);
void nn_f32c_wino_out__neon(size_t c, const float *m, size_t ms, const float *bias,
                            const float *const *z, float lo, float hi, float *const *y);
void nn_f32c_wino_in__avx512(size_t c, const float *const *p, float *v, size_t vs);
void nn_f32c_wino_out__avx512(size_t c, const float *m, size_t ms, const float *bias,
                              const float *const *z, float lo, float hi, float *const *y);

/* Whether a group-1 convolution of this geometry runs as Winograd (3x3, stride 1,
 * dilation 1, pads <= 2, at least 8 channels in and out; NNOPT_WINOGRAD=0: never). */
int nn_f32c_wino_fits(long kh, long kw, long sy, long sx, long dy, long dx, long pt, long pl,
                      long c, long m);

/* Floats of U for m output channels of kc inputs: 16 packings of nn_f32c_pack_w (one tap). */
size_t nn_f32c_wino_w_size(size_t m, size_t kc);
/* The ONNX weight w[j][c][3][3] transformed (in double) and packed; U[xi] starts at
 * out + xi * nn_f32c_pack_w_size(m, 1, kc). */
void nn_f32c_wino_pack_w(size_t m, size_t kc, const float *w, float *out);

/* One Winograd convolution: geometry, packed U, bias (m floats), bounds and kernels. */
typedef struct nn_f32c_wino {
  size_t n, h, w, c, m, oh, ow, pt, pl; /* NHWC input [n, h, w, c], output [n, oh, ow, m] */
  size_t tb;                            /* tiles per block (a multiple of NN_F32C_MR) */
  const float *u, *bias, *zero;         /* zero: c zeros, the padding pixel; 32 zeros too */
  float lo, hi;
  nn_f32c_conv_fn gemm;
  nn_f32c_wino_in_fn in;
  nn_f32c_wino_out_fn out;
} nn_f32c_wino;
/* Tiles of the output: n x ceil(oh / 2) x ceil(ow / 2). */
size_t nn_f32c_wino_tiles(const nn_f32c_wino *p);
/* Floats of the workspace of one block of output channels [j0, j1): V and M. */
size_t nn_f32c_wino_ws_size(const nn_f32c_wino *p, size_t j0, size_t j1);
/* Tiles [t0, t0 + nt) (nt <= tb), output channels [j0, j1) (j0 a multiple of 32):
 * y = the convolution of x (+ z) there. */
void nn_f32c_wino_block(const nn_f32c_wino *p, const float *x, const float *z, float *y,
                        size_t t0, size_t nt, size_t j0, size_t j1, float *ws);

struct nn_kernels;
/* The kernels for a table's level, or NULL where the planar paths are the faster. */
nn_f32c_conv_fn nn_f32c_conv_for(const struct nn_kernels *k);
nn_f32c_dw_fn nn_f32c_dw_for(const struct nn_kernels *k);
/* The Winograd transforms of the level (the scalar twins where it has none). */
nn_f32c_wino_in_fn nn_f32c_wino_in_for(const struct nn_kernels *k);
nn_f32c_wino_out_fn nn_f32c_wino_out_for(const struct nn_kernels *k);

#endif
