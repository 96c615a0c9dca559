/*
 * status.c - per-thread last-error message.
 */
#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char g_msg[1024];

const char *nn_last_error(void) { return g_msg; }

void nn_error_clear(void) { g_msg[0] = 0; }

nn_status nn_errorf(nn_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_msg, sizeof g_msg, fmt, ap);
  va_end(ap);
  return st;
}

nn_status nn_error_prefix(nn_status st, const char *fmt, ...) {
  char prefix[384], old[sizeof g_msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, g_msg, sizeof old);
  /* Keep the start of the old message; the prefix is what adds the context. */
  old[sizeof g_msg - sizeof prefix - 3] = 0;
  snprintf(g_msg, sizeof g_msg, "%s: %s", prefix, old);
  return st;
}

const char *nn_status_name(nn_status s) {
  switch (s) {
  case NN_OK: return "ok";
  case NN_ERR_IO: return "io";
  case NN_ERR_PARSE: return "parse";
  case NN_ERR_INVALID: return "invalid";
  case NN_ERR_UNSUPPORTED: return "unsupported";
  case NN_ERR_NOMEM: return "nomem";
  case NN_ERR_RUNTIME: return "runtime";
  }
  return "unknown";
}
