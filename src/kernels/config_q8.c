/*
 * config_q8.c - 8-bit integer entries of the kernel table per ISA level.
 */
#include "kernels/dispatch.h"

void nn_kernels_init_q8(nn_kernels *k, nn_isa isa) {
  (void)k;
  (void)isa; /* reference kernels only, until the fast ones land */
}
