/*
 * observer.h - calibration observers: stream activation values through a fixed-size
 * histogram and choose a clipping range by min-max, percentile, entropy (KL
 * divergence, as TensorRT) or MSE. Memory is bounded (one histogram per tensor) and
 * results are bit-identical for the same data in the same order.
 *
 * The histogram spans [-R, R] with NN_OBS_BINS bins. When data exceeds R, R doubles
 * and bin pairs merge exactly, so no information is interpolated away.
 */
#ifndef NN_QUANT_OBSERVER_H
#define NN_QUANT_OBSERVER_H

#include <stdint.h>

#include "core/status.h"

#define NN_OBS_BINS 4096

typedef enum nn_calib_method {
  NN_CALIB_MINMAX = 0,
  NN_CALIB_PERCENTILE = 1,
  NN_CALIB_ENTROPY = 2,
  NN_CALIB_MSE = 3,
} nn_calib_method;

typedef struct nn_observer {
  double min, max;   /* exact extremes seen */
  double range;      /* R: histogram covers [-R, R]; 0 until the first non-zero value */
  uint64_t count;    /* values seen (NaN values are skipped and counted apart) */
  uint64_t nan_count;
  uint64_t zeros;    /* values exactly 0 (also counted in hist); quantization keeps them exact */
  uint64_t hist[NN_OBS_BINS];
} nn_observer;

void nn_observer_init(nn_observer *o);
/* Add n values. */
void nn_observer_update(nn_observer *o, const float *x, int64_t n);
/* Merge b into a (same result as feeding b's data after a's when ranges agree). */
void nn_observer_merge(nn_observer *a, const nn_observer *b);

typedef struct nn_calib_options {
  nn_calib_method method;
  double percentile; /* for PERCENTILE, e.g. 99.99 (default when 0) */
  int bits;          /* quantized bit width the range is chosen for (default 8) */
  int symmetric;     /* choose a range symmetric around 0 (weights, int8 activations) */
} nn_calib_options;

/* The chosen clipping range [*lo, *hi]; always contains 0 (so zero is exact). Fails
 * when nothing was observed. */
nn_status nn_observer_range(const nn_observer *o, const nn_calib_options *opt, float *lo,
                            float *hi);

/* Parse "minmax", "percentile", "entropy", "mse"; -1 if unknown. */
int nn_calib_method_parse(const char *s);
const char *nn_calib_method_name(nn_calib_method m);

#endif
