/*
 * gptq.c - block-wise 4-bit weight quantization in ONNX Runtime's MatMulNBits layout:
 * round to nearest (the rules of ONNX Runtime's MLAS blockwise quantizer), and GPTQ
 * (Frantar et al. 2022, arXiv 2210.17323), which quantizes the weight one input
 * column at a time and spreads each column's rounding error over the columns not yet
 * quantized, weighted by the inverse Hessian H = 2 X^T X of the layer's inputs. The
 * Hessians are accumulated over a calibration set with the session observer.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/dispatch.h"
#include "quant/quantize.h"
#include "runtime/session.h"

/* ---- block parameters and codes ---- */

void nn_int4_block_params(const float *x, int64_t n, int symmetric, float *scale, int *zp) {
  float lo = 0.0f, hi = 0.0f; /* the range always holds 0, so 0 is exact */
  for (int64_t i = 0; i < n; i++) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  if (symmetric) {
    /* The value of largest magnitude maps to code 0 (-8 after the zero point): the
     * 16 codes cover [-8, 7] * |scale| on the side that needs the extra step. */
    const float m = fabsf(hi) > fabsf(lo) ? hi : lo;
    *scale = -m / 8.0f;
    *zp = 8;
    return;
  }
  const float s = (hi - lo) / 15.0f;
  *scale = s;
  if (s == 0.0f) {
    *zp = 0;
    return;
  }
  const float z = roundf(-lo / s);
  *zp = z < 0.0f ? 0 : z > 15.0f ? 15 : (int)z;
}

static inline int int4_code(float w, float scale, int zp) {
  const float r = scale != 0.0f ? roundf(w / scale) : 0.0f;
  const float q = r + (float)zp;
  return q < 0.0f ? 0 : q > 15.0f ? 15 : (int)q;
}

void nn_int4_layout(int64_t K, int64_t block, int64_t *n_blocks, int64_t *blob,
                    int64_t *zp_bytes) {
  const int64_t nb = (K + block - 1) / block;
  if (n_blocks) *n_blocks = nb;
  if (blob) *blob = block / 2;
  if (zp_bytes) *zp_bytes = (nb + 1) / 2;
}

/* Codes of row n, block b (weights x[0..cnt)) into the packed arrays; the padding past
 * K holds the code of 0, as ONNX Runtime's quantizer (which pads W with zeros) writes. */
static void put_block(const float *x, int64_t cnt, int64_t n, int64_t b, int64_t block,
                      int64_t nb, float scale, int zp, uint8_t *packed, float *scales,
                      uint8_t *zps) {
  uint8_t *blob = packed + (n * nb + b) * (block / 2);
  memset(blob, 0, (size_t)(block / 2));
  for (int64_t k = 0; k < block; k++) {
    const int c = k < cnt ? int4_code(x[k], scale, zp) : int4_code(0.0f, scale, zp);
    blob[k / 2] |= (uint8_t)(c << ((k & 1) * 4));
  }
  scales[n * nb + b] = scale;
  if (zps) {
    uint8_t *z = zps + n * ((nb + 1) / 2) + b / 2;
    if (!(b & 1)) *z = 0;
    *z |= (uint8_t)(zp << ((b & 1) * 4));
  }
}

void nn_int4_quantize_rtn(const float *w, int64_t N, int64_t K, int64_t block, int symmetric,
                          uint8_t *packed, float *scales, uint8_t *zps) {
  int64_t nb;
  nn_int4_layout(K, block, &nb, NULL, NULL);
  for (int64_t n = 0; n < N; n++)
    for (int64_t b = 0; b < nb; b++) {
      const int64_t k0 = b * block, cnt = K - k0 < block ? K - k0 : block;
      float s;
      int z;
      nn_int4_block_params(w + n * K + k0, cnt, symmetric, &s, &z);
      put_block(w + n * K + k0, cnt, n, b, block, nb, s, z, packed, scales,
                symmetric ? NULL : zps);
    }
}

