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
/* Convert a numeric array to dtype to in place (no-op when equal); name labels errors.
 * Integers convert exactly between integer types, otherwise through double. */
nn_status nn_array_convert(nn_array *a, nn_dtype to, const char *name);
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

/* Rewrite the graph for faster execution, as ONNX Runtime's default level does:
 * constant folding, BatchNormalization folded into convolutions, Conv + Relu/Clip
 * fused (com.microsoft FusedConv), dead nodes removed. The model stays valid ONNX. */
nn_status nn_model_optimize(nn_model *m);

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
  int threads;      /* 0 or 1: single thread */
  /* A QDQ model (QuantizeLinear/DequantizeLinear around int8 tensors) normally runs
   * with integer kernels: the session lowers a private copy of the graph. Non-zero
   * runs the QDQ graph as written (float fake-quantization), for debugging. */
  int qdq_as_float;
} nn_session_options;

/* The model must outlive the session, its weights unchanged while the session lives (the
 * session reads them in place, also through the private copies it may make of the graph).
 * opt may be NULL. */
nn_status nn_session_create(const nn_model *m, const nn_session_options *opt,
                            nn_session **out);
void nn_session_free(nn_session *s);

int nn_session_input_count(const nn_session *s);
const char *nn_session_input_name(const nn_session *s, int i);
/* Declared dtype and shape of input i (dims[k] = -1 where symbolic or unknown; *ndim
 * = -1 when the rank is unknown). */
nn_status nn_session_input_info(const nn_session *s, int i, nn_dtype *dtype, int *ndim,
                                int64_t *dims);
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

/* Latency of a session over repeated runs on the same inputs: warmup runs first,
 * then runs timed one by one (monotonic clock). */
typedef struct nn_bench_result {
  int runs;
  double median_ms, p90_ms, mean_ms, min_ms;
} nn_bench_result;
nn_status nn_session_benchmark(nn_session *s, int n, const char *const *names,
                               const nn_array *inputs, int warmup, int runs,
                               nn_bench_result *out);

/* The ops the runtime supports as a NULL-terminated static array: "Conv" for the
 * default ai.onnx domain, "com.microsoft:QLinearAdd" for others. */
const char *const *nn_supported_ops(void);

