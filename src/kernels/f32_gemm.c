/*
 * f32_gemm.c - the blocked float32 GEMM driver: splits C into tiles (MC rows x NC
 * columns) that threads take as tasks; each tile walks K in blocks of KC, packs the
 * blocks of the operands that were not packed ahead (per-thread workspace), and runs
 * the microkernel over its MR x NR sub-tiles with the epilogue (bias, clamp) on the
 * last K block. Also the plain-C 4x8 microkernel and the stack-buffer GEMM behind
 * the table's f32_gemm entries.
 */
#include "kernels/f32_gemm.h"

#include <stdint.h>
#include <string.h>

#include "runtime/threadpool.h"

/* KC x NC floats of B (256 KB) and MC x KC of A (96 KB) sit in a 1 MB L2 together. */
enum { GEMM_KC = 256, GEMM_MC = 96, GEMM_NC = 256, WS_ALIGN = 16 /* floats */ };
/* An operand used by several tiles (B when M spans several row tiles, A when N spans
 * several column tiles) is packed once, shared by all threads, up to this many floats. */
enum { GEMM_PREPACK_MAX = 1 << 21 };
/* With A packed ahead (weights) and B too large to pre-pack, a tile takes up to this
 * many rows, so each KC x NC block of B is packed once rather than once per row tile
 * (the block stays in L2 while the A panels stream past it). */
enum { GEMM_MC_ALL = 512 };

static size_t round_up(size_t x, size_t r) { return (x + r - 1) / r * r; }
static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

typedef struct plan {
  size_t mr, nr, kc, mc, nc, tm, tn; /* tm x tn tiles */
  size_t ws_a, ws_b;                 /* floats per thread */
  size_t pre_a, pre_b;               /* floats of the shared whole-operand packs */
} plan;

static void make_plan(size_t mr, size_t nr, size_t M, size_t N, size_t K, int a_packed,
                      int b_packed, int b_direct, int threads, int shrink, plan *pl) {
  pl->mr = mr;
  pl->nr = nr;
  const size_t kb = K > GEMM_KC ? (K + GEMM_KC - 1) / GEMM_KC : 1;
  pl->kc = K ? round_up((K + kb - 1) / kb, 4) : 0;
  if (pl->kc > K) pl->kc = K;
  const size_t mc = GEMM_MC / mr * mr, nc = GEMM_NC / nr * nr;
  pl->mc = min_sz(mc > 0 ? mc : mr, round_up(M, mr));
  pl->nc = min_sz(nc > 0 ? nc : nr, round_up(N, nr));
  /* Workspace is sized before shrinking, so any thread count fits in it. */
  const size_t a_all = round_up(M, mr) * K, b_all = K * round_up(N, nr);
  pl->pre_a = !a_packed && N > pl->nc && a_all <= GEMM_PREPACK_MAX ? round_up(a_all, WS_ALIGN) : 0;
  pl->pre_b = !b_packed && M > pl->mc && b_all <= GEMM_PREPACK_MAX ? round_up(b_all, WS_ALIGN) : 0;
  /* (a B read in place likewise: each row tile reads its own copy of the B block) */
  const int rows_all = a_packed && (b_direct || (!b_packed && !pl->pre_b)) && M > pl->mc;
  if (rows_all) pl->mc = min_sz(round_up(M, mr), GEMM_MC_ALL / mr * mr);
  pl->ws_a = a_packed || pl->pre_a ? 0 : round_up(pl->mc * pl->kc, WS_ALIGN);
  pl->ws_b = b_packed || pl->pre_b ? 0 : round_up(pl->kc * pl->nc, WS_ALIGN);
  /* Enough tiles for the threads to balance: halve the larger tile side until there are
   * 3 per thread and, below 8 per thread, a multiple of the thread count (9 tiles on 2
   * threads leave one running alone: 5% of the time). */
  if (shrink && threads > 1) {
    const size_t want = (size_t)threads * 3, even = (size_t)threads * 8;
    for (;;) {
      const size_t tiles = ((M + pl->mc - 1) / pl->mc) * ((N + pl->nc - 1) / pl->nc);
      if (tiles >= want && (tiles % (size_t)threads == 0 || tiles >= even)) break;
      if (pl->nc > nr && (rows_all || pl->nc >= pl->mc || pl->mc <= mr))
        pl->nc = round_up(pl->nc / 2, nr);
      else if (pl->mc > mr)
        pl->mc = round_up(pl->mc / 2, mr);
      else
        break;
    }
  }
  pl->tm = M ? (M + pl->mc - 1) / pl->mc : 0;
  pl->tn = N ? (N + pl->nc - 1) / pl->nc : 0;
}

