/*
 * onnx_tensor.c - TensorProto -> dense nn_tensor: every data type, raw_data and the
 * typed repeated fields, and external data files (confined to the model's folder).
 * Sizes are checked against what the file actually holds before anything is allocated.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/dtype.h"
#include "onnx/onnx_internal.h"
#include "onnx/onnx_io.h"

/* TensorProto fields held in nn_tensor; the rest (segment, unknown) go to init_shell. */
static const uint32_t k_tensor_modeled[] = {1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};

static const char *tname(const nn_tensor *t) { return t->name ? t->name : ""; }

/* Strict non-negative decimal integer. */
static int parse_i64(const char *s, int64_t *out) {
  if (!s || !*s) return -1;
  int64_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    if (v > (INT64_MAX - (*s - '0')) / 10) return -1;
    v = v * 10 + (*s - '0');
  }
  *out = v;
  return 0;
}

/* A location is refused when absolute or when any component is "..". Backslashes
 * count as separators too, so Windows-style paths cannot sneak a ".." through. */
static int location_escapes(const char *loc) {
  if (loc[0] == '/' || loc[0] == '\\') return 1;
  const char *p = loc;
  while (*p) {
    size_t n = strcspn(p, "/\\");
    if (n == 2 && p[0] == '.' && p[1] == '.') return 1;
    p += n;
    if (*p) p++;
  }
  return 0;
}

static nn_status read_external(Onnx__TensorProto *tp, const char *base_dir, nn_tensor *t,
                               size_t nbytes) {
  nn_status st = NN_OK;
  const char *loc = NULL;
  int64_t offset = 0, length = -1;
  char *path = NULL, *real = NULL, *real_base = NULL;
  int fd = -1;
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const Onnx__StringStringEntryProto *e = tp->external_data[i];
    if (!e->key) continue;
    if (!strcmp(e->key, "location")) {
      loc = e->value;
    } else if (!strcmp(e->key, "offset")) {
      if (parse_i64(e->value, &offset))
        return nn_errorf(NN_ERR_PARSE, "tensor '%s': invalid external data offset '%s'",
                         tname(t), e->value ? e->value : "");
    } else if (!strcmp(e->key, "length")) {
      if (parse_i64(e->value, &length))
        return nn_errorf(NN_ERR_PARSE, "tensor '%s': invalid external data length '%s'",
                         tname(t), e->value ? e->value : "");
    }
  }
  if (!loc || !*loc)
    return nn_errorf(NN_ERR_PARSE, "tensor '%s': external data without a location",
                     tname(t));
  if (t->dtype == NN_STRING)
    return nn_errorf(NN_ERR_UNSUPPORTED, "tensor '%s': string tensors cannot use external "
                     "data ('%s')", tname(t), loc);
  if (!base_dir)
    return nn_errorf(NN_ERR_INVALID, "tensor '%s': external data file '%s' refused: the "
                     "model was loaded from memory without a base folder", tname(t), loc);
  if (location_escapes(loc))
    return nn_errorf(NN_ERR_INVALID, "tensor '%s': external data file '%s' refused: the "
                     "location must be a relative path inside the model's folder",
                     tname(t), loc);
  path = nn_onnx_path_join(base_dir, loc);
  if (!path) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  real_base = realpath(base_dir, NULL);
  real = realpath(path, NULL);
  if (!real_base || !real) {
    st = nn_errorf(NN_ERR_IO, "tensor '%s': external data file '%s': %s", tname(t), path,
                   strerror(errno));
    goto done;
  }
  size_t nb = strlen(real_base);
  if (strncmp(real, real_base, nb) != 0 || (real[nb] != '/' && nb > 1) ||
      (nb == 1 && real[0] != '/')) {
    st = nn_errorf(NN_ERR_INVALID, "tensor '%s': external data file '%s' refused: it "
                   "resolves to '%s', outside the model's folder '%s'", tname(t), loc, real,
                   real_base);
    goto done;
  }
  /* O_NONBLOCK: a FIFO planted in the folder must not hang the load. */
  fd = open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  struct stat sb;
  if (fd < 0 || fstat(fd, &sb) != 0) {
    st = nn_errorf(NN_ERR_IO, "tensor '%s': external data file '%s': %s", tname(t), path,
                   strerror(errno));
    goto done;
  }
  if (!S_ISREG(sb.st_mode)) {
    st = nn_errorf(NN_ERR_INVALID, "tensor '%s': external data file '%s' is not a regular "
                   "file", tname(t), path);
    goto done;
  }
  int64_t size = (int64_t)sb.st_size;
  if (offset > size || (length >= 0 && length > size - offset)) {
    st = nn_errorf(NN_ERR_INVALID, "tensor '%s': external data in '%s' (offset %lld, "
                   "length %lld) runs past the end of the file (%lld bytes)", tname(t),
                   path, (long long)offset, (long long)length, (long long)size);
    goto done;
  }
  if (length < 0) length = size - offset;
  if ((uint64_t)length != (uint64_t)nbytes) {
    st = nn_errorf(NN_ERR_INVALID, "tensor '%s': external data in '%s' has %lld bytes, the "
                   "shape needs %zu", tname(t), path, (long long)length, nbytes);
    goto done;
  }
  t->data = malloc(nbytes ? nbytes : 1);
  if (!t->data) {
    st = nn_errorf(NN_ERR_NOMEM, "tensor '%s': out of memory for %zu bytes", tname(t),
                   nbytes);
    goto done;
  }
  size_t got = 0;
  while (got < nbytes) {
    ssize_t r = pread(fd, (char *)t->data + got, nbytes - got, (off_t)offset + (off_t)got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      st = nn_errorf(NN_ERR_IO, "tensor '%s': reading external data file '%s': %s",
                     tname(t), path, r < 0 ? strerror(errno) : "unexpected end of file");
      goto done;
    }
    got += (size_t)r;
  }
  t->nbytes = nbytes;
