/*
 * idx.c - the IDX reader ((Fashion-)MNIST): gzipped or plain files, images of unsigned
 * bytes [N,H,W] or [N,H,W,C] through the image preprocessing, labels [N] of any IDX
 * integer type.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/graph.h"
#include "data/dataset.h"

typedef struct idx_file {
  uint8_t *buf; /* whole decompressed file */
  size_t len;
  int type, ndim;
  int64_t dims[NN_MAX_DIMS];
  size_t elem, record; /* bytes per element / per record (dims[1..]) */
  const uint8_t *data;
} idx_file;

typedef struct idx_impl {
  idx_file images, labels;
  char *images_path, *labels_path;
  nn_image_prep prep;
} idx_impl;

/* Read a whole file through zlib (which passes plain files through unchanged). */
static nn_status gz_slurp(const char *path, uint8_t **out, size_t *len) {
  nn_status st = NN_OK;
  *out = NULL;
  *len = 0;
  gzFile f = gzopen(path, "rb");
  if (!f) return nn_errorf(NN_ERR_IO, "%s: cannot open: %s", path, strerror(errno ? errno : ENOENT));
  size_t cap = 1 << 20, n = 0;
  uint8_t *buf = malloc(cap);
  for (;;) {
    if (!buf) {
      st = nn_errorf(NN_ERR_NOMEM, "%s: out of memory", path);
      goto done;
    }
    if (n == cap) {
      if (cap > ((size_t)1 << 34)) {
        st = nn_errorf(NN_ERR_NOMEM, "%s: over 16 GB decompressed", path);
        goto done;
      }
      uint8_t *nb = realloc(buf, cap * 2);
      if (!nb) {
        st = nn_errorf(NN_ERR_NOMEM, "%s: out of memory", path);
        goto done;
      }
      buf = nb;
      cap *= 2;
    }
    size_t want = cap - n > (1u << 30) ? (1u << 30) : cap - n;
    int r = gzread(f, buf + n, (unsigned)want);
    if (r < 0) {
      int err;
      const char *msg = gzerror(f, &err);
      st = nn_errorf(NN_ERR_PARSE, "%s: corrupt gzip data: %s", path, msg);
      goto done;
    }
    if (r == 0) {
      int err;
      const char *msg = gzerror(f, &err);
      if (err != Z_OK && err != Z_STREAM_END) {
        st = nn_errorf(NN_ERR_PARSE, "%s: corrupt gzip data: %s", path, msg);
        goto done;
      }
      break;
    }
    n += (size_t)r;
  }
  *out = buf;
  *len = n;
  buf = NULL;
done:
  free(buf);
  gzclose(f);
  return st;
}