size_t nn_f32_gemm_workspace(const nn_kernels *k, size_t M, size_t N, size_t K, int a_packed,
                             int b_packed, int threads) {
  plan pl;
  make_plan(k->f32_gemm_mr, k->f32_gemm_nr, M, N, K, a_packed, b_packed, 0, threads, 0, &pl);
  if (threads < 1) threads = 1;
  return (pl.pre_a + pl.pre_b + (pl.ws_a + pl.ws_b) * (size_t)threads) * sizeof(float);
}

typedef void (*pack_b_fn)(const float *B, size_t ldb, int transB, size_t k0, size_t kc,
                          size_t j0, size_t nj, size_t nr, float *dst);

typedef struct job {
  const nn_f32_gemm_problem *p;
  nn_f32_gemm_ukernel_fn uk;
  nn_f32_gemm_direct_ukernel_fn uk_direct;
  nn_f32_gemm_direct_a_ukernel_fn uk_direct_a;
  pack_b_fn pack_b;
  plan pl;
  float *ws;
} job;

static void gemm_tile(void *ctx, size_t thread, size_t task) {
  const job *jb = ctx;
  const nn_f32_gemm_problem *p = jb->p;
  const plan *pl = &jb->pl;
  const size_t mr = pl->mr, nr = pl->nr, K = p->K;
  const size_t i0 = (task / pl->tn) * pl->mc, j0 = (task % pl->tn) * pl->nc;
  const size_t mi = min_sz(pl->mc, p->M - i0), nj = min_sz(pl->nc, p->N - j0);
  float *wa = jb->ws + thread * (pl->ws_a + pl->ws_b), *wb = wa + pl->ws_a;
  const float mm[2] = {p->min, p->max};
  const size_t kstep = pl->kc ? pl->kc : 1;
  for (size_t k0 = 0; k0 < K || (K == 0 && k0 == 0); k0 += kstep) {
    const size_t kc = min_sz(pl->kc, K - k0);
    const float *abase, *bbase;
    size_t astride, bstride; /* floats between consecutive panels */
    if (p->a.direct) {
      abase = NULL; /* each panel's rows are found by rowoff (below) */
      astride = 0;
    } else if (p->a.packed) {
      abase = p->a.packed + i0 * K + k0 * mr; /* panel i0/mr starts at (i0/mr)*mr*K */
      astride = mr * K;
    } else {
      if (p->a.pack)
        p->a.pack(p->a.ctx, i0, mi, k0, kc, mr, wa);
      else
        nn_f32_pack_a(p->a.data, p->a.ld, p->a.trans, p->alpha, i0, mi, k0, kc, mr, wa);
      abase = wa;
      astride = mr * kc;
    }
    if (p->b.direct) {
      bbase = p->b.direct + j0;
      bstride = nr; /* columns, not panels: see the direct call below */
    } else if (p->b.packed) {
      bbase = p->b.packed + j0 * K + k0 * nr;
      bstride = nr * K;
    } else {
      if (p->b.pack)
        p->b.pack(p->b.ctx, j0, nj, k0, kc, nr, wb);
      else
        jb->pack_b(p->b.data, p->b.ld, p->b.trans, k0, kc, j0, nj, nr, wb);
      bbase = wb;
      bstride = nr * kc;
    }
    const int first = k0 == 0, last = k0 + kc >= K;
    unsigned fl = first ? p->flags & (NN_F32_GEMM_ACC | NN_F32_GEMM_BIAS_ROW |
                                      NN_F32_GEMM_BIAS_COL)
                        : NN_F32_GEMM_ACC;
    if (last) fl |= p->flags & NN_F32_GEMM_CLAMP;
    for (size_t ip = 0; ip < mi; ip += mr) {
      const float *ap = abase ? abase + (ip / mr) * astride : NULL; /* NULL: direct A */
      const size_t m = min_sz(mr, mi - ip);
      float *crow = p->c + (i0 + ip) * p->ldc + j0;
      for (size_t jp = 0; jp < nj; jp += nr) {
        const float *bias = (fl & NN_F32_GEMM_BIAS_ROW)   ? p->bias + i0 + ip
                            : (fl & NN_F32_GEMM_BIAS_COL) ? p->bias + j0 + jp
                                                          : NULL;
        if (p->a.direct) {
          const size_t i = i0 + ip;
          const float *ai = p->a.direct + (i / p->a.row_w) * p->a.row_stride + i % p->a.row_w;
          jb->uk_direct_a(m, min_sz(nr, nj - jp), kc, ai, p->a.koff + k0,
                          bbase + (jp / nr) * bstride, crow + jp, p->ldc, bias, fl, mm);
        } else if (p->b.direct)
          jb->uk_direct(m, min_sz(nr, nj - jp), kc, ap, bbase + jp, p->b.koff + k0, crow + jp,
                        p->ldc, bias, fl, mm);
        else
          jb->uk(m, min_sz(nr, nj - jp), kc, ap, bbase + (jp / nr) * bstride, crow + jp,
                 p->ldc, bias, fl, mm);
      }
    }
    if (K == 0) break;
  }
}

