/*
 * pack_q8.c - the portable side of the 8-bit kernels: weight packing (once, in
 * prepare), the GEMM drivers that walk panels and tiles and fold zero points into
 * int32 terms, and the plain-C microkernels that fill the table at the reference level
 * and are the twins the SIMD kernels are tested against.
 */
#include <string.h>

#include "kernels/q8_dwconv.h"
#include "kernels/q8_eltwise.h"
#include "kernels/q8_gemm.h"
#include "kernels/ref/pool.h"
#include "kernels/ref/qgemm.h"
#include "kernels/ref/requant.h"

/* The float expressions here must round like the SIMD kernels (a multiply, then an
 * add): no contraction into fused multiply-adds (GCC's ISO mode already does not). */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* ------------------------------------------------------------------ microkernel */

/* Epilogue of one row of a tile: t = acc + row terms, then store per mode. */
static void epilogue_row(size_t i, size_t nc, const uint32_t *acc, void *c, size_t ldc,
                         int mode, const nn_q8_gemm_params *p) {
  uint32_t rb = p->row_bias ? (uint32_t)p->row_bias[i] : 0;
  for (size_t j = 0; j < nc; j++) {
    uint32_t t = acc[j] + rb;
    if (p->row_mul) t += (uint32_t)p->row_mul[i] * (uint32_t)p->col_vec[j];
    int32_t v = (int32_t)t;
    switch (mode) {
      case NN_Q8_OUT_I32: ((int32_t *)c)[i * ldc + j] = v; break;
      case NN_Q8_OUT_I32_ACC: {
        int32_t *d = (int32_t *)c + i * ldc + j;
        *d = (int32_t)((uint32_t)*d + t);
        break;
      }
      default:
        ((uint8_t *)c)[i * ldc + j] =
            (uint8_t)nn_requantize_one(v, p->scale[i], p->out_zp, p->qmin, p->qmax);
    }
  }
}

void nn_q8_gemm_ukernel_4x8__scalar(size_t mr, size_t nc, size_t kq, const int8_t *w,
                                    const uint8_t *x, void *c, size_t ldc, int mode,
                                    const nn_q8_gemm_params *p) {
  enum { MR = 4, NR = 8 };
  uint32_t acc[MR][NR];
  memset(acc, 0, sizeof acc);
  for (size_t q = 0; q < kq; q++, w += 4 * MR, x += 4 * NR)
    for (int r = 0; r < MR; r++)
      for (int j = 0; j < NR; j++) {
        int32_t s = 0;
        for (int b = 0; b < 4; b++) s += (int32_t)w[4 * r + b] * (int32_t)x[4 * j + b];
        acc[r][j] += (uint32_t)s;
      }
  for (size_t i = 0; i < mr; i++) epilogue_row(i, nc, acc[i], c, ldc, mode, p);
}

/* ------------------------------------------------------------------ packing */

void nn_q8_pack_x__scalar(size_t k, size_t nc, size_t nr, const uint8_t *const *rows,
                          size_t col, uint8_t xor_mask, uint8_t *out) {
  const size_t kq = (k + 3) / 4;
  memset(out, 0, kq * 4 * nr);
  for (size_t kk = 0; kk < k; kk++) {
    const uint8_t *row = rows[kk] + col;
    uint8_t *o = out + (kk / 4) * 4 * nr + kk % 4;
    for (size_t j = 0; j < nc; j++) o[4 * j] = row[j] ^ xor_mask;
  }
}