static nn_status idx_load(const char *path, idx_file *f) {
  nn_status st = NN_OK;
  memset(f, 0, sizeof *f);
  NN_TRY(gz_slurp(path, &f->buf, &f->len));
  if (f->len < 4 || f->buf[0] || f->buf[1]) {
    st = nn_errorf(NN_ERR_PARSE, "%s: not an IDX file (bad magic)", path);
    goto done;
  }
  f->type = f->buf[2];
  f->ndim = f->buf[3];
  switch (f->type) {
  case 0x08: case 0x09: f->elem = 1; break;
  case 0x0B: f->elem = 2; break;
  case 0x0C: case 0x0D: f->elem = 4; break;
  case 0x0E: f->elem = 8; break;
  default:
    st = nn_errorf(NN_ERR_PARSE, "%s: unknown IDX element type 0x%02x", path, f->type);
    goto done;
  }
  if (f->ndim < 1 || f->ndim > NN_MAX_DIMS || f->len < 4 + 4 * (size_t)f->ndim) {
    st = nn_errorf(NN_ERR_PARSE, "%s: bad IDX header (%d dims)", path, f->ndim);
    goto done;
  }
  f->record = f->elem;
  for (int i = 0; i < f->ndim; i++) {
    const uint8_t *p = f->buf + 4 + 4 * i;
    f->dims[i] = (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
    if (i > 0 && !nn_mul_size(f->record, (size_t)f->dims[i], &f->record)) {
      st = nn_errorf(NN_ERR_PARSE, "%s: IDX dimensions overflow", path);
      goto done;
    }
  }
  f->data = f->buf + 4 + 4 * (size_t)f->ndim;
  size_t have = f->len - 4 - 4 * (size_t)f->ndim;
  size_t need;
  if (!nn_mul_size(f->record, (size_t)f->dims[0], &need)) {
    st = nn_errorf(NN_ERR_PARSE, "%s: IDX dimensions overflow", path);
    goto done;
  }
  if (have < need) {
    int64_t bad = f->record ? (int64_t)(have / f->record) : 0;
    st = nn_errorf(NN_ERR_PARSE,
                   "%s: record %lld: truncated (header says %lld records of %zu bytes, the file "
                   "holds %zu data bytes)",
                   path, (long long)bad, (long long)f->dims[0], f->record, have);
    goto done;
  }
done:
  if (st) {
    free(f->buf);
    memset(f, 0, sizeof *f);
  }
  return st;
}

static int64_t idx_int(const idx_file *f, size_t i) {
  const uint8_t *p = f->data + i * f->elem;
  switch (f->type) {
  case 0x08: return p[0];
  case 0x09: return (int8_t)p[0];
  case 0x0B: return (int16_t)(uint16_t)(p[0] << 8 | p[1]);
  default: return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
  }
}

static void idx_free(void *impl) {
  idx_impl *x = impl;
  if (!x) return;
  free(x->images.buf);
  free(x->labels.buf);
  free(x->images_path);
  free(x->labels_path);
  free(x);
}

static nn_status idx_get(nn_dataset *ds, int64_t i, nn_array *inputs, nn_array *label) {
  idx_impl *x = ds->impl;
  const idx_file *f = &x->images;
  nn_image img = {(int)f->dims[2], (int)f->dims[1], f->ndim == 4 ? (int)f->dims[3] : 1,
                  (uint8_t *)f->data + (size_t)i * f->record};
  char where[4200];
  snprintf(where, sizeof where, "%s: record %lld", x->images_path, (long long)i);
  nn_status st = nn_image_preprocess(&x->prep, &img, NULL, &inputs[0], NULL, where);
  if (st || !ds->has_labels) return st;
  label->dtype = NN_INT64;
  label->ndim = 1;
  label->dims[0] = 1;
  label->nbytes = sizeof(int64_t);
  label->data = malloc(sizeof(int64_t));
  if (!label->data) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  *(int64_t *)label->data = idx_int(&x->labels, (size_t)i);
  return NN_OK;
}

nn_status nn_dataset_open_idx(nn_dataset *ds, nn_spec_opts *o) {
  nn_status st = NN_OK;
  idx_impl *x = calloc(1, sizeof *x);
  if (!x) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  ds->impl = x;
  ds->free_impl = idx_free;
  ds->get = idx_get;
  x->images_path = nn_strdup(o->path);
  const char *labels = nn_opt_str(o, "labels", NULL);
  x->labels_path = nn_strdup(labels);
  if (!x->images_path || (labels && !x->labels_path)) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  NN_TRY(nn_image_prep_parse(o, &x->prep));
  NN_TRY(nn_dataset_single_input(ds, o));
  NN_TRY(idx_load(o->path, &x->images));
  if (x->images.ndim != 3 && x->images.ndim != 4) {
    st = nn_errorf(NN_ERR_UNSUPPORTED, "%s: IDX images must have 3 or 4 dims [N,H,W(,C)], not %d",
                   o->path, x->images.ndim);
    goto done;
  }
  if (x->images.type != 0x08) {
    st = nn_errorf(NN_ERR_UNSUPPORTED, "%s: IDX images must be unsigned bytes (type 0x08), not 0x%02x",
                   o->path, x->images.type);
    goto done;
  }
  if (x->images.ndim == 4 && x->images.dims[3] != 1 && x->images.dims[3] != 3 &&
      x->images.dims[3] != 4) {
    st = nn_errorf(NN_ERR_UNSUPPORTED, "%s: IDX images with %lld channels", o->path,
                   (long long)x->images.dims[3]);
    goto done;
  }
  if (x->images.dims[1] < 1 || x->images.dims[2] < 1 || x->images.dims[1] > 65536 ||
      x->images.dims[2] > 65536) {
    st = nn_errorf(NN_ERR_PARSE, "%s: bad IDX image size %lldx%lld", o->path,
                   (long long)x->images.dims[2], (long long)x->images.dims[1]);
    goto done;
  }
  ds->count = x->images.dims[0];
  if (labels) {
    NN_TRY(idx_load(labels, &x->labels));
    if (x->labels.ndim != 1 || x->labels.type == 0x0D || x->labels.type == 0x0E) {
      st = nn_errorf(NN_ERR_PARSE, "%s: IDX labels must be integers of shape [N]", labels);
      goto done;
    }
    if (x->labels.dims[0] != ds->count) {
      st = nn_errorf(NN_ERR_INVALID, "%s: %lld labels for %lld images in %s", labels,
                     (long long)x->labels.dims[0], (long long)ds->count, o->path);
      goto done;
    }
    ds->has_labels = 1;
  }
done:
  return st;
}