/* Packing a whole operand ahead: one task per (panel, K block). */
typedef struct prepack_job {
  const nn_f32_gemm_problem *p;
  pack_b_fn pack_b;
  int is_b;
  size_t r, kc, kblocks, K;
  float *dst;
} prepack_job;

static void prepack_task(void *ctx, size_t thread, size_t t) {
  const prepack_job *j = ctx;
  const nn_f32_gemm_problem *p = j->p;
  const size_t q = t / j->kblocks, k0 = (t % j->kblocks) * j->kc;
  const size_t kc = min_sz(j->kc, j->K - k0), i0 = q * j->r;
  float *dst = j->dst + i0 * j->K + k0 * j->r;
  (void)thread;
  if (j->is_b) {
    const size_t nj = min_sz(j->r, p->N - i0);
    if (p->b.pack)
      p->b.pack(p->b.ctx, i0, nj, k0, kc, j->r, dst);
    else
      j->pack_b(p->b.data, p->b.ld, p->b.trans, k0, kc, i0, nj, j->r, dst);
  } else {
    const size_t mi = min_sz(j->r, p->M - i0);
    if (p->a.pack)
      p->a.pack(p->a.ctx, i0, mi, k0, kc, j->r, dst);
    else
      nn_f32_pack_a(p->a.data, p->a.ld, p->a.trans, p->alpha, i0, mi, k0, kc, j->r, dst);
  }
}

/* M == 1 with a packed B: one task per group of GEMV_PANELS panels. */
enum { GEMV_PANELS = 4 };
typedef struct gemv_job {
  const nn_f32_gemm_problem *p;
  nn_f32_gemv_fn fn;
  size_t nr;
} gemv_job;

static void gemv_task(void *ctx, size_t thread, size_t t) {
  const gemv_job *j = ctx;
  const nn_f32_gemm_problem *p = j->p;
  const size_t nr = j->nr, a_inc = p->a.trans ? p->a.ld : 1;
  const float mm[2] = {p->min, p->max};
  (void)thread;
  for (size_t q = t * GEMV_PANELS; q < (t + 1) * GEMV_PANELS && q * nr < p->N; q++) {
    const size_t j0 = q * nr;
    const float *bias = (p->flags & NN_F32_GEMM_BIAS_COL)   ? p->bias + j0
                        : (p->flags & NN_F32_GEMM_BIAS_ROW) ? p->bias
                                                            : NULL;
    j->fn(min_sz(nr, p->N - j0), p->K, p->a.data, a_inc, p->alpha, p->b.packed + j0 * p->K, nr,
          p->c + j0, bias, p->flags, mm);
  }
}