void nn_q8_pack_xt(size_t k, size_t nc, size_t nr, const uint8_t *xt, size_t ldxt,
                   uint8_t xor_mask, uint8_t *out, int32_t *sum) {
  const size_t kq = (k + 3) / 4, kf = k / 4;
  const uint32_t m32 = 0x01010101u * xor_mask;
  for (size_t j = 0; j < nc; j++) {
    const uint8_t *row = xt + j * ldxt;
    uint8_t *o = out + 4 * j;
    uint32_t s = 0;
    for (size_t q = 0; q < kf; q++) {
      uint32_t v;
      memcpy(&v, row + 4 * q, 4);
      v ^= m32;
      memcpy(o + q * 4 * nr, &v, 4);
      if (sum) s += (v & 0xFF) + ((v >> 8) & 0xFF) + ((v >> 16) & 0xFF) + (v >> 24);
    }
    if (kf < kq) {
      uint8_t t[4] = {0};
      for (size_t b = 0; b < k - 4 * kf; b++) {
        t[b] = row[4 * kf + b] ^ xor_mask;
        s += t[b];
      }
      memcpy(o + kf * 4 * nr, t, 4);
    }
    if (sum) sum[j] = (int32_t)s;
  }
  for (size_t j = nc; j < nr; j++)
    for (size_t q = 0; q < kq; q++) memset(out + (q * nr + j) * 4, 0, 4);
}

void nn_q8_col_sums(size_t k, size_t nc, const uint8_t *const *rows, size_t col,
                    uint8_t xor_mask, int32_t *sum) {
  for (size_t j = 0; j < nc; j++) sum[j] = 0;
  for (size_t kk = 0; kk < k; kk++) {
    const uint8_t *row = rows[kk] + col;
    for (size_t j = 0; j < nc; j++)
      sum[j] = (int32_t)((uint32_t)sum[j] + (uint8_t)(row[j] ^ xor_mask));
  }
}

size_t nn_q8_packed_w_size(size_t m, size_t k, size_t mr) {
  return (m + mr - 1) / mr * mr * ((k + 3) / 4) * 4;
}

void nn_q8_pack_w(size_t m, size_t k, size_t mr, const void *w, size_t ldw, int w_signed,
                  int8_t *out, int32_t *rowsum) {
  const size_t kq = (k + 3) / 4;
  memset(out, 0, nn_q8_packed_w_size(m, k, mr));
  for (size_t i = 0; i < m; i++) {
    const uint8_t *row = (const uint8_t *)w + i * ldw;
    int8_t *blk = out + (i / mr) * kq * mr * 4 + (i % mr) * 4;
    int32_t s = 0;
    for (size_t kk = 0; kk < k; kk++) {
      int v = w_signed ? (int)(int8_t)row[kk] : (int)row[kk] - 128;
      blk[(kk / 4) * mr * 4 + kk % 4] = (int8_t)v;
      s += v;
    }
    rowsum[i] = s;
  }
}

/* ------------------------------------------------------------------ packed-weight GEMM */

/* Columns gathered at once by the implicit im2col (longer copies, fewer segments). */
#define IM2COL_BLOCK 256

size_t nn_q8_gemm_workspace(const nn_kernels *kern, size_t k, int implicit) {
  return align64((k + 3) / 4 * 4 * kern->q8_nr) + align64(kern->q8_nr * sizeof(int32_t)) +
         (implicit ? align64(k * IM2COL_BLOCK) + align64(k * sizeof(uint8_t *)) : 0);
}

/* One run of output pixels of a panel on one output row, for one kernel offset: pad
 * bytes, then n_valid input bytes from src (step stride), then pad bytes. */
typedef struct im2col_seg {
  size_t dst, n_pad_l, n_valid, n_pad_r;
  size_t src;
} im2col_seg;

