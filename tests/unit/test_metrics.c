/*
 * test_metrics.c - metrics on hand-computed cases: top-k ranks and tie-breaking,
 * accuracy/F1 (binary and macro), mIoU (with ignored labels and resized logits), edit
 * distance, CTC greedy decoding and CER, frame-level VAD F1.
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
#include <unistd.h>

#include "eval/metrics.h"
#include "nnopt.h"

static nn_array farr(float *data, int ndim, const int64_t *dims) {
  nn_array a = {NN_FLOAT, ndim, {0}, data, sizeof(float)};
  for (int i = 0; i < ndim; i++) a.dims[i] = dims[i], a.nbytes *= (size_t)dims[i];
  return a;
}

static nn_array iarr(int64_t *data, int ndim, const int64_t *dims) {
  nn_array a = {NN_INT64, ndim, {0}, data, sizeof(int64_t)};
  for (int i = 0; i < ndim; i++) a.dims[i] = dims[i], a.nbytes *= (size_t)dims[i];
  return a;
}

static nn_metric *metric(const char *name, const nn_metric_options *o) {
  nn_metric *m = NULL;
  assert_int_equal(nn_metric_create(name, o, &m), NN_OK);
  return m;
}

static void test_rank(void **state) {
  (void)state;
  double s[] = {0.1, 0.5, 0.5, 0.2, -1};
  assert_int_equal(nn_score_rank(s, 5, 1), 0); /* first of the tied maxima */
  assert_int_equal(nn_score_rank(s, 5, 2), 1); /* tie broken by index, like argmax */
  assert_int_equal(nn_score_rank(s, 5, 3), 2);
  assert_int_equal(nn_score_rank(s, 5, 0), 3);
  assert_int_equal(nn_score_rank(s, 5, 4), 4);
}

static void test_topk(void **state) {
  (void)state;
  /* 3 samples, 6 classes. Sample 0: label 2 is best. Sample 1: label 0 ranks 4th.
   * Sample 2: label 5 ranks 6th (last). top1 = 1/3, top5 = 2/3. */
  float out[] = {0, 1, 9, 2, 3, 4,  /* */
                 5, 9, 8, 7, 1, 0,  /* */
                 6, 5, 4, 3, 2, 1};
  int64_t lab[] = {2, 0, 5};
  int64_t od[] = {3, 6}, ld[] = {3};
  nn_array o = farr(out, 2, od), l = iarr(lab, 1, ld);
  nn_metric *t1 = metric("top1", NULL), *t5 = metric("top5", NULL);
  assert_int_equal(nn_metric_update(t1, &o, &l), NN_OK);
  assert_int_equal(nn_metric_update(t5, &o, &l), NN_OK);
  assert_float_equal(nn_metric_value(t1), 1.0 / 3, 1e-12);
  assert_float_equal(nn_metric_value(t5), 2.0 / 3, 1e-12);
  assert_int_equal(nn_metric_samples(t5), 3);
  const char *name;
  double v;
  assert_int_equal(nn_metric_extra(t1, 0, &name, &v), 1);
  assert_string_equal(name, "top5");
  assert_float_equal(v, 2.0 / 3, 1e-12);
  assert_string_equal(nn_metric_name(t5), "top5");
  /* A label outside the classes is an error, not a miss. */
  lab[0] = 6;
  assert_int_not_equal(nn_metric_update(t1, &o, &l), NN_OK);
  assert_non_null(strstr(nn_last_error(), "out of range"));
  nn_metric_free(t1);
  nn_metric_free(t5);
  nn_metric *bad = NULL;
  assert_int_not_equal(nn_metric_create("top3", NULL, &bad), NN_OK);
  assert_null(bad);
}

