/*
 * conv.c - Conv and ConvTranspose (opsets 1-18): attribute validation, padding and
 * output-shape rules (explicit pads, auto_pad SAME_UPPER/SAME_LOWER/VALID, output_shape
 * and output_padding), then the kernels: a float32 Conv with constant weights runs a
 * plan of kernels/f32_conv.h (weights packed at prepare, work split over the session's
 * threads) when the dispatch table has fast kernels; everything else, and every
 * convolution under NNOPT_ISA=ref, runs the reference kernels of kernels/ref/conv.c.
 */
#include <math.h>
#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/f32_conv.h"
#include "kernels/ref/conv.h"
#include "ops/op.h"
#include "runtime/session.h"
#include "runtime/threadpool.h"

enum { AP_NOTSET, AP_SAME_UPPER, AP_SAME_LOWER, AP_VALID };

static nn_status parse_auto_pad(nn_op_ctx *ctx, int *out) {
  const char *ap = nn_attr_string(ctx->node, "auto_pad", "NOTSET");
  if (!strcmp(ap, "NOTSET") || !*ap)
    *out = AP_NOTSET;
  else if (!strcmp(ap, "SAME_UPPER"))
    *out = AP_SAME_UPPER;
  else if (!strcmp(ap, "SAME_LOWER"))
    *out = AP_SAME_LOWER;
  else if (!strcmp(ap, "VALID"))
    *out = AP_VALID;
  else
    return nn_op_error(ctx, NN_ERR_INVALID,
                       "attribute 'auto_pad' is '%s', expected NOTSET, SAME_UPPER, "
                       "SAME_LOWER or VALID", ap);
  return NN_OK;
}

/* Common checks of X and W; fills batch/channels/group and the spatial rank. */
static nn_status check_inputs(nn_op_ctx *ctx, int transpose, nn_conv_params *p, int *nsp) {
  const nn_value *x = nn_in(ctx, 0), *w = nn_in(ctx, 1), *b = nn_in(ctx, 2);
  if (!x || !w)
    return nn_op_error(ctx, NN_ERR_INVALID, "inputs 'X' and 'W' are required");
  if (x->dtype != NN_FLOAT && x->dtype != NN_DOUBLE)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "input 'X' has dtype %s (float32, float64 "
                       "supported)", nn_dtype_name(x->dtype));
  if (w->dtype != x->dtype)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'W' has dtype %s, 'X' has %s",
                       nn_dtype_name(w->dtype), nn_dtype_name(x->dtype));
  if (x->ndim < 3 || x->ndim > 2 + NN_CONV_SP)
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED,
                       "input 'X' has rank %d, expected 3 to %d (N, C, 1 to 3 spatial dims)",
                       x->ndim, 2 + NN_CONV_SP);
  if (w->ndim != x->ndim)
    return nn_op_error(ctx, NN_ERR_INVALID, "input 'W' has rank %d, expected %d like 'X'",
                       w->ndim, x->ndim);
  *nsp = x->ndim - 2;
  p->batch = x->dims[0];
  p->in_ch = x->dims[1];
  p->group = nn_attr_int(ctx->node, "group", 1);
  if (p->group < 1)
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'group' is %lld, expected >= 1",
                       (long long)p->group);
  if (!transpose) {
    p->out_ch = w->dims[0];
    if (p->in_ch % p->group || p->out_ch % p->group || w->dims[1] * p->group != p->in_ch)
      return nn_op_error(ctx, NN_ERR_INVALID,
                         "input 'X' has %lld channels and 'W' has shape [%lld, %lld, ...]: "
                         "incompatible with group %lld",
                         (long long)p->in_ch, (long long)w->dims[0], (long long)w->dims[1],
                         (long long)p->group);
  } else {
    p->out_ch = w->dims[1] * p->group;
    if (w->dims[0] != p->in_ch || p->in_ch % p->group)
      return nn_op_error(ctx, NN_ERR_INVALID,
                         "input 'W' has %lld input channels, 'X' has %lld (group %lld)",
                         (long long)w->dims[0], (long long)p->in_ch, (long long)p->group);
  }
  if (b) {
    if (b->dtype != x->dtype)
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'B' has dtype %s, expected %s",
                         nn_dtype_name(b->dtype), nn_dtype_name(x->dtype));
    if (b->ndim != 1 || b->dims[0] != p->out_ch)
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'B' must be 1-D with %lld values",
                         (long long)p->out_ch);
  }
  for (int d = 0; d < NN_CONV_SP; d++) {
    p->in[d] = p->out[d] = p->kernel[d] = p->stride[d] = p->dilation[d] = 1;
    p->pad_begin[d] = 0;
  }
  const int64_t *ks;
  int nks = nn_attr_ints(ctx->node, "kernel_shape", &ks);
  if (nks >= 0 && nks != *nsp)
    return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'kernel_shape' has %d values, "
                       "expected %d", nks, *nsp);
  for (int d = 0; d < *nsp; d++) {
    if (nks >= 0 && ks[d] != w->dims[2 + d])
      return nn_op_error(ctx, NN_ERR_INVALID,
                         "attribute 'kernel_shape'[%d] is %lld but 'W' has %lld", d,
                         (long long)ks[d], (long long)w->dims[2 + d]);
    if (w->dims[2 + d] < 1)
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'W' has an empty kernel");
  }
  return NN_OK;
}

