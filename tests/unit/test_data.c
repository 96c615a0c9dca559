/*
 * test_data.c - dataset readers (IDX, npz, image folders, TSV text, WAV) and the SPEC
 * front end, against fixtures whose expected values come from PIL/torchvision, the
 * wave module and sox, and the fixture tokenizer rule (tests/data/make_data_fixtures.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnopt.h"

#define D NNOPT_SOURCE_DIR "/tests/data/datasets/"

static nn_dataset *open_ok(const char *spec) {
  nn_dataset *ds = NULL;
  nn_status st = nn_dataset_open(spec, NULL, &ds);
  if (st) fprintf(stderr, "open %s: %s\n", spec, nn_last_error());
  assert_int_equal(st, NN_OK);
  return ds;
}

/* Opening (or, with record >= 0, reading that record) fails with a message holding
 * both needles. */
static void expect_error(const char *spec, int64_t record, const char *needle1, const char *needle2) {
  nn_dataset *ds = NULL;
  nn_status st = nn_dataset_open(spec, NULL, &ds);
  if (record >= 0) {
    assert_int_equal(st, NN_OK);
    nn_batch b;
    st = nn_dataset_get(ds, record, 1, &b);
  }
  assert_int_not_equal(st, NN_OK);
  const char *msg = nn_last_error();
  if (!strstr(msg, needle1) || (needle2 && !strstr(msg, needle2)))
    fail_msg("error '%s' lacks '%s' / '%s'", msg, needle1, needle2 ? needle2 : "");
  nn_dataset_free(ds);
}

static const nn_array *npz_get(const nn_npz *z, const char *name) {
  for (int i = 0; i < z->count; i++)
    if (!strcmp(z->names[i], name)) return &z->arrays[i];
  fail_msg("no '%s' in expected npz", name);
  return NULL;
}

/* Max |a - b| over float arrays of the same shape. */
static double max_diff(const nn_array *a, const nn_array *b) {
  assert_int_equal(a->dtype, NN_FLOAT);
  assert_int_equal(b->dtype, NN_FLOAT);
  assert_int_equal(a->ndim, b->ndim);
  for (int i = 0; i < a->ndim; i++) assert_int_equal(a->dims[i], b->dims[i]);
  double m = 0;
  for (int64_t i = 0; i < nn_array_numel(a); i++) {
    double d = fabs((double)((float *)a->data)[i] - ((float *)b->data)[i]);
    if (d > m) m = d;
  }
  return m;
}

static int64_t i64(const nn_array *a, int64_t i) { return ((const int64_t *)a->data)[i]; }

static void test_spec_errors(void **state) {
  (void)state;
  expect_error("nonsense", -1, "KIND:PATH", NULL);
  expect_error("foo:bar", -1, "unknown kind 'foo'", NULL);
  expect_error("idx:" D "tiny-images-idx3-ubyte.gz,sise=3", -1, "unknown option 'sise'", NULL);
  expect_error("idx:" D "tiny-images-idx3-ubyte.gz,pad", -1, "not key=value", NULL);
  expect_error("idx:" D "tiny-images-idx3-ubyte.gz,mean=abc", -1, "mean=abc", NULL);
  expect_error("idx:" D "missing.gz", -1, "missing.gz", "cannot open");
}

