/*
 * matmul_nbits.c - com.microsoft MatMulNBits (ONNX Runtime's contrib op for block-wise
 * quantized weights): Y = A * dequant(B)^T (+ bias), B stored as N rows of K codes of
 * `bits` bits, packed low bits first, block_size codes per float scale and (optional,
 * default 2^(bits-1)) zero point. The weight is never expanded whole: the f32 GEMM
 * takes B through a packing callback that dequantizes each K x NR block straight into
 * the driver's packing buffer, over panels of at most 256 columns.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/f32_gemm.h"
#include "kernels/ref/gemm.h"
#include "ops/op.h"
#include "runtime/session.h"
#include "runtime/threadpool.h"

/* Panels hold about this many floats of dequantized weight (256 KB). */
enum { NBITS_PANEL_FLOATS = 1 << 16, NBITS_MIN_COLS = 16 };

typedef struct nbits_attrs {
  int64_t K, N, bits, block, n_blocks, blob, zp_bytes; /* zp_bytes: per column, uint8 */
  int64_t M;                                           /* rows of A (batch dims folded) */
} nbits_attrs;

static nn_status nbits_setup(nn_op_ctx *ctx, nbits_attrs *at) {
  const nn_node *n = ctx->node;
  at->K = nn_attr_int(n, "K", -1);
  at->N = nn_attr_int(n, "N", -1);
  at->bits = nn_attr_int(n, "bits", 4);
  at->block = nn_attr_int(n, "block_size", -1);
  if (at->K < 1 || at->N < 1)
    return nn_op_error(ctx, NN_ERR_INVALID,
                       "attributes 'K' and 'N' must be positive (K=%lld, N=%lld)",
                       (long long)at->K, (long long)at->N);
  if (at->bits != 2 && at->bits != 4 && at->bits != 8)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "bits=%lld (supported: 2, 4, 8)",
                       (long long)at->bits);
  if (at->block < 16 || (at->block & (at->block - 1)))
    return nn_op_error(ctx, NN_ERR_INVALID, "block_size=%lld, expected a power of two >= 16",
                       (long long)at->block);
  at->n_blocks = (at->K + at->block - 1) / at->block;
  at->blob = at->block * at->bits / 8;
  at->zp_bytes = (at->n_blocks * at->bits + 7) / 8;
  nn_status st = nn_op_need_io(ctx, 3);
  if (st) return st;
  const nn_value *a = nn_in(ctx, 0), *b = nn_in(ctx, 1), *s = nn_in(ctx, 2);
  if (a->dtype != NN_FLOAT)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input 'A' has dtype %s (supported: float32)",
                       nn_dtype_name(a->dtype));
  if (a->ndim < 1 || a->dims[a->ndim - 1] != at->K)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'A' must end in K=%lld, its last dim is %lld",
                       (long long)at->K, a->ndim < 1 ? -1LL : (long long)a->dims[a->ndim - 1]);
  if (b->dtype != NN_UINT8 || b->ndim != 3 || b->dims[0] != at->N ||
      b->dims[1] != at->n_blocks || b->dims[2] != at->blob)
    return nn_op_error(ctx, NN_ERR_INVALID,
                       "input 'B' must be uint8 [%lld, %lld, %lld] (N, blocks, blob bytes)",
                       (long long)at->N, (long long)at->n_blocks, (long long)at->blob);
  if (s->dtype != NN_FLOAT || nn_value_numel(s) != at->N * at->n_blocks)
    return nn_op_error(ctx, NN_ERR_INVALID,
                       "input 'scales' must be float32 with N*blocks = %lld values",
                       (long long)(at->N * at->n_blocks));
  const nn_value *zp = nn_in(ctx, 3);
  if (zp) {
    const int64_t want = zp->dtype == NN_UINT8 ? at->N * at->zp_bytes : at->N * at->n_blocks;
    if ((zp->dtype != NN_UINT8 && zp->dtype != NN_FLOAT) || nn_value_numel(zp) != want)
      return nn_op_error(ctx, NN_ERR_INVALID,
                         "input 'zero_points' must be uint8 (%lld packed bytes) or "
                         "float32 (%lld values)",
                         (long long)(at->N * at->zp_bytes), (long long)(at->N * at->n_blocks));
  }
  if (nn_in(ctx, 4))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input 'g_idx' (act-order) is not supported");
  const nn_value *bias = nn_in(ctx, 5);
  if (bias && (bias->dtype != NN_FLOAT || nn_value_numel(bias) != at->N))
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'bias' must be float32 with N=%lld values",
                       (long long)at->N);
  at->M = 1;
  for (int d = 0; d < a->ndim - 1; d++) at->M *= a->dims[d];
  return NN_OK;
}

static nn_status nbits_infer(nn_op_ctx *ctx) {
  nbits_attrs at;
  nn_status st = nbits_setup(ctx, &at);
  if (st) return st;
  const nn_value *a = nn_in(ctx, 0);
  int64_t dims[NN_MAX_DIMS];
  for (int d = 0; d < a->ndim; d++) dims[d] = d == a->ndim - 1 ? at.N : a->dims[d];
  return nn_value_set(ctx, nn_out(ctx, 0), NN_FLOAT, a->ndim, dims);
}

