/*
 * observer.c - histogram observers and the range choosers (min-max, percentile,
 * entropy/KL, MSE).
 */
#include "quant/observer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/qparams.h"

void nn_observer_init(nn_observer *o) {
  memset(o, 0, sizeof *o);
  o->min = INFINITY;
  o->max = -INFINITY;
}

/* Double R until it covers m, merging bin pairs exactly toward the centre. */
static void grow(nn_observer *o, double m) {
  while (o->range < m) {
    uint64_t tmp[NN_OBS_BINS] = {0};
    for (int j = 0; j < NN_OBS_BINS; j++) tmp[NN_OBS_BINS / 4 + j / 2] += o->hist[j];
    memcpy(o->hist, tmp, sizeof tmp);
    o->range *= 2;
  }
}

static int bin_of(const nn_observer *o, double x) {
  double w = 2 * o->range / NN_OBS_BINS;
  int i = (int)floor((x + o->range) / w);
  return i < 0 ? 0 : i >= NN_OBS_BINS ? NN_OBS_BINS - 1 : i;
}

void nn_observer_update(nn_observer *o, const float *x, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) {
    if (isnan(x[i])) continue;
    double v = x[i];
    if (v < o->min) o->min = v;
    if (v > o->max) o->max = v;
    if (fabs(v) > m) m = fabs(v);
  }
  if (m > 0 && isfinite(m)) {
    if (o->range == 0) {
      /* A power of two, so observers of different streams merge exactly. Zeros seen
       * before any non-zero value sit in the pending count of bin "0". */
      uint64_t zeros = o->count;
      o->range = ldexp(1.0, (int)ceil(log2(m)));
      if (o->range < m) o->range *= 2;
      o->hist[bin_of(o, 0.0)] += zeros;
    } else {
      grow(o, m);
    }
  }
  for (int64_t i = 0; i < n; i++) {
    if (isnan(x[i])) {
      o->nan_count++;
      continue;
    }
    if (x[i] == 0) o->zeros++;
    if (o->range > 0) {
      double v = x[i];
      if (!isfinite(v)) v = v > 0 ? o->range : -o->range;
      o->hist[bin_of(o, v)]++;
    }
    o->count++;
  }
}

void nn_observer_merge(nn_observer *a, const nn_observer *b) {
  if (!b->count) return;
  nn_observer bb = *b;
  if (a->range == 0 && a->count) { /* a holds only zeros */
    uint64_t zeros = a->count;
    a->range = bb.range;
    if (a->range > 0) a->hist[bin_of(a, 0.0)] += zeros;
  }
  if (bb.range == 0 && bb.count) {
    if (a->range > 0) a->hist[bin_of(a, 0.0)] += bb.count;
  } else if (a->range > 0) {
    if (bb.range > a->range) grow(a, bb.range);
    grow(&bb, a->range);
    for (int j = 0; j < NN_OBS_BINS; j++) a->hist[j] += bb.hist[j];
  } else {
    memcpy(a->hist, bb.hist, sizeof bb.hist);
    a->range = bb.range;
  }
  a->count += b->count;
  a->nan_count += b->nan_count;
  a->zeros += b->zeros;
  if (b->min < a->min) a->min = b->min;
  if (b->max > a->max) a->max = b->max;
}

static double bin_width(const nn_observer *o) { return 2 * o->range / NN_OBS_BINS; }

/* Smallest upper edge t such that at most 'tail' values exceed t (from the top). */
static double upper_quantile(const nn_observer *o, uint64_t tail) {
  uint64_t cum = 0;
  for (int j = NN_OBS_BINS - 1; j >= 0; j--) {
    cum += o->hist[j];
    if (cum > tail) return -o->range + (j + 1) * bin_width(o);
  }
  return -o->range;
}

static double lower_quantile(const nn_observer *o, uint64_t tail) {
  uint64_t cum = 0;
  for (int j = 0; j < NN_OBS_BINS; j++) {
    cum += o->hist[j];
    if (cum > tail) return -o->range + j * bin_width(o);
  }
  return o->range;
}

/* |x| histogram over [0, R] with NN_OBS_BINS / 2 bins. */
static void fold_abs(const nn_observer *o, double *abs_hist) {
  int h = NN_OBS_BINS / 2;
  for (int j = 0; j < h; j++) abs_hist[j] = (double)o->hist[h + j] + (double)o->hist[h - 1 - j];
}

/* Make a distribution usable by KL: empty bins get eps, taken evenly from the others
 * (MXNet's and ONNX Runtime's smooth_distribution, on counts). 0 when all bins are empty. */
static int smooth(double *d, int n) {
  const double eps = 1e-4;
  int nz = 0;
  for (int j = 0; j < n; j++) nz += d[j] > 0;
  if (!nz) return 0;
  double take = eps * (n - nz) / nz;
  for (int j = 0; j < n; j++) d[j] = d[j] > 0 ? (d[j] > 2 * take ? d[j] - take : d[j] / 2) : eps;
  return 1;
}