done:
  if (fd >= 0) close(fd);
  free(path);
  free(real);
  free(real_base);
  return st;
}

/* Count of typed values a dtype stores, and where. */
static nn_status typed_count(const Onnx__TensorProto *tp, nn_dtype dt, size_t *n) {
  switch (dt) {
  case NN_FLOAT:
  case NN_COMPLEX64: *n = tp->n_float_data; break;
  case NN_UINT8:
  case NN_INT8:
  case NN_UINT16:
  case NN_INT16:
  case NN_INT32:
  case NN_BOOL:
  case NN_FLOAT16:
  case NN_BFLOAT16: *n = tp->n_int32_data; break;
  case NN_INT64: *n = tp->n_int64_data; break;
  case NN_STRING: *n = tp->n_string_data; break;
  case NN_DOUBLE:
  case NN_COMPLEX128: *n = tp->n_double_data; break;
  case NN_UINT32:
  case NN_UINT64: *n = tp->n_uint64_data; break;
  default: return NN_ERR_UNSUPPORTED;
  }
  return NN_OK;
}

static nn_status load_typed(const Onnx__TensorProto *tp, nn_tensor *t, size_t numel,
                            size_t nbytes) {
  size_t n = 0, want = numel;
  typed_count(tp, t->dtype, &n);
  if (t->dtype == NN_COMPLEX64 || t->dtype == NN_COMPLEX128) want = numel * 2;
  if (n != want)
    return nn_errorf(NN_ERR_INVALID, "tensor '%s': has %zu values, its shape needs %zu",
                     tname(t), t->dtype == NN_COMPLEX64 || t->dtype == NN_COMPLEX128 ? n / 2 : n,
                     numel);
  t->data = calloc(1, nbytes ? nbytes : 1);
  if (!t->data) return nn_errorf(NN_ERR_NOMEM, "tensor '%s': out of memory", tname(t));
  t->nbytes = nbytes;
  if (!n) return NN_OK;
  switch (t->dtype) {
  case NN_FLOAT:
  case NN_COMPLEX64: memcpy(t->data, tp->float_data, n * 4); break;
  case NN_DOUBLE:
  case NN_COMPLEX128: memcpy(t->data, tp->double_data, n * 8); break;
  case NN_INT32: memcpy(t->data, tp->int32_data, n * 4); break;
  case NN_INT64: memcpy(t->data, tp->int64_data, n * 8); break;
  case NN_UINT64: memcpy(t->data, tp->uint64_data, n * 8); break;
  case NN_UINT32:
    for (size_t i = 0; i < n; i++) ((uint32_t *)t->data)[i] = (uint32_t)tp->uint64_data[i];
    break;
  case NN_UINT8:
  case NN_INT8:
  case NN_BOOL:
    for (size_t i = 0; i < n; i++) ((uint8_t *)t->data)[i] = (uint8_t)tp->int32_data[i];
    break;
  case NN_UINT16:
  case NN_INT16:
  case NN_FLOAT16:
  case NN_BFLOAT16:
    for (size_t i = 0; i < n; i++) ((uint16_t *)t->data)[i] = (uint16_t)tp->int32_data[i];
    break;
  case NN_STRING: {
    nn_bytes *s = t->data;
    for (size_t i = 0; i < n; i++) {
      s[i].len = tp->string_data[i].len;
      if (!(s[i].data = nn_strndup((const char *)tp->string_data[i].data, s[i].len)))
        return nn_errorf(NN_ERR_NOMEM, "tensor '%s': out of memory", tname(t));
    }
    break;
  }
  default: break;
  }
  return NN_OK;
}