void nn_f32_gemm_run(const nn_kernels *k, const nn_f32_gemm_problem *p, void *ws,
                     size_t ws_bytes, nn_threadpool *pool) {
  if (!p->M || !p->N) return;
  if (p->M == 1 && p->b.packed && k->f32_gemv && !p->a.packed && !p->a.pack && !p->a.direct) {
    gemv_job j = {p, k->f32_gemv, k->f32_gemm_nr};
    const size_t panels = (p->N + j.nr - 1) / j.nr;
    nn_threadpool_parallelize(pool, gemv_task, &j, (panels + GEMV_PANELS - 1) / GEMV_PANELS);
    return;
  }
  const int threads = nn_threadpool_size(pool);
  nn_f32_gemm_problem q = *p;
  job jb = {.p = &q, .uk = k->f32_gemm_ukernel, .uk_direct = k->f32_gemm_ukernel_direct,
            .uk_direct_a = k->f32_gemm_ukernel_direct_a,
            .pack_b = k->f32_pack_b ? k->f32_pack_b : nn_f32_pack_b};
  const size_t nr = p->b.direct && k->f32_gemm_direct_nr ? k->f32_gemm_direct_nr : k->f32_gemm_nr;
  make_plan(p->a.direct ? k->f32_gemm_direct_a_mr : k->f32_gemm_mr, nr, p->M, p->N,
            p->K, p->a.packed != NULL || p->a.direct != NULL,
            p->b.packed != NULL || p->b.direct != NULL, p->b.direct != NULL, threads, 1, &jb.pl);
  (void)ws_bytes;
  float *shared = ws;
  jb.ws = shared + jb.pl.pre_a + jb.pl.pre_b;
  if (p->K && (jb.pl.pre_a || jb.pl.pre_b)) {
    prepack_job pj = {.p = p, .pack_b = jb.pack_b, .kc = jb.pl.kc, .K = p->K};
    pj.kblocks = (p->K + pj.kc - 1) / pj.kc;
    if (jb.pl.pre_a) {
      pj.is_b = 0;
      pj.r = jb.pl.mr;
      pj.dst = shared;
      nn_threadpool_parallelize(pool, prepack_task, &pj,
                                (p->M + pj.r - 1) / pj.r * pj.kblocks);
      q.a.packed = shared;
    }
    if (jb.pl.pre_b) {
      pj.is_b = 1;
      pj.r = jb.pl.nr;
      pj.dst = shared + jb.pl.pre_a;
      nn_threadpool_parallelize(pool, prepack_task, &pj,
                                (p->N + pj.r - 1) / pj.r * pj.kblocks);
      q.b.packed = shared + jb.pl.pre_a;
    }
  }
  nn_threadpool_parallelize(pool, gemm_tile, &jb, jb.pl.tm * jb.pl.tn);
}

/* ---- plain C microkernels (4 x 8) ---- */

/* Their epilogue: (+ C) + bias, clamp, store of the mr x nr tile (mr <= 4). */
static void store_scalar(const float acc[4][8], size_t mr, size_t nr, float *c, size_t ldc,
                         const float *bias, unsigned flags, const float *minmax) {
  for (size_t i = 0; i < mr; i++)
    for (size_t j = 0; j < nr; j++) {
      float v = acc[i][j];
      if (flags & NN_F32_GEMM_ACC) v += c[i * ldc + j];
      if (flags & NN_F32_GEMM_BIAS_ROW) v += bias[i];
      if (flags & NN_F32_GEMM_BIAS_COL) v += bias[j];
      if (flags & NN_F32_GEMM_CLAMP) v = v < minmax[0] ? minmax[0] : v > minmax[1] ? minmax[1] : v;
      c[i * ldc + j] = v;
    }
}

void nn_f32_gemm_ukernel_4x8__scalar(size_t mr, size_t nr, size_t kc, const float *a,
                                     const float *b, float *c, size_t ldc, const float *bias,
                                     unsigned flags, const float *minmax) {
  enum { MR = 4, NR = 8 };
  float acc[MR][NR] = {{0}};
  for (size_t k = 0; k < kc; k++, a += MR, b += NR)
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++) acc[i][j] += a[i] * b[j];
  store_scalar(acc, mr, nr, c, ldc, bias, flags, minmax);
}

void nn_f32_gemm_direct_ukernel_4x8__scalar(size_t mr, size_t nr, size_t kc, const float *a,
                                            const float *b, const int32_t *koff, float *c,
                                            size_t ldc, const float *bias, unsigned flags,
                                            const float *minmax) {
  enum { MR = 4, NR = 8 };
  float panel[NR];
  float acc[MR][NR] = {{0}};
  for (size_t k = 0; k < kc; k++, a += MR) {
    for (size_t j = 0; j < NR; j++) panel[j] = j < nr ? b[koff[k] + (int64_t)j] : 0.0f;
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++) acc[i][j] += a[i] * panel[j];
  }
  store_scalar(acc, mr, nr, c, ldc, bias, flags, minmax);
}

