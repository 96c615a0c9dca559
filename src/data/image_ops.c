/*
 * image_ops.c - image preprocessing shared by the image and IDX readers: channel
 * conversion, resize (PIL/torchvision-compatible bilinear, or OpenCV-like without
 * antialiasing), center crop, padding, normalization and layout.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"

nn_status nn_image_prep_parse(nn_spec_opts *o, nn_image_prep *p) {
  nn_status st = NN_OK;
  int64_t v;
  int single;
  memset(p, 0, sizeof *p);
  const char *ch = nn_opt_str(o, "channels", NULL);
  if (ch) {
    if (!strcmp(ch, "rgb")) p->channels = NN_CH_RGB;
    else if (!strcmp(ch, "bgr")) p->channels = NN_CH_BGR;
    else if (!strcmp(ch, "gray") || !strcmp(ch, "grey") || !strcmp(ch, "l")) p->channels = NN_CH_GRAY;
    else return nn_errorf(NN_ERR_INVALID, "%s: channels=%s: expected rgb, bgr or gray", o->path, ch);
  }
  NN_TRY(nn_opt_size(o, "size", &p->size_w, &p->size_h, &single));
  if (single) {
    p->size_short = p->size_w;
    p->size_w = p->size_h = 0;
  }
  NN_TRY(nn_opt_int(o, "keep_aspect", 0, &v));
  p->keep_aspect = v != 0;
  if (p->keep_aspect && !p->size_w)
    return nn_errorf(NN_ERR_INVALID, "%s: keep_aspect=1 needs size=WxH", o->path);
  NN_TRY(nn_opt_int(o, "antialias", 1, &v));
  p->antialias = v != 0;
  NN_TRY(nn_opt_size(o, "crop", &p->crop_w, &p->crop_h, NULL));
  NN_TRY(nn_opt_int(o, "pad", 0, &v));
  if (v < 0 || v > 4096) return nn_errorf(NN_ERR_INVALID, "%s: pad=%lld out of range", o->path, (long long)v);
  p->pad = (int)v;
  NN_TRY(nn_opt_double(o, "pad_value", 0.0, &p->pad_value));
  NN_TRY(nn_opt_double(o, "scale", 1.0 / 255.0, &p->scale));
  NN_TRY(nn_opt_doubles(o, "mean", p->mean, 4, &p->n_mean));
  NN_TRY(nn_opt_doubles(o, "std", p->std, 4, &p->n_std));
  for (int i = 0; i < p->n_std; i++)
    if (p->std[i] == 0) return nn_errorf(NN_ERR_INVALID, "%s: std must not be 0", o->path);
  const char *layout = nn_opt_str(o, "layout", "nchw");
  if (!strcmp(layout, "nhwc")) p->nhwc = 1;
  else if (strcmp(layout, "nchw"))
    return nn_errorf(NN_ERR_INVALID, "%s: layout=%s: expected nchw or nhwc", o->path, layout);
  const char *dt = nn_opt_str(o, "dtype", "float32");
  if (!strcmp(dt, "uint8")) p->raw_uint8 = 1;
  else if (strcmp(dt, "float32") && strcmp(dt, "float"))
    return nn_errorf(NN_ERR_INVALID, "%s: dtype=%s: expected float32 or uint8", o->path, dt);
done:
  return st;
}

/* ---- resampling ---- */

