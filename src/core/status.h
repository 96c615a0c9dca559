/*
 * status.h - error reporting inside the library.
 * A failing function records one line via nn_errorf() and returns the status; the
 * message is kept per thread and read back with nn_last_error().
 */
#ifndef NN_CORE_STATUS_H
#define NN_CORE_STATUS_H

#include "nnopt.h"

#if defined(__GNUC__)
#define NN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define NN_PRINTF(a, b)
#endif

/* Record a message and return st. */
nn_status nn_errorf(nn_status st, const char *fmt, ...) NN_PRINTF(2, 3);
/* Prefix the current message with "prefix: " (used to add file/node context). */
nn_status nn_error_prefix(nn_status st, const char *fmt, ...) NN_PRINTF(2, 3);
void nn_error_clear(void);

/* Evaluate an expression returning nn_status; on failure jump to the function's
 * single cleanup label 'done' with 'st' set. */
#define NN_TRY(expr)                                                                   \
  do {                                                                                 \
    st = (expr);                                                                       \
    if (st != NN_OK) goto done;                                                        \
  } while (0)

/* Checked size arithmetic: return 0 on overflow. */
static inline int nn_mul_size(size_t a, size_t b, size_t *out) {
  return !__builtin_mul_overflow(a, b, out);
}

#endif
