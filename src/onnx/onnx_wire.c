/*
 * onnx_wire.c - protobuf wire-level helpers for the ONNX reader/writer: a bounded
 * pre-check of untrusted input (protobuf-c recurses without a depth limit), and the
 * shells that carry fields the IR does not model through a load/save round trip.
 */
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx_internal.h"

static int read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= len) return -1;
    uint8_t b = p[(*pos)++];
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return 0;
    }
  }
  return -1;
}

static nn_status wire_check(const uint8_t *buf, size_t len,
                            const ProtobufCMessageDescriptor *d, int depth) {
  size_t pos = 0;
  if (depth > NN_ONNX_MAX_DEPTH)
    return nn_errorf(NN_ERR_PARSE, "malformed protobuf: messages nested deeper than %d",
                     NN_ONNX_MAX_DEPTH);
  while (pos < len) {
    uint64_t tag, v;
    if (read_varint(buf, len, &pos, &tag))
      return nn_errorf(NN_ERR_PARSE, "malformed protobuf: truncated tag at byte %zu", pos);
    uint64_t field = tag >> 3;
    if (field == 0 || field > 536870911u)
      return nn_errorf(NN_ERR_PARSE, "malformed protobuf: invalid field number at byte %zu",
                       pos);
    switch (tag & 7) {
    case 0:
      if (read_varint(buf, len, &pos, &v))
        return nn_errorf(NN_ERR_PARSE, "malformed protobuf: truncated varint at byte %zu",
                         pos);
      break;
    case 1:
      if (len - pos < 8)
        return nn_errorf(NN_ERR_PARSE, "malformed protobuf: truncated fixed64 field");
      pos += 8;
      break;
    case 5:
      if (len - pos < 4)
        return nn_errorf(NN_ERR_PARSE, "malformed protobuf: truncated fixed32 field");
      pos += 4;
      break;
    case 2: {
      if (read_varint(buf, len, &pos, &v) || v > len - pos)
        return nn_errorf(NN_ERR_PARSE,
                         "malformed protobuf: field %u length runs past the end of the data",
                         (unsigned)field);
      const ProtobufCFieldDescriptor *fd =
          d ? protobuf_c_message_descriptor_get_field(d, (unsigned)field) : NULL;
      if (fd && fd->type == PROTOBUF_C_TYPE_MESSAGE) {
        nn_status st = wire_check(buf + pos, (size_t)v, fd->descriptor, depth + 1);
        if (st) return st;
      }
      pos += (size_t)v;
      break;
    }
    default:
      return nn_errorf(NN_ERR_PARSE, "malformed protobuf: unsupported wire type %u at byte %zu",
                       (unsigned)(tag & 7), pos);
    }
  }
  return NN_OK;
}

nn_status nn_onnx_wire_check(const uint8_t *buf, size_t len,
                             const ProtobufCMessageDescriptor *d) {
  return wire_check(buf, len, d, 0);
}

/* Size of one value of a singular field as stored in the generated struct. */
static size_t value_size(ProtobufCType t) {
  switch (t) {
  case PROTOBUF_C_TYPE_INT32:
  case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32:
  case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_FIXED32:
  case PROTOBUF_C_TYPE_FLOAT:
  case PROTOBUF_C_TYPE_ENUM: return 4;
  case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
  case PROTOBUF_C_TYPE_INT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64:
  case PROTOBUF_C_TYPE_DOUBLE: return 8;
  case PROTOBUF_C_TYPE_STRING:
  case PROTOBUF_C_TYPE_MESSAGE: return sizeof(void *);
  case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
  }
  return 0;
}

#define MEMBER(msg, off) ((uint8_t *)(msg) + (off))

/* Is field f present in msg? */
static int field_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f) {
  const uint8_t *m = (const uint8_t *)msg;
  if (f->label == PROTOBUF_C_LABEL_REPEATED) return *(const size_t *)(m + f->quantifier_offset) > 0;
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
    return *(const uint32_t *)(m + f->quantifier_offset) == f->id;
  if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE) {
    const void *p = *(void *const *)(m + f->offset);
    return p != NULL && p != f->default_value;
  }
  if (f->quantifier_offset) return *(const protobuf_c_boolean *)(m + f->quantifier_offset);
  return 1;
}