void nn_int4_dequantize(const uint8_t *packed, const float *scales, const uint8_t *zps,
                        int64_t N, int64_t K, int64_t block, float *w) {
  int64_t nb, zpb;
  nn_int4_layout(K, block, &nb, NULL, &zpb);
  for (int64_t n = 0; n < N; n++)
    for (int64_t k = 0; k < K; k++) {
      const int64_t b = k / block, kk = k % block;
      const int c = (packed[(n * nb + b) * (block / 2) + kk / 2] >> ((kk & 1) * 4)) & 15;
      const int z = zps ? (zps[n * zpb + b / 2] >> ((b & 1) * 4)) & 15 : 8;
      w[n * K + k] = (float)(c - z) * scales[n * nb + b];
    }
}

/* ---- GPTQ ---- */

/* In-place lower Cholesky factor of the K x K matrix a (upper triangle left as is).
 * Returns 0 when a is not positive definite. */
static int cholesky(double *a, int64_t K) {
  for (int64_t j = 0; j < K; j++) {
    double d = a[j * K + j];
    for (int64_t k = 0; k < j; k++) d -= a[j * K + k] * a[j * K + k];
    if (!(d > 0.0)) return 0;
    d = sqrt(d);
    a[j * K + j] = d;
    for (int64_t i = j + 1; i < K; i++) {
      double s = a[i * K + j];
      const double *ri = a + i * K, *rj = a + j * K;
      for (int64_t k = 0; k < j; k++) s -= ri[k] * rj[k];
      a[i * K + j] = s / d;
    }
  }
  return 1;
}

/* U, the upper Cholesky factor of H^-1 (H^-1 = U^T U), from H (K x K, overwritten).
 * u gets U row-major. Returns 0 when H is not positive definite. */
static int inverse_upper_factor(double *h, int64_t K, double *u) {
  if (!cholesky(h, K)) return 0; /* h: L, lower */
  /* u <- L^-1 (lower), row by row: u[i][j] = -(sum_{j<=k<i} L[i][k] u[k][j]) / L[i][i]
   * (loops ordered for contiguous rows). */
  memset(u, 0, (size_t)(K * K) * sizeof *u);
  for (int64_t i = 0; i < K; i++) {
    double *ui = u + i * K;
    for (int64_t k = 0; k < i; k++) {
      const double l = h[i * K + k], *uk = u + k * K;
      for (int64_t j = 0; j <= k; j++) ui[j] += l * uk[j];
    }
    const double d = h[i * K + i];
    for (int64_t j = 0; j < i; j++) ui[j] = -ui[j] / d;
    ui[i] = 1.0 / d;
  }
  /* h (lower triangle) <- H^-1 = L^-T L^-1: h[i][j] = sum_{k>=i} u[k][i] u[k][j]. */
  for (int64_t i = 0; i < K; i++)
    for (int64_t j = 0; j <= i; j++) h[i * K + j] = 0.0;
  for (int64_t k = 0; k < K; k++) {
    const double *uk = u + k * K;
    for (int64_t i = 0; i <= k; i++) {
      const double a = uk[i];
      double *hi = h + i * K;
      for (int64_t j = 0; j <= i; j++) hi[j] += a * uk[j];
    }
  }
  if (!cholesky(h, K)) return 0; /* h: L2 with H^-1 = L2 L2^T, so U = L2^T */
  for (int64_t i = 0; i < K; i++)
    for (int64_t j = 0; j < K; j++) u[i * K + j] = j >= i ? h[j * K + i] : 0.0;
  return 1;
}

