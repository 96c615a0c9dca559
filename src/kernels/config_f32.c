/*
 * config_f32.c - float32 entries of the kernel table per ISA level, and the
 * table's f32_gemm of each fast level (the blocked GEMM over that level's
 * microkernel). Upgrades step by step: ref -> avx2 -> avx512 (x86), ref -> neon.
 */
#include "kernels/dispatch.h"
#include "kernels/f32_conv.h"
#include "kernels/f32_gemm.h"
#include "kernels/f32_pool.h"

#if defined(__x86_64__)
static void gemm_avx2(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                      int transA, const float *B, int64_t ldb, int transB, float *C,
                      int64_t ldc, float alpha, float beta) {
  nn_f32_gemm_blocked(nn_f32_gemm_ukernel_6x16__avx2, 6, 16, M, N, K, A, lda, transA, B, ldb,
                      transB, C, ldc, alpha, beta);
}
/* The AVX-512 tile: 8x32 (16 accumulators); -DNN_F32_AVX512_MR=12 selects 12x32. */
#ifndef NN_F32_AVX512_MR
#define NN_F32_AVX512_MR 8
#endif
#if NN_F32_AVX512_MR == 12
#define AVX512_UKERNEL nn_f32_gemm_ukernel_12x32__avx512
#else
#define AVX512_UKERNEL nn_f32_gemm_ukernel_8x32__avx512
#endif
static void gemm_avx512(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                        int transA, const float *B, int64_t ldb, int transB, float *C,
                        int64_t ldc, float alpha, float beta) {
  nn_f32_gemm_blocked(AVX512_UKERNEL, NN_F32_AVX512_MR, 32, M, N, K, A, lda, transA, B, ldb,
                      transB, C, ldc, alpha, beta);
}
#elif defined(__aarch64__)
static void gemm_neon(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                      int transA, const float *B, int64_t ldb, int transB, float *C,
                      int64_t ldc, float alpha, float beta) {
  nn_f32_gemm_blocked(nn_f32_gemm_ukernel_8x8__neon, 8, 8, M, N, K, A, lda, transA, B, ldb,
                      transB, C, ldc, alpha, beta);
}
#endif

void nn_kernels_init_f32(nn_kernels *k, nn_isa isa) {
  if (isa != NN_ISA_REF) k->f32_maxpool2d = nn_f32_maxpool2d;
  if (isa != NN_ISA_REF) k->f32_global_avgpool = nn_f32_global_avgpool;
#if defined(__x86_64__)
  if (isa >= NN_ISA_AVX2 && isa < NN_ISA_NEON) k->f32_maxpool2d = nn_f32_maxpool2d__avx2;
  if (isa >= NN_ISA_AVX512 && isa < NN_ISA_NEON) k->f32_maxpool2d = nn_f32_maxpool2d__avx512;
#elif defined(__aarch64__)
  if (isa >= NN_ISA_NEON) k->f32_maxpool2d = nn_f32_maxpool2d__neon;
#endif
#if defined(__x86_64__)
  if (isa >= NN_ISA_AVX2 && isa < NN_ISA_NEON) {
    k->f32_gemm = gemm_avx2;
    k->f32_gemm_ukernel = nn_f32_gemm_ukernel_6x16__avx2;
    k->f32_gemm_mr = 6;
    k->f32_gemm_nr = 16;
    k->f32_dwconv3x3[0] = nn_f32_dwconv3x3s1__avx2;
    k->f32_dwconv3x3[1] = nn_f32_dwconv3x3s2__avx2;
  }
  if (isa >= NN_ISA_AVX512 && isa < NN_ISA_NEON) {
    k->f32_gemm = gemm_avx512;
    k->f32_gemm_ukernel = AVX512_UKERNEL;
    k->f32_gemm_mr = NN_F32_AVX512_MR;
    k->f32_gemm_nr = 32;
#if NN_F32_AVX512_MR == 8
    k->f32_gemm_ukernel_direct = nn_f32_gemm_direct_ukernel_8x48__avx512;
    k->f32_gemm_direct_nr = 48;
#endif
    k->f32_gemm_ukernel_direct_a = nn_f32_gemm_direct_a_ukernel_7x32__avx512;
    k->f32_gemm_direct_a_mr = 7;
    k->f32_gemv = nn_f32_gemv_1x32__avx512;
    k->f32_dwconv3x3[0] = nn_f32_dwconv3x3s1__avx512;
    k->f32_dwconv3x3[1] = nn_f32_dwconv3x3s2__avx512;
    k->f32_dwconv3x3c16 = nn_f32_dwconv3x3c16__avx512;
    k->f32_pack_b = nn_f32_pack_b__avx512;
    k->f32_conv_pack_b = nn_f32_conv_pack_b__avx512;
    k->f32_conv_pack_b_shifted = nn_f32_conv_pack_b_shifted__avx512;
    k->f32_copy_stride2 = nn_f32_copy_stride2__avx512;
  }
#elif defined(__aarch64__)
  if (isa >= NN_ISA_NEON) {
    k->f32_gemm = gemm_neon;
    k->f32_gemm_ukernel = nn_f32_gemm_ukernel_8x8__neon;
    k->f32_gemm_mr = 8;
    k->f32_gemm_nr = 8;
    k->f32_dwconv3x3[0] = nn_f32_dwconv3x3s1__neon;
    k->f32_dwconv3x3[1] = nn_f32_dwconv3x3s2__neon;
  }
#else
  (void)k;
  (void)isa;
#endif
}