/* TensorRT's entropy calibration: the threshold whose quantized distribution (levels
 * levels) diverges least (KL) from the clipped reference distribution P, searched from
 * levels bins up to the last occupied one.
 *
 * Exact zeros are left out of the reference. Post-ReLU tensors are about half exact
 * zeros, and zero is exactly representable (the range always contains it), so those
 * values cost nothing at any threshold. Kept in, their spike in bin 0 dominates the KL:
 * once a threshold makes bin 0 share a quantization level with its neighbour, Q spreads
 * the spike over both bins and the divergence jumps, so the search settles on the
 * largest threshold that still gives bin 0 its own level (levels bins .. 2 x levels),
 * clipping ReLU6 outputs at ~2 instead of 6 (68% instead of 93% top-1 on
 * mobilenetv2_fmnist). As MXNet and ONNX Runtime, Q is spread over the bins where P is
 * non-zero (P includes the clipped outliers in its last bin) and both are smoothed. */
static double entropy_threshold(const nn_observer *o, int levels, int positive_only,
                                double neg_extent) {
  int h = NN_OBS_BINS / 2;
  double *a = malloc((size_t)h * sizeof *a), *p = malloc((size_t)h * sizeof *p),
         *q = malloc((size_t)h * sizeof *q), *kls = malloc((size_t)(h + 1) * sizeof *kls);
  double best_t = o->range, best_kl = INFINITY;
  if (!a || !p || !q || !kls) goto done;
  for (int j = 0; j <= h; j++) kls[j] = NAN;
  if (positive_only)
    for (int j = 0; j < h; j++) a[j] = (double)o->hist[h + j];
  else
    fold_abs(o, a);
  a[0] -= fmin(a[0], (double)o->zeros); /* exact zeros live in bin h, [0, w) */
  double w = o->range / h;
  int last = h;
  while (last > 0 && a[last - 1] == 0) last--;
  if (last <= levels && neg_extent <= 0) {
    best_t = last * w;
    goto done;
  }
  double outliers_total = 0;
  for (int j = 0; j < h; j++) outliers_total += a[j];
  double inside = 0;
  int total_levels = levels;
  for (int i = 1; i <= last; i++) {
    /* inside = sum a[0..i) */
    inside += a[i - 1];
    if (neg_extent > 0) {
      /* The positive side gets the share of the grid that [0, t] is of [-neg, t]: a
       * lower threshold also leaves it fewer levels. */
      levels = (int)floor(total_levels * (i * w) / (i * w + neg_extent));
      if (levels < 1) levels = 1;
    }
    /* Fewer bins than TensorRT's 128 (or than levels) make P too coarse for KL to see
     * the clipping: one bin would quantize losslessly. */
    if (i < levels || i < total_levels / 2) continue;
    memcpy(p, a, (size_t)i * sizeof *p);
    p[i - 1] += outliers_total - inside;
    /* Q: each level covers i / levels bins, generally not a whole number of them; a
     * bin shared by two levels gives each its overlapping fraction (whole-bin groups of
     * alternating sizes make the KL jump between neighbouring thresholds). */
    memset(q, 0, (size_t)i * sizeof *q);
    for (int k = 0; k < levels; k++) {
      double e0 = (double)k * i / levels, e1 = (double)(k + 1) * i / levels;
      double total = 0, support = 0;
      for (int j = (int)e0; j < i && j < e1; j++) {
        double ov = fmin(e1, j + 1.0) - fmax(e0, (double)j);
        total += ov * a[j];
        support += p[j] != 0 ? ov : 0;
      }
      if (support <= 0) continue;
      for (int j = (int)e0; j < i && j < e1; j++)
        if (p[j] != 0) q[j] += (fmin(e1, j + 1.0) - fmax(e0, (double)j)) * total / support;
    }
    if (!smooth(p, i) || !smooth(q, i)) continue;
    double sp = 0, sq = 0;
    for (int j = 0; j < i; j++) sp += p[j], sq += q[j];
    double kl = 0;
    for (int j = 0; j < i; j++) {
      double pj = p[j] / sp, qj = q[j] / sq;
      kl += pj * log(pj / qj);
    }
    kls[i] = kl;
  }
  /* The divergence jumps between neighbouring thresholds as spikes of repeated values
   * (constant image background through the first layers) change level: the minimum
   * of the raw curve is one lucky alignment (mobilenetv2_fmnist's second ReLU6 at 1.6
   * of 6). Take the minimum of its running mean over +-i/16 bins instead. */
  for (int i = 1; i <= last; i++) {
    if (isnan(kls[i])) continue;
    int r = i / 16, nn = 0;
    double sm = 0;
    for (int j = i - r; j <= i + r; j++)
      if (j >= 1 && j <= last && !isnan(kls[j])) sm += kls[j], nn++;
    sm /= nn;
    if (sm < best_kl) {
      best_kl = sm;
      best_t = i * w;
    }
  }
done:
  free(kls);
  free(a);
  free(p);
  free(q);
  return best_t;
}