static void test_idx(void **state) {
  (void)state;
  nn_array want;
  assert_int_equal(nn_array_read(D "tiny_images.npy", &want, NULL), NN_OK); /* uint8 [5,4,6] */
  const uint8_t *px = want.data;
  nn_dataset *ds = open_ok("idx:" D "tiny-images-idx3-ubyte.gz,labels=" D "tiny-labels-idx1-ubyte.gz");
  assert_int_equal(nn_dataset_count(ds), 5);
  assert_int_equal(nn_dataset_input_count(ds), 1);
  assert_string_equal(nn_dataset_input_name(ds, 0), "input");
  assert_true(nn_dataset_has_labels(ds));
  nn_batch b;
  assert_int_equal(nn_dataset_get(ds, 1, 3, &b), NN_OK);
  assert_int_equal(b.count, 1);
  assert_int_equal(b.inputs[0].ndim, 4);
  assert_int_equal(b.inputs[0].dims[0], 3);
  assert_int_equal(b.inputs[0].dims[1], 1);
  assert_int_equal(b.inputs[0].dims[2], 4);
  assert_int_equal(b.inputs[0].dims[3], 6);
  for (int i = 0; i < 3 * 24; i++)
    assert_float_equal(((float *)b.inputs[0].data)[i], px[24 + i] / 255.0f, 1e-6);
  assert_int_equal(b.label.dims[0], 3);
  assert_int_equal(i64(&b.label, 0), 1);
  assert_int_equal(i64(&b.label, 1), 4);
  assert_int_equal(i64(&b.label, 2), 1);
  nn_batch_release(&b);
  assert_int_not_equal(nn_dataset_get(ds, 4, 2, &b), NN_OK); /* past the end */
  nn_dataset_free(ds);

  /* The Fashion-MNIST fixture's preprocessing: pad 2 with 0, then normalize. */
  ds = open_ok("idx:" D "tiny-images-idx3-ubyte.gz,labels=" D "tiny-labels-int32-idx1,pad=2,"
               "mean=0.2860,std=0.3530");
  assert_int_equal(nn_dataset_get(ds, 4, 1, &b), NN_OK);
  assert_int_equal(b.inputs[0].dims[2], 8);
  assert_int_equal(b.inputs[0].dims[3], 10);
  const float *f = b.inputs[0].data;
  assert_float_equal(f[0], (0 - 0.2860) / 0.3530, 1e-6);
  assert_float_equal(f[2 * 10 + 2], (px[4 * 24] / 255.0 - 0.2860) / 0.3530, 1e-5);
  assert_float_equal(f[5 * 10 + 7], (px[4 * 24 + 3 * 6 + 5] / 255.0 - 0.2860) / 0.3530, 1e-5);
  assert_int_equal(i64(&b.label, 0), 5);
  nn_batch_release(&b);
  nn_dataset_free(ds);

  /* --limit and uint8 output in NHWC. */
  nn_dataset_options opt = {2};
  assert_int_equal(nn_dataset_open("idx:" D "tiny-images-idx3-ubyte.gz,dtype=uint8,layout=nhwc",
                                   &opt, &ds), NN_OK);
  assert_int_equal(nn_dataset_count(ds), 2);
  assert_false(nn_dataset_has_labels(ds));
  assert_int_equal(nn_dataset_get(ds, 1, 1, &b), NN_OK);
  assert_int_equal(b.inputs[0].dtype, NN_UINT8);
  assert_int_equal(b.inputs[0].dims[3], 1);
  assert_memory_equal(b.inputs[0].data, px + 24, 24);
  assert_int_equal(b.label.dtype, NN_UNDEFINED);
  nn_batch_release(&b);
  nn_dataset_free(ds);
  nn_array_release(&want);

  /* classes= keeps the samples of those labels (3 1 4 1 5 -> records 1, 3), skip= drops
   * the first kept ones. */
  ds = open_ok("idx:" D "tiny-images-idx3-ubyte.gz,labels=" D "tiny-labels-idx1-ubyte.gz,"
               "classes=1,dtype=uint8");
  assert_int_equal(nn_dataset_count(ds), 2);
  assert_int_equal(nn_dataset_get(ds, 0, 2, &b), NN_OK);
  assert_memory_equal(b.inputs[0].data, px + 24, 24);
  assert_memory_equal((uint8_t *)b.inputs[0].data + 24, px + 3 * 24, 24);
  assert_int_equal(i64(&b.label, 0), 1);
  assert_int_equal(i64(&b.label, 1), 1);
  nn_batch_release(&b);
  nn_dataset_free(ds);
  ds = open_ok("idx:" D "tiny-images-idx3-ubyte.gz,labels=" D "tiny-labels-idx1-ubyte.gz,"
               "classes=4:5:1,skip=2");
  assert_int_equal(nn_dataset_count(ds), 2); /* records 1 2 3 4 kept, 1 2 skipped */
  assert_int_equal(nn_dataset_get(ds, 0, 2, &b), NN_OK);
  assert_int_equal(i64(&b.label, 0), 1);
  assert_int_equal(i64(&b.label, 1), 5);
  nn_batch_release(&b);
  nn_dataset_free(ds);
  ds = open_ok("idx:" D "tiny-images-idx3-ubyte.gz,skip=3");
  assert_int_equal(nn_dataset_count(ds), 2);
  nn_dataset_free(ds);
  expect_error("idx:" D "tiny-images-idx3-ubyte.gz,classes=1", -1, "tiny-images", "needs labels");
  expect_error("idx:" D "tiny-images-idx3-ubyte.gz,labels=" D "tiny-labels-idx1-ubyte.gz,classes=7",
               -1, "tiny-images", "no record left");
  expect_error("idx:" D "tiny-images-idx3-ubyte.gz,skip=-1", -1, "tiny-images", "negative");

  expect_error("idx:" D "truncated-images-idx3-ubyte.gz", -1, "record 3", "truncated");
  expect_error("idx:" D "tiny-images-idx3-ubyte.gz,labels=" D "short-labels-idx1-ubyte.gz", -1,
               "short-labels-idx1-ubyte.gz", "4 labels for 5 images");
  expect_error("idx:" D "tiny.tsv", -1, "tiny.tsv", "not an IDX file");
}

