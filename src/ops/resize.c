/*
 * resize.c - Resize (opsets 10-19) and Upsample (1, 7, 9): resolves scales or sizes
 * (with axes and keep_aspect_ratio_policy of opset 18), roi, the coordinate
 * transformation and nearest rounding of each opset, then runs kernels/ref/resize.c.
 */
#include <math.h>
#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/f32_resize.h"
#include "kernels/ref/resize.h"
#include "ops/op.h"
#include "runtime/session.h"

static nn_status parse_mode(nn_op_ctx *ctx, nn_resize_mode *m) {
  const char *s = nn_attr_string(ctx->node, "mode", "nearest");
  if (!strcmp(s, "nearest")) *m = NN_RESIZE_NEAREST;
  else if (!strcmp(s, "linear") || !strcmp(s, "bilinear") || !strcmp(s, "trilinear"))
    *m = NN_RESIZE_LINEAR;
  else if (!strcmp(s, "cubic") && !strcmp(ctx->node->op_type, "Resize") && ctx->opset >= 11)
    *m = NN_RESIZE_CUBIC;
  else
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'mode' is '%s'", s);
  return NN_OK;
}

static nn_status parse_coord(nn_op_ctx *ctx, nn_resize_coord *c) {
  static const struct {
    const char *name;
    nn_resize_coord c;
  } tab[] = {
      {"half_pixel", NN_COORD_HALF_PIXEL},
      {"pytorch_half_pixel", NN_COORD_PYTORCH_HALF_PIXEL},
      {"align_corners", NN_COORD_ALIGN_CORNERS},
      {"asymmetric", NN_COORD_ASYMMETRIC},
      {"tf_half_pixel_for_nn", NN_COORD_TF_HALF_PIXEL_FOR_NN},
      {"tf_crop_and_resize", NN_COORD_TF_CROP_AND_RESIZE},
      {"half_pixel_symmetric", NN_COORD_HALF_PIXEL_SYMMETRIC},
  };
  const char *s = nn_attr_string(ctx->node, "coordinate_transformation_mode", "half_pixel");
  for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
    if (!strcmp(s, tab[i].name)) {
      *c = tab[i].c;
      return NN_OK;
    }
  return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'coordinate_transformation_mode' is '%s'",
                     s);
}

static nn_status parse_nearest(nn_op_ctx *ctx, nn_resize_nearest *n) {
  const char *s = nn_attr_string(ctx->node, "nearest_mode", "round_prefer_floor");
  if (!strcmp(s, "round_prefer_floor")) *n = NN_NEAREST_ROUND_PREFER_FLOOR;
  else if (!strcmp(s, "round_prefer_ceil")) *n = NN_NEAREST_ROUND_PREFER_CEIL;
  else if (!strcmp(s, "floor")) *n = NN_NEAREST_FLOOR;
  else if (!strcmp(s, "ceil")) *n = NN_NEAREST_CEIL;
  else return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'nearest_mode' is '%s'", s);
  return NN_OK;
}

static int present(const nn_value *v) { return v && nn_value_numel(v) > 0; }

/* Fill p (shapes, scales, modes). NN_INFER_DEFERRED when a needed input value is
 * unknown. */