nn_status nn_onnx_load_tensor(Onnx__TensorProto *tp, const char *base_dir, int steal,
                              const char *what, nn_tensor *t) {
  nn_status st = NN_OK;
  memset(t, 0, sizeof *t);
  t->producer = -1;
  t->ndim = -1;
  if (tp->name && !(t->name = nn_strdup(tp->name))) goto oom;
  if (tp->doc_string && !(t->doc_string = nn_strdup(tp->doc_string))) goto oom;
  int code = tp->has_data_type ? tp->data_type : 0;
  if (!nn_dtype_valid(code)) {
    st = nn_errorf(NN_ERR_UNSUPPORTED, "%s '%s': unsupported data type %d", what, tname(t),
                   code);
    goto done;
  }
  t->dtype = (nn_dtype)code;
  if (tp->n_dims > NN_MAX_DIMS) {
    st = nn_errorf(NN_ERR_UNSUPPORTED, "%s '%s': rank %zu exceeds the maximum of %d", what,
                   tname(t), tp->n_dims, NN_MAX_DIMS);
    goto done;
  }
  size_t numel = 1, nbytes;
  t->ndim = (int)tp->n_dims;
  for (size_t i = 0; i < tp->n_dims; i++) {
    if (tp->dims[i] < 0) {
      st = nn_errorf(NN_ERR_INVALID, "%s '%s': negative dimension %lld", what, tname(t),
                     (long long)tp->dims[i]);
      goto done;
    }
    t->dims[i] = tp->dims[i];
    if (!nn_mul_size(numel, (size_t)tp->dims[i], &numel)) numel = SIZE_MAX;
  }
  size_t esize = nn_dtype_size(t->dtype);
  if (numel == SIZE_MAX || !nn_mul_size(numel, esize, &nbytes) || nbytes > (size_t)INT64_MAX) {
    st = nn_errorf(NN_ERR_INVALID, "%s '%s': shape is too large", what, tname(t));
    goto done;
  }
  t->flags = NN_T_INITIALIZER | NN_T_SHAPE_KNOWN;
  if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
    st = read_external(tp, base_dir, t, nbytes);
  } else if (tp->has_raw_data) {
    if (t->dtype == NN_STRING) {
      st = nn_errorf(NN_ERR_INVALID, "%s '%s': string tensors cannot use raw_data", what,
                     tname(t));
    } else if (tp->raw_data.len != nbytes) {
      st = nn_errorf(NN_ERR_INVALID, "%s '%s': raw_data has %zu bytes, its shape needs %zu",
                     what, tname(t), tp->raw_data.len, nbytes);
    } else if (steal && tp->raw_data.data) {
      t->data = tp->raw_data.data;
      t->nbytes = nbytes;
      tp->raw_data.data = NULL;
      tp->raw_data.len = 0;
      tp->has_raw_data = 0;
    } else {
      if (!(t->data = malloc(nbytes ? nbytes : 1))) goto oom;
      if (nbytes) memcpy(t->data, tp->raw_data.data, nbytes);
      t->nbytes = nbytes;
    }
  } else {
    st = load_typed(tp, t, numel, nbytes);
  }
  if (st) goto done;
  st = nn_onnx_shell_pack(&tp->base, k_tensor_modeled,
                          sizeof k_tensor_modeled / sizeof *k_tensor_modeled, &t->init_shell);
  if (st) goto done;
  return NN_OK;
