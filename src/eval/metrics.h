/*
 * metrics.h - the pieces metrics are made of, exposed for unit tests and for other
 * evaluators (see nnopt.h for the nn_metric accumulator built on them).
 */
#ifndef NN_EVAL_METRICS_H
#define NN_EVAL_METRICS_H

#include <stdint.h>

#include "core/status.h"

/* Rank of scores[label] among n scores with ties broken by index (as argmax and
 * topk pick the first of equal scores): 0 when label is the argmax. */
int64_t nn_score_rank(const double *scores, int64_t n, int64_t label);

/* Levenshtein distance between two code-point strings. Uses O(min(n, m)) scratch;
 * returns -1 when out of memory. */
int64_t nn_edit_distance(const uint32_t *a, int64_t n, const uint32_t *b, int64_t m);

/* UTF-8 -> code points: writes at most max, returns the count (invalid bytes count
 * as one U+FFFD each). */
int64_t nn_utf8_decode(const char *s, int64_t len, uint32_t *out, int64_t max);

/* CTC greedy decoding of scores [T, C] (row-major): best class per step, repeats
 * merged, blank dropped. Writes the class ids to out (at most T), returns the count. */
int64_t nn_ctc_greedy(const double *scores, int64_t t, int64_t c, int64_t blank, int64_t *out);

/* F1 from counts: 2tp / (2tp + fp + fn), 0 when all are 0. */
double nn_f1(int64_t tp, int64_t fp, int64_t fn);

/* Per-class statistics of a c x c confusion matrix conf[truth * c + pred]. */
double nn_confusion_f1_binary(const int64_t *conf, int64_t c, int64_t positive);
/* Mean F1 over classes that occur as truth or prediction (scikit-learn's macro). */
double nn_confusion_f1_macro(const int64_t *conf, int64_t c);
/* Mean IoU over classes with a non-empty union. */
double nn_confusion_miou(const int64_t *conf, int64_t c);

/* Speech/non-speech frame counts of one clip: probs [t] against a per-sample mask of
 * s samples (frame i covers samples i*s/t .. (i+1)*s/t - 1 and is speech when most
 * are). Adds to tp/fp/fn/tn. */
void nn_vad_frames(const double *probs, int64_t t, const uint8_t *mask, int64_t s,
                   double threshold, int64_t *tp, int64_t *fp, int64_t *fn, int64_t *tn);

#endif
