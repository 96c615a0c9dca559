/*
 * nnopt.h - the public C API of nnopt, a model-optimization toolkit.
 *
 * This header is the authoritative documentation of the library.
 *
 * Conventions
 *  - Every fallible function returns an nn_status and writes its result through an
 *    out-pointer. On failure, nn_last_error() returns a one-line message naming the
 *    file, node and tensor involved ("model.onnx: node 'conv_3' (Conv): ...").
 *  - Handles are opaque and come in create/free pairs. Passing NULL to a free
 *    function is a no-op.
 *  - Ownership is stated on each function. The library never calls exit() or abort()
 *    on bad input.
 */
#ifndef NNOPT_H
#define NNOPT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NNOPT_VERSION "0.1.0"

/* Maximum tensor rank the library handles; higher ranks are refused with an error. */
#define NN_MAX_DIMS 8

/* ---------------------------------------------------------------------------------
 * Status and errors
 * --------------------------------------------------------------------------------- */
typedef enum nn_status {
  NN_OK = 0,
  NN_ERR_IO = 1,          /* a file could not be read or written */
  NN_ERR_PARSE = 2,       /* a file is malformed (protobuf, npy, ...) */
  NN_ERR_INVALID = 3,     /* a graph or argument is invalid (names the node/tensor) */
  NN_ERR_UNSUPPORTED = 4, /* valid, but not supported by nnopt (e.g. an unknown op) */
  NN_ERR_NOMEM = 5,       /* an allocation failed or a size limit was exceeded */
  NN_ERR_RUNTIME = 6      /* a kernel failed at run time (e.g. index out of range) */
} nn_status;

/* Message of the last failure on this thread; never NULL (empty when none). */
const char *nn_last_error(void);
/* Short name of a status code ("ok", "io", "parse", ...). */
const char *nn_status_name(nn_status s);

/* ---------------------------------------------------------------------------------
 * Data types: numbered exactly as ONNX TensorProto.DataType.
 * --------------------------------------------------------------------------------- */
typedef enum nn_dtype {
  NN_UNDEFINED = 0,
  NN_FLOAT = 1,
  NN_UINT8 = 2,
  NN_INT8 = 3,
  NN_UINT16 = 4,
  NN_INT16 = 5,
  NN_INT32 = 6,
  NN_INT64 = 7,
  NN_STRING = 8,
  NN_BOOL = 9,
  NN_FLOAT16 = 10,
  NN_DOUBLE = 11,
  NN_UINT32 = 12,
  NN_UINT64 = 13,
  NN_COMPLEX64 = 14,
  NN_COMPLEX128 = 15,
  NN_BFLOAT16 = 16,
  NN_DTYPE_COUNT
} nn_dtype;

/* "float32", "int8", ...; "undefined" for unknown codes. */
const char *nn_dtype_name(nn_dtype t);
/* Bytes per element (sizeof(nn_bytes) for NN_STRING); 0 for unknown codes. */
size_t nn_dtype_size(nn_dtype t);

/* One element of a string tensor: ONNX strings are byte arrays. */
typedef struct nn_bytes {
  size_t len;
  char *data;
} nn_bytes;

/* ---------------------------------------------------------------------------------
 * Arrays: plain dense row-major tensors used to pass data in and out.
 * --------------------------------------------------------------------------------- */
typedef struct nn_array {
  nn_dtype dtype;
  int ndim;
  int64_t dims[NN_MAX_DIMS];
  void *data;    /* row-major elements; for NN_STRING an array of nn_bytes */
  size_t nbytes; /* number of elements * nn_dtype_size(dtype) */
} nn_array;

/* Number of elements (1 for a scalar). */
int64_t nn_array_numel(const nn_array *a);
/* Release the data of an array filled by nn_array_read* (and string payloads). */
void nn_array_release(nn_array *a);

/* Read one tensor from a .npy file or an ONNX TensorProto .pb file (by extension;
 * the name, if the file stores one, is returned in *name_out, which the caller
 * frees; name_out may be NULL). */
nn_status nn_array_read(const char *path, nn_array *out, char **name_out);
/* Write an array as .npy (atomically). */
nn_status nn_array_write_npy(const char *path, const nn_array *a);

/* An .npz archive: named arrays. */
typedef struct nn_npz {
  int count;
  char **names;
  nn_array *arrays;
} nn_npz;
nn_status nn_npz_read(const char *path, nn_npz *out);
void nn_npz_release(nn_npz *z);