/* ---------------------------------------------------------------------------------
 * Datasets and evaluation
 *
 * A dataset is an indexed collection of samples. A sample is a set of named input
 * arrays (one per model input, e.g. input_ids + attention_mask for BERT), each with
 * a leading batch dimension of 1, and an optional label. Calibration, evaluation
 * and training read data through it alike.
 *
 * SPEC grammar:  KIND ':' PATH { ',' KEY '=' VALUE }
 *   PATH may not contain ','; lists inside a VALUE are separated by ':' (numbers,
 *   e.g. mean=0.485:0.456:0.406) or '+' (names, e.g. inputs=input_ids+attention_mask).
 *   An unknown KEY is an error. Common keys:
 *     name=S       name of the (single) input array, default "input"
 *     labels=...   where labels come from (see each kind); no labels when absent
 *     classes=A:B  keep only samples whose integer label is one of these class ids
 *                  (every sample is read once at open to find them)
 *     skip=N       drop the first N samples (after classes=), e.g. to keep
 *                  calibration and evaluation samples of one split disjoint
 *
 *  idx:IMAGES[,labels=LABELS]      IDX files ((Fashion-)MNIST), gzipped or plain.
 *     Images [N,H,W] or [N,H,W,C] of unsigned bytes; labels [N] of any IDX integer
 *     type -> int64 [1]. Truncated or mismatched files fail at open, naming the record.
 *     Accepts the image keys below (channels defaults to the file's).
 *  npz:FILE[,inputs=A+B][,labels=L]  arrays of an .npz; dim 0 indexes samples (all
 *     arrays must agree on it). inputs defaults to every member except labels;
 *     samples keep the stored dtype. Also npy:FILE[,labels=FILE2.npy].
 *  images:DIR_OR_LIST[,labels=FILE][,masks=DIR]  PNG/JPEG/BMP/TGA/GIF/PNM images.
 *     DIR: every image under DIR in sorted order; when DIR has sub-folders, their
 *     sorted names are the classes (label = index, as torchvision's ImageFolder).
 *     A file (or labels=FILE): one sample per line "PATH<TAB>LABEL" (or "PATH LABEL";
 *     PATH relative to the file's folder, or to DIR with labels=): integer labels give
 *     int64 [1], any other text gives a string label (OCR). masks=DIR: label =
 *     DIR/<stem>.png (8-bit gray class ids; palette PNGs are refused) as int64 [1,H,W],
 *     resized (nearest) and cropped like the image, padding 255 (ignored by miou).
 *  tsv:FILE,vocab=VOCAB[,seq=128][,text=COL][,label=COL]  sentences -> BERT-style
 *     token ids over the model's vocab.txt (id = line number; needs [CLS], [SEP],
 *     [PAD], [UNK]): input_ids, attention_mask, token_type_ids (zeros), each
 *     int64 [1,seq] ([CLS] ... [SEP] [PAD]...); label int64 [1]. COL is a header name
 *     or 0-based index; defaults: header "label" and the other column (a first line
 *     without an integer field is a header; header=0|1 overrides). tokenizer=auto
 *     (default: WordPiece when the vocab has "##" pieces, else whitespace) |
 *     wordpiece | whitespace (lowercase + split on spaces, as Python's
 *     text.lower().split(); unknown words are [UNK]). WordPiece is BERT's uncased
 *     tokenizer (punctuation split, accents stripped for Latin scripts, greedy
 *     longest-match "##" pieces). lower=0 keeps case; dtype=int32
 *     changes the id type.
 *  wav:DIR_OR_LIST[,rate=16000][,length=N]  RIFF WAVE (PCM 8/16/24/32, float32/64;
 *     channels averaged to mono), resampled to rate (Hann-windowed sinc, 6 zero
 *     crossings, cutoff 0.99 of the lower Nyquist: torchaudio's default) -> float32
 *     [1,N]. DIR: every .wav in sorted order (sub-folders as classes, as images).
 *     length=N zero-pads or truncates to N samples. A list file has lines
 *     "PATH[<TAB>LABEL]": an integer label gives int64 [1]; speech segments in
 *     seconds "0.50-1.20 2.00-3.10" give a uint8 [1,N] per-sample speech mask (VAD);
 *     other text gives a string label (ASR). label=class|segments|text forces one.
 *
 *  Image keys (images: and idx:), applied in this order on pixel values 0..255:
 *     channels=rgb|bgr|gray   color order of the output (gray: ITU-R 601 luma)
 *     size=S | size=WxH       resize (bilinear; S: shorter side to S, aspect kept, as
 *                             torchvision's Resize(S); WxH: exactly). antialias=1
 *                             (default) reproduces PIL's resize bit for bit (what
 *                             torchvision runs on PIL images); antialias=0 is OpenCV's
 *                             INTER_LINEAR (half-pixel centres, no prefilter)
 *     keep_aspect=1           with size=WxH: scale to height H, width
 *                             min(W, ceil(H*w/h)), then pad on the right to W with 0
 *                             after normalization (PaddleOCR recognition)
 *     crop=S | crop=WxH       center crop (torchvision CenterCrop)
 *     pad=P                   pad P pixels on every side with pad_value (default 0)
 *     scale=F                 multiply (default 1/255)
 *     mean=M[:M:M], std=S[:S:S]  then (x - mean[c]) / std[c] (defaults 0 and 1)
 *     layout=nchw|nhwc        default nchw
 *     dtype=float32|uint8     uint8 skips scale/mean/std (default float32)
 *   Example (the Fashion-MNIST fixture):
 *     idx:t10k-images-idx3-ubyte.gz,labels=t10k-labels-idx1-ubyte.gz,pad=2,
 *         mean=0.2860,std=0.3530
 * --------------------------------------------------------------------------------- */
typedef struct nn_dataset nn_dataset;

typedef struct nn_dataset_options {
  int64_t limit; /* > 0: use only the first limit samples */
} nn_dataset_options;

/* Open the dataset a SPEC names. Cheap readers (IDX, npz, TSV) load and check all
 * records here; images and audio are decoded at nn_dataset_get. opt may be NULL. */
nn_status nn_dataset_open(const char *spec, const nn_dataset_options *opt, nn_dataset **out);
void nn_dataset_free(nn_dataset *ds);

/* Number of samples. */
int64_t nn_dataset_count(const nn_dataset *ds);
/* Input arrays per sample, and their names (owned by the dataset). */
int nn_dataset_input_count(const nn_dataset *ds);
const char *nn_dataset_input_name(const nn_dataset *ds, int i);
/* 1 when samples carry labels. */
int nn_dataset_has_labels(const nn_dataset *ds);
/* Human-readable name of label value v (class folder name), or NULL when none. */
const char *nn_dataset_class_name(const nn_dataset *ds, int64_t v);

/* A batch of samples: inputs[i] is named nn_dataset_input_name(ds, i) and has
 * leading dimension n; label.dtype is NN_UNDEFINED when there are no labels. The
 * caller owns the arrays and releases them with nn_batch_release. */
