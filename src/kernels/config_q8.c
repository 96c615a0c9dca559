/*
 * config_q8.c - 8-bit integer entries of the kernel table per ISA level. The reference
 * level gets the portable microkernels (pack_q8.c) so the packed paths of the ops run
 * everywhere; x8_gemm stays nn_x8_gemm__ref there and becomes the packed driver over the
 * level's microkernel above it.
 */
#include "kernels/dispatch.h"
#include "kernels/q8_dwconv.h"
#include "kernels/q8_eltwise.h"
#include "kernels/q8_gemm.h"

#if defined(__x86_64__)
void nn_q8_gemm_ukernel_4x8__avx2(size_t, size_t, size_t, const int8_t *, const uint8_t *,
                                  void *, size_t, int, const nn_q8_gemm_params *);
void nn_q8_gemm_ukernel_4x32__avx512(size_t, size_t, size_t, const int8_t *, const uint8_t *,
                                     void *, size_t, int, const nn_q8_gemm_params *);
void nn_q8_gemm_ukernel_8x32__avx512vnni(size_t, size_t, size_t, const int8_t *,
                                         const uint8_t *, void *, size_t, int,
                                         const nn_q8_gemm_params *);
void nn_q8_pack_x__avx2(size_t, size_t, size_t, const uint8_t *const *, size_t, uint8_t,
                        uint8_t *);
void nn_q8_pack_x__avx512(size_t, size_t, size_t, const uint8_t *const *, size_t, uint8_t,
                          uint8_t *);
void nn_q8_dwconv3x3__avx2(const nn_q8_dw_args *);
void nn_q8_dwconv3x3__avx512vnni(const nn_q8_dw_args *);
void nn_q8_dwconv3x3__avx512vbmi(const nn_q8_dw_args *);
void nn_q8_add__avx2(size_t, const uint8_t *, const uint8_t *, const nn_q8_add_params *,
                     uint8_t *);
void nn_q8_add__avx512(size_t, const uint8_t *, const uint8_t *, const nn_q8_add_params *,
                       uint8_t *);
void nn_q8_quantize__avx2(size_t, const float *, float, int32_t, int32_t, int32_t, uint8_t *);
void nn_q8_quantize__avx512(size_t, const float *, float, int32_t, int32_t, int32_t, uint8_t *);
#endif
#if defined(__aarch64__)
void nn_q8_gemm_ukernel_4x8__neon(size_t, size_t, size_t, const int8_t *, const uint8_t *,
                                  void *, size_t, int, const nn_q8_gemm_params *);
void nn_q8_gemm_ukernel_8x8__neondot(size_t, size_t, size_t, const int8_t *, const uint8_t *,
                                     void *, size_t, int, const nn_q8_gemm_params *);
void nn_q8_dwconv3x3__neon(const nn_q8_dw_args *);
void nn_q8_add__neon(size_t, const uint8_t *, const uint8_t *, const nn_q8_add_params *,
                     uint8_t *);
void nn_q8_quantize__neon(size_t, const float *, float, int32_t, int32_t, int32_t, uint8_t *);
#endif

#if defined(__x86_64__)
void nn_q8_dwconv3x3_cl__avx512vnni(const nn_q8_dwcl_args *, size_t, size_t, void *);
#endif

nn_q8_dwconv3x3_cl_fn nn_q8_dwconv3x3_cl_select(const nn_kernels *k) {
#if defined(__x86_64__)
  if (k->isa == NN_ISA_AVX512VNNI) return nn_q8_dwconv3x3_cl__avx512vnni; /* vpdpbusd */
#else
  (void)k;
#endif
  return nn_q8_dwconv3x3_cl__scalar;
}

/* x8_gemm entries: the packed driver bound to one level's microkernel. */
#define X8_GEMM_ENTRY(NAME, GEMM, PACK, MR, NR, OFF)                                        \
  static const nn_kernels NAME##_table = {                                                  \
      .q8_gemm = GEMM, .q8_pack_x = PACK, .q8_mr = MR, .q8_nr = NR, .q8_x_offset = OFF};   \
  static void NAME(int a_signed, int b_signed, size_t m, size_t n, size_t k, const void *a, \
                   size_t lda, const void *a_zp, size_t a_zp_inc, const void *b, size_t ldb, \
                   const void *b_zp, size_t b_zp_inc, int32_t *c, size_t ldc) {             \
    nn_x8_gemm__packed(&NAME##_table, a_signed, b_signed, m, n, k, a, lda, a_zp, a_zp_inc,  \
                       b, ldb, b_zp, b_zp_inc, c, ldc);                                     \
  }

