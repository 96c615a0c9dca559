/*
 * io.h - whole-file reads and atomic writes (temporary file in the same folder,
 * fsync, rename), used by every writer so an interrupted write never leaves a
 * half-written output or touches an existing file.
 */
#ifndef NN_CORE_IO_H
#define NN_CORE_IO_H

#include <stddef.h>

#include "core/status.h"

/* Read a whole file into a malloc'ed buffer (NUL-terminated beyond len). */
nn_status nn_read_file(const char *path, void **buf, size_t *len);
/* Write head then body to path atomically. Either may be NULL/0. */
nn_status nn_write_file_atomic(const char *path, const void *head, size_t head_len,
                               const void *body, size_t body_len);

#endif