void nn_q8_im2col_panel(const nn_conv_geom *g, const uint8_t *x, uint8_t pad, size_t p0,
                        size_t nc, size_t nr, uint8_t *rows) {
  const size_t ih = (size_t)g->in[0], iw = (size_t)g->in[1], ow = (size_t)g->out[1];
  const size_t kh = (size_t)g->kernel[0], kw = (size_t)g->kernel[1];
  const size_t sw = (size_t)g->stride[1], plane = ih * iw;
  im2col_seg seg[IM2COL_BLOCK];
  size_t kk = 0;
  for (size_t ky = 0; ky < kh; ky++)
    for (size_t kx = 0; kx < kw; kx++, kk++) {
      /* Segments of this kernel offset (the same for every channel). */
      size_t ns = 0;
      const int64_t offy = (int64_t)ky * g->dilation[0] - g->pad_begin[0];
      const int64_t offx = (int64_t)kx * g->dilation[1] - g->pad_begin[1];
      for (size_t p = p0, d = 0; d < nc;) {
        const size_t oy = p / ow, ox = p % ow;
        const size_t len = ow - ox < nc - d ? ow - ox : nc - d;
        im2col_seg *s = &seg[ns++];
        s->dst = d;
        const int64_t iy = (int64_t)oy * g->stride[0] + offy;
        if (iy < 0 || iy >= (int64_t)ih) {
          s->n_pad_l = len;
          s->n_valid = s->n_pad_r = 0;
          s->src = 0;
        } else {
          /* valid ox: 0 <= ox * sw + offx < iw */
          int64_t lo = offx >= 0 ? 0 : (-offx + (int64_t)sw - 1) / (int64_t)sw;
          int64_t hi = (int64_t)iw - 1 - offx < 0 ? -1 : ((int64_t)iw - 1 - offx) / (int64_t)sw;
          int64_t a = (int64_t)ox, b = (int64_t)(ox + len) - 1;
          int64_t va = a > lo ? a : lo, vb = b < hi ? b : hi;
          if (va > vb) {
            s->n_pad_l = len;
            s->n_valid = s->n_pad_r = 0;
            s->src = 0;
          } else {
            s->n_pad_l = (size_t)(va - a);
            s->n_valid = (size_t)(vb - va + 1);
            s->n_pad_r = len - s->n_pad_l - s->n_valid;
            s->src = (size_t)iy * iw + (size_t)(va * (int64_t)sw + offx);
          }
        }
        p += len;
        d += len;
      }
      for (size_t c = 0; c < (size_t)g->channels; c++) {
        uint8_t *dst = rows + (c * kh * kw + kk) * nr;
        const uint8_t *xc = x + c * plane;
        for (size_t i = 0; i < ns; i++) {
          const im2col_seg *s = &seg[i];
          /* short runs: plain loops rather than library calls */
          uint8_t *d = dst + s->dst;
          for (size_t j = 0; j < s->n_pad_l; j++) d[j] = pad;
          d += s->n_pad_l;
          const uint8_t *src = xc + s->src;
          if (sw == 1)
            for (size_t j = 0; j < s->n_valid; j++) d[j] = src[j];
          else
            for (size_t j = 0; j < s->n_valid; j++) d[j] = src[j * sw];
          for (size_t j = 0; j < s->n_pad_r; j++) d[s->n_valid + j] = pad;
        }
      }
    }
}

void nn_q8_gemm_row_terms(const nn_kernels *kern, size_t m, size_t k, const int32_t *rowsum,
                          const int32_t *wz, int32_t xz, const int32_t *bias,
                          int32_t *row_bias, int32_t *row_mul) {
  const uint32_t xe = (uint32_t)xz + (uint32_t)kern->q8_x_offset;
  for (size_t i = 0; i < m; i++) {
    uint32_t t = bias ? (uint32_t)bias[i] : 0;
    t -= xe * (uint32_t)rowsum[i];
    if (wz) {
      t += (uint32_t)k * (uint32_t)wz[i] * (uint32_t)xz;
      row_mul[i] = (int32_t)(0u - (uint32_t)wz[i]);
    }
    row_bias[i] = (int32_t)t;
  }
}

void nn_q8_gemm_run(const nn_q8_gemm_job *job, size_t n0, size_t n1, void *ws) {
  nn_q8_gemm_run_tile(job, 0, job->m, n0, n1, ws);
}

