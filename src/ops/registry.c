/*
 * registry.c - the table of op implementations. Each op family lists its ops in
 * src/ops/list_<family>.inc as X(name) lines, defined with NN_OP(name) in its file.
 */
#include <string.h>

#include "ops/op.h"


#define X(n) extern const nn_op_def nn_op_##n;
#include "ops/list_elementwise.inc"
#include "ops/list_nn.inc"
#include "ops/list_shape.inc"
#include "ops/list_rnn.inc"
#include "ops/list_quant.inc"
#include "ops/list_control.inc"
#undef X

static const nn_op_def *const g_ops[] = {
#define X(n) &nn_op_##n,
#include "ops/list_elementwise.inc"
#include "ops/list_nn.inc"
#include "ops/list_shape.inc"
#include "ops/list_rnn.inc"
#include "ops/list_quant.inc"
#include "ops/list_control.inc"
#undef X
    NULL};

static int domain_eq(const char *a, const char *b) {
  if (!a || !*a || !strcmp(a, "ai.onnx")) a = "";
  if (!b || !*b || !strcmp(b, "ai.onnx")) b = "";
  return !strcmp(a, b);
}

const nn_op_def *nn_op_find(const char *op_type, const char *domain) {
  for (const nn_op_def *const *d = g_ops; *d; d++)
    if (!strcmp((*d)->op_type, op_type) && domain_eq((*d)->domain, domain)) return *d;
  return NULL;
}

#include <pthread.h>
#include <stdio.h>

static const char *g_names[sizeof g_ops / sizeof g_ops[0]];
static char g_name_buf[sizeof g_ops / sizeof g_ops[0]][64];
static pthread_once_t g_names_once = PTHREAD_ONCE_INIT;

static void fill_names(void) {
  size_t i = 0;
  for (const nn_op_def *const *d = g_ops; *d; d++, i++) {
    if ((*d)->domain && (*d)->domain[0]) {
      snprintf(g_name_buf[i], sizeof g_name_buf[i], "%s:%s", (*d)->domain, (*d)->op_type);
      g_names[i] = g_name_buf[i];
    } else {
      g_names[i] = (*d)->op_type;
    }
  }
  g_names[i] = NULL;
}

const char *const *nn_supported_ops(void) {
  pthread_once(&g_names_once, fill_names);
  return g_names;
}