void nn_f32_gemv__scalar(size_t n, size_t K, const float *a, size_t a_inc, float alpha,
                         const float *b, size_t panel, float *c, const float *bias,
                         unsigned flags, const float *minmax) {
  for (size_t j = 0; j < n; j++) {
    float v = 0.0f;
    for (size_t k = 0; k < K; k++) v += a[k * a_inc] * b[k * panel + j];
    v *= alpha;
    if (flags & NN_F32_GEMM_ACC) v += c[j];
    if (flags & NN_F32_GEMM_BIAS_ROW) v += bias[0];
    if (flags & NN_F32_GEMM_BIAS_COL) v += bias[j];
    if (flags & NN_F32_GEMM_CLAMP) v = v < minmax[0] ? minmax[0] : v > minmax[1] ? minmax[1] : v;
    c[j] = v;
  }
}

void nn_f32_gemm_direct_a_ukernel_3x8__scalar(size_t mr, size_t nr, size_t kc, const float *a,
                                              const int32_t *koff, const float *b, float *c,
                                              size_t ldc, const float *bias, unsigned flags,
                                              const float *minmax) {
  enum { NR = 8 }; /* MR = 3: rows past mr are never read */
  float acc[4][8] = {{0}};
  for (size_t k = 0; k < kc; k++, b += NR)
    for (size_t i = 0; i < mr; i++)
      for (int j = 0; j < NR; j++) acc[i][j] += a[koff[k] + (int64_t)i] * b[j];
  store_scalar(acc, mr, nr, c, ldc, bias, flags, minmax);
}

/* ---- the ref contract through a microkernel, packing on the stack ---- */

/* Column chunk of the sub-problems: keeps the stack buffer at MC*KC + KC*NCHUNK. */
enum { BLOCKED_NCHUNK = 64 };

void nn_f32_gemm_blocked(nn_f32_gemm_ukernel_fn uk, size_t mr, size_t nr, int64_t M,
                         int64_t N, int64_t K, const float *A, int64_t lda, int transA,
                         const float *B, int64_t ldb, int transB, float *C, int64_t ldc,
                         float alpha, float beta) {
  if (M <= 0 || N <= 0) return;
  if (K < 0) K = 0;
  if (beta != 0.0f && beta != 1.0f)
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) C[i * ldc + j] *= beta;
  _Alignas(64) float ws[GEMM_MC * GEMM_KC + GEMM_KC * BLOCKED_NCHUNK + 2 * WS_ALIGN];
  nn_kernels k;
  memset(&k, 0, sizeof k);
  k.f32_gemm_ukernel = uk;
  k.f32_gemm_mr = (unsigned)mr;
  k.f32_gemm_nr = (unsigned)nr;
  nn_f32_gemm_problem p = {.M = (size_t)M, .K = (size_t)K, .alpha = alpha, .ldc = (size_t)ldc,
                           .flags = beta != 0.0f ? NN_F32_GEMM_ACC : 0};
  p.a.data = A;
  p.a.ld = (size_t)lda;
  p.a.trans = transA;
  p.b.ld = (size_t)ldb;
  p.b.trans = transB;
  /* Sub-problems of at most one row tile and NCHUNK columns: nothing is pre-packed
   * whole, so the workspace stays within the stack buffer. */
  const int64_t mchunk = GEMM_MC / (int64_t)mr * (int64_t)mr;
  for (int64_t j0 = 0; j0 < N; j0 += BLOCKED_NCHUNK) {
    p.N = (size_t)(N - j0 < BLOCKED_NCHUNK ? N - j0 : BLOCKED_NCHUNK);
    p.b.data = transB ? B + j0 * ldb : B + j0;
    for (int64_t i0 = 0; i0 < M; i0 += mchunk) {
      p.M = (size_t)(M - i0 < mchunk ? M - i0 : mchunk);
      p.a.data = transA ? A + i0 : A + i0 * lda;
      p.c = C + i0 * ldc + j0;
      nn_f32_gemm_run(&k, &p, ws, sizeof ws, NULL);
    }
  }
}
