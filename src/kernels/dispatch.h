/*
 * dispatch.h - one table of kernel function pointers, filled once at start-up for the
 * CPU found (or the one NNOPT_ISA forces: ref, avx2, avx512, avx512vnni, neon,
 * neondot). Ops call kernels through this table only; no ISA test appears anywhere
 * else. Every entry has a plain-C reference twin in src/kernels/ref/, which is what
 * the table holds when no faster kernel exists for the CPU.
 *
 * Each kernel family fills its own entries in its own file (src/kernels/config_*.c)
 * through an nn_kernels_init_* function, upgrading step by step as MLAS does:
 * ref -> avx2 -> avx512 -> avx512vnni (x86) or ref -> neon -> neondot (arm64).
 */
#ifndef NN_KERNELS_DISPATCH_H
#define NN_KERNELS_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

typedef enum nn_isa {
  NN_ISA_REF = 0,
  NN_ISA_AVX2 = 1,       /* AVX2 + FMA + F16C */
  NN_ISA_AVX512 = 2,     /* AVX-512 F/BW/VL/DQ */
  NN_ISA_AVX512VNNI = 3, /* + VNNI (vpdpbusd) */
  NN_ISA_NEON = 10,      /* AArch64 Advanced SIMD */
  NN_ISA_NEONDOT = 11,   /* + dot product (sdot/udot) */
} nn_isa;

struct nn_pool_params;
struct nn_f32_dwconv3x3c16_args;
struct nn_q8_gemm_params;
struct nn_q8_dw_args;
struct nn_q8_add_params;