void nn_q8_gemm_split(const nn_q8_gemm_job *job, size_t threads, nn_q8_gemm_tasks *t) {
  const size_t mr = job->kern->q8_mr, nr = job->kern->q8_nr;
  const size_t panels = (job->n + nr - 1) / nr, blocks = (job->m + mr - 1) / mr;
  size_t col_tasks = 1, row_tasks = 1;
  if (threads > 1) {
    /* About 4 tasks per thread for balance; columns first (each column task packs its
     * panels once), rows as well when there are too few panels. */
    const size_t want = 4 * threads;
    col_tasks = panels < want ? panels : want;
    if (col_tasks < want) {
      row_tasks = (want + col_tasks - 1) / col_tasks;
      if (row_tasks > blocks) row_tasks = blocks;
    }
  }
  if (!col_tasks) col_tasks = 1;
  t->col_chunk = (panels + col_tasks - 1) / col_tasks * nr;
  t->row_chunk = (blocks + row_tasks - 1) / row_tasks * mr;
  t->col_tasks = t->col_chunk ? (job->n + t->col_chunk - 1) / t->col_chunk : 1;
  t->row_tasks = t->row_chunk ? (job->m + t->row_chunk - 1) / t->row_chunk : 1;
  if (!t->col_tasks) t->col_tasks = 1;
  if (!t->row_tasks) t->row_tasks = 1;
  t->tasks = t->col_tasks * t->row_tasks;
}

void nn_q8_gemm_run_task(const nn_q8_gemm_job *job, const nn_q8_gemm_tasks *t, size_t task,
                         void *ws) {
  const size_t ct = task % t->col_tasks, rt = task / t->col_tasks;
  const size_t n0 = ct * t->col_chunk, m0 = rt * t->row_chunk;
  const size_t n1 = n0 + t->col_chunk < job->n ? n0 + t->col_chunk : job->n;
  const size_t m1 = m0 + t->row_chunk < job->m ? m0 + t->row_chunk : job->m;
  if (n0 < n1 && m0 < m1) nn_q8_gemm_run_tile(job, m0, m1, n0, n1, ws);
}

void nn_q8_gemm_run_tile(const nn_q8_gemm_job *job, size_t m0, size_t m1, size_t n0,
                         size_t n1, void *ws) {
  const nn_kernels *kern = job->kern;
  const size_t mr = kern->q8_mr, nr = kern->q8_nr, kq = (job->k + 3) / 4;
  const size_t esize = job->mode <= NN_Q8_OUT_I32_ACC ? sizeof(int32_t) : 1;
  uint8_t *panel = ws;
  int32_t *cs = (int32_t *)((char *)ws + align64(kq * 4 * nr));
  uint8_t *rows = (uint8_t *)cs + align64(nr * sizeof(int32_t));
  const uint8_t **rowp = (const uint8_t **)(rows + align64(job->k * IM2COL_BLOCK));
  if (job->conv)
    for (size_t kk = 0; kk < job->k; kk++) rowp[kk] = rows + kk * IM2COL_BLOCK;
  const uint8_t *const *xr = job->conv ? rowp : job->xrows;
  if (n1 > job->n) n1 = job->n;
  nn_q8_gemm_params p = {.out_zp = job->out_zp, .qmin = job->qmin, .qmax = job->qmax,
                         .col_vec = cs};
  size_t blk0 = n0, blk1 = n0; /* columns gathered in rows (implicit im2col) */
  for (size_t j0 = n0; j0 < n1; j0 += nr) {
    const size_t nc = n1 - j0 < nr ? n1 - j0 : nr;
    size_t col = j0;
    if (job->conv) {
      if (j0 >= blk1) {
        blk0 = j0;
        blk1 = n1 - j0 < IM2COL_BLOCK ? n1 : j0 + IM2COL_BLOCK;
        nn_q8_im2col_panel(job->conv, job->conv_x, job->conv_pad, blk0, blk1 - blk0,
                           IM2COL_BLOCK, rows);
      }
      col = j0 - blk0;
    }
    if (job->xt) {
      nn_q8_pack_xt(job->k, nc, nr, job->xt + j0 * job->ldxt, job->ldxt, job->x_xor, panel,
                    job->row_mul ? cs : NULL);
    } else {
      kern->q8_pack_x(job->k, nc, nr, xr, col, job->x_xor, panel);
      if (job->row_mul) nn_q8_col_sums(job->k, nc, xr, col, job->x_xor, cs);
    }
    for (size_t i0 = m0; i0 < m1; i0 += mr) {
      const size_t mc = m1 - i0 < mr ? m1 - i0 : mr;
      p.row_bias = job->row_bias + i0;
      p.row_mul = job->row_mul ? job->row_mul + i0 : NULL;
      p.scale = job->scale ? job->scale + i0 : NULL;
      if (job->y_trans) {
        /* tile into a local buffer, then scattered transposed */
        uint8_t tile[NN_Q8_MAX_MR * NN_Q8_MAX_NR];
        kern->q8_gemm(mc, nc, kq, job->w + i0 * kq * 4, panel, tile, NN_Q8_MAX_NR, job->mode,
                      &p);
        uint8_t *y = (uint8_t *)job->y + j0 * job->ldy + i0;
        for (size_t j = 0; j < nc; j++)
          for (size_t i = 0; i < mc; i++) y[j * job->ldy + i] = tile[i * NN_Q8_MAX_NR + j];
        continue;
      }
      kern->q8_gemm(mc, nc, kq, job->w + i0 * kq * 4, panel,
                    (char *)job->y + (i0 * job->ldy + j0) * esize, job->ldy, job->mode, &p);
    }
  }
}