static nn_status resize_setup(nn_op_ctx *ctx, nn_resize_params *p) {
  const nn_value *x = nn_in(ctx, 0);
  const int is_resize = !strcmp(ctx->node->op_type, "Resize");
  nn_status s;
  if (!x) return nn_op_error(ctx, NN_ERR_INVALID, "input 'X' is required");
  if (x->dtype == NN_STRING || !nn_dtype_traits_of(x->dtype))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input 'X' has dtype %s",
                       nn_dtype_name(x->dtype));
  memset(p, 0, sizeof *p);
  const int r = x->ndim;
  p->ndim = r;
  if ((s = parse_mode(ctx, &p->mode))) return s;
  p->cubic_a = -0.75;
  for (int d = 0; d < r; d++) {
    p->in[d] = x->dims[d];
    p->scale[d] = 1;
    p->roi_start[d] = 0;
    p->roi_end[d] = 1;
  }
  double scales[NN_MAX_DIMS];
  int64_t sizes[NN_MAX_DIMS];
  int have_scales = 0, have_sizes = 0;
  int axes[NN_MAX_DIMS], naxes = r;
  for (int d = 0; d < r; d++) axes[d] = d;

  if (!is_resize || ctx->opset < 11) {
    /* Upsample 1/7/9 and Resize-10: scales only, asymmetric, Upsample's rounding. */
    p->coord = NN_COORD_ASYMMETRIC;
    p->nearest = NN_NEAREST_SIMPLE;
    if (!is_resize && ctx->opset < 7) {
      if (r != 4)
        return nn_op_error(ctx, NN_ERR_INVALID, "input 'X' has rank %d, expected 4", r);
      scales[0] = scales[1] = 1;
      scales[2] = nn_attr_float(ctx->node, "height_scale", 1.0f);
      scales[3] = nn_attr_float(ctx->node, "width_scale", 1.0f);
    } else if (!is_resize && ctx->opset < 9) {
      const float *f;
      int n = nn_attr_floats(ctx->node, "scales", &f);
      if (n != r)
        return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'scales' has %d values, expected %d",
                           n, r);
      for (int d = 0; d < r; d++) scales[d] = f[d];
    } else {
      const nn_value *sv = nn_in(ctx, 1);
      if (!sv) return nn_op_error(ctx, NN_ERR_INVALID, "input 'scales' is required");
      if (!sv->data) return NN_INFER_DEFERRED;
      if (sv->dtype != NN_FLOAT || nn_value_numel(sv) != r)
        return nn_op_error(ctx, NN_ERR_INVALID, "input 'scales' must be float32 with %d values",
                           r);
      for (int d = 0; d < r; d++) scales[d] = nn_value_get_f64(sv, d);
    }
    have_scales = 1;
  } else {
    if ((s = parse_coord(ctx, &p->coord))) return s;
    if ((s = parse_nearest(ctx, &p->nearest))) return s;
    if (p->coord == NN_COORD_TF_HALF_PIXEL_FOR_NN && ctx->opset >= 13)
      return nn_op_error(ctx, NN_ERR_INVALID, "coordinate_transformation_mode "
                         "'tf_half_pixel_for_nn' was removed in opset 13");
    p->cubic_a = nn_attr_float(ctx->node, "cubic_coeff_a", -0.75f);
    p->exclude_outside = nn_attr_int(ctx->node, "exclude_outside", 0) != 0;
    p->extrapolation = nn_attr_float(ctx->node, "extrapolation_value", 0.0f);
    if (nn_attr_int(ctx->node, "antialias", 0) && p->mode != NN_RESIZE_NEAREST)
      return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "antialias=1 is not supported");
    const int64_t *ax;
    int na = ctx->opset >= 18 ? nn_attr_ints(ctx->node, "axes", &ax) : -1;
    if (na >= 0) {
      int seen[NN_MAX_DIMS] = {0};
      naxes = na;
      for (int k = 0; k < na; k++) {
        if ((s = nn_norm_axis(ctx, ax[k], r, &axes[k]))) return s;
        if (seen[axes[k]])
          return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'axes' repeats axis %d", axes[k]);
        seen[axes[k]] = 1;
      }
    }
    const nn_value *roi = nn_in(ctx, 1), *sv = nn_in(ctx, 2), *zv = nn_in(ctx, 3);
    have_scales = present(sv);
    have_sizes = present(zv);
    if (have_scales && have_sizes)
      return nn_op_error(ctx, NN_ERR_INVALID, "only one of 'scales' and 'sizes' may be given");
    if (!have_scales && !have_sizes)
      return nn_op_error(ctx, NN_ERR_INVALID, "one of 'scales' and 'sizes' is required");
    const nn_value *v = have_scales ? sv : zv;
    if (!v->data) return NN_INFER_DEFERRED;
    if (nn_value_numel(v) != naxes)
      return nn_op_error(ctx, NN_ERR_INVALID, "input '%s' has %lld values, expected %d",
                         have_scales ? "scales" : "sizes", (long long)nn_value_numel(v), naxes);
    if (have_scales && sv->dtype != NN_FLOAT && sv->dtype != NN_DOUBLE && sv->dtype != NN_FLOAT16)
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'scales' has dtype %s, expected float",
                         nn_dtype_name(sv->dtype));
    if (have_sizes && zv->dtype != NN_INT64)
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'sizes' has dtype %s, expected int64",
                         nn_dtype_name(zv->dtype));
    for (int d = 0; d < r; d++) {
      scales[d] = 1;
      sizes[d] = x->dims[d];
    }
    for (int k = 0; k < naxes; k++) {
      if (have_scales) scales[axes[k]] = nn_value_get_f64(sv, k);
      else sizes[axes[k]] = nn_value_get_i64(zv, k);
    }
    if (p->coord == NN_COORD_TF_CROP_AND_RESIZE && present(roi)) {
      if (!roi->data) return NN_INFER_DEFERRED;
      if (nn_value_numel(roi) != 2 * naxes)
        return nn_op_error(ctx, NN_ERR_INVALID, "input 'roi' has %lld values, expected %d",
                           (long long)nn_value_numel(roi), 2 * naxes);
      for (int k = 0; k < naxes; k++) {
        p->roi_start[axes[k]] = nn_value_get_f64(roi, k);
        p->roi_end[axes[k]] = nn_value_get_f64(roi, k + naxes);
      }
    }
  }

  if (have_scales) {
    for (int d = 0; d < r; d++) {
      if (!(scales[d] > 0) || isinf(scales[d]))
        return nn_op_error(ctx, NN_ERR_INVALID, "scale of axis %d is %g, expected > 0", d,
                           scales[d]);
      double extent = (double)x->dims[d];
      if (p->coord == NN_COORD_TF_CROP_AND_RESIZE) extent *= p->roi_end[d] - p->roi_start[d];
      /* the product is rounded to float first (as ONNX Runtime does), so a scale
       * like 0.7f on 10 elements gives 7, not 6 */
      const float prod = (float)(extent * (double)(float)scales[d]);
      if (!(prod < 1099511627776.0f)) /* 2^40: beyond any tensor we can hold */
        return nn_op_error(ctx, NN_ERR_INVALID, "scale %g on axis %d gives an output size "
                           "that is too large", scales[d], d);
      p->out[d] = prod > 0 ? (int64_t)floorf(prod) : 0;
      p->scale[d] = scales[d];
      p->length[d] = scales[d] * (double)x->dims[d];
    }
  } else {
    const char *pol = nn_attr_string(ctx->node, "keep_aspect_ratio_policy", "stretch");
    int not_larger = !strcmp(pol, "not_larger"), not_smaller = !strcmp(pol, "not_smaller");
    if (!not_larger && !not_smaller && strcmp(pol, "stretch"))
      return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'keep_aspect_ratio_policy' is '%s'",
                         pol);
    for (int d = 0; d < r; d++)
      if (sizes[d] < 0)
        return nn_op_error(ctx, NN_ERR_INVALID, "size of axis %d is negative", d);
    if (ctx->opset >= 18 && (not_larger || not_smaller)) {
      double sc = not_larger ? INFINITY : 0;
      for (int k = 0; k < naxes; k++) {
        const int d = axes[k];
        if (!x->dims[d])
          return nn_op_error(ctx, NN_ERR_INVALID, "axis %d is empty", d);
        const double q = (double)sizes[d] / (double)x->dims[d];
        if (not_larger ? q < sc : q > sc) sc = q;
      }
      for (int k = 0; k < naxes; k++) {
        const int d = axes[k];
        sizes[d] = (int64_t)floor(sc * (double)x->dims[d] + 0.5);
        scales[d] = sc;
      }
    } else {
      for (int d = 0; d < r; d++)
        scales[d] = x->dims[d] ? (double)sizes[d] / (double)x->dims[d] : 1.0;
    }
    for (int d = 0; d < r; d++) {
      p->out[d] = sizes[d];
      p->scale[d] = scales[d] > 0 ? scales[d] : 1.0;
      p->length[d] = (ctx->opset >= 18 && (not_larger || not_smaller))
                         ? scales[d] * (double)x->dims[d]
                         : (double)sizes[d];
    }
  }
  for (int d = 0; d < r; d++)
    if (p->out[d] > 0 && p->in[d] == 0)
      return nn_op_error(ctx, NN_ERR_INVALID, "axis %d of input 'X' is empty but the output "
                         "is not", d);
  if (nn_resize_check(p))
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "too many resized axes for mode '%s'",
                       nn_attr_string(ctx->node, "mode", "nearest"));
  if (p->mode != NN_RESIZE_NEAREST) {
    const nn_dtype t = x->dtype;
    if (t != NN_FLOAT && t != NN_DOUBLE && t != NN_FLOAT16 && t != NN_UINT8 && t != NN_INT8 &&
        t != NN_INT32 && t != NN_INT64)
      return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "interpolating dtype %s is not supported",
                         nn_dtype_name(t));
  }
  return NN_OK;
}

