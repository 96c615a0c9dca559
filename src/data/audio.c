/*
 * audio.c - the WAV reader: RIFF/WAVE parsing (PCM 8/16/24/32-bit, float 32/64,
 * WAVE_FORMAT_EXTENSIBLE), downmix to mono, band-limited resampling (Hann-windowed
 * sinc, as torchaudio's default), and labels from a list file: class ids, text, or
 * speech segments turned into a per-sample speech mask for VAD.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "core/io.h"
#include "data/dataset.h"

static const char *const k_wav_exts[] = {".wav", ".wave", NULL};

enum { LABEL_NONE, LABEL_CLASS, LABEL_TEXT, LABEL_SEGMENTS };

typedef struct wav_impl {
  nn_file_list list;
  int64_t rate, length;
  int label_kind;
} wav_impl;

static void wav_free(void *impl) {
  wav_impl *x = impl;
  if (!x) return;
  nn_file_list_free(&x->list);
  free(x);
}

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* Parse a WAV image into mono float samples (malloc'ed) and its rate. */
static nn_status wav_parse(const uint8_t *b, size_t len, const char *where, float **out,
                           int64_t *n_out, int64_t *rate_out) {
  *out = NULL;
  if (len < 12 || memcmp(b, "RIFF", 4) || memcmp(b + 8, "WAVE", 4))
    return nn_errorf(NN_ERR_PARSE, "%s: not a RIFF/WAVE file", where);
  size_t pos = 12;
  int fmt_seen = 0, tag = 0, channels = 0, bits = 0;
  uint32_t rate = 0;
  const uint8_t *data = NULL;
  size_t data_len = 0;
  while (pos + 8 <= len) {
    const uint8_t *ck = b + pos;
    size_t size = le32(ck + 4), avail = len - pos - 8;
    if (size > avail) size = avail; /* streamed files leave sizes unset; trust the file */
    if (!memcmp(ck, "fmt ", 4)) {
      if (size < 16) return nn_errorf(NN_ERR_PARSE, "%s: 'fmt ' chunk of %zu bytes", where, size);
      tag = le16(ck + 8);
      channels = le16(ck + 10);
      rate = le32(ck + 12);
      bits = le16(ck + 22);
      if (tag == 0xfffe && size >= 40) tag = le16(ck + 8 + 24); /* sub-format GUID */
      fmt_seen = 1;
    } else if (!memcmp(ck, "data", 4)) {
      data = ck + 8;
      data_len = size;
      if (fmt_seen) break;
    }
    pos += 8 + size + (size & 1);
  }
  if (!fmt_seen) return nn_errorf(NN_ERR_PARSE, "%s: no 'fmt ' chunk", where);
  if (!data) return nn_errorf(NN_ERR_PARSE, "%s: no 'data' chunk", where);
  int fl = tag == 3;
  if (!(tag == 1 && (bits == 8 || bits == 16 || bits == 24 || bits == 32)) &&
      !(fl && (bits == 32 || bits == 64)))
    return nn_errorf(NN_ERR_UNSUPPORTED,
                     "%s: unsupported WAV encoding (format 0x%04x, %d bits); use PCM 8/16/24/32 "
                     "or float 32/64",
                     where, tag, bits);
  if (channels < 1 || channels > 64 || rate < 1 || rate > 1000000)
    return nn_errorf(NN_ERR_PARSE, "%s: bad WAV header (%d channels, %u Hz)", where, channels, rate);
  size_t bps = (size_t)bits / 8, frame = bps * (size_t)channels;
  int64_t n = (int64_t)(data_len / frame);
  float *f = malloc(sizeof(float) * (size_t)(n ? n : 1));
  if (!f) return nn_errorf(NN_ERR_NOMEM, "%s: out of memory", where);
  for (int64_t i = 0; i < n; i++) {
    double s = 0;
    for (int c = 0; c < channels; c++) {
      const uint8_t *p = data + (size_t)i * frame + (size_t)c * bps;
      double v;
      if (fl && bits == 32) {
        float x;
        memcpy(&x, p, 4);
        v = x;
      } else if (fl) {
        double x;
        memcpy(&x, p, 8);
        v = x;
      } else if (bits == 8) v = (p[0] - 128) / 128.0;
      else if (bits == 16) v = (int16_t)le16(p) / 32768.0;
      else if (bits == 24) v = (double)((int32_t)((uint32_t)p[0] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 24) >> 8) / 8388608.0;
      else v = (int32_t)le32(p) / 2147483648.0;
      s += v;
    }
    f[i] = (float)(s / channels);
  }
  *out = f;
  *n_out = n;
  *rate_out = rate;
  return NN_OK;
}