nn_status nn_gptq_quantize(float *w, int64_t N, int64_t K, double *H, int64_t block,
                           int symmetric, float damp, uint8_t *packed, float *scales,
                           uint8_t *zps) {
  nn_status st = NN_OK;
  int64_t nb;
  nn_int4_layout(K, block, &nb, NULL, NULL);
  const int64_t lazy = block > 128 ? block : 128; /* a multiple of block */
  double *u = malloc((size_t)(K * K) * sizeof *u);
  double *hc = malloc((size_t)(K * K) * sizeof *hc);
  float *err = malloc((size_t)(N * lazy) * sizeof *err);
  float *gs = malloc((size_t)N * sizeof *gs);
  int *gz = malloc((size_t)N * sizeof *gz);
  if (!u || !hc || !err || !gs || !gz) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory for GPTQ on a %lld x %lld weight",
                   (long long)N, (long long)K);
    goto done;
  }
  /* Inputs that are always zero carry no information: their weights are zeroed and
   * their Hessian entry set to 1 (the reference implementation's rule). */
  double mean = 0.0;
  for (int64_t k = 0; k < K; k++) {
    if (H[k * K + k] == 0.0) {
      H[k * K + k] = 1.0;
      for (int64_t n = 0; n < N; n++) w[n * K + k] = 0.0f;
    }
    mean += H[k * K + k];
  }
  mean /= (double)K;
  /* Damping as a fraction of the mean diagonal; raised tenfold while H is not
   * numerically positive definite. */
  double d = (damp > 0 ? damp : 0.01) * mean;
  int ok = 0;
  for (int attempt = 0; attempt < 4 && !ok; attempt++, d *= 10.0) {
    memcpy(hc, H, (size_t)(K * K) * sizeof *hc);
    for (int64_t k = 0; k < K; k++) hc[k * K + k] += d;
    ok = inverse_upper_factor(hc, K, u);
  }
  if (!ok) {
    st = nn_errorf(NN_ERR_INVALID, "GPTQ: the Hessian of a %lld x %lld weight is not positive "
                   "definite even with damping", (long long)N, (long long)K);
    goto done;
  }
  for (int64_t i1 = 0; i1 < K; i1 += lazy) {
    const int64_t i2 = i1 + lazy < K ? i1 + lazy : K;
    for (int64_t i = i1; i < i2; i++) {
      const double dinv = 1.0 / u[i * K + i];
      const int64_t b = i / block, k0 = b * block, cnt = K - k0 < block ? K - k0 : block;
      for (int64_t n = 0; n < N; n++) {
        float *row = w + n * K;
        /* Block parameters from the weights as updated so far, when the block starts. */
        if (i == k0) nn_int4_block_params(row + k0, cnt, symmetric, &gs[n], &gz[n]);
        const float x = row[i];
        const float q = (float)(int4_code(x, gs[n], gz[n]) - gz[n]) * gs[n];
        const float e = (float)((x - q) * dinv);
        err[n * lazy + (i - i1)] = e;
        const double *ui = u + i * K;
        for (int64_t j = i + 1; j < i2; j++) row[j] -= (float)(e * ui[j]);
      }
      /* A finished block (its columns no longer change) is coded with its parameters. */
      if (i == k0 + cnt - 1)
        for (int64_t n = 0; n < N; n++)
          put_block(w + n * K + k0, cnt, n, b, block, nb, gs[n], gz[n], packed, scales,
                    symmetric ? NULL : zps);
    }
    /* Lazy batch update of the columns after the block. */
    for (int64_t n = 0; n < N; n++) {
      float *row = w + n * K;
      const float *en = err + n * lazy;
      for (int64_t t = 0; t < i2 - i1; t++) {
        const double e = en[t];
        if (e == 0.0) continue;
        const double *ut = u + (i1 + t) * K;
        for (int64_t j = i2; j < K; j++) row[j] -= (float)(e * ut[j]);
      }
    }
  }
done:
  free(u);
  free(hc);
  free(err);
  free(gs);
  free(gz);
  return st;
}

/* ---- Hessians over a calibration set ---- */

/* Rows are gathered per tensor and multiplied HESS_ROWS at a time: one K x K GEMM with
 * a long inner dimension instead of one per small observation. */
enum { HESS_ROWS = 512 };

typedef struct hess_ctx {
  nn_gptq_hessians *h;
  int *slot_of;   /* tensor -> index in h, or -1 */
  int n_tensors;
  float *tmp;     /* K x K of the largest K */
  float **rows;   /* per Hessian: HESS_ROWS x K pending rows */
  int64_t *pending;
  nn_status st;
} hess_ctx;

