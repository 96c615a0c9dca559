/*
 * onnx_internal.h - helpers shared by the ONNX reader and writer: wire-format
 * pre-checks, the "shell" mechanism that keeps unmodeled protobuf fields, and the
 * TensorProto conversion used by both.
 */
#ifndef NN_ONNX_ONNX_INTERNAL_H
#define NN_ONNX_ONNX_INTERNAL_H

#include <protobuf-c/protobuf-c.h>

#include "core/graph.h"
#include "onnx.pb-c.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "nnopt's ONNX I/O assumes a little-endian host (raw_data is little-endian)"
#endif

/* Deepest message nesting accepted (model -> graph -> node -> attribute -> graph ...
 * is 3 levels per subgraph). protobuf-c recurses without a limit, so deeper input is
 * refused before unpacking. */
#define NN_ONNX_MAX_DEPTH 150

/* Walk the wire format of buf as message type d: wire types must be valid, lengths
 * in range, and nesting of known message fields at most NN_ONNX_MAX_DEPTH. */
nn_status nn_onnx_wire_check(const uint8_t *buf, size_t len,
                             const ProtobufCMessageDescriptor *d);

/* Pack into out every field of msg whose number is not listed in modeled[] (and
 * msg's unknown fields). out is empty when nothing is left. */
nn_status nn_onnx_shell_pack(const ProtobufCMessage *msg, const uint32_t *modeled,
                             size_t n_modeled, nn_blob *out);

/* Unpack shell as a message of dst's type and copy its present fields and unknown
 * fields into dst (shallow). *keep receives the unpacked message (NULL when the shell
 * is empty), which must outlive dst's use and be freed with
 * protobuf_c_message_free_unpacked(). */
nn_status nn_onnx_shell_merge(ProtobufCMessage *dst, const nn_blob *shell,
                              ProtobufCMessage **keep);

/* TensorProto -> nn_tensor. When steal is set, raw_data buffers are taken from tp
 * (tp->raw_data is cleared) instead of copied. what names the tensor's role in
 * messages ("initializer", "attribute 'value'", ...). */
nn_status nn_onnx_load_tensor(Onnx__TensorProto *tp, const char *base_dir, int steal,
                              const char *what, nn_tensor *t);

/* Joins "dir/name" into a malloc'ed string. */
char *nn_onnx_path_join(const char *dir, const char *name);
/* Folder part of path ("." when none), malloc'ed. */
char *nn_onnx_dirname(const char *path);

#endif