static nn_status resize_infer(nn_op_ctx *ctx) {
  nn_resize_params p;
  nn_status s = resize_setup(ctx, &p);
  if (s) return s;
  return nn_value_set(ctx, nn_out(ctx, 0), nn_in(ctx, 0)->dtype, p.ndim, p.out);
}

/* float32 nearest/linear upsampling over the last two axes runs kernels/f32_resize.h
 * (not under NNOPT_ISA=ref): its tap tables live in the workspace sized here. */
static nn_status resize_prepare(nn_op_ctx *ctx) {
  nn_resize_params p;
  const nn_value *x = nn_in(ctx, 0);
  if (nn_kernels_get()->isa == NN_ISA_REF || !x || x->dtype != NN_FLOAT) return NN_OK;
  if (resize_setup(ctx, &p)) { /* scales known only at run time: the reference runs */
    nn_error_clear();
    return NN_OK;
  }
  ctx->scratch_size = nn_f32_resize2d_workspace(&p);
  return NN_OK;
}

static nn_status resize_run(nn_op_ctx *ctx) {
  nn_resize_params p;
  nn_status s = resize_setup(ctx, &p);
  if (s == NN_INFER_DEFERRED)
    return nn_op_error(ctx, NN_ERR_RUNTIME, "scales/sizes have no value");
  if (s) return s;
  const nn_value *x = nn_in(ctx, 0);
  nn_value *y = nn_out(ctx, 0);
  if (!y || !nn_value_numel(y)) return NN_OK;
  if (x->dtype == NN_FLOAT && ctx->scratch && ctx->scratch_size &&
      nn_f32_resize2d_workspace(&p) == ctx->scratch_size) {
    nn_f32_resize2d(&p, x->data, y->data, ctx->scratch, nn_session_threadpool(ctx->session));
    return NN_OK;
  }
  switch (x->dtype) {
  case NN_FLOAT: nn_f32_resize__ref(&p, x->data, y->data); return NN_OK;
  case NN_DOUBLE: nn_f64_resize__ref(&p, x->data, y->data); return NN_OK;
  case NN_FLOAT16: nn_f16_resize__ref(&p, x->data, y->data); return NN_OK;
  case NN_UINT8: nn_u8_resize__ref(&p, x->data, y->data); return NN_OK;
  case NN_INT8: nn_i8_resize__ref(&p, x->data, y->data); return NN_OK;
  case NN_INT32: nn_i32_resize__ref(&p, x->data, y->data); return NN_OK;
  case NN_INT64: nn_i64_resize__ref(&p, x->data, y->data); return NN_OK;
  default: {
    const nn_dtype_traits *tr = nn_dtype_traits_of(x->dtype);
    unsigned char ext[16] = {0};
    if (tr->from_f64) tr->from_f64(ext, p.extrapolation);
    nn_x_resize_nearest__ref(&p, tr->size, x->data, y->data, ext);
    return NN_OK;
  }
  }
}

NN_OP(Resize) = {.op_type = "Resize", .domain = "", .infer = resize_infer,
                 .prepare = resize_prepare, .run = resize_run};
NN_OP(Upsample) = {.op_type = "Upsample", .domain = "", .infer = resize_infer,
                   .prepare = resize_prepare, .run = resize_run};
