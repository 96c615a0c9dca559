/*
 * f32_conv.c - float32 convolution plans (see f32_conv.h): choose the path once,
 * pack the weights of each group as the GEMM's A, and run over images and groups
 * with the work of each GEMM (or the depthwise planes) split over the pool.
 */
#include "kernels/f32_conv.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/f32_gemm.h"
#include "runtime/threadpool.h"

enum { PATH_GEMM, PATH_POINTWISE, PATH_DW3X3, PATH_TRANSPOSED };

struct nn_f32_conv_plan {
  nn_kernels k;
  nn_conv_params p;
  int path;
  size_t cg, mg, kk, in_sz, out_sz;
  float *w;      /* PATH_DW3X3: M x 9 copy; GEMM paths: packed A per group */
  size_t wg;     /* floats of one group's packed weights */
  float *bias;   /* M values (zeros without bias) */
  float minmax[2];
  int clamp;
  /* GEMM paths with few output positions: compute Y^T = X'^T W^T (positions as rows,
   * channels as columns, weights packed as B) into the workspace and transpose, so
   * tiles are not mostly padding (7x7: 49 columns fill 64 lanes, but 56 rows). */
  int swap;
};

static int is_pointwise(const nn_conv_params *p) {
  for (int d = 0; d < NN_CONV_SP; d++)
    if (p->kernel[d] != 1 || p->stride[d] != 1 || p->pad_begin[d] != 0 || p->in[d] != p->out[d])
      return 0;
  return 1;
}

static int is_dw3x3(const nn_kernels *k, const nn_conv_params *p) {
  if (p->group != p->in_ch || p->group != p->out_ch) return 0;
  if (p->in[0] != 1 || p->out[0] != 1 || p->kernel[0] != 1 || p->pad_begin[0] != 0) return 0;
  if (p->kernel[1] != 3 || p->kernel[2] != 3) return 0;
  if (p->dilation[1] != 1 || p->dilation[2] != 1) return 0;
  if (p->stride[1] != p->stride[2] || p->stride[1] < 1 || p->stride[1] > 2) return 0;
  if (p->pad_begin[1] > 2 || p->pad_begin[2] > 2) return 0;
  return k->f32_dwconv3x3[p->stride[1] - 1] != NULL;
}

nn_f32_conv_plan *nn_f32_conv_plan_create(const nn_kernels *k, const nn_conv_params *p,
                                          const float *w, const float *b,
                                          const float *minmax) {
  if (!k->f32_gemm_ukernel || p->group < 1) return NULL;
  nn_f32_conv_plan *pl = calloc(1, sizeof *pl);
  if (!pl) return NULL;
  pl->k = *k;
  pl->p = *p;
  pl->cg = (size_t)(p->in_ch / p->group);
  pl->mg = (size_t)(p->out_ch / p->group);
  pl->kk = pl->cg * (size_t)(p->kernel[0] * p->kernel[1] * p->kernel[2]);
  pl->in_sz = (size_t)(p->in[0] * p->in[1] * p->in[2]);
  pl->out_sz = (size_t)(p->out[0] * p->out[1] * p->out[2]);
  if (minmax) {
    pl->clamp = 1;
    pl->minmax[0] = minmax[0];
    pl->minmax[1] = minmax[1];
  }
  const size_t M = (size_t)p->out_ch;
  pl->bias = calloc(M ? M : 1, sizeof *pl->bias);
  if (!pl->bias) goto fail;
  if (b) memcpy(pl->bias, b, M * sizeof *b);
  if (is_dw3x3(k, p)) {
    pl->path = PATH_DW3X3;
    pl->w = malloc(M * 9 * sizeof *pl->w + 1);
    if (!pl->w) goto fail;
    memcpy(pl->w, w, M * 9 * sizeof *w);
    return pl;
  }
  pl->path = is_pointwise(p) ? PATH_POINTWISE : PATH_GEMM;
  const size_t mr = k->f32_gemm_mr, nr = k->f32_gemm_nr;
  /* lanes computed per useful output, as laid out (channels x positions) or swapped */
  const double fill = (double)((pl->out_sz + nr - 1) / nr * nr) / (double)pl->out_sz;
  const double fill_t = (double)((pl->out_sz + mr - 1) / mr * mr) / (double)pl->out_sz *
                        (double)((pl->mg + nr - 1) / nr * nr) / (double)pl->mg;
  /* the transpose back costs about what 300 MACs per output do: worth it for deep K */
  pl->swap = pl->out_sz && pl->mg && pl->out_sz <= 1024 && pl->kk >= 512 &&
             fill_t < 0.95 * fill;
  pl->wg = pl->swap ? nn_f32_packed_b_size(pl->kk, pl->mg, nr)
                    : nn_f32_packed_a_size(pl->mg, pl->kk, mr);
  const size_t bytes = (pl->wg * (size_t)p->group * sizeof(float) + 63) / 64 * 64;
  pl->w = aligned_alloc(64, bytes ? bytes : 64);
  if (!pl->w) goto fail;
  for (int64_t g = 0; g < p->group; g++) {
    const float *wg = w + (size_t)g * pl->mg * pl->kk;
    if (pl->swap) /* B = W^T, W stored mg x kk */
      nn_f32_pack_b(wg, pl->kk, 1, 0, pl->kk, 0, pl->mg, nr, pl->w + (size_t)g * pl->wg);
    else
      nn_f32_pack_a(wg, pl->kk, 0, 1.0f, 0, pl->mg, 0, pl->kk, mr, pl->w + (size_t)g * pl->wg);
  }
  return pl;
fail:
  nn_f32_conv_plan_free(pl);
  return NULL;
}