/* Element-wise comparison of got against want: |got - want| <= atol + rtol * |want|
 * (NaN equals NaN; integers, bools and strings compare exactly). */
typedef struct nn_compare {
  int shape_ok;       /* dtype and shape equal */
  double max_abs;     /* largest |got - want| */
  double max_rel;     /* largest |got - want| / |want| over want != 0 */
  int64_t mismatches; /* elements outside the tolerance */
  int64_t first_bad;  /* flat index of the first mismatch, -1 if none */
} nn_compare;
void nn_array_compare(const nn_array *got, const nn_array *want, double rtol, double atol,
                      nn_compare *out);

/* ---------------------------------------------------------------------------------
 * Models
 * --------------------------------------------------------------------------------- */
typedef struct nn_model nn_model;

/* Load an ONNX model. External data is resolved relative to the model's folder; a
 * location that escapes the folder or points past the end of its file is refused. */
nn_status nn_model_load(const char *path, nn_model **out);
/* Load from memory. base_dir resolves external data (NULL: external data refused);
 * label names the model in error messages. The buffer is not retained. */
nn_status nn_model_load_buffer(const void *buf, size_t len, const char *base_dir,
                               const char *label, nn_model **out);

typedef struct nn_save_options {
  /* Write initializers to an external data file "<output>.data" when their total
   * exceeds this many bytes. 0 selects the protobuf limit (2 GB). */
  int64_t external_threshold;
  /* Allow writing over the file the model was loaded from. Default 0: refused. */
  int allow_overwrite_input;
} nn_save_options;

/* Save atomically (temporary file + rename). opt may be NULL for defaults. */
nn_status nn_model_save(const nn_model *m, const char *path, const nn_save_options *opt);
/* Serialize to a malloc'ed buffer (no external data; fails over 2 GB). */
nn_status nn_model_save_buffer(const nn_model *m, void **buf, size_t *len);
void nn_model_free(nn_model *m);

/* Validate the main graph and its subgraphs: cycles, undefined inputs, duplicate
 * outputs, attribute types, unsupported ops (when check_ops is non-zero). */
nn_status nn_model_validate(const nn_model *m, int check_ops);
/* Compare two models' graphs structurally and by value; 1 when equal. When not
 * equal and why != NULL, a description of the first difference is written there. */
int nn_model_equal(const nn_model *a, const nn_model *b, char *why, size_t why_len);

/* Print a summary of the model (opsets, inputs/outputs, op histogram, parameters by
 * dtype, per-node MACs, largest tensors) as text or JSON. Shapes of inputs with
 * symbolic dimensions are taken as 1 for symbolic dims unless overridden. */
nn_status nn_model_inspect(const nn_model *m, FILE *out, int json);
/* Total multiply-accumulates of Conv/ConvTranspose/Gemm/MatMul/pool nodes. */
nn_status nn_model_macs(const nn_model *m, int64_t *macs);

/* ---------------------------------------------------------------------------------
 * Sessions: execute a model.
 * All planning and allocation happen at creation (and again only when an input
 * shape changes); a run with unchanged shapes does not allocate.
 * --------------------------------------------------------------------------------- */
typedef struct nn_session nn_session;

typedef struct nn_session_options {
  int threads; /* 0 or 1: single thread */
} nn_session_options;

/* The model must outlive the session. opt may be NULL. */
nn_status nn_session_create(const nn_model *m, const nn_session_options *opt,
                            nn_session **out);
void nn_session_free(nn_session *s);

int nn_session_input_count(const nn_session *s);
const char *nn_session_input_name(const nn_session *s, int i);
int nn_session_output_count(const nn_session *s);
const char *nn_session_output_name(const nn_session *s, int i);

/* Run with inputs given by name (every graph input without an initializer must be
 * given). The arrays are read, not retained. */
nn_status nn_session_run(nn_session *s, int n, const char *const *names,
                         const nn_array *inputs);
/* Output i of the last run. Owned by the session; valid until the next run/free. */
const nn_array *nn_session_output(const nn_session *s, int i);

/* Peak bytes of planned activation memory and bytes of weights. */
size_t nn_session_activation_bytes(const nn_session *s);
size_t nn_session_weight_bytes(const nn_session *s);

/* Names of the ops the runtime supports, for the domain ("" for ai.onnx), as a
 * NULL-terminated static array. */
const char *const *nn_supported_ops(void);

#ifdef __cplusplus
}
#endif
#endif /* NNOPT_H */