/* Resample in (n samples at from Hz) to to Hz: out has ceil(n * to / from) samples.
 * Hann-windowed sinc low-passed at 0.99 of the lower Nyquist, 6 zero crossings. */
static nn_status resample(const float *in, int64_t n, int64_t from, int64_t to, float **out,
                          int64_t *n_out) {
  int64_t m = (int64_t)ceil((double)n * (double)to / (double)from);
  float *o = malloc(sizeof(float) * (size_t)(m ? m : 1));
  if (!o) return nn_errorf(NN_ERR_NOMEM, "out of memory resampling");
  const double lpw = 6.0, base = 0.99 * (double)(from < to ? from : to);
  const double half = lpw * (double)from / base; /* half window in input samples */
  for (int64_t j = 0; j < m; j++) {
    double t = (double)j * (double)from / (double)to, s = 0;
    int64_t k0 = (int64_t)ceil(t - half), k1 = (int64_t)floor(t + half);
    for (int64_t k = k0 < 0 ? 0 : k0; k <= k1 && k < n; k++) {
      double x = ((double)k - t) * base / (double)from; /* in cycles of the cutoff */
      if (fabs(x) > lpw) continue;
      double w = cos(M_PI * x / lpw / 2.0);
      double sinc = x == 0 ? 1.0 : sin(M_PI * x) / (M_PI * x);
      s += in[k] * sinc * w * w;
    }
    o[j] = (float)(s * base / (double)from);
  }
  *out = o;
  *n_out = m;
  return NN_OK;
}

/* "0.5-1.2 2-3.1" -> mask[0..n) set inside the segments. Returns 0 when malformed. */
static int parse_segments(const char *s, uint8_t *mask, int64_t n, int64_t rate) {
  const char *p = s;
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == ';') p++;
    if (!*p) return 1;
    char *end;
    errno = 0;
    double a = strtod(p, &end);
    if (end == p || *end != '-' || errno) return 0;
    p = end + 1;
    double b = strtod(p, &end);
    if (end == p || errno || b < a || a < 0 || !isfinite(b)) return 0;
    p = end;
    if (*p && *p != ' ' && *p != '\t' && *p != ';') return 0;
    if (mask) {
      int64_t i0 = (int64_t)llround(a * (double)rate), i1 = (int64_t)llround(b * (double)rate);
      if (i0 > n) i0 = n;
      if (i1 > n) i1 = n;
      memset(mask + i0, 1, (size_t)(i1 - i0));
    }
  }
}

static nn_status wav_get(nn_dataset *ds, int64_t i, nn_array *inputs, nn_array *label) {
  wav_impl *x = ds->impl;
  nn_status st = NN_OK;
  uint8_t *buf = NULL;
  float *pcm = NULL, *rs = NULL;
  size_t len;
  int64_t n = 0, rate = 0, m = 0;
  const char *path = x->list.paths[i];
  char where[4200];
  snprintf(where, sizeof where, "%s: record %lld", path, (long long)i);
  st = nn_read_file(path, (void **)&buf, &len);
  if (st) return nn_error_record(st, path, i);
  NN_TRY(wav_parse(buf, len, where, &pcm, &n, &rate));
  if (x->rate && rate != x->rate) {
    NN_TRY(resample(pcm, n, rate, x->rate, &rs, &m));
    free(pcm);
    pcm = rs;
    rs = NULL;
    n = m;
    rate = x->rate;
  }
  int64_t out_n = x->length > 0 ? x->length : n;
  nn_array *a = &inputs[0];
  a->dtype = NN_FLOAT;
  a->ndim = 2;
  a->dims[0] = 1;
  a->dims[1] = out_n;
  a->nbytes = sizeof(float) * (size_t)out_n;
  a->data = calloc((size_t)(out_n ? out_n : 1), sizeof(float));
  if (!a->data) {
    st = nn_errorf(NN_ERR_NOMEM, "%s: out of memory", where);
    goto done;
  }
  memcpy(a->data, pcm, sizeof(float) * (size_t)(n < out_n ? n : out_n));
  const char *lab = x->list.labels ? x->list.labels[i] : NULL;
  if (x->label_kind == LABEL_CLASS) {
    NN_TRY(nn_label_int(label, x->list.class_id ? x->list.class_id[i] : strtoll(lab, NULL, 10)));
  } else if (x->label_kind == LABEL_TEXT) {
    NN_TRY(nn_label_text(label, lab ? lab : ""));
  } else if (x->label_kind == LABEL_SEGMENTS) {
    label->dtype = NN_UINT8;
    label->ndim = 2;
    label->dims[0] = 1;
    label->dims[1] = out_n;
    label->nbytes = (size_t)out_n;
    label->data = calloc((size_t)(out_n ? out_n : 1), 1);
    if (!label->data) {
      st = nn_errorf(NN_ERR_NOMEM, "%s: out of memory", where);
      goto done;
    }
    if (lab && !parse_segments(lab, label->data, out_n, rate)) {
      st = nn_errorf(NN_ERR_PARSE, "%s: bad speech segments '%s' (expected \"START-END ...\" in seconds)",
                     where, lab);
      goto done;
    }
  }
done:
  free(buf);
  free(pcm);
  free(rs);
  return st;
}

