/*
 * tensor_file.c - tensors in files: NumPy .npy (read/write), .npz archives (stored or
 * deflated members) and ONNX TensorProto .pb (through the ONNX reader).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/dtype.h"
#include "core/graph.h"
#include "core/io.h"
#include "onnx/onnx_io.h"

void nn_array_release(nn_array *a) {
  if (!a) return;
  if (a->dtype == NN_STRING && a->data)
    nn_strings_free(a->data, (int64_t)(a->nbytes / sizeof(nn_bytes)));
  free(a->data);
  memset(a, 0, sizeof *a);
}

static int ends_with(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && !strcmp(s + n - m, suf);
}

/* Parse an .npy image held in memory. label names it in errors. */
static nn_status npy_parse(const uint8_t *buf, size_t len, const char *label, nn_array *out) {
  memset(out, 0, sizeof *out);
  if (len < 10 || memcmp(buf, "\x93NUMPY", 6))
    return nn_errorf(NN_ERR_PARSE, "%s: not an .npy file (bad magic)", label);
  int major = buf[6];
  size_t hlen, hoff;
  if (major == 1) {
    hlen = (size_t)buf[8] | ((size_t)buf[9] << 8);
    hoff = 10;
  } else if (major == 2 || major == 3) {
    if (len < 12) return nn_errorf(NN_ERR_PARSE, "%s: truncated .npy header", label);
    hlen = (size_t)buf[8] | ((size_t)buf[9] << 8) | ((size_t)buf[10] << 16) |
           ((size_t)buf[11] << 24);
    hoff = 12;
  } else {
    return nn_errorf(NN_ERR_PARSE, "%s: unsupported .npy version %d", label, major);
  }
  if (hlen > len - hoff || hlen > 65536)
    return nn_errorf(NN_ERR_PARSE, "%s: truncated .npy header", label);
  char hdr[65537];
  memcpy(hdr, buf + hoff, hlen);
  hdr[hlen] = 0;
  const char *d = strstr(hdr, "'descr'"), *f = strstr(hdr, "'fortran_order'"),
             *sh = strstr(hdr, "'shape'");
  if (!d || !f || !sh) return nn_errorf(NN_ERR_PARSE, "%s: malformed .npy header", label);
  const char *q = strchr(d + 7, '\'');
  if (!q) return nn_errorf(NN_ERR_PARSE, "%s: malformed .npy descr", label);
  char descr[16] = {0};
  const char *qe = strchr(q + 1, '\'');
  if (!qe || qe - q - 1 >= (long)sizeof descr)
    return nn_errorf(NN_ERR_PARSE, "%s: malformed .npy descr", label);
  memcpy(descr, q + 1, (size_t)(qe - q - 1));
  if (strstr(f, "True")) return nn_errorf(NN_ERR_UNSUPPORTED, "%s: Fortran-order .npy", label);
  const char *kind = descr;
  if (*kind == '<' || *kind == '|' || *kind == '=') kind++;
  else if (*kind == '>' && strcmp(kind + 1, "i1") && strcmp(kind + 1, "u1") && strcmp(kind + 1, "b1"))
    return nn_errorf(NN_ERR_UNSUPPORTED, "%s: big-endian .npy (%s)", label, descr);
  else if (*kind == '>')
    kind++;
  nn_dtype dt = NN_UNDEFINED;
  for (int t = 1; t < NN_DTYPE_COUNT; t++) {
    const nn_dtype_traits *tr = nn_dtype_traits_of((nn_dtype)t);
    if (tr->numpy && !strcmp(tr->numpy, kind)) dt = (nn_dtype)t;
  }
  if (!strcmp(kind, "?")) dt = NN_BOOL;
  if (dt == NN_UNDEFINED || dt == NN_COMPLEX64 || dt == NN_COMPLEX128)
    return nn_errorf(NN_ERR_UNSUPPORTED, "%s: .npy dtype '%s' unsupported", label, descr);
  const char *p = strchr(sh, '(');
  if (!p) return nn_errorf(NN_ERR_PARSE, "%s: malformed .npy shape", label);
  p++;
  int ndim = 0;
  size_t numel = 1;
  while (*p && *p != ')') {
    while (*p == ' ' || *p == ',') p++;
    if (*p == ')') break;
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (end == p || errno || v < 0)
      return nn_errorf(NN_ERR_PARSE, "%s: malformed .npy shape", label);
    if (ndim >= NN_MAX_DIMS)
      return nn_errorf(NN_ERR_UNSUPPORTED, "%s: rank over %d", label, NN_MAX_DIMS);
    out->dims[ndim++] = v;
    if (!nn_mul_size(numel, (size_t)v, &numel))
      return nn_errorf(NN_ERR_PARSE, "%s: shape overflows", label);
    p = end;
  }
  size_t bytes;
  if (!nn_mul_size(numel, nn_dtype_size(dt), &bytes))
    return nn_errorf(NN_ERR_PARSE, "%s: shape overflows", label);
  size_t doff = hoff + hlen;
  if (len - doff < bytes)
    return nn_errorf(NN_ERR_PARSE, "%s: data is %zu bytes, shape needs %zu", label,
                     len - doff, bytes);
  out->data = malloc(bytes ? bytes : 1);
  if (!out->data) return nn_errorf(NN_ERR_NOMEM, "%s: out of memory", label);
  memcpy(out->data, buf + doff, bytes);
  if (dt == NN_BOOL)
    for (size_t i = 0; i < bytes; i++) ((uint8_t *)out->data)[i] = ((uint8_t *)out->data)[i] != 0;
  out->dtype = dt;
  out->ndim = ndim;
  out->nbytes = bytes;
  return NN_OK;
}