/* Resolve the whole Conv problem; outdims receives the output shape. */
static nn_status conv_setup(nn_op_ctx *ctx, nn_conv_params *p, int64_t *outdims) {
  int nsp, ap;
  int64_t st[NN_CONV_SP], dl[NN_CONV_SP], pads[2 * NN_CONV_SP];
  nn_status s;
  if ((s = check_inputs(ctx, 0, p, &nsp))) return s;
  if ((s = parse_auto_pad(ctx, &ap))) return s;
  if ((s = nn_op_ints_attr(ctx, "strides", nsp, 1, 1, st, NULL))) return s;
  if ((s = nn_op_ints_attr(ctx, "dilations", nsp, 1, 1, dl, NULL))) return s;
  if ((s = nn_op_ints_attr(ctx, "pads", 2 * nsp, 0, 0, pads, NULL))) return s;
  const nn_value *x = nn_in(ctx, 0), *w = nn_in(ctx, 1);
  const int off = NN_CONV_SP - nsp; /* 1-D/2-D problems fill the trailing dims */
  outdims[0] = p->batch;
  outdims[1] = p->out_ch;
  for (int d = 0; d < nsp; d++) {
    const int64_t in = x->dims[2 + d], k = w->dims[2 + d];
    const int64_t ek = (k - 1) * dl[d] + 1; /* dilated kernel extent */
    int64_t pb = pads[d], pe = pads[d + nsp], out;
    if (ap == AP_SAME_UPPER || ap == AP_SAME_LOWER) {
      out = (in + st[d] - 1) / st[d];
      int64_t total = (out - 1) * st[d] + ek - in;
      if (total < 0) total = 0;
      pb = ap == AP_SAME_UPPER ? total / 2 : total - total / 2;
    } else {
      if (ap == AP_VALID) pb = pe = 0;
      if (in + pb + pe < ek)
        return nn_op_error(ctx, NN_ERR_INVALID,
                           "spatial dim %d: input %lld plus pads %lld+%lld is smaller than "
                           "the dilated kernel %lld", d, (long long)in, (long long)pb,
                           (long long)pe, (long long)ek);
      out = (in + pb + pe - ek) / st[d] + 1;
    }
    outdims[2 + d] = out;
    p->in[off + d] = in;
    p->out[off + d] = out;
    p->kernel[off + d] = k;
    p->stride[off + d] = st[d];
    p->dilation[off + d] = dl[d];
    p->pad_begin[off + d] = pb;
  }
  return NN_OK;
}

/* com.microsoft FusedConv (what nn_pass_fuse_conv_activation makes): Y =
 * activation(Conv(X, W, B) + Z), Z optional (a residual Add) and shaped as Y; of the
 * activations Relu and Clip (activation_params = [min, max]) are supported, as clamp
 * bounds, and none (no attribute) is the identity. *has = 0 without activation. */
