/*
 * onnx_io.h - ONNX protobuf <-> graph IR, for use inside the library.
 * The public entry points (nn_model_load, nn_model_save, ...) are in nnopt.h; this
 * header adds the TensorProto helpers other modules need (test-data .pb files,
 * tensors embedded in other messages).
 */
#ifndef NN_ONNX_ONNX_IO_H
#define NN_ONNX_ONNX_IO_H

#include "core/graph.h"

/* Read one serialized TensorProto (.pb file, as in the ONNX test data) into a dense
 * array. External data is resolved relative to the file's folder. *name receives a
 * malloc'ed copy of the tensor's name (NULL when it has none); name may be NULL.
 * On success the caller releases out with nn_array_release(). */
nn_status nn_onnx_read_tensor_pb(const char *path, nn_array *out, char **name);

/* Convert an unpacked Onnx__TensorProto (passed as const void * so callers need not
 * include the generated header) into out: name, dtype, dims, dense little-endian data
 * (strings as nn_bytes with NUL-terminated copies), doc_string and the unmodeled
 * fields in out->init_shell. base_dir resolves external data (NULL: refused); label
 * prefixes error messages (may be NULL). out is overwritten; on failure it is left
 * cleared. */
nn_status nn_onnx_tensor_from_proto(const void *tensor_proto, const char *base_dir,
                                    const char *label, nn_tensor *out);

/* Parse a serialized TensorProto from memory into out (as above). */
nn_status nn_onnx_tensor_parse(const void *buf, size_t len, const char *base_dir,
                               const char *label, nn_tensor *out);

#endif
