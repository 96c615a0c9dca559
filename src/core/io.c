/*
 * io.c - whole-file reads and atomic writes.
 */
#include "core/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

nn_status nn_read_file(const char *path, void **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY);
  if (fd < 0) return nn_errorf(NN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
    close(fd);
    return nn_errorf(NN_ERR_IO, "%s: not a regular file", path);
  }
  size_t n = (size_t)sb.st_size;
  char *p = malloc(n + 1);
  if (!p) {
    close(fd);
    return nn_errorf(NN_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, n);
  }
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, p + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      free(p);
      close(fd);
      return nn_errorf(NN_ERR_IO, "%s: read failed: %s", path, r ? strerror(errno) : "short");
    }
    got += (size_t)r;
  }
  close(fd);
  p[n] = 0;
  *buf = p;
  *len = n;
  return NN_OK;
}

static int write_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

nn_status nn_write_file_atomic(const char *path, const void *head, size_t head_len,
                               const void *body, size_t body_len) {
  size_t n = strlen(path);
  char *tmp = malloc(n + 32);
  if (!tmp) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  snprintf(tmp, n + 32, "%s.tmp.XXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    nn_status st = nn_errorf(NN_ERR_IO, "%s: cannot create temporary file: %s", path,
                             strerror(errno));
    free(tmp);
    return st;
  }
  int err = (head_len && write_all(fd, head, head_len)) ||
            (body_len && write_all(fd, body, body_len)) || fsync(fd);
  int saved = errno;
  fchmod(fd, 0644);
  if (close(fd)) err = 1;
  if (!err && rename(tmp, path)) {
    err = 1;
    saved = errno;
  }
  if (err) {
    unlink(tmp);
    free(tmp);
    return nn_errorf(NN_ERR_IO, "%s: write failed: %s", path, strerror(saved));
  }
  free(tmp);
  return NN_OK;
}