/* ------------------------------------------------------------------ x8_gemm contract */

/* Zero point j of an 8-bit zero-point array, in the packed domains: A (left) becomes
 * int8 (uint8 - 128), B (right) becomes uint8 (int8 + 128). */
static int32_t zp_left(const void *zp, size_t idx, int is_signed) {
  return is_signed ? ((const int8_t *)zp)[idx] : (int32_t)((const uint8_t *)zp)[idx] - 128;
}
static int32_t zp_right(const void *zp, size_t idx, int is_signed) {
  return is_signed ? ((const int8_t *)zp)[idx] + 128 : (int32_t)((const uint8_t *)zp)[idx];
}

void nn_x8_gemm__packed(const nn_kernels *kern, int a_signed, int b_signed, size_t m,
                        size_t n, size_t k, const void *a, size_t lda, const void *a_zp,
                        size_t a_zp_inc, const void *b, size_t ldb, const void *b_zp,
                        size_t b_zp_inc, int32_t *c, size_t ldc) {
  enum { KC = 512 };
  _Alignas(64) uint8_t bpanel[KC * NN_Q8_MAX_NR];
  _Alignas(64) int8_t ablock[KC * NN_Q8_MAX_MR];
  int32_t cs[NN_Q8_MAX_NR], rs[NN_Q8_MAX_MR], az[NN_Q8_MAX_MR], bz[NN_Q8_MAX_NR];
  int32_t row_bias[NN_Q8_MAX_MR], row_mul[NN_Q8_MAX_MR];
  const uint8_t *brows[KC];
  const size_t mr = kern->q8_mr, nr = kern->q8_nr;
  const uint32_t off = (uint32_t)kern->q8_x_offset;
  const uint8_t bxor = b_signed ? 0x80 : 0;
  const uint8_t *A = a, *B = b;
  if (k == 0) {
    for (size_t i = 0; i < m; i++) memset(c + i * ldc, 0, n * sizeof *c);
    return;
  }
  for (size_t j0 = 0; j0 < n; j0 += nr) {
    const size_t nc = n - j0 < nr ? n - j0 : nr;
    for (size_t j = 0; j < nc; j++) bz[j] = zp_right(b_zp, (j0 + j) * b_zp_inc, b_signed);
    for (size_t k0 = 0; k0 < k; k0 += KC) {
      const size_t kc = k - k0 < KC ? k - k0 : KC, kq = (kc + 3) / 4;
      for (size_t kk = 0; kk < kc; kk++) brows[kk] = B + (k0 + kk) * ldb;
      kern->q8_pack_x(kc, nc, nr, brows, j0, bxor, bpanel);
      nn_q8_col_sums(kc, nc, brows, j0, bxor, cs);
      for (size_t i0 = 0; i0 < m; i0 += mr) {
        const size_t mc = m - i0 < mr ? m - i0 : mr;
        int any_az = 0;
        memset(ablock, 0, kq * 4 * mr);
        for (size_t r = 0; r < mc; r++) {
          const uint8_t *row = A + (i0 + r) * lda + k0;
          int32_t s = 0;
          for (size_t kk = 0; kk < kc; kk++) {
            int v = a_signed ? (int)(int8_t)row[kk] : (int)row[kk] - 128;
            ablock[(kk / 4) * mr * 4 + r * 4 + kk % 4] = (int8_t)v;
            s += v;
          }
          rs[r] = s;
          az[r] = zp_left(a_zp, (i0 + r) * a_zp_inc, a_signed);
          any_az |= az[r] != 0;
        }
        /* Block correction: -(bz_j + off) rs_i + kc az_i bz_j - az_i cs_j. */
        nn_q8_gemm_params p = {0};
        int32_t *ct = c + i0 * ldc + j0;
        const int mode = k0 == 0 ? NN_Q8_OUT_I32 : NN_Q8_OUT_I32_ACC;
        if (b_zp_inc == 0) {
          for (size_t r = 0; r < mc; r++) {
            uint32_t t = 0u - ((uint32_t)bz[0] + off) * (uint32_t)rs[r];
            t += (uint32_t)kc * (uint32_t)az[r] * (uint32_t)bz[0];
            row_bias[r] = (int32_t)t;
            row_mul[r] = (int32_t)(0u - (uint32_t)az[r]);
          }
          p.row_bias = row_bias;
          p.row_mul = any_az ? row_mul : NULL;
          p.col_vec = cs;
          kern->q8_gemm(mc, nc, kq, ablock, bpanel, ct, ldc, mode, &p);
        } else {
          kern->q8_gemm(mc, nc, kq, ablock, bpanel, ct, ldc, mode, &p);
          for (size_t r = 0; r < mc; r++)
            for (size_t j = 0; j < nc; j++) {
              uint32_t t = 0u - ((uint32_t)bz[j] + off) * (uint32_t)rs[r];
              t += (uint32_t)az[r] * ((uint32_t)kc * (uint32_t)bz[j] - (uint32_t)cs[j]);
              ct[r * ldc + j] = (int32_t)((uint32_t)ct[r * ldc + j] + t);
            }
        }
      }
    }
  }
}