static void field_clear(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f) {
  uint8_t *m = (uint8_t *)msg;
  if (f->label == PROTOBUF_C_LABEL_REPEATED) {
    *(size_t *)(m + f->quantifier_offset) = 0;
    *(void **)(m + f->offset) = NULL;
    return;
  }
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
    if (*(uint32_t *)(m + f->quantifier_offset) == f->id) *(uint32_t *)(m + f->quantifier_offset) = 0;
    return;
  }
  if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
    *(void **)(m + f->offset) = NULL;
  else if (f->quantifier_offset)
    *(protobuf_c_boolean *)(m + f->quantifier_offset) = 0;
}

static void field_copy(ProtobufCMessage *dst, const ProtobufCMessage *src,
                       const ProtobufCFieldDescriptor *f) {
  uint8_t *d = (uint8_t *)dst;
  const uint8_t *s = (const uint8_t *)src;
  if (f->label == PROTOBUF_C_LABEL_REPEATED) {
    memcpy(d + f->quantifier_offset, s + f->quantifier_offset, sizeof(size_t));
    memcpy(d + f->offset, s + f->offset, sizeof(void *));
    return;
  }
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
    memcpy(d + f->quantifier_offset, s + f->quantifier_offset, sizeof(uint32_t));
  else if (f->quantifier_offset && f->type != PROTOBUF_C_TYPE_STRING &&
           f->type != PROTOBUF_C_TYPE_MESSAGE)
    memcpy(d + f->quantifier_offset, s + f->quantifier_offset, sizeof(protobuf_c_boolean));
  memcpy(d + f->offset, s + f->offset, value_size(f->type));
}

nn_status nn_onnx_shell_pack(const ProtobufCMessage *msg, const uint32_t *modeled,
                             size_t n_modeled, nn_blob *out) {
  const ProtobufCMessageDescriptor *d = msg->descriptor;
  out->len = 0;
  out->data = NULL;
  ProtobufCMessage *copy = malloc(d->sizeof_message);
  if (!copy) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  memcpy(copy, msg, d->sizeof_message);
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    for (size_t k = 0; k < n_modeled; k++)
      if (modeled[k] == f->id) {
        field_clear(copy, f);
        break;
      }
  }
  size_t n = protobuf_c_message_get_packed_size(copy);
  if (n) {
    out->data = malloc(n);
    if (!out->data) {
      free(copy);
      return nn_errorf(NN_ERR_NOMEM, "out of memory");
    }
    out->len = protobuf_c_message_pack(copy, out->data);
  }
  free(copy);
  return NN_OK;
}

nn_status nn_onnx_shell_merge(ProtobufCMessage *dst, const nn_blob *shell,
                              ProtobufCMessage **keep) {
  *keep = NULL;
  if (!shell->len) return NN_OK;
  const ProtobufCMessageDescriptor *d = dst->descriptor;
  if (nn_onnx_wire_check(shell->data, shell->len, d))
    return nn_error_prefix(NN_ERR_INVALID, "preserved %s fields", d->short_name);
  ProtobufCMessage *s = protobuf_c_message_unpack(d, NULL, shell->len, shell->data);
  if (!s)
    return nn_errorf(NN_ERR_INVALID, "preserved %s fields do not parse", d->short_name);
  for (unsigned i = 0; i < d->n_fields; i++)
    if (field_present(s, &d->fields[i])) field_copy(dst, s, &d->fields[i]);
  dst->n_unknown_fields = s->n_unknown_fields;
  dst->unknown_fields = s->unknown_fields;
  *keep = s;
  return NN_OK;
}

char *nn_onnx_path_join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + b + 2);
  if (!p) return NULL;
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, name, b + 1);
  return p;
}

char *nn_onnx_dirname(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return nn_strdup(".");
  if (slash == path) return nn_strdup("/");
  return nn_strndup(path, (size_t)(slash - path));
}