static void test_f1(void **state) {
  (void)state;
  /* Binary: truth 1 1 1 0 0 0 1 0, predicted 1 0 1 1 0 0 1 0:
   * tp = 3, fn = 1, fp = 1 -> F1 = 6 / 8 = 0.75; accuracy 6/8. */
  int64_t truth[] = {1, 1, 1, 0, 0, 0, 1, 0};
  int pred[] = {1, 0, 1, 1, 0, 0, 1, 0};
  float out[16];
  for (int i = 0; i < 8; i++) out[2 * i] = pred[i] ? -1.0f : 2.0f, out[2 * i + 1] = pred[i] ? 3.0f : 0.5f;
  int64_t od[] = {8, 2}, ld[] = {8};
  nn_array o = farr(out, 2, od), l = iarr(truth, 1, ld);
  nn_metric *f1 = metric("f1", NULL), *acc = metric("accuracy", NULL);
  assert_int_equal(nn_metric_update(f1, &o, &l), NN_OK);
  assert_int_equal(nn_metric_update(acc, &o, &l), NN_OK);
  assert_float_equal(nn_metric_value(f1), 0.75, 1e-12);
  assert_float_equal(nn_metric_value(acc), 0.75, 1e-12);
  const char *name;
  double v;
  assert_int_equal(nn_metric_extra(f1, 0, &name, &v), 1);
  assert_string_equal(name, "accuracy");
  assert_float_equal(v, 0.75, 1e-12);
  nn_metric_free(f1);
  /* Positive class 0: tp = 3, fp = 1, fn = 1 -> also 0.75; macro = 0.75. */
  nn_metric_options mo = {0};
  mo.average = "macro";
  f1 = metric("f1", &mo);
  assert_int_equal(nn_metric_update(f1, &o, &l), NN_OK);
  assert_float_equal(nn_metric_value(f1), 0.75, 1e-12);
  nn_metric_free(f1);
  nn_metric_free(acc);

  /* One logit per sample: > 0 is class 1. */
  float logit[] = {2.0f, -1.0f, 0.5f, -0.1f};
  int64_t y[] = {1, 1, 0, 0};
  int64_t od1[] = {4, 1}, ld1[] = {4};
  nn_array o1 = farr(logit, 2, od1), l1 = iarr(y, 1, ld1);
  acc = metric("accuracy", NULL);
  assert_int_equal(nn_metric_update(acc, &o1, &l1), NN_OK);
  assert_float_equal(nn_metric_value(acc), 0.5, 1e-12);
  nn_metric_free(acc);

  /* Macro over 3 classes from a confusion matrix [truth][pred]:
   *   [[2,1,0],[0,1,1],[0,0,0]] -> F1: class0 2*2/(4+0+1)=0.8, class1 2/(2+1+1)=0.5,
   *   class2 0/(0+1+0)=0 -> macro 0.4333...; binary positive 1 -> 0.5. */
  int64_t conf[] = {2, 1, 0, 0, 1, 1, 0, 0, 0};
  assert_float_equal(nn_confusion_f1_macro(conf, 3), (0.8 + 0.5 + 0.0) / 3, 1e-12);
  assert_float_equal(nn_confusion_f1_binary(conf, 3, 1), 0.5, 1e-12);
  assert_float_equal(nn_f1(0, 0, 0), 0.0, 0);
}

static void test_miou(void **state) {
  (void)state;
  /* 2 classes on a 2x2 image. Prediction (argmax): [[0,1],[1,1]]; truth [[0,0],[1,255]]
   * (255 ignored). Class 0: tp 1, fn 1, fp 0 -> 1/2; class 1: tp 1, fp 1 -> 1/2. */
  float out[] = {/* class 0 */ 5, 0, 0, 0, /* class 1 */ 0, 5, 5, 5};
  int64_t truth[] = {0, 0, 1, 255};
  int64_t od[] = {1, 2, 2, 2}, ld[] = {1, 2, 2};
  nn_array o = farr(out, 4, od), l = iarr(truth, 3, ld);
  nn_metric *m = metric("miou", NULL);
  assert_int_equal(nn_metric_update(m, &o, &l), NN_OK);
  assert_float_equal(nn_metric_value(m), 0.5, 1e-12);
  const char *name;
  double v;
  nn_metric_extra(m, 0, &name, &v);
  assert_string_equal(name, "pixel_accuracy");
  assert_float_equal(v, 2.0 / 3, 1e-12);
  nn_metric_free(m);

  /* Logits at 1x2 resized (bilinear, align_corners=False) to a 2x4 mask: class 1
   * wins where x >= 2 (left logit column 1,0 / right 0,1 cross at the middle). */
  float small[] = {1, 0, /* class 1 */ 0, 1};
  int64_t mask[] = {0, 0, 1, 1, 0, 0, 1, 1};
  int64_t sd[] = {1, 2, 1, 2}, md[] = {1, 2, 4};
  nn_array so = farr(small, 4, sd), ml = iarr(mask, 3, md);
  m = metric("miou", NULL);
  assert_int_equal(nn_metric_update(m, &so, &ml), NN_OK);
  assert_float_equal(nn_metric_value(m), 1.0, 1e-12);
  nn_metric_free(m);
}

static void test_edit_distance(void **state) {
  (void)state;
  uint32_t a[16], b[16];
  int64_t na = nn_utf8_decode("kitten", 6, a, 16), nb = nn_utf8_decode("sitting", 7, b, 16);
  assert_int_equal(nn_edit_distance(a, na, b, nb), 3);
  assert_int_equal(nn_edit_distance(b, nb, a, na), 3);
  assert_int_equal(nn_edit_distance(a, 0, b, nb), 7);
  assert_int_equal(nn_edit_distance(a, na, b, 0), 6);
  /* Code points, not bytes: "wörld" is 5 characters; one substitution from "world". */
  na = nn_utf8_decode("w\xc3\xb6rld", 6, a, 16);
  assert_int_equal(na, 5);
  assert_int_equal(a[1], 0xf6);
  nb = nn_utf8_decode("world", 5, b, 16);
  assert_int_equal(nn_edit_distance(a, na, b, nb), 1);
  /* A stray continuation byte decodes as one U+FFFD. */
  assert_int_equal(nn_utf8_decode("a\x80z", 3, a, 16), 3);
  assert_int_equal(a[1], 0xfffd);
}