/* ------------------------------------------------------------------ depthwise 3x3 */

void nn_q8_dwconv3x3__scalar(const nn_q8_dw_args *a) {
  for (size_t oy = 0; oy < a->oh; oy++)
    for (size_t ox = 0; ox < a->ow; ox++) {
      uint32_t acc = (uint32_t)a->bias;
      for (int ky = 0; ky < 3; ky++) {
        const uint8_t *row = a->x + (oy * a->stride + (size_t)ky) * a->ldx + ox * a->stride;
        for (int kx = 0; kx < 3; kx++) acc += (uint32_t)((int32_t)a->w[4 * ky + kx] * row[kx]);
      }
      a->y[oy * a->ldy + ox] =
          (uint8_t)nn_requantize_one((int32_t)acc, a->scale, a->out_zp, a->qmin, a->qmax);
    }
}

/* ------------------------------------------------------------------ depthwise 3x3, channels */

size_t nn_q8_dwconv3x3_cl_workspace(const nn_q8_dwcl_args *a) {
  const size_t hp = (a->oh - 1) * a->stride + 3, wp = (a->ow - 1) * a->stride + 3;
  return align64(hp * wp * 16) + align64(hp * wp * 64) + align64((a->oh * a->ow + 15) / 16 * 16 * 16);
}