static nn_status conv_activation(nn_op_ctx *ctx, const int64_t *od, int *has, float mm[2]) {
  *has = 0;
  if (strcmp(ctx->node->op_type, "FusedConv")) return NN_OK;
  const nn_value *z = ctx->n_in > 3 ? nn_in(ctx, 3) : NULL, *x = nn_in(ctx, 0);
  if (z) {
    int same = z->dtype == x->dtype && z->ndim == x->ndim;
    for (int d = 0; same && d < z->ndim; d++) same = z->dims[d] == od[d];
    if (!same)
      return nn_op_error(ctx, NN_ERR_INVALID, "input 'Z' (fused sum) must have the output's "
                         "dtype and shape");
  }
  const char *a = nn_attr_string(ctx->node, "activation", "");
  if (!*a) return NN_OK;
  if (!strcmp(a, "Relu")) {
    mm[0] = 0.0f;
    mm[1] = INFINITY;
  } else if (!strcmp(a, "Clip")) {
    const float *v;
    if (nn_attr_floats(ctx->node, "activation_params", &v) != 2)
      return nn_op_error(ctx, NN_ERR_INVALID, "activation Clip needs 2 activation_params");
    mm[0] = v[0];
    mm[1] = v[1];
  } else {
    return nn_op_error(ctx, NN_ERR_UNSUPPORTED, "activation '%s' (Relu and Clip supported)", a);
  }
  *has = 1;
  return NN_OK;
}

static nn_status conv_infer(nn_op_ctx *ctx) {
  nn_conv_params p;
  int64_t od[2 + NN_CONV_SP];
  int act;
  float mm[2];
  nn_status s = conv_setup(ctx, &p, od);
  if (s || (s = conv_activation(ctx, od, &act, mm))) return s;
  return nn_value_set(ctx, nn_out(ctx, 0), nn_in(ctx, 0)->dtype, nn_in(ctx, 0)->ndim, od);
}

static nn_status conv_prepare(nn_op_ctx *ctx) {
  nn_conv_params p;
  int64_t od[2 + NN_CONV_SP];
  int act;
  float mm[2];
  nn_status s = conv_setup(ctx, &p, od);
  if (s || (s = conv_activation(ctx, od, &act, mm))) return s;
  const nn_value *x = nn_in(ctx, 0), *w = nn_in(ctx, 1), *b = nn_in(ctx, 2);
  const nn_kernels *k = nn_kernels_get();
  /* Fast path: float32 with weights (and bias) known before running, packed once. */
  if (x->dtype == NN_FLOAT && k->f32_gemm_ukernel && w->data && (w->flags & NN_V_CONST) &&
      (!b || (b->data && (b->flags & NN_V_CONST)))) {
    nn_f32_conv_plan *pl =
        nn_f32_conv_plan_create(k, &p, w->data, b ? b->data : NULL, act ? mm : NULL);
    if (pl) {
      ctx->state = pl;
      const int threads = nn_threadpool_size(nn_session_threadpool(ctx->session));
      ctx->scratch_size = nn_f32_conv_plan_workspace(pl, threads);
      return NN_OK;
    }
  }
  ctx->scratch_size = nn_conv_scratch_elems(&p) * nn_dtype_size(x->dtype);
  return NN_OK;
}

static void conv_release(void *state) { nn_f32_conv_plan_free(state); }