static void test_images(void **state) {
  (void)state;
  nn_npz exp;
  assert_int_equal(nn_npz_read(D "images_expected.npz", &exp), NN_OK);
  nn_dataset *ds = open_ok("images:" D "images,size=24,crop=20,mean=0.485:0.456:0.406,"
                           "std=0.229:0.224:0.225");
  assert_int_equal(nn_dataset_count(ds), 3);
  assert_string_equal(nn_dataset_class_name(ds, 0), "cat");
  assert_string_equal(nn_dataset_class_name(ds, 1), "dog");
  assert_null(nn_dataset_class_name(ds, 2));
  const char *names[] = {"img0", "img1", "img2"};
  const int64_t labels[] = {0, 0, 1};
  for (int i = 0; i < 3; i++) {
    nn_batch b;
    assert_int_equal(nn_dataset_get(ds, i, 1, &b), NN_OK);
    /* Resizing reproduces PIL bit for bit; only float rounding remains. */
    double d = max_diff(&b.inputs[0], npz_get(&exp, names[i]));
    if (d > 1e-5) fail_msg("image %d differs from torchvision by %g", i, d);
    assert_int_equal(i64(&b.label, 0), labels[i]);
    nn_batch_release(&b);
  }
  nn_batch b;
  /* Images of different sizes cannot be stacked without resizing. */
  nn_dataset_free(ds);
  ds = open_ok("images:" D "images");
  assert_int_not_equal(nn_dataset_get(ds, 0, 2, &b), NN_OK);
  assert_non_null(strstr(nn_last_error(), "batch 1"));
  nn_dataset_free(ds);

  ds = open_ok("images:" D "images,size=70x50,channels=gray");
  assert_int_equal(nn_dataset_get(ds, 0, 1, &b), NN_OK);
  double d = max_diff(&b.inputs[0], npz_get(&exp, "img0_gray_70x50"));
  if (d > 1e-6) fail_msg("gray upscale differs from torchvision by %g", d);
  nn_batch_release(&b);
  nn_dataset_free(ds);

  /* A list file with a text label (OCR); JPEG decoders may differ by a level. */
  ds = open_ok("images:" D "ocr_list.txt,layout=nchw");
  assert_int_equal(nn_dataset_get(ds, 0, 1, &b), NN_OK);
  d = max_diff(&b.inputs[0], npz_get(&exp, "gray_jpg"));
  if (d > 1.01 / 255) fail_msg("gray JPEG differs from PIL by %g", d);
  assert_int_equal(b.label.dtype, NN_STRING);
  const nn_bytes *s = b.label.data;
  assert_int_equal(s->len, strlen("hello wörld"));
  assert_memory_equal(s->data, "hello wörld", s->len);
  nn_batch_release(&b);
  nn_dataset_free(ds);

  /* Text labels stack into a string batch; a record of another size stops the batch
   * (and what was stacked so far is released). */
  ds = open_ok("images:" D "ocr_list2.txt");
  assert_int_equal(nn_dataset_get(ds, 0, 2, &b), NN_OK);
  assert_int_equal(b.label.dims[0], 2);
  s = b.label.data;
  assert_int_equal(s[1].len, 6);
  assert_memory_equal(s[1].data, "second", 6);
  nn_batch_release(&b);
  assert_int_not_equal(nn_dataset_get(ds, 0, 3, &b), NN_OK);
  assert_non_null(strstr(nn_last_error(), "record 2"));
  nn_dataset_free(ds);

  /* PaddleOCR-style: height 16, width from the aspect ratio, right side zero. */
  ds = open_ok("images:" D "ocr_list.txt,channels=bgr,size=100x16,keep_aspect=1,mean=0.5,std=0.5");
  assert_int_equal(nn_dataset_get(ds, 0, 1, &b), NN_OK);
  assert_int_equal(b.inputs[0].dims[1], 3);
  assert_int_equal(b.inputs[0].dims[2], 16);
  assert_int_equal(b.inputs[0].dims[3], 100);
  const float *f = b.inputs[0].data;
  assert_float_equal(f[5 * 100 + 32], 0.0f, 0); /* 20x10 -> 32x16, then padding */
  assert_float_equal(f[5 * 100 + 99], 0.0f, 0);
  assert_true(f[5 * 100 + 31] != 0.0f);
  nn_batch_release(&b);
  nn_dataset_free(ds);

  /* Segmentation masks follow the image geometry with nearest sampling. */
  ds = open_ok("images:" D "images_seg/img,masks=" D "images_seg/mask,size=20x15");
  assert_int_equal(nn_dataset_get(ds, 0, 1, &b), NN_OK);
  const nn_array *m = npz_get(&exp, "mask_20x15");
  assert_int_equal(b.label.dtype, NN_INT64);
  assert_int_equal(b.label.ndim, 3);
  assert_int_equal(b.label.dims[1], 15);
  assert_int_equal(b.label.dims[2], 20);
  assert_memory_equal(b.label.data, m->data, m->nbytes);
  nn_batch_release(&b);
  nn_dataset_free(ds);

  expect_error("images:" D "bad_list.txt", 1, "not_an_image.png: record 1", "cannot decode");
  expect_error("images:" D "images,size=0", -1, "size=0", NULL);
  nn_npz_release(&exp);
}