void nn_q8_dwconv3x3_cl__scalar(const nn_q8_dwcl_args *a, size_t c0, size_t c1, void *ws) {
  const size_t plane = a->ih * a->iw;
  for (size_t c = c0; c < c1; c++) {
    const uint8_t *x = a->x + c * plane;
    const int8_t *w = a->w + 12 * c;
    uint8_t *y = a->y + c * a->oh * a->ow;
    for (size_t oy = 0; oy < a->oh; oy++)
      for (size_t ox = 0; ox < a->ow; ox++) {
        uint32_t acc = (uint32_t)a->bias[c];
        for (size_t ky = 0; ky < 3; ky++)
          for (size_t kx = 0; kx < 3; kx++) {
            /* padded coordinates; the plane starts at (pt, pl) */
            const size_t py = oy * a->stride + ky, px = ox * a->stride + kx;
            const int in = py >= a->pt && py - a->pt < a->ih && px >= a->pl && px - a->pl < a->iw;
            const uint8_t v = in ? (uint8_t)(x[(py - a->pt) * a->iw + (px - a->pl)] ^ a->xor_mask)
                                 : a->pad;
            acc += (uint32_t)((int32_t)w[4 * ky + kx] * v);
          }
        y[oy * a->ow + ox] =
            (uint8_t)nn_requantize_one((int32_t)acc, a->scale[c], a->out_zp, a->qmin, a->qmax);
      }
  }
  (void)ws;
}

/* ------------------------------------------------------------------ QuantizeLinear */

void nn_q8_quantize__scalar(size_t n, const float *x, float scale, int32_t zp, int32_t qmin,
                            int32_t qmax, uint8_t *y) {
  for (size_t i = 0; i < n; i++) y[i] = (uint8_t)nn_quantize_round_sat(x[i] / scale, zp, qmin, qmax);
}

/* ------------------------------------------------------------------ MaxPool */

/* Rows of the window first (contiguous, vectorizable) into a row padded with the lowest
 * code, then the columns: the running maximum over the kW taps at every padded position
 * (contiguous again), and outputs picked every sW. The lowest code is the identity of
 * max, so padding needs no bounds checks; a window entirely in the padding gives it, as
 * the reference does. Rows too wide for the stack buffers take the checked loop. */
#define Q8_MAXPOOL_BUF (2 * NN_Q8_MAXPOOL_MAX_W)

/* d[i] = max(a[i], b[i]) for i < n (d may be a or b), 16 bytes at a time with generic
 * vectors: this file is built for the baseline ISA at -O2, where GCC leaves byte loops
 * of unknown length scalar. */
typedef uint8_t q8_u8x16 __attribute__((vector_size(16)));
typedef int8_t q8_i8x16 __attribute__((vector_size(16)));
#define DEFINE_VMAX(NAME, T, V)                                                           \
  static void NAME(T *d, const T *a, const T *b, int64_t n) {                             \
    int64_t i = 0;                                                                        \
    for (; i + 16 <= n; i += 16) {                                                        \
      V va, vb;                                                                           \
      memcpy(&va, a + i, 16);                                                             \
      memcpy(&vb, b + i, 16);                                                             \
      const V m = (V)(va > vb);                                                           \
      const V r = (va & m) | (vb & ~m);                                                   \
      memcpy(d + i, &r, 16);                                                              \
    }                                                                                     \
    for (; i < n; i++) d[i] = a[i] > b[i] ? a[i] : b[i];                                  \
  }