void nn_f32_conv_plan_free(nn_f32_conv_plan *pl) {
  if (!pl) return;
  free(pl->w);
  free(pl->bias);
  free(pl);
}

nn_f32_conv_plan *nn_f32_convt_plan_create(const nn_kernels *k, const nn_conv_params *p,
                                           const float *w, const float *b) {
  if (!k->f32_gemm_ukernel || p->group < 1) return NULL;
  nn_f32_conv_plan *pl = calloc(1, sizeof *pl);
  if (!pl) return NULL;
  pl->k = *k;
  pl->p = *p;
  pl->path = PATH_TRANSPOSED;
  pl->cg = (size_t)(p->in_ch / p->group);
  pl->mg = (size_t)(p->out_ch / p->group);
  const size_t ksz = (size_t)(p->kernel[0] * p->kernel[1] * p->kernel[2]);
  pl->kk = pl->mg * ksz; /* GEMM rows: (m', tap) */
  pl->in_sz = (size_t)(p->in[0] * p->in[1] * p->in[2]);
  pl->out_sz = (size_t)(p->out[0] * p->out[1] * p->out[2]);
  const size_t M = (size_t)p->out_ch;
  pl->bias = calloc(M ? M : 1, sizeof *pl->bias);
  if (!pl->bias) goto fail;
  if (b) memcpy(pl->bias, b, M * sizeof *b);
  const size_t mr = k->f32_gemm_mr;
  pl->wg = nn_f32_packed_a_size(pl->kk, pl->cg, mr);
  const size_t bytes = (pl->wg * (size_t)p->group * sizeof(float) + 63) / 64 * 64;
  pl->w = aligned_alloc(64, bytes ? bytes : 64);
  if (!pl->w) goto fail;
  /* A = W_g^T: W_g is cg x (mg * ksz), i.e. A stored transposed. */
  for (int64_t g = 0; g < p->group; g++)
    nn_f32_pack_a(w + (size_t)g * pl->cg * pl->kk, pl->kk, 1, 1.0f, 0, pl->kk, 0, pl->cg, mr,
                  pl->w + (size_t)g * pl->wg);
  return pl;
fail:
  nn_f32_conv_plan_free(pl);
  return NULL;
}

/* Floats of the column buffer of a transposed plan (64-byte multiple). */
static size_t cols_floats(const nn_f32_conv_plan *pl) {
  return (pl->kk * pl->in_sz + 15) / 16 * 16;
}

size_t nn_f32_conv_plan_workspace(const nn_f32_conv_plan *pl, int threads) {
  if (pl->path == PATH_DW3X3) return 0;
  if (pl->path == PATH_TRANSPOSED)
    return cols_floats(pl) * sizeof(float) +
           nn_f32_gemm_workspace(&pl->k, pl->kk, pl->in_sz, pl->cg, 1, 0, threads);
  if (pl->swap)
    return (pl->out_sz * pl->mg + 15) / 16 * 16 * sizeof(float) +
           nn_f32_gemm_workspace(&pl->k, pl->out_sz, pl->mg, pl->kk, 0, 1, threads);
  return nn_f32_gemm_workspace(&pl->k, pl->mg, pl->out_sz, pl->kk, 1, 0, threads);
}