static void test_wav(void **state) {
  (void)state;
  nn_npz exp;
  assert_int_equal(nn_npz_read(D "wav_expected.npz", &exp), NN_OK);
  const nn_array *a = npz_get(&exp, "a_pcm16"), *bs = npz_get(&exp, "b_stereo");
  nn_dataset *ds = open_ok("wav:" D "wav");
  assert_int_equal(nn_dataset_count(ds), 4); /* a_pcm16, b_stereo, c_pcm24, d_float */
  assert_false(nn_dataset_has_labels(ds));
  const nn_array *want[] = {a, bs, a, a};
  for (int i = 0; i < 4; i++) {
    nn_batch b;
    assert_int_equal(nn_dataset_get(ds, i, 1, &b), NN_OK);
    if (max_diff(&b.inputs[0], want[i]) > 1e-7) fail_msg("wav %d decodes differently", i);
    nn_batch_release(&b);
  }
  nn_dataset_free(ds);

  /* 8 kHz -> 16 kHz: a 440 Hz tone stays a 440 Hz tone (away from the clip edges). */
  ds = open_ok("wav:" D "wav,rate=16000,length=2000");
  nn_batch b;
  assert_int_equal(nn_dataset_get(ds, 0, 1, &b), NN_OK);
  assert_int_equal(b.inputs[0].dims[1], 2000);
  const float *f = b.inputs[0].data;
  double err = 0;
  for (int i = 40; i < 1560; i++) {
    double ref = sin(2 * M_PI * 440 * i / 16000.0) * 16000 / 32768.0;
    if (fabs(f[i] - ref) > err) err = fabs(f[i] - ref);
  }
  if (err > 2e-3) fail_msg("resampled tone off by %g", err);
  for (int i = 1600; i < 2000; i++) assert_float_equal(f[i], 0.0f, 0); /* zero padding */
  nn_batch_release(&b);
  nn_dataset_free(ds);

  /* 8 kHz -> 4 kHz, downsampling also keeps a tone below the new Nyquist. */
  ds = open_ok("wav:" D "wav,rate=4000");
  assert_int_equal(nn_dataset_get(ds, 0, 1, &b), NN_OK);
  assert_int_equal(b.inputs[0].dims[1], 400);
  f = b.inputs[0].data;
  err = 0;
  for (int i = 20; i < 380; i++) {
    double ref = sin(2 * M_PI * 440 * i / 4000.0) * 16000 / 32768.0;
    if (fabs(f[i] - ref) > err) err = fabs(f[i] - ref);
  }
  if (err > 1e-2) fail_msg("downsampled tone off by %g", err);
  nn_batch_release(&b);
  nn_dataset_free(ds);

  /* VAD segments -> per-sample speech mask at the output rate. */
  ds = open_ok("wav:" D "vad_list.txt");
  assert_true(nn_dataset_has_labels(ds));
  assert_int_equal(nn_dataset_get(ds, 0, 1, &b), NN_OK);
  assert_int_equal(b.label.dtype, NN_UINT8);
  assert_int_equal(b.label.dims[1], 800);
  const uint8_t *mk = b.label.data;
  for (int i = 0; i < 800; i++)
    assert_int_equal(mk[i], (i >= 80 && i < 400) || (i >= 560 && i < 800));
  nn_batch_release(&b);
  assert_int_equal(nn_dataset_get(ds, 1, 1, &b), NN_OK);
  for (int i = 0; i < 800; i++) assert_int_equal(((uint8_t *)b.label.data)[i], 0);
  nn_batch_release(&b);
  nn_dataset_free(ds);

  expect_error("wav:" D "bad_wav_list.txt", 1, "bad.wav: record 1", "format 0x0055");
  expect_error("wav:" D "tiny.tsv", 0, "datasets/label: record 0", "cannot open");
  expect_error("wav:" D "bad.tsv,label=class", -1, "label=class", "integer");
  nn_npz_release(&exp);
}

