/*
 * test_f32_resize.c - the float32 2-D Resize kernel (kernels/f32_resize.h) against
 * nn_f32_resize__ref: nearest (each rounding rule) and linear, every coordinate
 * transformation it takes, up- and down-scaling with integer and fractional scales,
 * odd sizes, 1 and 2 threads, guard pages; and the cases it must decline (cubic,
 * tf_crop_and_resize, a resized outer axis). Tolerance: float32 against the reference's
 * double sums, |err| <= 1e-6 * (sum of |w x| over the taps) + 1e-30.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernel_test.h"
#include "kernels/f32_resize.h"
#include "kernels/ref/resize.h"
#include "runtime/threadpool.h"

static void set_params(nn_resize_params *p, const int64_t *in, const int64_t *out,
                       const double *scale, nn_resize_mode mode, nn_resize_coord coord,
                       nn_resize_nearest nearest) {
  memset(p, 0, sizeof *p);
  p->ndim = 4;
  for (int d = 0; d < 4; d++) {
    p->in[d] = in[d];
    p->out[d] = out[d];
    p->scale[d] = scale[d];
    p->length[d] = (double)out[d];
    p->roi_end[d] = 1.0;
  }
  p->mode = mode;
  p->coord = coord;
  p->nearest = nearest;
  p->cubic_a = -0.75;
}

static void one_case(nn_threadpool *pool, const nn_resize_params *p) {
  size_t xs = 1, ys = 1;
  for (int d = 0; d < 4; d++) {
    xs *= (size_t)p->in[d];
    ys *= (size_t)p->out[d];
  }
  const size_t wsb = nn_f32_resize2d_workspace(p);
  /* these two transforms move even the unscaled outer axes: the kernel must decline */
  const int take = p->coord != NN_COORD_TF_HALF_PIXEL_FOR_NN &&
                   p->coord != NN_COORD_HALF_PIXEL_SYMMETRIC;
  KT_CHECK((wsb > 0) == take, "resize %lldx%lld -> %lldx%lld mode %d coord %d: taken %d",
           (long long)p->in[2], (long long)p->in[3], (long long)p->out[2],
           (long long)p->out[3], (int)p->mode, (int)p->coord, wsb > 0);
  if (!wsb) return;
  kt_guard gx, gy, ga, gr, gm, gw;
  float *x = kt_guard_rand(xs, &gx), *y = kt_guard_alloc(ys, &gy);
  float *ax = kt_guard_alloc(xs, &ga), *r = kt_guard_alloc(ys, &gr);
  float *mag = kt_guard_alloc(ys, &gm), *ws = kt_guard_alloc(wsb / sizeof(float) + 1, &gw);
  for (size_t i = 0; i < xs; i++) ax[i] = fabsf(x[i]);
  nn_f32_resize__ref(p, x, r);
  nn_f32_resize__ref(p, ax, mag); /* sum of |w x| per output */
  for (size_t i = 0; i < ys; i++) y[i] = NAN;
  nn_f32_resize2d(p, x, y, ws, pool);
  int bad = 0;
  for (size_t i = 0; i < ys && bad < 3; i++) {
    const double tol = 1e-6 * (double)mag[i] + 1e-30;
    const int ok = fabs((double)y[i] - (double)r[i]) <= tol;
    bad += !ok;
    KT_CHECK(ok, "resize %lldx%lld -> %lldx%lld mode %d coord %d nearest %d threads %d: "
             "y[%zu]=%.9g ref %.9g", (long long)p->in[2], (long long)p->in[3],
             (long long)p->out[2], (long long)p->out[3], (int)p->mode, (int)p->coord,
             (int)p->nearest, nn_threadpool_size(pool), i, (double)y[i], (double)r[i]);
  }
  kt_guard_free(&gx);
  kt_guard_free(&gy);
  kt_guard_free(&ga);
  kt_guard_free(&gr);
  kt_guard_free(&gm);
  kt_guard_free(&gw);
}

static void test_resize(nn_threadpool *pool) {
  static const int64_t hw[][4] = {
      /* ih iw oh ow */
      {8, 8, 16, 16}, {7, 5, 14, 10}, {5, 9, 13, 20}, {16, 12, 8, 6},
      {9, 11, 4, 5},  {1, 6, 3, 12},  {6, 1, 12, 2},  {3, 4, 3, 9},
  };
  static const nn_resize_coord coords[] = {
      NN_COORD_HALF_PIXEL, NN_COORD_PYTORCH_HALF_PIXEL, NN_COORD_ALIGN_CORNERS,
      NN_COORD_ASYMMETRIC, NN_COORD_TF_HALF_PIXEL_FOR_NN, NN_COORD_HALF_PIXEL_SYMMETRIC};
  for (size_t s = 0; s < sizeof hw / sizeof *hw; s++)
    for (size_t c = 0; c < sizeof coords / sizeof *coords; c++)
      for (int mode = 0; mode < 2; mode++)
        for (int nearest = 0; nearest < (mode ? 1 : 5); nearest++) {
          const int64_t in[4] = {2, 3, hw[s][0], hw[s][1]}, out[4] = {2, 3, hw[s][2], hw[s][3]};
          const double scale[4] = {1, 1, (double)hw[s][2] / (double)hw[s][0],
                                   (double)hw[s][3] / (double)hw[s][1]};
          nn_resize_params p;
          set_params(&p, in, out, scale, mode ? NN_RESIZE_LINEAR : NN_RESIZE_NEAREST,
                     coords[c], (nn_resize_nearest)nearest);
          one_case(pool, &p);
        }
}

static void test_declined(void) {
  const int64_t in[4] = {1, 2, 4, 4}, out[4] = {1, 2, 8, 8}, out3[4] = {1, 4, 8, 8};
  const double scale[4] = {1, 1, 2, 2}, scale3[4] = {1, 2, 2, 2};
  nn_resize_params p;
  set_params(&p, in, out, scale, NN_RESIZE_CUBIC, NN_COORD_HALF_PIXEL, 0);
  KT_CHECK(nn_f32_resize2d_workspace(&p) == 0, "cubic taken");
  set_params(&p, in, out, scale, NN_RESIZE_LINEAR, NN_COORD_TF_CROP_AND_RESIZE, 0);
  KT_CHECK(nn_f32_resize2d_workspace(&p) == 0, "tf_crop_and_resize taken");
  set_params(&p, in, out3, scale3, NN_RESIZE_LINEAR, NN_COORD_HALF_PIXEL, 0);
  KT_CHECK(nn_f32_resize2d_workspace(&p) == 0, "resized channel axis taken");
}

int main(void) {
  nn_threadpool *pool2 = nn_threadpool_create(2);
  test_declined();
  test_resize(NULL);
  test_resize(pool2);
  nn_threadpool_destroy(pool2);
  return kt_report("test_f32_resize");
}