/* y (m x n) = t^T, t being n x m (row-major both), in 32 x 32 blocks. */
static void transpose(const float *t, size_t n, size_t m, float *y) {
  for (size_t i0 = 0; i0 < m; i0 += 32)
    for (size_t j0 = 0; j0 < n; j0 += 32) {
      const size_t i1 = i0 + 32 < m ? i0 + 32 : m, j1 = j0 + 32 < n ? j0 + 32 : n;
      for (size_t i = i0; i < i1; i++)
        for (size_t j = j0; j < j1; j++) y[i * n + j] = t[j * m + i];
    }
}

/* The swapped GEMM of one image and group (see plan.swap). */
static void run_swapped(const nn_f32_conv_plan *pl, const float *xg, float *yg, size_t g,
                        void *ws, size_t ws_bytes, nn_threadpool *pool) {
  const nn_conv_params *p = &pl->p;
  float *t = ws;
  const size_t tf = (pl->out_sz * pl->mg + 15) / 16 * 16;
  nn_f32_gemm_problem gp = {.M = pl->out_sz, .N = pl->mg, .K = pl->kk, .alpha = 1.0f, .c = t,
                            .ldc = pl->mg, .bias = pl->bias + g * pl->mg,
                            .flags = NN_F32_GEMM_BIAS_COL | (pl->clamp ? NN_F32_GEMM_CLAMP : 0),
                            .min = pl->minmax[0], .max = pl->minmax[1]};
  gp.b.packed = pl->w + g * pl->wg;
  nn_f32_conv_pack_ctx pc = {.p = p, .x = xg};
  if (pl->path == PATH_POINTWISE) { /* A = X^T, X stored channels x positions */
    gp.a.data = xg;
    gp.a.ld = pl->in_sz;
    gp.a.trans = 1;
  } else { /* rows of A = output positions: the conv packer's columns */
    gp.a.pack = pl->k.f32_conv_pack_b ? pl->k.f32_conv_pack_b : nn_f32_conv_pack_b;
    gp.a.ctx = &pc;
  }
  nn_f32_gemm_run(&pl->k, &gp, t + tf, ws_bytes - tf * sizeof(float), pool);
  transpose(t, pl->out_sz, pl->mg, yg);
}

