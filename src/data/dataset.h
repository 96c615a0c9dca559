/*
 * dataset.h - internal interface between the dataset front end (dataset.c: SPEC
 * parsing, batching) and the readers (idx.c, npz_dataset.c, images.c, text.c,
 * audio.c), plus the image preprocessing they share (image_ops.c).
 */
#ifndef NN_DATA_DATASET_H
#define NN_DATA_DATASET_H

#include <stdint.h>

#include "core/status.h"
#include "nnopt.h"

/* ---- SPEC options: KEY=VALUE pairs; every key must be consumed by the reader ---- */
typedef struct nn_spec_opts {
  const char *kind; /* "idx", "npz", ... */
  const char *path;
  int n;
  char **keys, **values;
  unsigned char *used;
  char *storage; /* one copy of the spec the pointers above point into */
} nn_spec_opts;

/* Value of key (marking it used) or dflt. */
const char *nn_opt_str(nn_spec_opts *o, const char *key, const char *dflt);
/* Integer / float option; NN_ERR_INVALID naming the spec when malformed. */
nn_status nn_opt_int(nn_spec_opts *o, const char *key, int64_t dflt, int64_t *out);
nn_status nn_opt_double(nn_spec_opts *o, const char *key, double dflt, double *out);
/* "W" or "WxH" (W alone means W x W unless single is non-NULL, where it reports that
 * only one number was given). 0,0 when absent. */
nn_status nn_opt_size(nn_spec_opts *o, const char *key, int *w, int *h, int *single);
/* A list of up to max numbers separated by ':', '+' or '/'; returns count in *n. */
nn_status nn_opt_doubles(nn_spec_opts *o, const char *key, double *vals, int max, int *n);

/* ---- readers ---- */
/* Each reader fills these fields of the dataset; dataset.c owns everything else. */
struct nn_dataset {
  char *label; /* the SPEC path, for messages */
  int64_t count;
  int n_inputs;
  char **names;      /* n_inputs owned names */
  int has_labels;
  int n_classes;     /* class names (image folders), may be 0 */
  char **classes;
  void *impl;
  /* Sample selection (classes= / skip= options): sample i is record index[i] of the
   * reader; NULL when every record is used in order. */
  int64_t *index;
  /* Read sample i into inputs[0..n_inputs) (leading dim 1, malloc'ed data) and
   * label (dtype NN_UNDEFINED when none). On failure the arrays may be partly
   * filled; the caller releases them. Errors name the file and the record. */
  nn_status (*get)(struct nn_dataset *ds, int64_t i, nn_array *inputs, nn_array *label);
  void (*free_impl)(void *impl);
};

nn_status nn_dataset_open_idx(nn_dataset *ds, nn_spec_opts *o);
nn_status nn_dataset_open_npz(nn_dataset *ds, nn_spec_opts *o);
nn_status nn_dataset_open_npy(nn_dataset *ds, nn_spec_opts *o);
nn_status nn_dataset_open_images(nn_dataset *ds, nn_spec_opts *o);
nn_status nn_dataset_open_tsv(nn_dataset *ds, nn_spec_opts *o);
nn_status nn_dataset_open_wav(nn_dataset *ds, nn_spec_opts *o);

/* Set ds->names to the one name given by the "name" option (default "input"). */
nn_status nn_dataset_single_input(nn_dataset *ds, nn_spec_opts *o);

/* ---- file lists shared by the image and audio readers (file_list.c) ---- */
typedef struct nn_file_list {
  int64_t n;
  char **paths;  /* n full paths */
  char **labels; /* n label texts (NULL entries when a line has none); NULL if no labels */
  int n_classes; /* class folder names when listed from DIR/<class>/... */
  char **classes;
  int64_t *class_id; /* n class indices, NULL unless n_classes */
} nn_file_list;

/* Files under dir whose extension is in exts (e.g. {".png", ".jpg", NULL}, case
 * insensitive), sorted. When dir holds sub-folders with such files, only those count
 * and the sorted sub-folder names become the classes (torchvision ImageFolder). */
nn_status nn_file_list_dir(const char *dir, const char *const *exts, nn_file_list *out);
/* Lines "PATH<TAB>LABEL", "PATH LABEL" or "PATH" of a list file; relative paths are
 * taken from base (NULL: the list file's folder). Blank lines and '#' lines skipped. */
nn_status nn_file_list_read(const char *file, const char *base, nn_file_list *out);
void nn_file_list_free(nn_file_list *l);
/* Whether every label is a decimal integer (1) or not (0); -1 when there are none. */
int nn_file_list_int_labels(const nn_file_list *l);
/* Put "record N" into the last error, which a file reader began with "path: ":
 * "path: record N: ...". Returns st. */
nn_status nn_error_record(nn_status st, const char *path, int64_t record);
/* Whether path names a directory. */
int nn_is_dir(const char *path);
/* A 1-element int64 / string label array. */
nn_status nn_label_int(nn_array *a, int64_t v);
nn_status nn_label_text(nn_array *a, const char *s);

/* ---- image preprocessing (image_ops.c) ---- */
typedef enum { NN_CH_KEEP = 0, NN_CH_GRAY, NN_CH_RGB, NN_CH_BGR } nn_channel_order;

typedef struct nn_image_prep {
  nn_channel_order channels;
  int size_w, size_h, size_short; /* size_short: resize the shorter side to it */
  int keep_aspect;
  int antialias;
  int crop_w, crop_h;
  int pad;
  double pad_value;
  double scale;
  int n_mean, n_std;
  double mean[4], std[4];
  int nhwc;
  int raw_uint8; /* dtype=uint8 */
} nn_image_prep;

/* Parse the image keys; default_channels is what a source without its own order
 * uses for NN_CH_KEEP. */
nn_status nn_image_prep_parse(nn_spec_opts *o, nn_image_prep *p);

/* An 8-bit interleaved image. */
typedef struct nn_image {
  int w, h, c;
  uint8_t *px; /* h*w*c bytes, owned by whoever made it */
} nn_image;

/* Convert, resize, crop, pad and normalize img into out ([1,C,H,W] or [1,H,W,C]).
 * mask (may be NULL) is transformed by the same geometry with nearest sampling
 * (padding with 255) into mask_out int64 [1,H,W]. label names the record in errors. */
nn_status nn_image_preprocess(const nn_image_prep *p, const nn_image *img,
                              const nn_image *mask, nn_array *out, nn_array *mask_out,
                              const char *label);

#endif
