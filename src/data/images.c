/*
 * images.c - the image-folder reader: PNG/JPEG/BMP/TGA/GIF/PNM decoded with Debian's
 * stb_image (its one implementation lives here), labels from class folders, a list
 * file or segmentation masks, then the shared preprocessing of image_ops.c.
 */
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "core/io.h"
#include "data/dataset.h"

#if __has_include(<stb/stb_image.h>)
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_NO_STDIO
#define STBI_NO_HDR
#define STBI_NO_LINEAR
#define STBI_NO_PSD
#define STBI_NO_PIC
#define STBI_FAILURE_USERMSG
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wmisleading-indentation"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop
/* Debian's stb_image declares a static function it never defines; with STB_IMAGE_STATIC
 * that warns at the end of the file, so the check is off for this file. */
#pragma GCC diagnostic ignored "-Wunused-function"
#else
/* Built without Debian's libstb-dev: image folders open, but decoding fails clearly. */
static uint8_t *stbi_load_from_memory(const uint8_t *b, int n, int *w, int *h, int *c, int want) {
  (void)b, (void)n, (void)w, (void)h, (void)c, (void)want;
  return NULL;
}
static const char *stbi_failure_reason(void) { return "nnopt was built without stb_image (install libstb-dev)"; }
static void stbi_image_free(void *p) { free(p); }
#endif

static const char *const k_image_exts[] = {".png", ".jpg", ".jpeg", ".bmp", ".tga", ".gif",
                                           ".pnm", ".ppm", ".pgm", NULL};

typedef struct images_impl {
  nn_file_list list;
  nn_image_prep prep;
  int label_kind; /* 0 none, 1 class index (folders or ints), 2 text, 3 mask */
  int64_t *ids;   /* label_kind 1 from a list file */
  char *mask_dir;
} images_impl;

static void images_free(void *impl) {
  images_impl *x = impl;
  if (!x) return;
  nn_file_list_free(&x->list);
  free(x->ids);
  free(x->mask_dir);
  free(x);
}

/* Decode a file into 8-bit pixels with want channels (0: as stored). */
static nn_status decode(const char *path, int64_t record, int want, nn_image *img) {
  uint8_t *buf = NULL;
  size_t len = 0;
  memset(img, 0, sizeof *img);
  nn_status st = nn_read_file(path, (void **)&buf, &len);
  if (st) return nn_error_record(st, path, record);
  if (len > 0x7fffffff) {
    free(buf);
    return nn_errorf(NN_ERR_UNSUPPORTED, "%s: record %lld: file over 2 GB", path, (long long)record);
  }
  int w = 0, h = 0, c = 0;
  img->px = stbi_load_from_memory(buf, (int)len, &w, &h, &c, want);
  free(buf);
  if (!img->px)
    return nn_errorf(NN_ERR_PARSE, "%s: record %lld: cannot decode image: %s", path,
                     (long long)record, stbi_failure_reason());
  img->w = w, img->h = h, img->c = want ? want : c;
  return NN_OK;
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

static nn_status images_get(nn_dataset *ds, int64_t i, nn_array *inputs, nn_array *label) {
  images_impl *x = ds->impl;
  nn_image img = {0}, mask = {0};
  char *mpath = NULL, where[4200];
  nn_status st = NN_OK;
  const char *path = x->list.paths[i];
  snprintf(where, sizeof where, "%s: record %lld", path, (long long)i);
  NN_TRY(decode(path, i, 0, &img));
  if (x->label_kind == 3) {
    const char *b = base_name(path), *dot = strrchr(b, '.');
    size_t stem = dot ? (size_t)(dot - b) : strlen(b), dl = strlen(x->mask_dir);
    mpath = malloc(dl + stem + 6);
    if (!mpath) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    memcpy(mpath, x->mask_dir, dl);
    mpath[dl] = '/';
    memcpy(mpath + dl + 1, b, stem);
    strcpy(mpath + dl + 1 + stem, ".png");
    NN_TRY(decode(mpath, i, 0, &mask));
    if (mask.c != 1) {
      /* Palette PNGs decode to RGB in stb; class ids must be stored as gray. */
      st = nn_errorf(NN_ERR_UNSUPPORTED,
                     "%s: record %lld: mask has %d channels; store class ids as 8-bit gray",
                     mpath, (long long)i, mask.c);
      goto done;
    }
  }
  NN_TRY(nn_image_preprocess(&x->prep, &img, x->label_kind == 3 ? &mask : NULL, &inputs[0],
                             x->label_kind == 3 ? label : NULL, where));
  if (x->label_kind == 1)
    NN_TRY(nn_label_int(label, x->list.class_id ? x->list.class_id[i] : x->ids[i]));
  else if (x->label_kind == 2)
    NN_TRY(nn_label_text(label, x->list.labels[i] ? x->list.labels[i] : ""));
done:
  stbi_image_free(img.px);
  stbi_image_free(mask.px);
  free(mpath);
  return st;
}

nn_status nn_dataset_open_images(nn_dataset *ds, nn_spec_opts *o) {
  nn_status st = NN_OK;
  images_impl *x = calloc(1, sizeof *x);
  if (!x) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  ds->impl = x;
  ds->free_impl = images_free;
  ds->get = images_get;
  const char *labels = nn_opt_str(o, "labels", NULL), *masks = nn_opt_str(o, "masks", NULL);
  NN_TRY(nn_image_prep_parse(o, &x->prep));
  NN_TRY(nn_dataset_single_input(ds, o));
  int is_dir = nn_is_dir(o->path);
  if (labels) NN_TRY(nn_file_list_read(labels, is_dir ? o->path : NULL, &x->list));
  else if (is_dir) NN_TRY(nn_file_list_dir(o->path, k_image_exts, &x->list));
  else NN_TRY(nn_file_list_read(o->path, NULL, &x->list));
  ds->count = x->list.n;
  if (masks) {
    x->mask_dir = nn_strdup(masks);
    if (!x->mask_dir) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    x->label_kind = 3;
  } else if (x->list.n_classes) {
    x->label_kind = 1;
    ds->n_classes = x->list.n_classes;
    ds->classes = x->list.classes;
    x->list.classes = NULL;
    x->list.n_classes = 0;
  } else if (nn_file_list_int_labels(&x->list) == 1) {
    x->label_kind = 1;
    x->ids = malloc(sizeof *x->ids * (size_t)x->list.n);
    if (!x->ids) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    for (int64_t i = 0; i < x->list.n; i++) x->ids[i] = strtoll(x->list.labels[i], NULL, 10);
  } else if (x->list.labels) {
    x->label_kind = 2;
  }
  ds->has_labels = x->label_kind != 0;
done:
  return st;
}