static void test_tsv(void **state) {
  (void)state;
  nn_npz exp;
  assert_int_equal(nn_npz_read(D "tsv_expected.npz", &exp), NN_OK);
  const nn_array *ids = npz_get(&exp, "ids"), *mask = npz_get(&exp, "mask");
  nn_dataset *ds = open_ok("tsv:" D "tiny.tsv,vocab=" D "word.vocab.txt,seq=8");
  assert_int_equal(nn_dataset_count(ds), 3);
  assert_int_equal(nn_dataset_input_count(ds), 3);
  assert_string_equal(nn_dataset_input_name(ds, 0), "input_ids");
  assert_string_equal(nn_dataset_input_name(ds, 1), "attention_mask");
  assert_string_equal(nn_dataset_input_name(ds, 2), "token_type_ids");
  nn_batch b;
  assert_int_equal(nn_dataset_get(ds, 0, 3, &b), NN_OK);
  assert_int_equal(b.inputs[0].dtype, NN_INT64);
  assert_int_equal(b.inputs[0].dims[0], 3);
  assert_int_equal(b.inputs[0].dims[1], 8);
  assert_memory_equal(b.inputs[0].data, ids->data, ids->nbytes);
  assert_memory_equal(b.inputs[1].data, mask->data, mask->nbytes);
  for (int i = 0; i < 24; i++) assert_int_equal(i64(&b.inputs[2], i), 0);
  assert_memory_equal(b.label.data, npz_get(&exp, "labels")->data, 3 * sizeof(int64_t));
  nn_batch_release(&b);
  nn_dataset_free(ds);

  ds = open_ok("tsv:" D "wordpiece.tsv,vocab=" D "wordpiece.vocab.txt,seq=16,dtype=int32");
  assert_int_equal(nn_dataset_count(ds), 1);
  assert_int_equal(nn_dataset_get(ds, 0, 1, &b), NN_OK);
  assert_int_equal(b.inputs[0].dtype, NN_INT32);
  const nn_array *wp = npz_get(&exp, "wp_ids");
  for (int i = 0; i < 16; i++) assert_int_equal(((int32_t *)b.inputs[0].data)[i], i64(wp, i));
  assert_int_equal(i64(&b.label, 0), 0);
  nn_batch_release(&b);
  nn_dataset_free(ds);

  expect_error("tsv:" D "bad.tsv,vocab=" D "word.vocab.txt", -1, "bad.tsv: line 3", "'x'");
  expect_error("tsv:" D "tiny.tsv", -1, "vocab=", NULL);
  expect_error("tsv:" D "tiny.tsv,vocab=" D "tiny.tsv", -1, "no [CLS]", NULL);
  nn_npz_release(&exp);
}

