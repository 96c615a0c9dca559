/*
 * metrics.c - accuracy metrics accumulated over batches of (model output, label):
 * top-k, accuracy and F1 from a confusion matrix, segmentation mIoU, CTC character
 * error rate and frame-level VAD F1. Values are fractions; the CLI prints percent.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/graph.h"
#include "core/io.h"
#include "eval/metrics.h"

/* ---- building blocks ---- */

int64_t nn_score_rank(const double *scores, int64_t n, int64_t label) {
  double s = scores[label];
  int64_t rank = 0;
  for (int64_t j = 0; j < n; j++)
    if (scores[j] > s || (j < label && scores[j] == s) || (isnan(s) && !isnan(scores[j])))
      rank++;
  return rank;
}

int64_t nn_edit_distance(const uint32_t *a, int64_t n, const uint32_t *b, int64_t m) {
  if (n < m) { /* keep the row over the shorter string */
    const uint32_t *t = a;
    a = b, b = t;
    int64_t k = n;
    n = m, m = k;
  }
  int64_t *row = malloc(sizeof *row * (size_t)(m + 1));
  if (!row) return -1;
  for (int64_t j = 0; j <= m; j++) row[j] = j;
  for (int64_t i = 1; i <= n; i++) {
    int64_t diag = row[0];
    row[0] = i;
    for (int64_t j = 1; j <= m; j++) {
      int64_t up = row[j];
      int64_t best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  int64_t d = row[m];
  free(row);
  return d;
}

int64_t nn_utf8_decode(const char *s, int64_t len, uint32_t *out, int64_t max) {
  const uint8_t *u = (const uint8_t *)s;
  int64_t n = 0, i = 0;
  while (i < len && n < max) {
    uint8_t c = u[i];
    int extra = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
    uint32_t cp = extra > 0 ? c & (0x3fu >> extra) : c;
    int ok = extra >= 0 && i + extra < len;
    for (int k = 1; ok && k <= extra; k++) {
      ok = (u[i + k] & 0xc0) == 0x80;
      cp = cp << 6 | (u[i + k] & 0x3f);
    }
    if (!ok) {
      out[n++] = 0xfffd;
      i++;
      continue;
    }
    out[n++] = cp;
    i += extra + 1;
  }
  return n;
}

int64_t nn_ctc_greedy(const double *scores, int64_t t, int64_t c, int64_t blank, int64_t *out) {
  int64_t n = 0, prev = -1;
  for (int64_t i = 0; i < t; i++) {
    const double *row = scores + i * c;
    int64_t best = 0;
    for (int64_t k = 1; k < c; k++)
      if (row[k] > row[best]) best = k;
    if (best != blank && best != prev) out[n++] = best;
    prev = best;
  }
  return n;
}

double nn_f1(int64_t tp, int64_t fp, int64_t fn) {
  int64_t d = 2 * tp + fp + fn;
  return d ? 2.0 * (double)tp / (double)d : 0.0;
}

static void class_counts(const int64_t *conf, int64_t c, int64_t k, int64_t *tp, int64_t *fp,
                         int64_t *fn) {
  *tp = conf[k * c + k];
  *fp = *fn = 0;
  for (int64_t j = 0; j < c; j++) {
    if (j == k) continue;
    *fp += conf[j * c + k];
    *fn += conf[k * c + j];
  }
}

double nn_confusion_f1_binary(const int64_t *conf, int64_t c, int64_t positive) {
  if (positive < 0 || positive >= c) return 0.0;
  int64_t tp, fp, fn;
  class_counts(conf, c, positive, &tp, &fp, &fn);
  return nn_f1(tp, fp, fn);
}

double nn_confusion_f1_macro(const int64_t *conf, int64_t c) {
  double sum = 0;
  int64_t used = 0;
  for (int64_t k = 0; k < c; k++) {
    int64_t tp, fp, fn;
    class_counts(conf, c, k, &tp, &fp, &fn);
    if (tp + fp + fn == 0) continue;
    sum += nn_f1(tp, fp, fn);
    used++;
  }
  return used ? sum / (double)used : 0.0;
}

double nn_confusion_miou(const int64_t *conf, int64_t c) {
  double sum = 0;
  int64_t used = 0;
  for (int64_t k = 0; k < c; k++) {
    int64_t tp, fp, fn;
    class_counts(conf, c, k, &tp, &fp, &fn);
    if (tp + fp + fn == 0) continue;
    sum += (double)tp / (double)(tp + fp + fn);
    used++;
  }
  return used ? sum / (double)used : 0.0;
}

void nn_vad_frames(const double *probs, int64_t t, const uint8_t *mask, int64_t s,
                   double threshold, int64_t *tp, int64_t *fp, int64_t *fn, int64_t *tn) {
  for (int64_t i = 0; i < t; i++) {
    int64_t a = i * s / t, b = (i + 1) * s / t, speech = 0;
    for (int64_t k = a; k < b; k++) speech += mask[k] != 0;
    int truth = b > a && 2 * speech > b - a;
    int pred = probs[i] >= threshold;
    if (truth && pred) ++*tp;
    else if (pred) ++*fp;
    else if (truth) ++*fn;
    else ++*tn;
  }
}

/* ---- the accumulator ---- */

typedef enum { M_TOP1, M_TOP5, M_ACCURACY, M_F1, M_MIOU, M_CER, M_VAD_F1 } metric_kind;

static const char *const k_names[] = {"top1", "top5", "accuracy", "f1", "miou", "cer", "vad-f1"};

struct nn_metric {
  metric_kind kind;
  int64_t samples;
  int64_t top1, top5;   /* classification hits */
  int64_t classes;      /* confusion matrix size (0 until the first update) */
  int64_t *conf;
  int average_macro;    /* f1: -1 by class count, 0 binary, 1 macro */
  int64_t positive;
  int64_t edits, ref_chars, exact; /* cer */
  char **charset;
  int64_t n_charset;
  int64_t tp, fp, fn, tn; /* vad */
  double threshold;
};

static nn_status load_charset(nn_metric *m, const char *path) {
  char *buf = NULL;
  size_t len;
  nn_status st = nn_read_file(path, (void **)&buf, &len);
  if (st) return st;
  int64_t lines = 1;
  for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
  m->charset = calloc((size_t)lines, sizeof *m->charset);
  if (!m->charset) {
    free(buf);
    return nn_errorf(NN_ERR_NOMEM, "out of memory");
  }
  for (char *line = buf, *next; line < buf + len; line = next) {
    next = strchr(line, '\n');
    if (!next) next = buf + len;
    *next++ = 0;
    size_t n = strlen(line);
    if (n && line[n - 1] == '\r') line[--n] = 0;
    if (!(m->charset[m->n_charset++] = nn_strdup(line))) {
      free(buf);
      return nn_errorf(NN_ERR_NOMEM, "out of memory");
    }
  }
  free(buf);
  if (!m->n_charset) return nn_errorf(NN_ERR_PARSE, "%s: empty character list", path);
  return NN_OK;
}

void nn_metric_free(nn_metric *m) {
  if (!m) return;
  free(m->conf);
  for (int64_t i = 0; i < m->n_charset; i++) free(m->charset[i]);
  free(m->charset);
  free(m);
}

nn_status nn_metric_create(const char *name, const nn_metric_options *opt, nn_metric **out) {
  nn_status st = NN_OK;
  *out = NULL;
  int kind = -1;
  for (int i = 0; name && i < (int)(sizeof k_names / sizeof k_names[0]); i++)
    if (!strcmp(name, k_names[i])) kind = i;
  if (name && !strcmp(name, "vad_f1")) kind = M_VAD_F1;
  if (kind < 0)
    return nn_errorf(NN_ERR_INVALID,
                     "unknown metric '%s' (top1, top5, accuracy, f1, miou, cer, vad-f1)",
                     name ? name : "(null)");
  nn_metric *m = calloc(1, sizeof *m);
  if (!m) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  m->kind = (metric_kind)kind;
  m->average_macro = -1;
  m->positive = 1;
  m->threshold = 0.5;
  if (opt) {
    if (opt->average) {
      if (!strcmp(opt->average, "macro")) m->average_macro = 1;
      else if (!strcmp(opt->average, "binary")) m->average_macro = 0;
      else {
        st = nn_errorf(NN_ERR_INVALID, "f1 average '%s': expected binary or macro", opt->average);
        goto done;
      }
    }
    if (opt->positive > 0) m->positive = opt->positive;
    if (opt->threshold > 0) m->threshold = opt->threshold;
    if (opt->charset) NN_TRY(load_charset(m, opt->charset));
  }
  if (m->kind == M_CER && !m->n_charset) {
    st = nn_errorf(NN_ERR_INVALID, "metric cer needs a character list (charset, e.g. ppocr_keys_v1.txt)");
    goto done;
  }
  *out = m;
  m = NULL;
done:
  nn_metric_free(m);
  return st;
}

const char *nn_metric_name(const nn_metric *m) { return k_names[m->kind]; }
int64_t nn_metric_samples(const nn_metric *m) { return m->samples; }

static double ratio(int64_t a, int64_t b) { return b ? (double)a / (double)b : 0.0; }

double nn_metric_value(const nn_metric *m) {
  switch (m->kind) {
  case M_TOP1:
  case M_ACCURACY: return ratio(m->top1, m->samples);
  case M_TOP5: return ratio(m->top5, m->samples);
  case M_F1:
    if (!m->conf) return 0.0;
    if (m->average_macro == 1 || (m->average_macro < 0 && m->classes > 2))
      return nn_confusion_f1_macro(m->conf, m->classes);
    return nn_confusion_f1_binary(m->conf, m->classes, m->positive);
  case M_MIOU: return m->conf ? nn_confusion_miou(m->conf, m->classes) : 0.0;
  case M_CER: return ratio(m->edits, m->ref_chars);
  case M_VAD_F1: return nn_f1(m->tp, m->fp, m->fn);
  }
  return 0.0;
}

int nn_metric_extra(const nn_metric *m, int i, const char **name, double *value) {
  const char *nm = NULL;
  double v = 0;
  switch (m->kind) {
  case M_TOP1:
    if (m->classes >= 5) nm = "top5", v = ratio(m->top5, m->samples);
    break;
  case M_TOP5: nm = "top1", v = ratio(m->top1, m->samples); break;
  case M_F1: nm = "accuracy", v = ratio(m->top1, m->samples); break;
  case M_MIOU: {
    int64_t hit = 0, all = 0;
    for (int64_t k = 0; m->conf && k < m->classes * m->classes; k++) {
      all += m->conf[k];
      if (k / m->classes == k % m->classes) hit += m->conf[k];
    }
    nm = "pixel_accuracy", v = ratio(hit, all);
    break;
  }
  case M_CER: nm = "exact", v = ratio(m->exact, m->samples); break;
  case M_VAD_F1: nm = "frame_accuracy", v = ratio(m->tp + m->tn, m->tp + m->tn + m->fp + m->fn); break;
  default: break;
  }
  if (!nm) return 0;
  if (i == 0) {
    if (name) *name = nm;
    if (value) *value = v;
  }
  return 1;
}

/* Elements off .. off+n of a numeric array as doubles. */
static nn_status as_doubles(const nn_array *a, int64_t off, int64_t n, double *out, const char *what) {
  const nn_dtype_traits *tr = nn_dtype_traits_of(a->dtype);
  if (!tr || !tr->is_numeric || !tr->to_f64)
    return nn_errorf(NN_ERR_INVALID, "%s has dtype %s, expected numbers", what, nn_dtype_name(a->dtype));
  if (a->dtype == NN_FLOAT) {
    const float *f = (const float *)a->data + off;
    for (int64_t i = 0; i < n; i++) out[i] = f[i];
  } else {
    for (int64_t i = 0; i < n; i++) out[i] = tr->to_f64((const char *)a->data + (size_t)(off + i) * tr->size);
  }
  return NN_OK;
}

static nn_status label_int(const nn_array *a, int64_t i, int64_t *v) {
  const nn_dtype_traits *tr = nn_dtype_traits_of(a->dtype);
  if (!tr || !tr->is_integer || !tr->to_i64)
    return nn_errorf(NN_ERR_INVALID, "labels have dtype %s, expected integers", nn_dtype_name(a->dtype));
  *v = tr->to_i64((const char *)a->data + (size_t)i * tr->size);
  return NN_OK;
}

static nn_status ensure_conf(nn_metric *m, int64_t c) {
  if (m->conf && m->classes == c) return NN_OK;
  if (m->conf)
    return nn_errorf(NN_ERR_INVALID, "output has %lld classes, earlier batches had %lld",
                     (long long)c, (long long)m->classes);
  if (c > 65536) return nn_errorf(NN_ERR_UNSUPPORTED, "%lld classes is too many for a confusion matrix", (long long)c);
  m->conf = calloc((size_t)(c * c), sizeof *m->conf);
  if (!m->conf) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  m->classes = c;
  return NN_OK;
}

static nn_status update_classify(nn_metric *m, const nn_array *out, const nn_array *label, int64_t n) {
  nn_status st = NN_OK;
  int64_t per = nn_array_numel(out) / n;
  double *s = malloc(sizeof(double) * (size_t)(per ? per : 1));
  if (!s) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  if (nn_array_numel(label) != n) {
    st = nn_errorf(NN_ERR_INVALID, "%lld labels for a batch of %lld", (long long)nn_array_numel(label), (long long)n);
    goto done;
  }
  if (per < 1) {
    st = nn_errorf(NN_ERR_INVALID, "output has no scores");
    goto done;
  }
  NN_TRY(ensure_conf(m, per == 1 ? 2 : per));
  for (int64_t i = 0; i < n; i++) {
    int64_t y = -1;
    NN_TRY(label_int(label, i, &y));
    NN_TRY(as_doubles(out, i * per, per, s, "output"));
    if (y < 0 || y >= m->classes) {
      st = nn_errorf(NN_ERR_INVALID, "label %lld is out of range for %lld classes", (long long)y, (long long)m->classes);
      goto done;
    }
    int64_t pred, rank;
    if (per == 1) { /* one logit: class 1 when positive */
      pred = s[0] > 0;
      rank = pred != y;
    } else {
      rank = nn_score_rank(s, per, y);
      pred = 0;
      for (int64_t k = 1; k < per; k++)
        if (s[k] > s[pred]) pred = k;
    }
    m->top1 += rank == 0;
    m->top5 += rank < 5;
    m->conf[y * m->classes + pred]++;
  }
  m->samples += n;
done:
  free(s);
  return st;
}

/* Bilinear (align_corners=False) sample of plane [h,w] at output pixel (y, x) of [oh,ow]. */
static double bilinear_at(const double *p, int64_t h, int64_t w, int64_t oh, int64_t ow, int64_t y, int64_t x) {
  double sy = ((double)y + 0.5) * (double)h / (double)oh - 0.5, sx = ((double)x + 0.5) * (double)w / (double)ow - 0.5;
  if (sy < 0) sy = 0;
  if (sx < 0) sx = 0;
  int64_t y0 = (int64_t)sy, x0 = (int64_t)sx;
  int64_t y1 = y0 + 1 < h ? y0 + 1 : y0, x1 = x0 + 1 < w ? x0 + 1 : x0;
  double fy = sy - (double)y0, fx = sx - (double)x0;
  return (1 - fy) * ((1 - fx) * p[y0 * w + x0] + fx * p[y0 * w + x1]) +
         fy * ((1 - fx) * p[y1 * w + x0] + fx * p[y1 * w + x1]);
}

static nn_status update_miou(nn_metric *m, const nn_array *out, const nn_array *label, int64_t n) {
  nn_status st = NN_OK;
  double *plane = NULL;
  if (out->ndim != 4 || label->ndim < 3)
    return nn_errorf(NN_ERR_INVALID, "miou needs output [N,C,H,W] and label [N,H,W]");
  int64_t c = out->dims[1], h = out->dims[2], w = out->dims[3];
  int64_t lh = label->dims[label->ndim - 2], lw = label->dims[label->ndim - 1];
  if (nn_array_numel(label) != n * lh * lw)
    return nn_errorf(NN_ERR_INVALID, "label shape does not match a batch of %lld masks", (long long)n);
  NN_TRY(ensure_conf(m, c == 1 ? 2 : c));
  size_t plane_n = (size_t)(h * w), lab_n = (size_t)(lh * lw);
  plane = malloc(sizeof(double) * (plane_n * (size_t)c + lab_n * 2));
  if (!plane) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  double *best = plane + plane_n * (size_t)c, *arg = best + lab_n;
  for (int64_t i = 0; i < n; i++) {
    NN_TRY(as_doubles(out, i * c * h * w, c * h * w, plane, "output"));
    for (size_t p = 0; p < lab_n; p++) best[p] = -INFINITY, arg[p] = 0;
    for (int64_t k = 0; k < c; k++) {
      const double *pk = plane + (size_t)k * plane_n;
      for (int64_t y = 0; y < lh; y++)
        for (int64_t x = 0; x < lw; x++) {
          double v = (h == lh && w == lw) ? pk[y * w + x] : bilinear_at(pk, h, w, lh, lw, y, x);
          size_t p = (size_t)(y * lw + x);
          if (c == 1) {
            arg[p] = v > 0;
          } else if (v > best[p]) {
            best[p] = v;
            arg[p] = (double)k;
          }
        }
    }
    for (size_t p = 0; p < lab_n; p++) {
      int64_t y = -1;
      NN_TRY(label_int(label, (int64_t)(i * (int64_t)lab_n + (int64_t)p), &y));
      if (y < 0 || y >= m->classes) continue; /* ignore index (255 in VOC) */
      m->conf[y * m->classes + (int64_t)arg[p]]++;
    }
  }
  m->samples += n;
done:
  free(plane);
  return st;
}

static nn_status update_cer(nn_metric *m, const nn_array *out, const nn_array *label, int64_t n) {
  nn_status st = NN_OK;
  if (out->ndim != 3) return nn_errorf(NN_ERR_INVALID, "cer needs output [N,T,C] (CTC scores)");
  if (label->dtype != NN_STRING || nn_array_numel(label) != n)
    return nn_errorf(NN_ERR_INVALID, "cer needs one text label per sample");
  int64_t t = out->dims[1], c = out->dims[2];
  double *s = malloc(sizeof(double) * (size_t)(t * c + 1));
  int64_t *ids = malloc(sizeof(int64_t) * (size_t)(t + 1));
  uint32_t *hyp = NULL, *ref = NULL;
  if (!s || !ids) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int64_t i = 0; i < n; i++) {
    NN_TRY(as_doubles(out, i * t * c, t * c, s, "output"));
    int64_t k = nn_ctc_greedy(s, t, c, 0, ids);
    /* Text of the decoded ids: class j -> charset[j-1], past the list a space. */
    size_t tl = 0;
    for (int64_t j = 0; j < k; j++) tl += ids[j] - 1 < m->n_charset ? strlen(m->charset[ids[j] - 1]) : 1;
    const nn_bytes *lb = (const nn_bytes *)label->data + i;
    free(hyp);
    free(ref);
    hyp = malloc(sizeof(uint32_t) * (tl + 1));
    ref = malloc(sizeof(uint32_t) * (lb->len + 1));
    char *text = malloc(tl + 1);
    if (!hyp || !ref || !text) {
      free(text);
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    size_t o = 0;
    for (int64_t j = 0; j < k; j++) {
      const char *piece = ids[j] - 1 < m->n_charset ? m->charset[ids[j] - 1] : " ";
      size_t pl = strlen(piece);
      memcpy(text + o, piece, pl);
      o += pl;
    }
    int64_t nh = nn_utf8_decode(text, (int64_t)o, hyp, (int64_t)tl + 1);
    free(text);
    int64_t nr = nn_utf8_decode(lb->data, (int64_t)lb->len, ref, (int64_t)lb->len + 1);
    int64_t d = nn_edit_distance(hyp, nh, ref, nr);
    if (d < 0) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    m->edits += d;
    m->ref_chars += nr;
    m->exact += d == 0;
  }
  m->samples += n;
done:
  free(s);
  free(ids);
  free(hyp);
  free(ref);
  return st;
}

static nn_status update_vad(nn_metric *m, const nn_array *out, const nn_array *label, int64_t n) {
  nn_status st = NN_OK;
  int64_t t = nn_array_numel(out) / n, s = nn_array_numel(label) / n;
  if (label->dtype != NN_UINT8 && label->dtype != NN_BOOL)
    return nn_errorf(NN_ERR_INVALID, "vad-f1 needs a per-sample speech mask label (wav list with segments)");
  double *p = malloc(sizeof(double) * (size_t)(t + 1));
  if (!p) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  for (int64_t i = 0; i < n; i++) {
    NN_TRY(as_doubles(out, i * t, t, p, "output"));
    nn_vad_frames(p, t, (const uint8_t *)label->data + i * s, s, m->threshold, &m->tp, &m->fp,
                  &m->fn, &m->tn);
  }
  m->samples += n;
done:
  free(p);
  return st;
}

nn_status nn_metric_update(nn_metric *m, const nn_array *output, const nn_array *label) {
  if (!output || !label || label->dtype == NN_UNDEFINED)
    return nn_errorf(NN_ERR_INVALID, "metric %s needs labels", k_names[m->kind]);
  if (output->ndim < 1 || label->ndim < 1 || output->dims[0] < 1)
    return nn_errorf(NN_ERR_INVALID, "metric %s: output and label need a batch dimension", k_names[m->kind]);
  int64_t n = output->dims[0];
  if (label->dims[0] != n)
    return nn_errorf(NN_ERR_INVALID, "metric %s: output batch %lld but %lld labels", k_names[m->kind],
                     (long long)n, (long long)label->dims[0]);
  switch (m->kind) {
  case M_TOP1:
  case M_TOP5:
  case M_ACCURACY:
  case M_F1: return update_classify(m, output, label, n);
  case M_MIOU: return update_miou(m, output, label, n);
  case M_CER: return update_cer(m, output, label, n);
  case M_VAD_F1: return update_vad(m, output, label, n);
  }
  return NN_OK;
}