nn_status nn_dataset_open_wav(nn_dataset *ds, nn_spec_opts *o) {
  nn_status st = NN_OK;
  wav_impl *x = calloc(1, sizeof *x);
  if (!x) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  ds->impl = x;
  ds->free_impl = wav_free;
  ds->get = wav_get;
  const char *kind = nn_opt_str(o, "label", "auto");
  NN_TRY(nn_opt_int(o, "rate", 0, &x->rate));
  NN_TRY(nn_opt_int(o, "length", 0, &x->length));
  if (x->rate < 0 || x->rate > 1000000 || x->length < 0) {
    st = nn_errorf(NN_ERR_INVALID, "%s: rate/length out of range", o->path);
    goto done;
  }
  NN_TRY(nn_dataset_single_input(ds, o));
  if (nn_is_dir(o->path)) NN_TRY(nn_file_list_dir(o->path, k_wav_exts, &x->list));
  else NN_TRY(nn_file_list_read(o->path, NULL, &x->list));
  ds->count = x->list.n;
  if (x->list.n_classes) {
    x->label_kind = LABEL_CLASS;
    ds->n_classes = x->list.n_classes;
    ds->classes = x->list.classes;
    x->list.classes = NULL;
    x->list.n_classes = 0;
  } else if (x->list.labels) {
    int all_seg = 1;
    for (int64_t i = 0; i < x->list.n; i++)
      if (x->list.labels[i] && !parse_segments(x->list.labels[i], NULL, 0, 0)) all_seg = 0;
    int ints = nn_file_list_int_labels(&x->list) == 1;
    if (!strcmp(kind, "auto")) x->label_kind = ints ? LABEL_CLASS : all_seg ? LABEL_SEGMENTS : LABEL_TEXT;
    else if (!strcmp(kind, "class")) x->label_kind = LABEL_CLASS;
    else if (!strcmp(kind, "segments")) x->label_kind = LABEL_SEGMENTS;
    else if (!strcmp(kind, "text")) x->label_kind = LABEL_TEXT;
    else {
      st = nn_errorf(NN_ERR_INVALID, "%s: label=%s: expected class, segments or text", o->path, kind);
      goto done;
    }
    if (x->label_kind == LABEL_CLASS && !ints) {
      st = nn_errorf(NN_ERR_PARSE, "%s: label=class but not every label is an integer", o->path);
      goto done;
    }
    if (x->label_kind == LABEL_SEGMENTS && !all_seg) {
      for (int64_t i = 0; i < x->list.n; i++)
        if (x->list.labels[i] && !parse_segments(x->list.labels[i], NULL, 0, 0)) {
          st = nn_errorf(NN_ERR_PARSE, "%s: record %lld: bad speech segments '%s'", o->path,
                         (long long)i, x->list.labels[i]);
          goto done;
        }
    }
  }
  ds->has_labels = x->label_kind != LABEL_NONE;
done:
  return st;
}