static nn_status conv_run(nn_op_ctx *ctx) {
  nn_conv_params p;
  int64_t od[2 + NN_CONV_SP];
  int act;
  float mm[2];
  nn_status s = conv_setup(ctx, &p, od);
  if (s || (s = conv_activation(ctx, od, &act, mm))) return s;
  const nn_value *x = nn_in(ctx, 0), *w = nn_in(ctx, 1), *b = nn_in(ctx, 2);
  nn_value *y = nn_out(ctx, 0);
  if (!y || !nn_value_numel(y)) return NN_OK;
  const nn_value *z = ctx->n_in > 3 ? nn_in(ctx, 3) : NULL;
  if (ctx->state) {
    nn_f32_conv_plan_run_sum(ctx->state, x->data, z ? z->data : NULL, y->data, ctx->scratch,
                             ctx->scratch_size, nn_session_threadpool(ctx->session));
    return NN_OK;
  }
  size_t es = nn_dtype_size(x->dtype);
  size_t scratch_elems = ctx->scratch ? ctx->scratch_size / es : 0;
  if (x->dtype == NN_FLOAT)
    nn_f32_conv__ref(&p, x->data, w->data, b ? b->data : NULL, y->data, ctx->scratch,
                     scratch_elems);
  else
    nn_f64_conv__ref(&p, x->data, w->data, b ? b->data : NULL, y->data, ctx->scratch,
                     scratch_elems);
  if (z) { /* and the fused sum */
    const int64_t n = nn_value_numel(y);
    for (int64_t i = 0; i < n; i++) {
      if (x->dtype == NN_FLOAT)
        ((float *)y->data)[i] += ((const float *)z->data)[i];
      else
        ((double *)y->data)[i] += ((const double *)z->data)[i];
    }
  }
  if (act) { /* the reference path applies the activation as a second pass */
    const int64_t n = nn_value_numel(y);
    for (int64_t i = 0; i < n; i++) {
      if (x->dtype == NN_FLOAT) {
        float *v = (float *)y->data + i;
        *v = *v < mm[0] ? mm[0] : *v > mm[1] ? mm[1] : *v;
      } else {
        double *v = (double *)y->data + i;
        *v = *v < mm[0] ? mm[0] : *v > mm[1] ? mm[1] : *v;
      }
    }
  }
  return NN_OK;
}

NN_OP(Conv) = {.op_type = "Conv", .domain = "", .infer = conv_infer,
               .prepare = conv_prepare, .run = conv_run, .release = conv_release};
NN_OP(FusedConv) = {.op_type = "FusedConv", .domain = "com.microsoft", .infer = conv_infer,
                    .prepare = conv_prepare, .run = conv_run, .release = conv_release};

/* ---- ConvTranspose ---- */

static nn_status convt_setup(nn_op_ctx *ctx, nn_conv_params *p, int64_t *outdims) {
  int nsp, ap, has_os;
  int64_t st[NN_CONV_SP], dl[NN_CONV_SP], pads[2 * NN_CONV_SP], opad[NN_CONV_SP];
  nn_status s;
  if ((s = check_inputs(ctx, 1, p, &nsp))) return s;
  if ((s = parse_auto_pad(ctx, &ap))) return s;
  if ((s = nn_op_ints_attr(ctx, "strides", nsp, 1, 1, st, NULL))) return s;
  if ((s = nn_op_ints_attr(ctx, "dilations", nsp, 1, 1, dl, NULL))) return s;
  if ((s = nn_op_ints_attr(ctx, "pads", 2 * nsp, 0, 0, pads, NULL))) return s;
  if ((s = nn_op_ints_attr(ctx, "output_padding", nsp, 0, 0, opad, NULL))) return s;
  /* output_shape holds the spatial dims, or (as some exporters write) all dims. */
  const int64_t *os;
  int nos = nn_attr_ints(ctx->node, "output_shape", &os);
  has_os = nos >= 0;
  if (has_os) {
    if (nos == nsp + 2)
      os += 2;
    else if (nos != nsp)
      return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'output_shape' has %d values, "
                         "expected %d", nos, nsp);
  }
  const nn_value *x = nn_in(ctx, 0), *w = nn_in(ctx, 1);
  const int off = NN_CONV_SP - nsp;
  outdims[0] = p->batch;
  outdims[1] = p->out_ch;
  for (int d = 0; d < nsp; d++) {
    const int64_t in = x->dims[2 + d], k = w->dims[2 + d];
    const int64_t ek = (k - 1) * dl[d] + 1;
    if (opad[d] >= st[d] && opad[d] >= dl[d])
      return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'output_padding'[%d] is %lld, must "
                         "be smaller than the stride or the dilation", d, (long long)opad[d]);
    const int64_t full = st[d] * (in - 1) + opad[d] + ek; /* output size without pads */
    int64_t pb = pads[d], pe = pads[d + nsp], out;
    if (has_os || ap == AP_SAME_UPPER || ap == AP_SAME_LOWER) {
      out = has_os ? os[d] : in * st[d];
      if (out < 0)
        return nn_op_error(ctx, NN_ERR_INVALID, "attribute 'output_shape'[%d] is negative", d);
      /* A target larger than the full output keeps pads at 0: the extra positions
       * at the end receive only the bias. */
      int64_t total = full - out;
      if (total < 0) total = 0;
      pb = ap == AP_SAME_UPPER ? total / 2 : total - total / 2;
    } else {
      if (ap == AP_VALID) pb = pe = 0;
      out = full - pb - pe;
      if (out < 0)
        return nn_op_error(ctx, NN_ERR_INVALID, "spatial dim %d: pads %lld+%lld exceed the "
                           "output size %lld", d, (long long)pb, (long long)pe, (long long)full);
    }
    outdims[2 + d] = out;
    p->in[off + d] = in;
    p->out[off + d] = out;
    p->kernel[off + d] = k;
    p->stride[off + d] = st[d];
    p->dilation[off + d] = dl[d];
    p->pad_begin[off + d] = pb;
  }
  return NN_OK;
}