static int64_t floor_div(int64_t a, int64_t b) { /* b > 0 */
  const int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* Input positions i with 0 <= i*s + off < out, as [lo, hi) within [0, in). */
static void tap_range(int64_t off, int64_t s, int64_t out, int64_t in, int64_t *lo,
                      int64_t *hi) {
  int64_t a = -floor_div(off, s), b = floor_div(out - 1 - off, s) + 1;
  if (a < 0) a = 0;
  if (b > in) b = in;
  if (b < a) b = a;
  *lo = a;
  *hi = b;
}

typedef struct col2im_job {
  const nn_f32_conv_plan *pl;
  const float *cols;
  float *y; /* the group's first output channel */
  size_t m0; /* first output channel of the group (bias) */
} col2im_job;

/* Output channel m' of the group: bias, then every tap's column rows added in. */
static void col2im_channel(void *ctx, size_t thread, size_t mm) {
  const col2im_job *j = ctx;
  const nn_f32_conv_plan *pl = j->pl;
  const nn_conv_params *p = &pl->p;
  const int64_t kD = p->kernel[0], kH = p->kernel[1], kW = p->kernel[2];
  const int64_t iD = p->in[0], iH = p->in[1], iW = p->in[2];
  const int64_t oD = p->out[0], oH = p->out[1], oW = p->out[2];
  float *ym = j->y + mm * pl->out_sz;
  const float bv = pl->bias[j->m0 + mm];
  (void)thread;
  for (size_t s = 0; s < pl->out_sz; s++) ym[s] = bv;
  const size_t ksz = (size_t)(kD * kH * kW);
  for (int64_t kd = 0; kd < kD; kd++)
    for (int64_t kh = 0; kh < kH; kh++)
      for (int64_t kw = 0; kw < kW; kw++) {
        const size_t t = (size_t)((kd * kH + kh) * kW + kw);
        const float *col = j->cols + (mm * ksz + t) * pl->in_sz;
        const int64_t offd = kd * p->dilation[0] - p->pad_begin[0];
        const int64_t offh = kh * p->dilation[1] - p->pad_begin[1];
        const int64_t offw = kw * p->dilation[2] - p->pad_begin[2];
        int64_t d0, d1, h0, h1, w0, w1;
        tap_range(offd, p->stride[0], oD, iD, &d0, &d1);
        tap_range(offh, p->stride[1], oH, iH, &h0, &h1);
        tap_range(offw, p->stride[2], oW, iW, &w0, &w1);
        const int64_t sw = p->stride[2];
        for (int64_t id = d0; id < d1; id++)
          for (int64_t ih = h0; ih < h1; ih++) {
            const float *src = col + (id * iH + ih) * iW;
            float *dst = ym + ((id * p->stride[0] + offd) * oH + ih * p->stride[1] + offh) * oW;
            if (sw == 1)
              for (int64_t iw = w0; iw < w1; iw++) dst[iw + offw] += src[iw];
            else
              for (int64_t iw = w0; iw < w1; iw++) dst[iw * sw + offw] += src[iw];
          }
      }
}

typedef struct dw_job {
  const nn_f32_conv_plan *pl;
  const float *x;
  float *y;
} dw_job;

static void dw_plane(void *ctx, size_t thread, size_t t) {
  const dw_job *j = ctx;
  const nn_f32_conv_plan *pl = j->pl;
  const nn_conv_params *p = &pl->p;
  const size_t m = t % (size_t)p->out_ch; /* plane t = (n, m) */
  pl->k.f32_dwconv3x3[p->stride[1] - 1](
      (size_t)p->in[1], (size_t)p->in[2], (size_t)p->out[1], (size_t)p->out[2],
      (size_t)p->pad_begin[1], (size_t)p->pad_begin[2], j->x + t * pl->in_sz, pl->w + m * 9,
      pl->bias[m], j->y + t * pl->out_sz, pl->clamp ? pl->minmax : NULL);
  (void)thread;
}

void nn_f32_conv_plan_run(const nn_f32_conv_plan *pl, const float *x, float *y, void *ws,
                          size_t ws_bytes, nn_threadpool *pool) {
  const nn_conv_params *p = &pl->p;
  if (pl->path == PATH_DW3X3) {
    dw_job j = {pl, x, y};
    nn_threadpool_parallelize(pool, dw_plane, &j, (size_t)(p->batch * p->out_ch));
    return;
  }
  if (pl->path == PATH_TRANSPOSED) {
    float *cols = ws;
    const size_t cf = cols_floats(pl);
    nn_f32_gemm_problem gp = {.M = pl->kk, .N = pl->in_sz, .K = pl->cg, .alpha = 1.0f,
                              .c = cols, .ldc = pl->in_sz};
    for (int64_t n = 0; n < p->batch; n++)
      for (int64_t g = 0; g < p->group; g++) {
        gp.a.packed = pl->w + (size_t)g * pl->wg;
        gp.b.data = x + ((size_t)n * (size_t)p->in_ch + (size_t)g * pl->cg) * pl->in_sz;
        gp.b.ld = pl->in_sz;
        nn_f32_gemm_run(&pl->k, &gp, cols + cf, ws_bytes - cf * sizeof(float), pool);
        col2im_job j = {pl, cols,
                        y + ((size_t)n * (size_t)p->out_ch + (size_t)g * pl->mg) * pl->out_sz,
                        (size_t)g * pl->mg};
        nn_threadpool_parallelize(pool, col2im_channel, &j, pl->mg);
      }
    return;
  }
  nn_f32_gemm_problem gp = {.M = pl->mg, .N = pl->out_sz, .K = pl->kk, .alpha = 1.0f,
                            .ldc = pl->out_sz,
                            .flags = NN_F32_GEMM_BIAS_ROW | (pl->clamp ? NN_F32_GEMM_CLAMP : 0),
                            .min = pl->minmax[0], .max = pl->minmax[1]};
  nn_f32_conv_pack_ctx pc = {.p = p};
  for (int64_t n = 0; n < p->batch; n++)
    for (int64_t g = 0; g < p->group; g++) {
      const float *xg = x + ((size_t)n * (size_t)p->in_ch + (size_t)g * pl->cg) * pl->in_sz;
      if (pl->swap) {
        run_swapped(pl, xg,
                    y + ((size_t)n * (size_t)p->out_ch + (size_t)g * pl->mg) * pl->out_sz,
                    (size_t)g, ws, ws_bytes, pool);
        continue;
      }
      gp.a.packed = pl->w + (size_t)g * pl->wg;
      if (pl->path == PATH_POINTWISE) {
        gp.b.data = xg;
        gp.b.ld = pl->in_sz;
        gp.b.pack = NULL;
      } else {
        pc.x = xg;
        gp.b.pack = pl->k.f32_conv_pack_b ? pl->k.f32_conv_pack_b : nn_f32_conv_pack_b;
        gp.b.ctx = &pc;
      }
      gp.c = y + ((size_t)n * (size_t)p->out_ch + (size_t)g * pl->mg) * pl->out_sz;
      gp.bias = pl->bias + (size_t)g * pl->mg;
      nn_f32_gemm_run(&pl->k, &gp, ws, ws_bytes, pool);
    }
}