oom:
  st = nn_errorf(NN_ERR_NOMEM, "%s '%s': out of memory", what, tname(t));
done:
  if (st) nn_tensor_clear(t);
  return st;
}

nn_status nn_onnx_tensor_from_proto(const void *tensor_proto, const char *base_dir,
                                    const char *label, nn_tensor *out) {
  nn_status st = nn_onnx_load_tensor((Onnx__TensorProto *)tensor_proto, base_dir, 0,
                                     "tensor", out);
  if (st && label) nn_error_prefix(st, "%s", label);
  return st;
}

nn_status nn_onnx_tensor_parse(const void *buf, size_t len, const char *base_dir,
                               const char *label, nn_tensor *out) {
  nn_status st;
  memset(out, 0, sizeof *out);
  out->producer = -1;
  out->ndim = -1;
  if ((st = nn_onnx_wire_check(buf, len, &onnx__tensor_proto__descriptor)))
    return label ? nn_error_prefix(st, "%s", label) : st;
  Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
  if (!tp)
    return nn_errorf(NN_ERR_PARSE, "%s: not a valid TensorProto", label ? label : "tensor");
  st = nn_onnx_load_tensor(tp, base_dir, 1, "tensor", out);
  if (st && label) nn_error_prefix(st, "%s", label);
  onnx__tensor_proto__free_unpacked(tp, NULL);
  return st;
}

nn_status nn_onnx_read_tensor_pb(const char *path, nn_array *out, char **name) {
  nn_status st = NN_OK;
  uint8_t *buf = NULL;
  char *dir = NULL;
  nn_tensor t;
  memset(&t, 0, sizeof t);
  memset(out, 0, sizeof *out);
  if (name) *name = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  struct stat sb;
  if (fd < 0 || fstat(fd, &sb) != 0) {
    st = nn_errorf(NN_ERR_IO, "%s: %s", path, strerror(errno));
    goto done;
  }
  if (!S_ISREG(sb.st_mode)) {
    st = nn_errorf(NN_ERR_IO, "%s: not a regular file", path);
    goto done;
  }
  if (sb.st_size > INT32_MAX) {
    st = nn_errorf(NN_ERR_PARSE, "%s: file too large for a TensorProto", path);
    goto done;
  }
  size_t len = (size_t)sb.st_size, got = 0;
  if (!(buf = malloc(len ? len : 1))) {
    st = nn_errorf(NN_ERR_NOMEM, "%s: out of memory", path);
    goto done;
  }
  while (got < len) {
    ssize_t r = read(fd, buf + got, len - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      st = nn_errorf(NN_ERR_IO, "%s: read failed", path);
      goto done;
    }
    got += (size_t)r;
  }
  if (!(dir = nn_onnx_dirname(path))) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  NN_TRY(nn_onnx_tensor_parse(buf, len, dir, path, &t));
  out->dtype = t.dtype;
  out->ndim = t.ndim < 0 ? 0 : t.ndim;
  memcpy(out->dims, t.dims, sizeof out->dims);
  out->data = t.data;
  out->nbytes = t.nbytes;
  t.data = NULL;
  t.nbytes = 0;
  if (name && t.name) {
    *name = t.name;
    t.name = NULL;
  }
done:
  if (fd >= 0) close(fd);
  free(buf);
  free(dir);
  nn_tensor_clear(&t);
  return st;
}