static double triangle(double x) {
  x = fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

/* Per output index: first source index, tap count, and normalized weights (PIL's
 * precompute_coeffs with the bilinear filter). */
typedef struct taps {
  int *first, *count;
  double *w;
  int max;
} taps;

static int taps_make(taps *t, int in, int out, int antialias) {
  double scale = (double)in / out;
  double fscale = antialias && scale > 1.0 ? scale : 1.0;
  double support = 1.0 * fscale;
  t->max = (int)ceil(support) * 2 + 1;
  t->first = malloc(sizeof(int) * (size_t)out);
  t->count = malloc(sizeof(int) * (size_t)out);
  t->w = calloc((size_t)out * (size_t)t->max, sizeof(double));
  if (!t->first || !t->count || !t->w) return -1;
  for (int o = 0; o < out; o++) {
    double center = (o + 0.5) * scale;
    int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
    if (lo < 0) lo = 0;
    if (hi > in) hi = in;
    int n = hi - lo;
    if (n > t->max) n = t->max;
    double *w = t->w + (size_t)o * (size_t)t->max, total = 0;
    for (int k = 0; k < n; k++) total += w[k] = triangle((k + lo - center + 0.5) / fscale);
    if (total > 0)
      for (int k = 0; k < n; k++) w[k] /= total;
    if (n <= 0 || total <= 0) { /* degenerate: take the nearest pixel */
      lo = (int)center < in ? (int)center : in - 1;
      n = 1;
      w[0] = 1;
    }
    t->first[o] = lo;
    t->count[o] = n;
  }
  return 0;
}

static void taps_free(taps *t) {
  free(t->first);
  free(t->count);
  free(t->w);
}

static uint8_t clip8(double v) {
  v = floor(v + 0.5);
  return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/* PIL's fixed-point coefficients for 8-bit images (normalize_coeffs_8bpc). */
#define PIL_PRECISION_BITS (32 - 8 - 2)

static int32_t *fixed_taps(const taps *t, int out) {
  int32_t *k = malloc(sizeof(int32_t) * (size_t)out * (size_t)t->max);
  if (!k) return NULL;
  for (size_t i = 0; i < (size_t)out * (size_t)t->max; i++) {
    double v = t->w[i] * (1 << PIL_PRECISION_BITS);
    k[i] = (int32_t)(v < 0 ? -0.5 + v : 0.5 + v);
  }
  return k;
}

static uint8_t clip_fixed(int64_t ss) {
  ss >>= PIL_PRECISION_BITS;
  return ss < 0 ? 0 : ss > 255 ? 255 : (uint8_t)ss;
}

/* Resize an 8-bit image exactly as PIL does for modes L/RGB (what torchvision's
 * Resize runs on PIL images): horizontal pass to 8 bits, then vertical pass, both in
 * 22-bit fixed point. */
static nn_status resize_u8(const nn_image *in, int ow, int oh, int antialias, nn_image *out) {
  nn_status st = NN_OK;
  taps tx = {0}, ty = {0};
  int32_t *kx = NULL, *ky = NULL;
  int c = in->c;
  uint8_t *tmp = malloc((size_t)ow * (size_t)in->h * (size_t)c);
  out->w = ow, out->h = oh, out->c = c;
  out->px = malloc((size_t)ow * (size_t)oh * (size_t)c);
  if (!tmp || !out->px || taps_make(&tx, in->w, ow, antialias) ||
      taps_make(&ty, in->h, oh, antialias) || !(kx = fixed_taps(&tx, ow)) ||
      !(ky = fixed_taps(&ty, oh))) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory resizing to %dx%d", ow, oh);
    goto done;
  }
  const int64_t half = (int64_t)1 << (PIL_PRECISION_BITS - 1);
  for (int y = 0; y < in->h; y++)
    for (int x = 0; x < ow; x++) {
      const int32_t *wt = kx + (size_t)x * (size_t)tx.max;
      const uint8_t *row = in->px + (size_t)y * (size_t)in->w * (size_t)c;
      for (int ch = 0; ch < c; ch++) {
        int64_t s = half;
        for (int k = 0; k < tx.count[x]; k++)
          s += (int64_t)wt[k] * row[(size_t)(tx.first[x] + k) * (size_t)c + (size_t)ch];
        tmp[((size_t)y * (size_t)ow + (size_t)x) * (size_t)c + (size_t)ch] = clip_fixed(s);
      }
    }
  for (int y = 0; y < oh; y++) {
    const int32_t *wt = ky + (size_t)y * (size_t)ty.max;
    for (int x = 0; x < ow; x++)
      for (int ch = 0; ch < c; ch++) {
        int64_t s = half;
        for (int k = 0; k < ty.count[y]; k++)
          s += (int64_t)wt[k] * tmp[((size_t)(ty.first[y] + k) * (size_t)ow + (size_t)x) * (size_t)c + (size_t)ch];
        out->px[((size_t)y * (size_t)ow + (size_t)x) * (size_t)c + (size_t)ch] = clip_fixed(s);
      }
  }
done:
  if (st) {
    free(out->px);
    out->px = NULL;
  }
  taps_free(&tx);
  taps_free(&ty);
  free(kx);
  free(ky);
  free(tmp);
  return st;
}

/* Resize without antialiasing, as OpenCV's INTER_LINEAR (what PaddleOCR and most
 * cv2-based pipelines use): half-pixel centres, clamped edges, both passes in float
 * and one rounding (half to even) at the end. */
static nn_status resize_u8_linear(const nn_image *in, int ow, int oh, nn_image *out) {
  int c = in->c;
  int *x0 = malloc(sizeof(int) * (size_t)ow * 2), *y0 = malloc(sizeof(int) * (size_t)oh * 2);
  float *fx = malloc(sizeof(float) * (size_t)ow), *fy = malloc(sizeof(float) * (size_t)oh);
  float *rows = malloc(sizeof(float) * (size_t)in->w * (size_t)c);
  out->w = ow, out->h = oh, out->c = c;
  out->px = malloc((size_t)ow * (size_t)oh * (size_t)c);
  nn_status st = NN_OK;
  if (!x0 || !y0 || !fx || !fy || !rows || !out->px) {
    free(out->px);
    out->px = NULL;
    st = nn_errorf(NN_ERR_NOMEM, "out of memory resizing to %dx%d", ow, oh);
    goto done;
  }
  for (int pass = 0; pass < 2; pass++) {
    int n_out = pass ? oh : ow, n_in = pass ? in->h : in->w;
    int *i0 = pass ? y0 : x0;
    float *f = pass ? fy : fx;
    for (int o = 0; o < n_out; o++) {
      double src = (o + 0.5) * ((double)n_in / n_out) - 0.5;
      if (src < 0) src = 0;
      if (src > n_in - 1) src = n_in - 1;
      int a = (int)floor(src);
      i0[2 * o] = a;
      i0[2 * o + 1] = a + 1 < n_in ? a + 1 : n_in - 1;
      f[o] = (float)(src - a);
    }
  }
  for (int y = 0; y < oh; y++) {
    const uint8_t *r0 = in->px + (size_t)y0[2 * y] * (size_t)in->w * (size_t)c;
    const uint8_t *r1 = in->px + (size_t)y0[2 * y + 1] * (size_t)in->w * (size_t)c;
    for (size_t k = 0; k < (size_t)in->w * (size_t)c; k++)
      rows[k] = (float)r0[k] * (1.0f - fy[y]) + (float)r1[k] * fy[y];
    for (int x = 0; x < ow; x++)
      for (int ch = 0; ch < c; ch++) {
        float v = rows[(size_t)x0[2 * x] * (size_t)c + (size_t)ch] * (1.0f - fx[x]) +
                  rows[(size_t)x0[2 * x + 1] * (size_t)c + (size_t)ch] * fx[x];
        float r = rintf(v);
        out->px[((size_t)y * (size_t)ow + (size_t)x) * (size_t)c + (size_t)ch] =
            r < 0 ? 0 : r > 255 ? 255 : (uint8_t)r;
      }
  }
done:
  free(x0);
  free(y0);
  free(fx);
  free(fy);
  free(rows);
  return st;
}

/* Nearest-neighbour resize (PIL NEAREST), for masks. */
static nn_status resize_nearest(const nn_image *in, int ow, int oh, nn_image *out) {
  out->w = ow, out->h = oh, out->c = in->c;
  out->px = malloc((size_t)ow * (size_t)oh * (size_t)in->c);
  if (!out->px) return nn_errorf(NN_ERR_NOMEM, "out of memory resizing a mask");
  for (int y = 0; y < oh; y++) {
    int sy = (int)((y + 0.5) * in->h / oh);
    if (sy >= in->h) sy = in->h - 1;
    for (int x = 0; x < ow; x++) {
      int sx = (int)((x + 0.5) * in->w / ow);
      if (sx >= in->w) sx = in->w - 1;
      memcpy(out->px + ((size_t)y * (size_t)ow + (size_t)x) * (size_t)in->c,
             in->px + ((size_t)sy * (size_t)in->w + (size_t)sx) * (size_t)in->c, (size_t)in->c);
    }
  }
  return NN_OK;
}

/* Channel conversion to the requested order (PIL's RGB->L weights for gray). */
static nn_status convert_channels(const nn_image *in, nn_channel_order order, nn_image *out) {
  int c = order == NN_CH_GRAY ? 1 : order == NN_CH_KEEP ? in->c : 3;
  size_t n = (size_t)in->w * (size_t)in->h;
  out->w = in->w, out->h = in->h, out->c = c;
  out->px = malloc(n * (size_t)c);
  if (!out->px) return nn_errorf(NN_ERR_NOMEM, "out of memory converting an image");
  for (size_t i = 0; i < n; i++) {
    const uint8_t *s = in->px + i * (size_t)in->c;
    uint8_t *d = out->px + i * (size_t)c;
    uint8_t r, g, b;
    if (in->c >= 3) r = s[0], g = s[1], b = s[2];
    else r = g = b = s[0]; /* gray or gray+alpha */
    if (order == NN_CH_KEEP) memcpy(d, s, (size_t)c);
    else if (order == NN_CH_GRAY)
      d[0] = in->c >= 3 ? (uint8_t)((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16) : s[0];
    else if (order == NN_CH_RGB) d[0] = r, d[1] = g, d[2] = b;
    else d[0] = b, d[1] = g, d[2] = r;
  }
  return NN_OK;
}

/* Python's round() (half to even), as torchvision's CenterCrop uses. */
static int round_half_even(double v) {
  double r = floor(v + 0.5);
  if (r - v == 0.5 && fmod(r, 2.0) != 0) r -= 1;
  return (int)r;
}

nn_status nn_image_preprocess(const nn_image_prep *p, const nn_image *img, const nn_image *mask,
                              nn_array *out, nn_array *mask_out, const char *label) {
  nn_status st = NN_OK;
  nn_image conv = {0}, sized = {0}, msized = {0};
  const nn_image *cur = img, *mcur = mask;
  memset(out, 0, sizeof *out);
  if (mask_out) memset(mask_out, 0, sizeof *mask_out);
  if (img->w < 1 || img->h < 1 || img->c < 1)
    return nn_errorf(NN_ERR_PARSE, "%s: empty image", label);
  if (mask && (mask->w != img->w || mask->h != img->h))
    return nn_errorf(NN_ERR_INVALID, "%s: mask is %dx%d but the image is %dx%d", label, mask->w,
                     mask->h, img->w, img->h);

  if (p->channels != NN_CH_KEEP || img->c == 2 || img->c == 4) {
    nn_channel_order order = p->channels;
    if (order == NN_CH_KEEP) order = img->c == 2 ? NN_CH_GRAY : NN_CH_RGB; /* drop alpha */
    NN_TRY(convert_channels(img, order, &conv));
    cur = &conv;
  }

  /* Geometry: target size of the resized content, and the region it fills. */
  int rw = cur->w, rh = cur->h;
  if (p->size_short) {
    if (cur->w <= cur->h) rw = p->size_short, rh = (int)((double)p->size_short * cur->h / cur->w);
    else rh = p->size_short, rw = (int)((double)p->size_short * cur->w / cur->h);
  } else if (p->size_w && p->keep_aspect) {
    rh = p->size_h;
    rw = (int)ceil((double)p->size_h * cur->w / cur->h);
    if (rw > p->size_w) rw = p->size_w;
    if (rw < 1) rw = 1;
  } else if (p->size_w) {
    rw = p->size_w, rh = p->size_h;
  }
  if (rw < 1) rw = 1;
  if (rh < 1) rh = 1;
  if (rw != cur->w || rh != cur->h) {
    if (p->antialias) NN_TRY(resize_u8(cur, rw, rh, 1, &sized));
    else NN_TRY(resize_u8_linear(cur, rw, rh, &sized));
    cur = &sized;
    if (mask) {
      NN_TRY(resize_nearest(mask, rw, rh, &msized));
      mcur = &msized;
    }
  }
  /* Content window: output pixel (x, y) of the cropped area reads source (x+x0, y+y0). */
  int cw = cur->w, ch = cur->h, x0 = 0, y0 = 0;
  if (p->keep_aspect) cw = p->size_w, ch = p->size_h; /* right side beyond rw: zero pad */
  if (p->crop_w) {
    x0 = round_half_even((cur->w - p->crop_w) / 2.0);
    y0 = round_half_even((cur->h - p->crop_h) / 2.0);
    cw = p->crop_w, ch = p->crop_h;
  }
  int ow = cw + 2 * p->pad, oh = ch + 2 * p->pad, c = cur->c;
  size_t n = (size_t)ow * (size_t)oh * (size_t)c;
  out->dtype = p->raw_uint8 ? NN_UINT8 : NN_FLOAT;
  out->ndim = 4;
  out->dims[0] = 1;
  if (p->nhwc) out->dims[1] = oh, out->dims[2] = ow, out->dims[3] = c;
  else out->dims[1] = c, out->dims[2] = oh, out->dims[3] = ow;
  out->nbytes = n * nn_dtype_size(out->dtype);
  out->data = malloc(out->nbytes);
  if (!out->data) {
    st = nn_errorf(NN_ERR_NOMEM, "%s: out of memory", label);
    goto done;
  }
  if ((p->n_mean > 1 && p->n_mean != c) || (p->n_std > 1 && p->n_std != c)) {
    st = nn_errorf(NN_ERR_INVALID, "%s: mean/std give %d/%d values for %d channels", label,
                   p->n_mean, p->n_std, c);
    goto done;
  }
  for (int y = 0; y < oh; y++)
    for (int x = 0; x < ow; x++) {
      int sx = x - p->pad + x0, sy = y - p->pad + y0;
      int in_pad = x < p->pad || y < p->pad || x >= p->pad + cw || y >= p->pad + ch;
      int inside = !in_pad && sx >= 0 && sy >= 0 && sx < cur->w && sy < cur->h;
      /* keep_aspect pads after normalization with 0; pad= pads with pad_value. */
      int zero_norm = !in_pad && !inside && p->keep_aspect;
      for (int k = 0; k < c; k++) {
        double v = inside ? cur->px[((size_t)sy * (size_t)cur->w + (size_t)sx) * (size_t)c + (size_t)k]
                          : in_pad ? p->pad_value : 0.0;
        size_t o = p->nhwc ? ((size_t)y * (size_t)ow + (size_t)x) * (size_t)c + (size_t)k
                           : ((size_t)k * (size_t)oh + (size_t)y) * (size_t)ow + (size_t)x;
        if (p->raw_uint8) {
          ((uint8_t *)out->data)[o] = clip8(v);
          continue;
        }
        double m = p->n_mean ? p->mean[p->n_mean > 1 ? k : 0] : 0.0;
        double s = p->n_std ? p->std[p->n_std > 1 ? k : 0] : 1.0;
        ((float *)out->data)[o] = zero_norm ? 0.0f : (float)((v * p->scale - m) / s);
      }
    }
  if (mask && mask_out) {
    mask_out->dtype = NN_INT64;
    mask_out->ndim = 3;
    mask_out->dims[0] = 1, mask_out->dims[1] = oh, mask_out->dims[2] = ow;
    mask_out->nbytes = (size_t)ow * (size_t)oh * sizeof(int64_t);
    mask_out->data = malloc(mask_out->nbytes);
    if (!mask_out->data) {
      st = nn_errorf(NN_ERR_NOMEM, "%s: out of memory", label);
      goto done;
    }
    int64_t *md = mask_out->data;
    for (int y = 0; y < oh; y++)
      for (int x = 0; x < ow; x++) {
        int sx = x - p->pad + x0, sy = y - p->pad + y0;
        int ok = x >= p->pad && y >= p->pad && x < p->pad + cw && y < p->pad + ch && sx >= 0 &&
                 sy >= 0 && sx < mcur->w && sy < mcur->h;
        md[(size_t)y * (size_t)ow + (size_t)x] =
            ok ? mcur->px[((size_t)sy * (size_t)mcur->w + (size_t)sx) * (size_t)mcur->c] : 255;
      }
  }
done:
  free(conv.px);
  free(sized.px);
  free(msized.px);
  if (st) {
    nn_array_release(out);
    if (mask_out) nn_array_release(mask_out);
  }
  return st;
}