typedef struct nn_kernels {
  nn_isa isa; /* the level the table was filled for */

  /* ---- float32 (config_f32.c) ---- */
  /* Same contract as nn_f32_gemm__ref (src/kernels/ref/gemm.h). */
  void (*f32_gemm)(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, int transA,
                   const float *B, int64_t ldb, int transB, float *C, int64_t ldc,
                   float alpha, float beta);

  /* ---- 8-bit integer (config_q8.c) ---- */
  /* Same contract as nn_x8_gemm__ref (src/kernels/ref/qgemm.h). */
  void (*x8_gemm)(int a_signed, int b_signed, size_t m, size_t n, size_t k, const void *a,
                  size_t lda, const void *a_zp, size_t a_zp_inc, const void *b, size_t ldb,
                  const void *b_zp, size_t b_zp_inc, int32_t *c, size_t ldc);

  /* ---- float32 fast paths (config_f32.c; see kernels/f32_gemm.h, f32_conv.h) ----
   * NULL / 0 at the reference level: ops then keep their reference path. */
  /* Packed GEMM microkernel and its register tile (f32_gemm.h: layouts, contract). */
  void (*f32_gemm_ukernel)(size_t mr, size_t nr, size_t kc, const float *a, const float *b,
                           float *c, size_t ldc, const float *bias, unsigned flags,
                           const float *minmax);
  unsigned f32_gemm_mr, f32_gemm_nr;
  /* The same tile reading B rows in place at per-row offsets (f32_gemm.h; NULL: conv
   * packs B with f32_conv_pack_b_shifted instead). */
  void (*f32_gemm_ukernel_direct)(size_t mr, size_t nr, size_t kc, const float *a,
                                  const float *b, const int32_t *koff, float *c, size_t ldc,
                                  const float *bias, unsigned flags, const float *minmax);
  unsigned f32_gemm_direct_nr; /* its column tile (0: f32_gemm_nr) */
  /* ... and reading A rows in place (f32_gemm.h), tile f32_gemm_direct_a_mr x f32_gemm_nr
   * (NULL: conv keeps im2col packing for positions-as-rows GEMMs). */
  void (*f32_gemm_ukernel_direct_a)(size_t mr, size_t nr, size_t kc, const float *a,
                                    const int32_t *koff, const float *b, float *c,
                                    size_t ldc, const float *bias, unsigned flags,
                                    const float *minmax);
  unsigned f32_gemm_direct_a_mr;
  /* One row times a packed B panel (f32_gemm.h; NULL: M == 1 runs the tile kernel). */
  void (*f32_gemv)(size_t n, size_t K, const float *a, size_t a_inc, float alpha,
                   const float *b, size_t panel, float *c, const float *bias, unsigned flags,
                   const float *minmax);
  /* Depthwise 3x3 convolution of one NCHW plane, [0] stride 1, [1] stride 2
   * (f32_conv.h); reference twin: nn_f32_conv__ref with group == channels. */
  void (*f32_dwconv3x3[2])(size_t ih, size_t iw, size_t oh, size_t ow, size_t pad_top,
                           size_t pad_left, const float *x, const float *w, float bias,
                           float *y, const float *minmax);
  /* Depthwise 3x3 of up to 16 narrow planes at once, channels in lanes (f32_conv.h;
   * NULL: the per-plane kernels above). */
  void (*f32_dwconv3x3c16)(const struct nn_f32_dwconv3x3c16_args *a, const float *x,
                           const float *w, const float *bias, const float *z, float *y,
                           size_t nc, float *scratch);
  /* GlobalAveragePool of float planes (f32_pool.h; NULL at the reference level). */
  void (*f32_global_avgpool)(int64_t planes, int64_t n, const float *x, float *y);
  /* Max pooling of 2-D planes without indices (f32_pool.h; plain C, set at every fast
   * level so that NNOPT_ISA=ref keeps the reference). */
  void (*f32_maxpool2d)(const struct nn_pool_params *p, const float *x, float *y,
                        size_t plane0, size_t n);
  /* B-panel packers of the level (NULL: the plain-C ones, nn_f32_pack_b and
   * nn_f32_conv_pack_b, which are their reference twins). */
  void (*f32_pack_b)(const float *B, size_t ldb, int transB, size_t k0, size_t kc, size_t j0,
                     size_t nj, size_t nr, float *dst);
  void (*f32_conv_pack_b)(const void *ctx, size_t j0, size_t nj, size_t k0, size_t kc,
                          size_t nr, float *dst);
  /* dst[i] = src[2 * i], i < n (f32_conv.h; NULL: plain C). */
  void (*f32_copy_stride2)(const float *src, size_t n, float *dst);
  /* ... and of nn_f32_conv_pack_b_shifted (stride-1 convolutions, f32_conv.h). */
  void (*f32_conv_pack_b_shifted)(const void *ctx, size_t j0, size_t nj, size_t k0,
                                  size_t kc, size_t nr, float *dst);

  /* ---- 8-bit integer fast paths (config_q8.c) ----
   * Packed u8 x s8 GEMM microkernel, tile q8_mr x q8_nr, and its activation-panel
   * packer (contracts in src/kernels/q8_gemm.h); the microkernel sums w * (x +
   * q8_x_offset). Filled at every level (portable versions at the reference level). */
  void (*q8_gemm)(size_t mr, size_t nc, size_t kq, const int8_t *w, const uint8_t *x,
                  void *c, size_t ldc, int mode, const struct nn_q8_gemm_params *p);
  void (*q8_pack_x)(size_t k, size_t nc, size_t nr, const uint8_t *const *rows, size_t col,
                    uint8_t xor_mask, uint8_t *out);
  unsigned q8_mr, q8_nr;
  int32_t q8_x_offset;
  /* Depthwise 3x3 convolution of one uint8 channel plane, int8 weights, requantized
   * (src/kernels/q8_dwconv.h). */
  void (*q8_dwconv3x3)(const struct nn_q8_dw_args *a);
  /* QLinearAdd of two same-shape 8-bit tensors (src/kernels/q8_eltwise.h). */
  void (*q8_add)(size_t n, const uint8_t *a, const uint8_t *b,
                 const struct nn_q8_add_params *p, uint8_t *y);
  /* QuantizeLinear of float32 to 8 bits (src/kernels/q8_eltwise.h); reference twin:
   * nn_f32_qu8_quantize__ref / nn_f32_qs8_quantize__ref. */
  void (*q8_quantize)(size_t n, const float *x, float scale, int32_t zp, int32_t qmin,
                      int32_t qmax, uint8_t *y);
  /* MaxPool of 2-D uint8 / int8 planes without indices (q8_eltwise.h: the contract of
   * f32_maxpool2d); NULL at the reference level, which keeps nn_u8/i8_maxpool__ref. */
  void (*x8_maxpool2d)(const struct nn_pool_params *p, const void *x, void *y, size_t plane0,
                       size_t n, int is_signed);

  /* ---- float32 elementwise of the transformer ops (config_f32_eltwise.c; contracts and
   * tolerances in src/kernels/f32_eltwise.h). NULL at the reference level. ---- */
  /* add, sub, mul, div (NN_F32_V*): the nn_binary_fn contract, bit-exact. */
  void (*f32_vbinary[4])(int64_t n, const void *a, int sa, const void *b, int sb, void *y,
                         const void *aux);
  void (*f32_verf)(size_t n, const float *x, float *y);
  /* The erf form of Gelu on top of f32_verf, in one pass (f32_eltwise.h). */
  void (*f32_vgelu)(size_t n, const float *x, float *y);
  /* Softmax of one contiguous row of n elements. */
  void (*f32_softmax)(size_t n, const float *x, float *y);
  /* LayerNormalization of one contiguous row (per-element scale and bias). */
  void (*f32_layernorm)(size_t n, const float *x, const float *scale, const float *bias,
                        float eps, float *y, float *mean, float *inv_std);
  /* Where over one inner run of 32-bit elements, bit-exact. */
  void (*x32_where)(int64_t n, const uint8_t *c, int sc, const void *x, int sx, const void *y,
                    int sy, void *o);
  /* Activation panel of the q8 MatMul adapter from x^T (kernels/q8_matmul.h). */
  void (*q8_pack_xt)(size_t k, size_t nc, size_t nr, const uint8_t *xt, size_t ldxt,
                     uint8_t xor_mask, uint8_t *out);
  /* Float epilogue of the q8 MatMul adapter (kernels/q8_matmul.h), bit-exact. */
  void (*q8_mmstore_f32)(size_t mc, size_t nc, const int32_t *tile, size_t ldt, float *y,
                         size_t ldy, const float *mult, const float *bias);
} nn_kernels;

/* The table for this process (detected once, thread-safe). */
const nn_kernels *nn_kernels_get(void);
/* The best level this CPU supports, ignoring NNOPT_ISA. */
nn_isa nn_isa_detect(void);
const char *nn_isa_name(nn_isa isa);
/* Parse an NNOPT_ISA value; -1 when unknown. */
int nn_isa_parse(const char *s);
/* Fill a table for an explicit level (tests compare every level on one machine). A
 * level above what the CPU supports is clamped down to it. */
void nn_kernels_fill(nn_kernels *k, nn_isa isa);

/* Per-family fillers (each in its config_*.c): set the family's entries for isa,
 * leaving the reference ones where no faster kernel exists. */
void nn_kernels_init_f32(nn_kernels *k, nn_isa isa);
void nn_kernels_init_q8(nn_kernels *k, nn_isa isa);
void nn_kernels_init_f32_eltwise(nn_kernels *k, nn_isa isa);

#endif