typedef struct nn_batch {
  int64_t first, n;
  int count;
  nn_array *inputs;
  nn_array label;
} nn_batch;

/* Samples first .. first+n-1 stacked along dimension 0. All must have the same
 * shapes (else NN_ERR_INVALID naming the record). A failing record is named in the
 * error ("dir/cat/3.png: record 17: ..."). */
nn_status nn_dataset_get(nn_dataset *ds, int64_t first, int64_t n, nn_batch *out);
void nn_batch_release(nn_batch *b);

/* Metrics accumulate over batches of (model output, label) pairs.
 *   top1, top5   output [N,C...] scores (flattened per sample), label [N] class ids;
 *                value = share of samples whose label is among the k best scores
 *   accuracy     as top1; an output of one score per sample is a logit (> 0 is 1)
 *   f1           as accuracy, value = F1: binary (positive class 1) when there are
 *                2 classes, macro average otherwise (options.average overrides)
 *   miou         output [N,C,H,W] scores (bilinearly resized to the mask when sizes
 *                differ), label [N,H,W] class ids (ids outside 0..C-1 ignored);
 *                value = mean over classes present of IoU
 *   cer          output [N,T,C] CTC scores decoded greedily (blank = 0, class k ->
 *                charset line k, classes past the list are a space), label strings;
 *                value = total edit distance / total reference length (characters)
 *   vad-f1       output [N,T] (or [N,T,1], [N,1,T]) speech probabilities, label
 *                [N,S] per-sample speech mask; frame t covers samples t*S/T ..
 *                (t+1)*S/T and is speech when most of them are; threshold 0.5;
 *                value = F1 of the speech frames
 * Values are fractions (0.9341 for 93.41%). */
typedef struct nn_metric nn_metric;

typedef struct nn_metric_options {
  const char *charset;  /* cer: file with one character per line (PaddleOCR keys) */
  const char *average;  /* f1: "binary" or "macro" (NULL: by class count) */
  int positive;         /* f1 binary: positive class (default 1) */
  double threshold;     /* vad-f1: speech threshold (0: 0.5) */
} nn_metric_options;

/* name: one of the names above. opt may be NULL. */
nn_status nn_metric_create(const char *name, const nn_metric_options *opt, nn_metric **out);
void nn_metric_free(nn_metric *m);
nn_status nn_metric_update(nn_metric *m, const nn_array *output, const nn_array *label);
const char *nn_metric_name(const nn_metric *m);
/* The value over all updates so far (0 before any) and the number of samples. */
double nn_metric_value(const nn_metric *m);
int64_t nn_metric_samples(const nn_metric *m);
/* Secondary values (accuracy next to f1, exact-match rate next to cer, ...):
 * returns the count; name/value of extra i (i < count). */
int nn_metric_extra(const nn_metric *m, int i, const char **name, double *value);

/* Run a model over a dataset and score it. Dataset inputs are matched to model
 * inputs by name, then in order; extra dataset inputs (e.g. token_type_ids) are
 * skipped, and integer/float arrays are converted to the model's input dtype. */
typedef struct nn_eval_options {
  int64_t limit;      /* > 0: first limit samples only */
  int batch;          /* samples per run (0: 1); > 1 needs a symbolic batch dim */
  int threads;        /* session threads */
  const char *output; /* model output scored (NULL: the first) */
  /* Called after each batch with samples done and total (may be NULL). */
  void (*progress)(void *user, int64_t done, int64_t total);
  void *user;
  /* Streaming models (Silero VAD): chunk > 0 runs each sample's data input in
   * consecutive chunks of that many values along its last dimension, each preceded by
   * the context values before it (zeros at the start), and scores the chunks' first
   * output values as one [1, chunks] array. state lists "input=output" pairs fed back
   * between chunks (zeros at the start of each sample); consts lists "input=value"
   * scalars (e.g. "sr=16000"). Lists are comma separated. */
  int64_t chunk, context;
  const char *state;
  const char *consts;
} nn_eval_options;

typedef struct nn_eval_result {
  double value;    /* metric value (fraction) */
  int64_t samples; /* samples scored */
  double seconds;  /* wall time of the runs and metric updates */
} nn_eval_result;

nn_status nn_evaluate(const nn_model *model, nn_dataset *ds, nn_metric *metric,
                      const nn_eval_options *opt, nn_eval_result *out);
/* --------------------------- end of Datasets and evaluation --------------------------- */

#ifdef __cplusplus
}
#endif
#endif /* NNOPT_H */