static nn_status convt_infer(nn_op_ctx *ctx) {
  nn_conv_params p;
  int64_t od[2 + NN_CONV_SP];
  nn_status s = convt_setup(ctx, &p, od);
  if (s) return s;
  return nn_value_set(ctx, nn_out(ctx, 0), nn_in(ctx, 0)->dtype, nn_in(ctx, 0)->ndim, od);
}

static nn_status convt_prepare(nn_op_ctx *ctx) {
  nn_conv_params p;
  int64_t od[2 + NN_CONV_SP];
  nn_status s = convt_setup(ctx, &p, od);
  if (s) return s;
  const nn_value *x = nn_in(ctx, 0), *w = nn_in(ctx, 1), *b = nn_in(ctx, 2);
  const nn_kernels *k = nn_kernels_get();
  if (x->dtype == NN_FLOAT && k->f32_gemm_ukernel && w->data && (w->flags & NN_V_CONST) &&
      (!b || (b->data && (b->flags & NN_V_CONST)))) {
    nn_f32_conv_plan *pl = nn_f32_convt_plan_create(k, &p, w->data, b ? b->data : NULL);
    if (pl) {
      ctx->state = pl;
      const int threads = nn_threadpool_size(nn_session_threadpool(ctx->session));
      ctx->scratch_size = nn_f32_conv_plan_workspace(pl, threads);
    }
  }
  return NN_OK;
}

static nn_status convt_run(nn_op_ctx *ctx) {
  nn_conv_params p;
  int64_t od[2 + NN_CONV_SP];
  nn_status s = convt_setup(ctx, &p, od);
  if (s) return s;
  const nn_value *x = nn_in(ctx, 0), *w = nn_in(ctx, 1), *b = nn_in(ctx, 2);
  nn_value *y = nn_out(ctx, 0);
  if (!y || !nn_value_numel(y)) return NN_OK;
  if (ctx->state) {
    nn_f32_conv_plan_run(ctx->state, x->data, y->data, ctx->scratch, ctx->scratch_size,
                         nn_session_threadpool(ctx->session));
    return NN_OK;
  }
  if (x->dtype == NN_FLOAT)
    nn_f32_conv_transpose__ref(&p, x->data, w->data, b ? b->data : NULL, y->data);
  else
    nn_f64_conv_transpose__ref(&p, x->data, w->data, b ? b->data : NULL, y->data);
  return NN_OK;
}

NN_OP(ConvTranspose) = {.op_type = "ConvTranspose", .domain = "", .infer = convt_infer,
                        .prepare = convt_prepare, .run = convt_run, .release = conv_release};