static void test_ctc_cer(void **state) {
  (void)state;
  /* Steps (argmax): a a _ a b b _ -> "aab" with classes blank=0, a=1, b=2. */
  const int best[] = {1, 1, 0, 1, 2, 2, 0};
  double s[7 * 4];
  float f[7 * 4];
  for (int t = 0; t < 7; t++)
    for (int k = 0; k < 4; k++) s[t * 4 + k] = f[t * 4 + k] = k == best[t] ? 0.9f : 0.05f;
  int64_t ids[7];
  assert_int_equal(nn_ctc_greedy(s, 7, 4, 0, ids), 3);
  assert_int_equal(ids[0], 1);
  assert_int_equal(ids[1], 1);
  assert_int_equal(ids[2], 2);

  char path[] = "/tmp/nnopt_charsetXXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *fp = fdopen(fd, "w");
  fputs("a\nb\n\xc3\xb6\n", fp); /* class 3 = "ö"; class 4 (past the list) = space */
  fclose(fp);
  nn_metric_options mo = {0};
  mo.charset = path;
  nn_metric *m = metric("cer", &mo);
  /* Sample 0 decodes "aab" vs "abc": 1 substitution + ... edit("aab","abc") = 2.
   * Sample 1 decodes "ö " (classes 3, 4) vs "ö ": exact. CER = 2 / (3 + 2). */
  float both[2 * 7 * 5];
  const int best2[] = {3, 3, 0, 4, 4, 0, 0};
  for (int t = 0; t < 7; t++)
    for (int k = 0; k < 5; k++) {
      both[t * 5 + k] = k == best[t] ? 0.9f : 0.02f;
      both[35 + t * 5 + k] = k == best2[t] ? 0.9f : 0.02f;
    }
  nn_bytes text[2] = {{3, "abc"}, {3, "\xc3\xb6 "}};
  int64_t od[] = {2, 7, 5};
  nn_array o = farr(both, 3, od);
  nn_array l = {NN_STRING, 1, {2}, text, sizeof text};
  assert_int_equal(nn_metric_update(m, &o, &l), NN_OK);
  assert_float_equal(nn_metric_value(m), 2.0 / 5, 1e-12);
  const char *name;
  double v;
  nn_metric_extra(m, 0, &name, &v);
  assert_string_equal(name, "exact");
  assert_float_equal(v, 0.5, 1e-12);
  nn_metric_free(m);
  unlink(path);
  nn_metric *bad = NULL;
  assert_int_not_equal(nn_metric_create("cer", NULL, &bad), NN_OK); /* needs a charset */
}

static void test_vad(void **state) {
  (void)state;
  /* 4 frames over 8 samples (2 per frame). Truth per frame: speech when both samples
   * are speech: mask 1 1 | 1 0 | 0 0 | 1 1 -> frames S - - S (1 of 2 is not most).
   * Probabilities 0.9 0.6 0.2 0.4 -> predicted S S - -: tp 1, fp 1, fn 1 -> F1 0.5. */
  double p[] = {0.9, 0.6, 0.2, 0.4};
  uint8_t mask[] = {1, 1, 1, 0, 0, 0, 1, 1};
  int64_t tp = 0, fp = 0, fn = 0, tn = 0;
  nn_vad_frames(p, 4, mask, 8, 0.5, &tp, &fp, &fn, &tn);
  assert_int_equal(tp, 1);
  assert_int_equal(fp, 1);
  assert_int_equal(fn, 1);
  assert_int_equal(tn, 1);
  float pf[] = {0.9f, 0.6f, 0.2f, 0.4f};
  int64_t od[] = {1, 4, 1};
  nn_array o = farr(pf, 3, od);
  nn_array l = {NN_UINT8, 2, {1, 8}, mask, 8};
  nn_metric *m = metric("vad-f1", NULL);
  assert_int_equal(nn_metric_update(m, &o, &l), NN_OK);
  assert_float_equal(nn_metric_value(m), 0.5, 1e-12);
  nn_metric_free(m);
  nn_metric_options mo = {0};
  mo.threshold = 0.3; /* now frame 3 (0.4) is speech too: tp 2, fp 1, fn 0 -> 0.8 */
  m = metric("vad-f1", &mo);
  assert_int_equal(nn_metric_update(m, &o, &l), NN_OK);
  assert_float_equal(nn_metric_value(m), 0.8, 1e-12);
  nn_metric_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rank),          cmocka_unit_test(test_topk),
      cmocka_unit_test(test_f1),            cmocka_unit_test(test_miou),
      cmocka_unit_test(test_edit_distance), cmocka_unit_test(test_ctc_cer),
      cmocka_unit_test(test_vad),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