nn_status nn_array_read(const char *path, nn_array *out, char **name_out) {
  if (name_out) *name_out = NULL;
  memset(out, 0, sizeof *out);
  if (ends_with(path, ".pb")) return nn_onnx_read_tensor_pb(path, out, name_out);
  if (!ends_with(path, ".npy"))
    return nn_errorf(NN_ERR_UNSUPPORTED, "%s: unknown tensor file type (use .npy or .pb)",
                     path);
  uint8_t *buf = NULL;
  size_t len = 0;
  nn_status st = nn_read_file(path, (void **)&buf, &len);
  if (st) return st;
  st = npy_parse(buf, len, path, out);
  free(buf);
  return st;
}

nn_status nn_array_write_npy(const char *path, const nn_array *a) {
  const nn_dtype_traits *tr = nn_dtype_traits_of(a->dtype);
  if (!tr || !tr->numpy || a->dtype == NN_STRING)
    return nn_errorf(NN_ERR_UNSUPPORTED, "%s: dtype %s cannot be written as .npy", path,
                     nn_dtype_name(a->dtype));
  char hdr[512], shape[256] = "";
  size_t sl = 0;
  for (int i = 0; i < a->ndim; i++)
    sl += (size_t)snprintf(shape + sl, sizeof shape - sl, "%lld,%s", (long long)a->dims[i],
                           i + 1 < a->ndim ? " " : "");
  if (a->ndim > 1) shape[sl - 1] = 0; /* numpy writes (2, 3) but (4,) */
  int n = snprintf(hdr + 10, sizeof hdr - 10,
                   "{'descr': '%s%s', 'fortran_order': False, 'shape': (%s), }",
                   tr->size == 1 ? "|" : "<", tr->numpy, shape);
  size_t total = 10 + (size_t)n + 1;
  size_t pad = (64 - total % 64) % 64;
  memset(hdr + 10 + n, ' ', pad);
  hdr[10 + n + pad] = '\n';
  size_t hlen = (size_t)n + pad + 1;
  memcpy(hdr, "\x93NUMPY\x01\x00", 8);
  hdr[8] = (char)(hlen & 0xff);
  hdr[9] = (char)(hlen >> 8);
  return nn_write_file_atomic(path, hdr, 10 + hlen, a->data, a->nbytes);
}

/* ---- npz: a zip archive of .npy members ---- */

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

void nn_npz_release(nn_npz *z) {
  for (int i = 0; i < z->count; i++) {
    free(z->names[i]);
    nn_array_release(&z->arrays[i]);
  }
  free(z->names);
  free(z->arrays);
  memset(z, 0, sizeof *z);
}