static void test_npz(void **state) {
  (void)state;
  nn_npz z;
  assert_int_equal(nn_npz_read(D "multi.npz", &z), NN_OK);
  nn_dataset *ds = open_ok("npz:" D "multi.npz,inputs=input_ids+attention_mask,labels=labels");
  assert_int_equal(nn_dataset_count(ds), 4);
  assert_int_equal(nn_dataset_input_count(ds), 2);
  assert_string_equal(nn_dataset_input_name(ds, 1), "attention_mask");
  nn_batch b;
  assert_int_equal(nn_dataset_get(ds, 2, 2, &b), NN_OK);
  assert_int_equal(b.inputs[0].dims[0], 2);
  assert_int_equal(b.inputs[0].dims[1], 6);
  assert_memory_equal(b.inputs[0].data, (int64_t *)npz_get(&z, "input_ids")->data + 12, 12 * 8);
  assert_int_equal(i64(&b.label, 0), 1);
  assert_int_equal(i64(&b.label, 1), 0);
  nn_batch_release(&b);
  nn_dataset_free(ds);
  ds = open_ok("npz:" D "multi.npz,labels=labels"); /* inputs: every other member */
  assert_int_equal(nn_dataset_input_count(ds), 2);
  nn_dataset_free(ds);
  nn_npz_release(&z);
  expect_error("npz:" D "ragged.npz", -1, "'b' has 3 rows", NULL);
  expect_error("npz:" D "multi.npz,inputs=nope", -1, "no array named 'nope'", NULL);
  expect_error("npy:" D "tiny_images.npy,labels=" D "multi.npz", -1, "multi.npz", NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spec_errors), cmocka_unit_test(test_idx), cmocka_unit_test(test_images),
      cmocka_unit_test(test_wav),         cmocka_unit_test(test_tsv), cmocka_unit_test(test_npz),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