#if defined(__x86_64__)
X8_GEMM_ENTRY(x8_gemm_avx2, nn_q8_gemm_ukernel_4x8__avx2, nn_q8_pack_x__avx2, 4, 8, 0)
X8_GEMM_ENTRY(x8_gemm_avx512, nn_q8_gemm_ukernel_4x32__avx512, nn_q8_pack_x__avx512, 4, 32,
              0)
X8_GEMM_ENTRY(x8_gemm_avx512vnni, nn_q8_gemm_ukernel_8x32__avx512vnni, nn_q8_pack_x__avx512,
              8, 32, 0)
#endif
#if defined(__aarch64__)
X8_GEMM_ENTRY(x8_gemm_neon, nn_q8_gemm_ukernel_4x8__neon, nn_q8_pack_x__scalar, 4, 8, 0)
X8_GEMM_ENTRY(x8_gemm_neondot, nn_q8_gemm_ukernel_8x8__neondot, nn_q8_pack_x__scalar, 8, 8,
              -128)
#endif

void nn_kernels_init_q8(nn_kernels *k, nn_isa isa) {
  k->q8_gemm = nn_q8_gemm_ukernel_4x8__scalar;
  k->q8_pack_x = nn_q8_pack_x__scalar;
  k->q8_mr = 4;
  k->q8_nr = 8;
  k->q8_x_offset = 0;
  k->q8_dwconv3x3 = nn_q8_dwconv3x3__scalar;
  k->q8_add = nn_q8_add__scalar;
  k->q8_quantize = nn_q8_quantize__scalar;
  /* plain C, vectorized by the compiler: every fast level */
  k->x8_maxpool2d = isa == NN_ISA_REF ? NULL : nn_x8_maxpool2d;
#if defined(__x86_64__)
  if (isa >= NN_ISA_AVX2 && isa <= NN_ISA_AVX512VNNI) {
    k->x8_gemm = x8_gemm_avx2;
    k->q8_gemm = nn_q8_gemm_ukernel_4x8__avx2;
    k->q8_pack_x = nn_q8_pack_x__avx2;
    k->q8_mr = 4;
    k->q8_nr = 8;
    k->q8_dwconv3x3 = nn_q8_dwconv3x3__avx2;
    k->q8_add = nn_q8_add__avx2;
    k->q8_quantize = nn_q8_quantize__avx2;
  }
  if (isa >= NN_ISA_AVX512 && isa <= NN_ISA_AVX512VNNI) {
    k->x8_gemm = x8_gemm_avx512;
    k->q8_gemm = nn_q8_gemm_ukernel_4x32__avx512;
    k->q8_pack_x = nn_q8_pack_x__avx512;
    k->q8_mr = 4;
    k->q8_nr = 32;
    k->q8_add = nn_q8_add__avx512;
    k->q8_quantize = nn_q8_quantize__avx512;
  }
  if (isa == NN_ISA_AVX512VNNI) {
    k->x8_gemm = x8_gemm_avx512vnni;
    k->q8_gemm = nn_q8_gemm_ukernel_8x32__avx512vnni;
    k->q8_mr = 8;
    k->q8_nr = 32;
    /* vpermb (AVX512-VBMI; every VNNI CPU but Cascade Lake) for narrow planes. (A vpermt2b
     * panel packer measured slower than the unpacks on Zen 4.) */
    k->q8_dwconv3x3 = __builtin_cpu_supports("avx512vbmi") ? nn_q8_dwconv3x3__avx512vbmi
                                                           : nn_q8_dwconv3x3__avx512vnni;
  }
#elif defined(__aarch64__)
  if (isa >= NN_ISA_NEON) {
    k->x8_gemm = x8_gemm_neon;
    k->q8_gemm = nn_q8_gemm_ukernel_4x8__neon;
    k->q8_mr = 4;
    k->q8_nr = 8;
    k->q8_dwconv3x3 = nn_q8_dwconv3x3__neon;
    k->q8_add = nn_q8_add__neon;
    k->q8_quantize = nn_q8_quantize__neon;
  }
  if (isa >= NN_ISA_NEONDOT) {
    k->x8_gemm = x8_gemm_neondot;
    k->q8_gemm = nn_q8_gemm_ukernel_8x8__neondot;
    k->q8_mr = 8;
    k->q8_nr = 8;
    k->q8_x_offset = -128;
  }
#else
  (void)isa;
#endif
}