nn_status nn_npz_read(const char *path, nn_npz *out) {
  nn_status st = NN_OK;
  uint8_t *buf = NULL, *member = NULL;
  size_t len = 0;
  memset(out, 0, sizeof *out);
  NN_TRY(nn_read_file(path, (void **)&buf, &len));
  /* Walk the central directory (from the end-of-central-directory record). */
  if (len < 22) {
    st = nn_errorf(NN_ERR_PARSE, "%s: not a zip/npz file", path);
    goto done;
  }
  size_t eocd = len - 22;
  while (eocd > 0 && rd32(buf + eocd) != 0x06054b50 && len - eocd < 22 + 65535) eocd--;
  if (rd32(buf + eocd) != 0x06054b50) {
    st = nn_errorf(NN_ERR_PARSE, "%s: not a zip/npz file (no directory)", path);
    goto done;
  }
  int count = rd16(buf + eocd + 10);
  size_t cd = rd32(buf + eocd + 16);
  out->names = calloc((size_t)count + 1, sizeof *out->names);
  out->arrays = calloc((size_t)count + 1, sizeof *out->arrays);
  if (!out->names || !out->arrays) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int i = 0; i < count; i++) {
    if (cd > len || len - cd < 46 || rd32(buf + cd) != 0x02014b50) {
      st = nn_errorf(NN_ERR_PARSE, "%s: corrupt zip directory", path);
      goto done;
    }
    int method = rd16(buf + cd + 10);
    size_t csize = rd32(buf + cd + 20), usize = rd32(buf + cd + 24);
    size_t nlen = rd16(buf + cd + 28), xlen = rd16(buf + cd + 30), clen = rd16(buf + cd + 32);
    size_t loff = rd32(buf + cd + 42);
    if (len - cd - 46 < nlen || loff > len || len - loff < 30) {
      st = nn_errorf(NN_ERR_PARSE, "%s: corrupt zip entry %d", path, i);
      goto done;
    }
    char name[512];
    size_t cn = nlen < sizeof name - 1 ? nlen : sizeof name - 1;
    memcpy(name, buf + cd + 46, cn);
    name[cn] = 0;
    if (ends_with(name, ".npy")) name[strlen(name) - 4] = 0;
    size_t doff = loff + 30 + rd16(buf + loff + 26) + rd16(buf + loff + 28);
    if (doff > len || len - doff < csize || usize > ((size_t)1 << 36)) {
      st = nn_errorf(NN_ERR_PARSE, "%s: member '%s' is truncated", path, name);
      goto done;
    }
    const uint8_t *data = buf + doff;
    if (method == 8) {
      member = malloc(usize ? usize : 1);
      if (!member) {
        st = nn_errorf(NN_ERR_NOMEM, "out of memory");
        goto done;
      }
      z_stream zs = {0};
      zs.next_in = (Bytef *)data;
      zs.avail_in = (uInt)csize;
      zs.next_out = member;
      zs.avail_out = (uInt)usize;
      int zr = inflateInit2(&zs, -MAX_WBITS);
      if (zr == Z_OK) zr = inflate(&zs, Z_FINISH);
      inflateEnd(&zs);
      if (zr != Z_STREAM_END || zs.total_out != usize) {
        st = nn_errorf(NN_ERR_PARSE, "%s: member '%s' does not inflate", path, name);
        goto done;
      }
      data = member;
      csize = usize;
    } else if (method != 0) {
      st = nn_errorf(NN_ERR_UNSUPPORTED, "%s: member '%s' uses zip method %d", path, name,
                     method);
      goto done;
    }
    char label[1024];
    snprintf(label, sizeof label, "%s: member '%s'", path, name);
    NN_TRY(npy_parse(data, csize, label, &out->arrays[i]));
    out->names[i] = nn_strdup(name);
    out->count = i + 1;
    free(member);
    member = NULL;
    cd += 46 + nlen + xlen + clen;
  }
done:
  free(member);
  free(buf);
  if (st) nn_npz_release(out);
  return st;
}

nn_status nn_array_convert(nn_array *a, nn_dtype to, const char *name) {
  if (a->dtype == to || to == NN_UNDEFINED) return NN_OK;
  const nn_dtype_traits *from = nn_dtype_traits_of(a->dtype), *dst = nn_dtype_traits_of(to);
  if (!from || !dst || !from->is_numeric || !dst->is_numeric)
    return nn_errorf(NN_ERR_INVALID, "input '%s': dataset gives %s, model wants %s", name,
                     nn_dtype_name(a->dtype), nn_dtype_name(to));
  int64_t n = nn_array_numel(a);
  void *data = malloc((size_t)n * dst->size + 1);
  if (!data) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  for (int64_t i = 0; i < n; i++) {
    const char *s = (const char *)a->data + (size_t)i * from->size;
    char *d = (char *)data + (size_t)i * dst->size;
    if (from->is_integer && dst->is_integer) dst->from_i64(d, from->to_i64(s));
    else dst->from_f64(d, from->to_f64(s));
  }
  free(a->data);
  a->data = data;
  a->dtype = to;
  a->nbytes = (size_t)n * dst->size;
  return NN_OK;
}
