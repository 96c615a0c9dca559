/*
 * config_f32_eltwise.c - fills the float32 elementwise entries of the kernel table
 * (f32_eltwise.h) and the float epilogue of the q8 MatMul adapter (q8_matmul.h): AVX2
 * kernels from the AVX2 level up, AVX-512 ones where they exist. Also picks the range
 * kernel of DynamicQuantizeMatMul, the direct q8 MatMul microkernel (q8_matmul.h) and
 * the direct float32 batched-matmul microkernel (f32_mm_direct.h), which have no table
 * entries.
 * The reference level leaves them NULL, so ops keep their reference loops.
 */
#include "kernels/f32_eltwise.h"
#include "kernels/f32_mm_direct.h"
#include "kernels/q8_matmul.h"

void nn_kernels_init_f32_eltwise(nn_kernels *k, nn_isa isa) {
#if defined(__x86_64__)
  if (isa >= NN_ISA_AVX2 && isa <= NN_ISA_AVX512VNNI) {
    k->f32_vbinary[NN_F32_VADD] = nn_f32_vadd__avx2;
    k->f32_vbinary[NN_F32_VSUB] = nn_f32_vsub__avx2;
    k->f32_vbinary[NN_F32_VMUL] = nn_f32_vmul__avx2;
    k->f32_vbinary[NN_F32_VDIV] = nn_f32_vdiv__avx2;
    k->f32_verf = nn_f32_verf__avx2;
    k->f32_vgelu = nn_f32_vgelu__avx2;
    k->f32_softmax = nn_f32_softmax__avx2;
    k->q8_mmstore_f32 = nn_q8_mmstore_f32__avx2;
    k->q8_pack_xt = nn_q8_pack_xt__avx2;
    k->x32_where = nn_x32_where__avx2;
    k->f32_layernorm = nn_f32_layernorm__avx2;
  }
  if (isa >= NN_ISA_AVX512 && isa <= NN_ISA_AVX512VNNI) {
    k->f32_verf = nn_f32_verf__avx512;
    k->f32_vgelu = nn_f32_vgelu__avx512;
    k->f32_softmax = nn_f32_softmax__avx512;
  }
#else
  (void)k;
  (void)isa;
#endif
}

nn_f32_range_fn nn_f32_range_for(const nn_kernels *kern) {
#if defined(__x86_64__)
  if (kern->isa >= NN_ISA_AVX512 && kern->isa <= NN_ISA_AVX512VNNI) return nn_f32_range__avx512;
#else
  (void)kern;
#endif
  return nn_f32_range__scalar;
}

nn_q8_mmf_ukernel_fn nn_q8_mmf_ukernel_for(const nn_kernels *kern) {
#if defined(__x86_64__)
  if (kern->isa == NN_ISA_AVX512VNNI) return nn_q8_mmf_ukernel_8x32__avx512vnni;
#else
  (void)kern;
#endif
  return NULL;
}

nn_f32_mmd_ukernel_fn nn_f32_mmd_ukernel_for(const nn_kernels *kern) {
#if defined(__x86_64__)
  if (kern->isa >= NN_ISA_AVX512 && kern->isa <= NN_ISA_AVX512VNNI)
    return nn_f32_mmd_ukernel_8x32__avx512;
#else
  (void)kern;
#endif
  return NULL;
}