DEFINE_VMAX(q8_vmax_u8, uint8_t, q8_u8x16)
DEFINE_VMAX(q8_vmax_i8, int8_t, q8_i8x16)
#define DEFINE_MAXPOOL2D(NAME, T, LOWEST, VMAX)                                               \
  void NAME(const nn_pool_params *p, const T *x, T *y, size_t plane0, size_t n) {         \
    const int64_t iH = p->in[1], iW = p->in[2], oH = p->out[1], oW = p->out[2];           \
    const int64_t kH = p->kernel[1], kW = p->kernel[2], sH = p->stride[1], sW = p->stride[2]; \
    const int64_t dH = p->dilation[1], dW = p->dilation[2];                               \
    const int64_t pH = p->pad_begin[1], pW = p->pad_begin[2];                             \
    const int64_t span = (oW - 1) * sW + 1, ext = span + (kW - 1) * dW;                   \
    const int padded = pW >= 0 && ext <= Q8_MAXPOOL_BUF && pW + iW <= Q8_MAXPOOL_BUF;     \
    T prow[Q8_MAXPOOL_BUF], hmax[Q8_MAXPOOL_BUF];                                         \
    T *row = padded ? prow + pW : prow;                                                   \
    if (padded)                                                                           \
      for (int64_t w = 0; w < (ext > pW + iW ? ext : pW + iW); w++) prow[w] = LOWEST;     \
    for (size_t pl = plane0; pl < plane0 + n; pl++) {                                     \
      const T *xp = x + (int64_t)pl * iH * iW;                                            \
      T *yp = y + (int64_t)pl * oH * oW;                                                  \
      for (int64_t oh = 0; oh < oH; oh++) {                                               \
        const int64_t h0 = oh * sH - pH;                                                  \
        int64_t t0 = 0, t1 = kH;                                                          \
        while (t0 < kH && h0 + t0 * dH < 0) t0++;                                         \
        while (t1 > t0 && h0 + (t1 - 1) * dH >= iH) t1--;                                 \
        T *yr = yp + oh * oW;                                                             \
        if (t0 >= t1) {                                                                   \
          for (int64_t ow = 0; ow < oW; ow++) yr[ow] = LOWEST;                            \
          continue;                                                                       \
        }                                                                                 \
        const T *r0 = xp + (h0 + t0 * dH) * iW;                                           \
        memcpy(row, r0, (size_t)iW * sizeof(T));                                          \
        for (int64_t t = t0 + 1; t < t1; t++) {                                           \
          const T *r = xp + (h0 + t * dH) * iW;                                           \
          VMAX(row, row, r, iW);                                                          \
        }                                                                                 \
        if (padded) {                                                                     \
          T *hm = sW == 1 ? yr : hmax;                                                    \
          if (kW == 1) memcpy(hm, prow, (size_t)span * sizeof(T));                        \
          for (int64_t c = 1; c < kW; c++)                                                \
            VMAX(hm, c == 1 ? prow : hm, prow + c * dW, span);                            \
          if (sW != 1)                                                                    \
            for (int64_t ow = 0; ow < oW; ow++) yr[ow] = hmax[ow * sW];                   \
          continue;                                                                       \
        }                                                                                 \
        for (int64_t ow = 0; ow < oW; ow++) {                                             \
          const int64_t w0 = ow * sW - pW;                                                \
          T best = LOWEST;                                                                \
          for (int64_t c = 0; c < kW; c++) {                                              \
            const int64_t iw = w0 + c * dW;                                               \
            if (iw >= 0 && iw < iW && row[iw] > best) best = row[iw];                     \
          }                                                                               \
          yr[ow] = best;                                                                  \
        }                                                                                 \
      }                                                                                   \
    }                                                                                     \
  }

DEFINE_MAXPOOL2D(nn_u8_maxpool2d, uint8_t, 0, q8_vmax_u8)
DEFINE_MAXPOOL2D(nn_i8_maxpool2d, int8_t, -128, q8_vmax_i8)

void nn_x8_maxpool2d(const nn_pool_params *p, const void *x, void *y, size_t plane0, size_t n,
                     int is_signed) {
  if (is_signed)
    nn_i8_maxpool2d(p, x, y, plane0, n);
  else
    nn_u8_maxpool2d(p, x, y, plane0, n);
}

/* ------------------------------------------------------------------ QLinearAdd */

void nn_q8_add__scalar(size_t n, const uint8_t *a, const uint8_t *b, const nn_q8_add_params *p,
                       uint8_t *y) {
  const float fixed = nn_q8_add_fixed(p);
  for (size_t i = 0; i < n; i++) {
    size_t ib = p->b_scalar ? 0 : i;
    int32_t qa = p->is_signed ? (int32_t)(int8_t)a[i] : a[i];
    int32_t qb = p->is_signed ? (int32_t)(int8_t)b[ib] : b[ib];
    float v = fmaf((float)qa, p->ra, fmaf((float)qb, p->rb, fixed));
    y[i] = (uint8_t)nn_quantize_round_sat(v, 0, p->qmin, p->qmax);
  }
}