/* Columns of dequant(B)^T per GEMM call: the driver then packs (or pre-packs) at most
 * K x NBITS_PANEL_COLS floats of weight at a time. */
enum { NBITS_PANEL_COLS = 256 };

static int64_t panel_cols(const nbits_attrs *at, int fast) {
  if (fast) return at->N < NBITS_PANEL_COLS ? at->N : NBITS_PANEL_COLS;
  int64_t nc = NBITS_PANEL_FLOATS / at->K / NBITS_MIN_COLS * NBITS_MIN_COLS;
  if (nc < NBITS_MIN_COLS) nc = NBITS_MIN_COLS;
  return nc < at->N ? nc : at->N;
}

static size_t gemm_ws(int64_t M, int64_t nc, int64_t K, const nn_op_ctx *ctx) {
  const nn_kernels *k = nn_kernels_get();
  const int threads = nn_threadpool_size(nn_session_threadpool(ctx->session));
  return nn_f32_gemm_workspace(k, (size_t)M, (size_t)nc, (size_t)K, 0, 0, threads);
}

static nn_status nbits_prepare(nn_op_ctx *ctx) {
  nbits_attrs at;
  nn_status st = nbits_setup(ctx, &at);
  if (st) return st;
  if (nn_kernels_get()->f32_gemm_ukernel)
    ctx->scratch_size = gemm_ws(at.M > 0 ? at.M : 1, panel_cols(&at, 1), at.K, ctx);
  else
    ctx->scratch_size = (size_t)(panel_cols(&at, 0) * at.K) * sizeof(float);
  return NN_OK;
}

/* Zero point of column j, block blk. */
static inline float nbits_zp(const nn_op_ctx *ctx, const nbits_attrs *at, int64_t j,
                             int64_t blk) {
  const nn_value *zv = nn_in(ctx, 3);
  if (!zv) return (float)(1 << (at->bits - 1));
  if (zv->dtype == NN_FLOAT) return ((const float *)zv->data)[j * at->n_blocks + blk];
  const int64_t bitpos = blk * at->bits;
  const uint8_t byte = ((const uint8_t *)zv->data)[j * at->zp_bytes + bitpos / 8];
  return (float)((byte >> (bitpos % 8)) & ((1u << at->bits) - 1));
}

/* Weights of column j (row j of dequant(B)) for k in [k0, k0+kc) to dst[(k-k0)*stride].
 * Each block decodes through a table of its 2^bits values. */
static void dequant_col(const nn_op_ctx *ctx, const nbits_attrs *at, int64_t j, int64_t k0,
                        int64_t kc, float *dst, size_t stride) {
  const uint8_t *b = nn_in(ctx, 1)->data;
  const float *sc = nn_in(ctx, 2)->data;
  const int bits = (int)at->bits, shift_per_byte = bits == 8 ? 0 : bits == 4 ? 1 : 2;
  const unsigned mask = (1u << bits) - 1, in_byte = (1u << shift_per_byte) - 1;
  float lut[256];
  for (int64_t k = k0; k < k0 + kc;) {
    const int64_t blk = k / at->block, kend0 = (blk + 1) * at->block;
    const int64_t kend = kend0 < k0 + kc ? kend0 : k0 + kc;
    const float s = sc[j * at->n_blocks + blk], z = nbits_zp(ctx, at, j, blk);
    for (unsigned q = 0; q <= mask; q++) lut[q] = ((float)q - z) * s;
    const uint8_t *blob = b + (j * at->n_blocks + blk) * at->blob;
    for (; k < kend; k++) {
      const int64_t kk = k - blk * at->block;
      const unsigned q = (blob[kk >> shift_per_byte] >> ((kk & in_byte) * bits)) & mask;
      dst[(size_t)(k - k0) * stride] = lut[q];
    }
  }
}

/* The GEMM's B-pack callback: columns [j0+i0, j0+i0+ni) of dequant(B)^T, k range
 * [k0, k0+kc), as ceil(ni/r) panels of kc x r (f32_gemm.h), zero past ni. */
typedef struct nbits_pack_ctx {
  const nn_op_ctx *ctx;
  const nbits_attrs *at;
  int64_t j0;
} nbits_pack_ctx;

/* Columns per packed panel the fast 4-bit path handles (the widest NR of the tables). */
enum { NBITS_MAX_NR = 64 };