/* Expected squared error of quantizing the histogram with the range [lo, hi]. */
static double mse_of(const nn_observer *o, double lo, double hi, int bits, int symmetric) {
  nn_qparams qp = nn_qparams_from_range((float)lo, (float)hi, bits, symmetric, symmetric);
  double w = bin_width(o), err = 0;
  for (int j = 0; j < NN_OBS_BINS; j++) {
    if (!o->hist[j]) continue;
    double c = -o->range + (j + 0.5) * w;
    if (c < o->min) c = o->min;
    if (c > o->max) c = o->max;
    double d = nn_dequantize_one(nn_quantize_one((float)c, &qp), &qp) - c;
    err += d * d * (double)o->hist[j];
  }
  return err;
}

nn_status nn_observer_range(const nn_observer *o, const nn_calib_options *opt, float *lo,
                            float *hi) {
  nn_calib_options d = {NN_CALIB_MINMAX, 99.99, 8, 0};
  if (opt) d = *opt;
  if (d.bits <= 0) d.bits = 8;
  if (d.percentile <= 0 || d.percentile > 100) d.percentile = 99.99;
  if (!o->count) return nn_errorf(NN_ERR_INVALID, "no values were observed");
  double l = o->min, h = o->max;
  if (!isfinite(l)) l = -o->range;
  if (!isfinite(h)) h = o->range;
  if (o->range > 0) switch (d.method) {
    case NN_CALIB_MINMAX:
      break;
    case NN_CALIB_PERCENTILE: {
      uint64_t tail = (uint64_t)floor((double)o->count * (100.0 - d.percentile) / 100.0);
      if (d.symmetric) {
        /* |x| mirrored: both tails count together. */
        double t = 0;
        uint64_t cum = 0;
        double *ab = malloc(NN_OBS_BINS / 2 * sizeof *ab);
        if (!ab) return nn_errorf(NN_ERR_NOMEM, "out of memory");
        fold_abs(o, ab);
        for (int j = NN_OBS_BINS / 2 - 1; j >= 0; j--) {
          cum += (uint64_t)ab[j];
          if (cum > tail) {
            t = (j + 1) * (o->range / (NN_OBS_BINS / 2));
            break;
          }
        }
        free(ab);
        l = -t;
        h = t;
      } else {
        double uh = upper_quantile(o, tail), ul = lower_quantile(o, tail);
        if (uh < h) h = uh;
        if (ul > l) l = ul;
      }
      break;
    }
    case NN_CALIB_ENTROPY: {
      if (d.symmetric || o->min >= 0) {
        /* TensorRT's form: |x| for symmetric ranges, the whole range when x >= 0. */
        int levels = o->min >= 0 && !d.symmetric ? 1 << d.bits : 1 << (d.bits - 1);
        double t = entropy_threshold(o, levels, 0, 0);
        h = fmin(h, t);
        if (o->min < 0) l = fmax(l, -t);
      } else if (o->max > 0) {
        /* Asymmetric with negative values (e.g. a normalized image): folding |x| would
         * mix the sides, so only the positive tail is clipped; the negative side keeps
         * its observed minimum, and each candidate threshold t is scored with the
         * levels [0, t] really gets of the grid over [min, t]. */
        h = fmin(h, entropy_threshold(o, (1 << d.bits) - 1, 1, -o->min));
      }
      break;
    }
    case NN_CALIB_MSE: {
      double best = INFINITY, bl = l, bh = h;
      for (int k = 0; k <= 100; k++) {
        double a = 1.0 - 0.007 * k; /* clip to 100% .. 30% of the observed range */
        double cl = l * a, ch = h * a;
        double e = mse_of(o, cl, ch, d.bits, d.symmetric);
        if (e < best) {
          best = e;
          bl = cl;
          bh = ch;
        }
      }
      l = bl;
      h = bh;
      break;
    }
    }
  if (d.symmetric) {
    double m = fmax(fabs(l), fabs(h));
    l = -m;
    h = m;
  }
  if (l > 0) l = 0;
  if (h < 0) h = 0;
  *lo = (float)l;
  *hi = (float)h;
  return NN_OK;
}

int nn_calib_method_parse(const char *s) {
  static const char *names[] = {"minmax", "percentile", "entropy", "mse"};
  for (int i = 0; i < 4; i++)
    if (!strcmp(s, names[i])) return i;
  return -1;
}

const char *nn_calib_method_name(nn_calib_method m) {
  static const char *names[] = {"minmax", "percentile", "entropy", "mse"};
  return (unsigned)m < 4 ? names[m] : "?";
}
