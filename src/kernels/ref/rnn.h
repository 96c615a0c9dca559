/*
 * rnn.h - reference kernels for the recurrent ops (RNN, GRU, LSTM): one direction of one
 * layer over a whole (possibly ragged) batch of sequences, float32, following the ONNX
 * equations gate by gate. The op file (src/ops/rnn.c) validates shapes, resolves
 * attributes and calls nn_f32_rnn_dir__ref once per direction.
 */
#ifndef NN_KERNELS_REF_RNN_H
#define NN_KERNELS_REF_RNN_H

#include <stddef.h>
#include <stdint.h>

/* Activation functions the recurrent ops accept (names compare case-insensitively). */
typedef enum nn_rnn_act_kind {
  NN_RNN_ACT_SIGMOID,
  NN_RNN_ACT_TANH,
  NN_RNN_ACT_RELU,
  NN_RNN_ACT_AFFINE,           /* alpha * x + beta */
  NN_RNN_ACT_LEAKY_RELU,       /* x >= 0 ? x : alpha * x */
  NN_RNN_ACT_THRESHOLDED_RELU, /* x >= alpha ? x : 0 */
  NN_RNN_ACT_SCALED_TANH,      /* alpha * tanh(beta * x) */
  NN_RNN_ACT_HARD_SIGMOID,     /* min(max(alpha * x + beta, 0), 1) */
  NN_RNN_ACT_ELU,              /* x >= 0 ? x : alpha * (e^x - 1) */
  NN_RNN_ACT_SOFTSIGN,         /* x / (1 + |x|) */
  NN_RNN_ACT_SOFTPLUS,         /* log(1 + e^x) */
} nn_rnn_act_kind;

typedef struct nn_rnn_act {
  nn_rnn_act_kind kind;
  float alpha, beta;
} nn_rnn_act;

/* Parse an activation name; returns 0 and fills kind, whether it takes alpha/beta and
 * their defaults (those of the ONNX operators of the same name), or -1 if unknown. */
int nn_rnn_act_parse(const char *name, size_t len, nn_rnn_act *act, int *uses_alpha,
                     int *uses_beta);

/* Apply an activation in place to n values. */
void nn_f32_rnn_act__ref(const nn_rnn_act *act, float *x, size_t n);

typedef enum nn_rnn_cell { NN_RNN_CELL_SIMPLE, NN_RNN_CELL_GRU, NN_RNN_CELL_LSTM } nn_rnn_cell;

/* Gates per cell: 1 (RNN), 3 (GRU: z, r, h), 4 (LSTM: i, o, f, c). */
int nn_rnn_gates(nn_rnn_cell cell);

/*
 * One direction. Strides are in floats, so both layouts (time-major [seq, batch, ...]
 * and batch-major [batch, seq, ...]) and the interleaved directions of the outputs are
 * plain pointer arithmetic:
 *   x[t][b][:]  at x + t * x_ts + b * x_bs              (input_size values)
 *   y[t][b][:]  at y + t * y_ts + b * y_bs              (hidden values, y may be NULL)
 *   state row b at h0/c0/h_out/c_out + b * state_bs      (any may be NULL)
 * Weights are this direction's slices: w [G*H, I], r [G*H, H], wb/rb [G*H] (NULL: no
 * bias), p [3*H] peepholes i, o, f (LSTM, NULL: none).
 * seq_lens[b] (NULL: all seq) is the length of sequence b: steps at t >= seq_lens[b]
 * are not computed, their y rows are zero, and the final state is the one after the
 * last valid step (for reverse, after position 0). A reverse direction reads each
 * sequence backwards within its own length and writes y at the original positions.
 * act: f (and g, h for GRU/LSTM) as in the ONNX equations. clip > 0 clamps every gate
 * pre-activation to [-clip, clip].
 */
typedef struct nn_f32_rnn_args {
  nn_rnn_cell cell;
  size_t seq, batch, input, hidden;
  int reverse;
  const float *x;
  size_t x_ts, x_bs;
  const float *w, *r, *wb, *rb, *p;
  const int32_t *seq_lens;
  const float *h0, *c0;
  float *y;
  size_t y_ts, y_bs;
  float *h_out, *c_out;
  size_t state_bs;
  nn_rnn_act act[3];
  float clip;
  int linear_before_reset; /* GRU */
  int input_forget;        /* LSTM: i = 1 - f */
} nn_f32_rnn_args;

/* Scratch floats nn_f32_rnn_dir__ref needs for these sizes. */
size_t nn_f32_rnn_scratch_floats(nn_rnn_cell cell, size_t seq, size_t batch, size_t hidden);

void nn_f32_rnn_dir__ref(const nn_f32_rnn_args *a, float *scratch);

#endif
