/*
 * f32_resize.h - fast float32 Resize of the common upsampling case: nearest or
 * (bi)linear over the last two axes, every other axis left as it is. The taps of each
 * output row and column come from the reference (nn_resize_axis_taps2) once per run,
 * into a workspace; then each plane is interpolated in float32 with the work split
 * over planes. Reference twin: nn_f32_resize__ref (which sums in double): results agree
 * within 4 ulp-scale float rounding, |err| <= 1e-6 * sum |w x|.
 */
#ifndef NN_KERNELS_F32_RESIZE_H
#define NN_KERNELS_F32_RESIZE_H

#include <stddef.h>

#include "kernels/ref/resize.h"

struct nn_threadpool;

/* Workspace bytes for p, or 0 when p is not the case this kernel handles (then the
 * caller runs nn_f32_resize__ref). */
size_t nn_f32_resize2d_workspace(const nn_resize_params *p);
/* y = Resize(x) for a p with nonzero nn_f32_resize2d_workspace(p) and ws of that size. */
void nn_f32_resize2d(const nn_resize_params *p, const float *x, float *y, void *ws,
                     struct nn_threadpool *pool);

#endif
