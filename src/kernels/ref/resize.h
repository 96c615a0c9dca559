/*
 * resize.h - reference N-d Resize (nearest / N-linear / N-cubic) with every ONNX
 * coordinate transformation mode. Interpolation is separable: each output element
 * is sum over taps of prod_axis w_axis(tap) * x[tap], accumulated in double.
 */
#ifndef NN_KERNELS_REF_RESIZE_H
#define NN_KERNELS_REF_RESIZE_H

#include <stddef.h>
#include <stdint.h>

#include "nnopt.h"

typedef enum nn_resize_mode {
  NN_RESIZE_NEAREST = 0,
  NN_RESIZE_LINEAR = 1,
  NN_RESIZE_CUBIC = 2,
} nn_resize_mode;

typedef enum nn_resize_coord {
  NN_COORD_HALF_PIXEL = 0,        /* (x + 0.5) / scale - 0.5 */
  NN_COORD_PYTORCH_HALF_PIXEL,    /* as half_pixel, but 0 when the resized length is 1 */
  NN_COORD_ALIGN_CORNERS,         /* x * (in - 1) / (len - 1) */
  NN_COORD_ASYMMETRIC,            /* x / scale */
  NN_COORD_TF_HALF_PIXEL_FOR_NN,  /* (x + 0.5) / scale */
  NN_COORD_TF_CROP_AND_RESIZE,    /* roi-relative; outside [0, in-1] -> extrapolation */
  NN_COORD_HALF_PIXEL_SYMMETRIC,  /* half_pixel re-centred for the integer output size */
} nn_resize_coord;

typedef enum nn_resize_nearest {
  NN_NEAREST_ROUND_PREFER_FLOOR = 0,
  NN_NEAREST_ROUND_PREFER_CEIL,
  NN_NEAREST_FLOOR,
  NN_NEAREST_CEIL,
  NN_NEAREST_SIMPLE, /* Upsample / Resize-10: ceil when downscaling the axis, else floor */
} nn_resize_nearest;

typedef struct nn_resize_params {
  int ndim;
  int64_t in[NN_MAX_DIMS], out[NN_MAX_DIMS];
  /* Per axis: the scale of the coordinate transform and the resized length it
   * implies (scale * in when scales were given, the output size when sizes were). */
  double scale[NN_MAX_DIMS], length[NN_MAX_DIMS];
  double roi_start[NN_MAX_DIMS], roi_end[NN_MAX_DIMS]; /* tf_crop_and_resize only */
  nn_resize_mode mode;
  nn_resize_coord coord;
  nn_resize_nearest nearest;
  double cubic_a;          /* cubic coefficient a (-0.75 by default) */
  int exclude_outside;     /* zero the weights of taps outside the input, renormalize */
  double extrapolation;    /* value for tf_crop_and_resize outside the input */
} nn_resize_params;

/* Largest number of tap combinations over all axes but the last (each resized
 * axis has 1, 2 or 4 taps); nn_resize_check() enforces it. */
#define NN_RESIZE_MAX_COMBOS 1024

/* 0 when the kernels can run p, else -1 (too many resized axes for the mode). */
int nn_resize_check(const nn_resize_params *p);

/* Axis d is left as it is (no interpolation) by p. */
int nn_resize_axis_is_identity(const nn_resize_params *p, int d);
/* The (at most two) taps of output position o on axis d, exactly as the reference
 * computes them (nearest: one tap of weight 1, given twice with weights 1 and 0);
 * -1 for cubic taps or a position outside the input (tf_crop_and_resize). */
int nn_resize_axis_taps2(const nn_resize_params *p, int d, int64_t o, int64_t idx[2],
                         double w[2]);

void nn_f32_resize__ref(const nn_resize_params *p, const float *x, float *y);
void nn_f64_resize__ref(const nn_resize_params *p, const double *x, double *y);
void nn_f16_resize__ref(const nn_resize_params *p, const uint16_t *x, uint16_t *y);
/* Integer results are truncated toward zero and saturated (as a numpy astype of
 * the clipped value). */
void nn_u8_resize__ref(const nn_resize_params *p, const uint8_t *x, uint8_t *y);
void nn_i8_resize__ref(const nn_resize_params *p, const int8_t *x, int8_t *y);
void nn_i32_resize__ref(const nn_resize_params *p, const int32_t *x, int32_t *y);
void nn_i64_resize__ref(const nn_resize_params *p, const int64_t *x, int64_t *y);
/* Nearest mode for any element type of es bytes; extrap points to the element
 * written outside the input in tf_crop_and_resize mode. */
void nn_x_resize_nearest__ref(const nn_resize_params *p, size_t es, const void *x, void *y,
                              const void *extrap);

#endif