static void nbits_pack_b(const void *pctx, size_t i0, size_t ni, size_t k0, size_t kc, size_t r,
                         float *dst) {
  const nbits_pack_ctx *p = pctx;
  const nbits_attrs *at = p->at;
  const nn_op_ctx *ctx = p->ctx;
  if (at->bits != 4 || r > NBITS_MAX_NR) {
    for (size_t q = 0; q < (ni + r - 1) / r; q++) {
      float *panel = dst + q * kc * r;
      for (size_t c = 0; c < r; c++) {
        const size_t col = q * r + c;
        if (col < ni)
          dequant_col(ctx, at, p->j0 + (int64_t)(i0 + col), (int64_t)k0, (int64_t)kc,
                      panel + c, r);
        else
          for (size_t k = 0; k < kc; k++) panel[k * r + c] = 0.0f;
      }
    }
    return;
  }
  /* 4 bits: k outer, the panel's columns inner, so each K step writes one contiguous row
   * of NR floats; per block, each column decodes through its 16-entry table. */
  const uint8_t *b = nn_in(ctx, 1)->data;
  const float *sc = nn_in(ctx, 2)->data;
  float lut[NBITS_MAX_NR][16];
  const uint8_t *blob[NBITS_MAX_NR];
  for (size_t q = 0; q < (ni + r - 1) / r; q++) {
    float *panel = dst + q * kc * r;
    const size_t nc = ni - q * r < r ? ni - q * r : r;
    for (size_t k = k0; k < k0 + kc;) {
      const int64_t blk = (int64_t)k / at->block;
      const size_t kend0 = (size_t)((blk + 1) * at->block);
      const size_t kend = kend0 < k0 + kc ? kend0 : k0 + kc;
      for (size_t c = 0; c < nc; c++) {
        const int64_t j = p->j0 + (int64_t)(i0 + q * r + c), i = j * at->n_blocks + blk;
        const float s = sc[i], z = nbits_zp(ctx, at, j, blk);
        for (int v = 0; v < 16; v++) lut[c][v] = ((float)v - z) * s;
        blob[c] = b + i * at->blob;
      }
      for (; k < kend; k++) {
        float *row = panel + (k - k0) * r;
        const size_t kk = k - (size_t)(blk * at->block), sh = (kk & 1) * 4;
        for (size_t c = 0; c < nc; c++) row[c] = lut[c][(blob[c][kk >> 1] >> sh) & 15];
        for (size_t c = nc; c < r; c++) row[c] = 0.0f;
      }
    }
  }
}

static nn_status nbits_run(nn_op_ctx *ctx) {
  nbits_attrs at;
  nn_status st = nbits_setup(ctx, &at);
  if (st) return st;
  nn_value *y = nn_out(ctx, 0);
  if (!y || !nn_value_numel(y)) return NN_OK;
  const float *A = nn_in(ctx, 0)->data;
  const nn_value *bias = nn_in(ctx, 5);
  float *Y = y->data;
  const nn_kernels *k = nn_kernels_get();
  const int fast = k->f32_gemm_ukernel != NULL;
  const int64_t nc = panel_cols(&at, fast);
  if (!fast) {
    /* Reference level: a row-major panel of dequantized weight, the reference GEMM. */
    float *panel = ctx->scratch;
    if (ctx->scratch_size < (size_t)(nc * at.K) * sizeof(float))
      return nn_op_error(ctx, NN_ERR_RUNTIME, "workspace of %zu bytes is too small",
                         ctx->scratch_size);
    for (int64_t j0 = 0; j0 < at.N; j0 += nc) {
      const int64_t w = at.N - j0 < nc ? at.N - j0 : nc;
      for (int64_t j = 0; j < w; j++) dequant_col(ctx, &at, j0 + j, 0, at.K, panel + j * at.K, 1);
      float *c = Y + j0;
      nn_f32_gemm__ref(at.M, w, at.K, A, at.K, 0, panel, at.K, 1, c, at.N, 1.0f, 0.0f);
      if (bias)
        for (int64_t i = 0; i < at.M; i++)
          for (int64_t j = 0; j < w; j++) c[i * at.N + j] += ((const float *)bias->data)[j0 + j];
    }
    return NN_OK;
  }
  /* Rows per GEMM: all of them unless the workspace was planned for fewer (shapes that
   * grew after prepare). */
  int64_t rows = at.M;
  while (rows > 1 && gemm_ws(rows, nc, at.K, ctx) > ctx->scratch_size) rows = (rows + 1) / 2;
  for (int64_t j0 = 0; j0 < at.N; j0 += nc) {
    const int64_t w = at.N - j0 < nc ? at.N - j0 : nc;
    const nbits_pack_ctx pc = {ctx, &at, j0};
    for (int64_t i0 = 0; i0 < at.M; i0 += rows) {
      const int64_t m = at.M - i0 < rows ? at.M - i0 : rows;
      nn_f32_gemm_problem p = {.M = (size_t)m, .N = (size_t)w, .K = (size_t)at.K,
                               .alpha = 1.0f, .c = Y + i0 * at.N + j0, .ldc = (size_t)at.N};
      p.a.data = A + i0 * at.K;
      p.a.ld = (size_t)at.K;
      p.b.pack = nbits_pack_b;
      p.b.ctx = &pc;
      if (bias) {
        p.bias = (const float *)bias->data + j0;
        p.flags = NN_F32_GEMM_BIAS_COL;
      }
      nn_f32_gemm_run(k, &p, ctx->scratch, ctx->scratch_size, nn_session_threadpool(ctx->session));
    }
  }
  return NN_OK;
}

NN_OP(MatMulNBits) = {.op_type = "MatMulNBits", .domain = "com.microsoft", .infer = nbits_infer,
                      .prepare = nbits_prepare, .run = nbits_run};