static void flush(hess_ctx *c, int i) {
  const int64_t K = c->h->K[i], n = c->pending[i];
  if (!n) return;
  /* tmp = X^T X with the fast GEMM, summed into the double accumulator. */
  nn_kernels_get()->f32_gemm(K, K, n, c->rows[i], K, 1, c->rows[i], K, 0, c->tmp, K, 1.0f, 0.0f);
  double *H = c->h->H[i];
  for (int64_t k = 0; k < K * K; k++) H[k] += 2.0 * (double)c->tmp[k];
  c->h->rows[i] += n;
  c->pending[i] = 0;
}

static void observe(void *user, int t, const nn_value *v) {
  hess_ctx *c = user;
  if (c->st || t < 0 || t >= c->n_tensors || c->slot_of[t] < 0) return;
  const int i = c->slot_of[t];
  const int64_t K = c->h->K[i];
  if (v->dtype != NN_FLOAT || !v->data || v->ndim < 1 || v->dims[v->ndim - 1] != K) {
    c->st = nn_errorf(NN_ERR_INVALID, "GPTQ: tensor %d observed with a shape that does not end in "
                      "K=%lld", t, (long long)K);
    return;
  }
  const int64_t rows = nn_value_numel(v) / K;
  const float *x = v->data;
  for (int64_t r = 0; r < rows;) {
    int64_t n = HESS_ROWS - c->pending[i];
    if (n > rows - r) n = rows - r;
    memcpy(c->rows[i] + c->pending[i] * K, x + r * K, (size_t)(n * K) * sizeof *x);
    c->pending[i] += n;
    r += n;
    if (c->pending[i] == HESS_ROWS) flush(c, i);
  }
}

nn_status nn_gptq_collect(const nn_model *m, nn_dataset *ds, const nn_calib_config *cfg,
                          nn_gptq_hessians *h) {
  nn_status st = NN_OK;
  nn_session *s = NULL;
  hess_ctx ctx = {h, NULL, m->graph->n_tensors, NULL, NULL, NULL, NN_OK};
  int64_t kmax = 0;
  ctx.slot_of = malloc(((size_t)ctx.n_tensors + 1) * sizeof *ctx.slot_of);
  ctx.rows = calloc((size_t)h->n + 1, sizeof *ctx.rows);
  ctx.pending = calloc((size_t)h->n + 1, sizeof *ctx.pending);
  if (!ctx.slot_of || !ctx.rows || !ctx.pending) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int t = 0; t < ctx.n_tensors; t++) ctx.slot_of[t] = -1;
  for (int i = 0; i < h->n; i++) {
    if (h->tensors[i] < 0 || h->tensors[i] >= ctx.n_tensors) {
      st = nn_errorf(NN_ERR_INVALID, "GPTQ: tensor index %d out of range", h->tensors[i]);
      goto done;
    }
    ctx.slot_of[h->tensors[i]] = i;
    if (h->K[i] > kmax) kmax = h->K[i];
    h->rows[i] = 0;
    memset(h->H[i], 0, (size_t)(h->K[i] * h->K[i]) * sizeof(double));
    if (!(ctx.rows[i] = malloc((size_t)(HESS_ROWS * h->K[i]) * sizeof(float)))) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
  }
  ctx.tmp = malloc((size_t)(kmax * kmax + 1) * sizeof *ctx.tmp);
  if (!ctx.tmp) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  /* No packed copies of the weights (as calibration): memory stays near the model. */
  if ((st = nn_session_create_flags(m, NULL, NN_SESSION_NO_PREPACK | NN_SESSION_AS_WRITTEN, &s))) goto done;
  nn_session_set_observer(s, observe, &ctx);
  int64_t total;
  if ((st = nn_calib_sample_count(ds, cfg ? cfg->limit : 0, &total))) goto done;
  for (int64_t i = 0; i < total; i++) {
    st = nn_run_dataset_sample(s, ds, i, 0, NULL);
    if (st || (st = ctx.st)) goto done;
    if (cfg && cfg->progress) cfg->progress(cfg->user, i + 1, total);
  }
  for (int i = 0; i < h->n; i++) flush(&ctx, i);
  h->samples = total;
done:
  free(ctx.tmp);
  free(ctx.slot_of);
  for (int i = 0; ctx.rows && i < h->n; i++) free(ctx.rows[i]);
  free(ctx.rows);
  free(ctx.pending);
  nn_session_free(s);
  return st;
}
