/*
 * config_f32.c - float32 entries of the kernel table per ISA level.
 */
#include "kernels/dispatch.h"

void nn_kernels_init_f32(nn_kernels *k, nn_isa isa) {
  (void)k;
  (void)isa; /* reference kernels only, until the fast ones land */
}
