/*
 * graph.h - the graph IR: tensors, nodes, attributes, graphs and models.
 * Tensors and nodes live in growable arrays and refer to each other by index, so a
 * pass can add nodes without invalidating references. Names are owned strings.
 * Fields the IR does not model are kept as serialized protobuf "shells" and merged
 * back on save, so a load/save round trip preserves them.
 */
#ifndef NN_CORE_GRAPH_H
#define NN_CORE_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "nnopt.h"

typedef struct nn_graph nn_graph;

/* Serialized protobuf bytes of fields the IR does not model (may be empty). */
typedef struct nn_blob {
  size_t len;
  uint8_t *data;
} nn_blob;

enum {
  NN_T_INITIALIZER = 1u << 0, /* has data from the model (initializer or folded) */
  NN_T_INPUT = 1u << 1,       /* listed in graph.input */
  NN_T_OUTPUT = 1u << 2,      /* listed in graph.output */
  NN_T_VALUE_INFO = 1u << 3,  /* listed in graph.value_info */
  NN_T_SHAPE_KNOWN = 1u << 4, /* ndim/dims/dtype come from the model's type info */
  NN_T_BORROWED = 1u << 5,    /* data belongs to another model's tensor (never freed
                               * here; a session's private copy, which lives inside the
                               * session of the model it was copied from) */
};

/* A dimension is known (>= 0), or unknown (-1) with an optional symbolic name. */
typedef struct nn_tensor {
  char *name;
  nn_dtype dtype;  /* NN_UNDEFINED when unknown */
  int ndim;        /* -1: rank unknown */
  int64_t dims[NN_MAX_DIMS];
  char *dim_param[NN_MAX_DIMS]; /* symbolic name of dims[i] when dims[i] == -1, or NULL */
  void *data;     /* initializer values (owned), row-major; NULL if none */
  size_t nbytes;  /* bytes of data */
  unsigned flags; /* NN_T_* */
  char *doc_string;
  nn_blob type_shell; /* non-tensor TypeProto (sequence/map/optional) kept verbatim */
  nn_blob init_shell; /* unmodeled TensorProto fields of an initializer */
  int producer;       /* index of the producing node, -1 if none (rebuilt by maps) */
} nn_tensor;

typedef enum nn_attr_type {
  NN_ATTR_UNDEFINED = 0,
  NN_ATTR_FLOAT = 1,
  NN_ATTR_INT = 2,
  NN_ATTR_STRING = 3,
  NN_ATTR_TENSOR = 4,
  NN_ATTR_GRAPH = 5,
  NN_ATTR_SPARSE_TENSOR = 11,
  NN_ATTR_TYPE_PROTO = 13,
  NN_ATTR_FLOATS = 6,
  NN_ATTR_INTS = 7,
  NN_ATTR_STRINGS = 8,
  NN_ATTR_TENSORS = 9,
  NN_ATTR_GRAPHS = 10,
  NN_ATTR_SPARSE_TENSORS = 12,
  NN_ATTR_TYPE_PROTOS = 14,
} nn_attr_type;

/* A tensor value held by an attribute (value of Constant, ConstantOfShape, ...). */
typedef struct nn_attr_tensor {
  nn_tensor t; /* name may be NULL; data owned */
} nn_attr_tensor;

typedef struct nn_attr {
  char *name;
  nn_attr_type type;
  float f;
  int64_t i;
  nn_bytes s;
  int n; /* element count for the list types */
  float *floats;
  int64_t *ints;
  nn_bytes *strings;
  nn_tensor *tensors; /* TENSOR (n = 1) / TENSORS */
  nn_graph **graphs;  /* GRAPH (n = 1) / GRAPHS */
  char *ref_attr_name;
  char *doc_string;
  nn_blob shell; /* sparse tensors / type protos: the whole AttributeProto */
} nn_attr;

typedef struct nn_node {
  char *name;
  char *op_type;
  char *domain; /* "" for the default ai.onnx domain (never NULL) */
  int n_inputs, n_outputs;
  int *inputs;  /* tensor indices; -1 for an omitted optional input */
  int *outputs; /* tensor indices; -1 for an omitted optional output */
  int n_attrs;
  nn_attr *attrs;
  char *doc_string;
  nn_blob shell; /* unmodeled NodeProto fields */
} nn_node;

typedef struct nn_opset {
  char *domain;
  int64_t version;
} nn_opset;

struct nn_graph {
  char *name;
  char *doc_string;
  nn_graph *parent; /* enclosing graph for subgraphs, NULL for the main graph */

  int n_tensors, cap_tensors;
  nn_tensor *tensors;
  int n_nodes, cap_nodes;
  nn_node *nodes;

  /* Ordered lists of tensor indices as in the file. */
  int n_inputs, n_outputs, n_inits, n_value_infos;
  int *inputs, *outputs, *inits, *value_infos;

  nn_blob shell; /* unmodeled GraphProto fields (sparse initializers, annotations) */

  /* Name lookup (open-addressing hash over tensor names), maintained by the API. */
  int hash_cap;
  int *hash;
};

/* The model: main graph plus the ModelProto fields around it. */
struct nn_model {
  nn_graph *graph;
  int64_t ir_version;
  int n_opsets;
  nn_opset *opsets;
  char *producer_name, *producer_version, *domain, *doc_string;
  int64_t model_version;
  int n_meta;
  char **meta_keys, **meta_values;
  nn_blob shell; /* functions, training info, unknown fields */
  char *path;    /* file it was loaded from (NULL for buffers) */
  char *dir;     /* folder for external data (NULL: refused) */
};

/* ---- graphs ---- */
nn_graph *nn_graph_new(nn_graph *parent);
void nn_graph_free(nn_graph *g);

/* Index of the tensor named name in g only (not parents), or -1. */
int nn_graph_find(const nn_graph *g, const char *name);
/* Index of the tensor named name, creating an empty one if absent; -1 on OOM. */
int nn_graph_intern(nn_graph *g, const char *name);
/* Append a new node; returns its index or -1 on OOM. Strings are copied. */
int nn_graph_add_node(nn_graph *g, const char *op_type, const char *domain,
                      const char *name, int n_in, const int *in, int n_out,
                      const int *out);
/* Append index to one of the ordered lists (inputs/outputs/inits/value_infos). */
nn_status nn_graph_list_push(int **list, int *n, int idx);

/* Producer of each tensor (tensor.producer), and consumers of each tensor as a CSR
 * structure: consumers of tensor t are cons[off[t] .. off[t+1]) (node indices).
 * Outer-scope uses inside subgraphs count as uses by the node holding the subgraph. */
typedef struct nn_use_map {
  int *off;
  int *cons;
} nn_use_map;
nn_status nn_graph_build_maps(nn_graph *g, nn_use_map *uses);
void nn_use_map_free(nn_use_map *u);

/* Node indices in a topological order (Kahn, stable in file order). Fails on a cycle,
 * naming a node on it. order must hold g->n_nodes ints. */
nn_status nn_graph_topo_order(const nn_graph *g, int *order);

/* Names a node in messages: "node 'name' (OpType)" or "node #i (OpType)". */
const char *nn_node_label(const nn_graph *g, int node_idx, char *buf, size_t len);

/* Names referenced inside the node's subgraphs that are not defined there (outer
 * scope captures), resolved to tensor indices of g. Returns count; *out malloc'ed. */
nn_status nn_node_captures(const nn_graph *g, const nn_node *n, int **out, int *count);

/* ---- attributes ---- */
const nn_attr *nn_node_attr(const nn_node *n, const char *name);
int64_t nn_attr_int(const nn_node *n, const char *name, int64_t dflt);
float nn_attr_float(const nn_node *n, const char *name, float dflt);
/* String attribute as NUL-terminated (ONNX strings used as enums never hold NUL). */
const char *nn_attr_string(const nn_node *n, const char *name, const char *dflt);
/* List of ints; returns count (-1 if absent) and sets *vals. */
int nn_attr_ints(const nn_node *n, const char *name, const int64_t **vals);
int nn_attr_floats(const nn_node *n, const char *name, const float **vals);
void nn_attr_free(nn_attr *a);

/* ---- tensors ---- */
int64_t nn_tensor_numel(const nn_tensor *t); /* -1 if rank or a dim is unknown */
void nn_tensor_clear(nn_tensor *t);          /* frees owned members, keeps nothing */
/* Drop a tensor's data (freed unless borrowed): data NULL, nbytes 0, not borrowed. */
void nn_tensor_drop_data(nn_tensor *t);
/* Deep copy of name, shape, dtype, data. */
nn_status nn_tensor_copy(nn_tensor *dst, const nn_tensor *src);
/* Free the payload of a string tensor's data (array of nn_bytes). */
void nn_strings_free(nn_bytes *s, int64_t n);

/* ---- models ---- */
nn_model *nn_model_new(void);
/* Opset version of domain ("" and "ai.onnx" are the same), or -1 when absent. */
int64_t nn_model_opset(const nn_model *m, const char *domain);

/* ---- small string helpers ---- */
char *nn_strdup(const char *s); /* NULL-safe */
char *nn_strndup(const char *s, size_t n);


/* ---- editing (used by passes) ---- */
/* Remove the nodes with kill[i] != 0, keeping the order of the others. */
void nn_graph_remove_nodes(nn_graph *g, const unsigned char *kill);
/* Reorder the nodes array topologically (stable), as ONNX files require. */
nn_status nn_graph_sort(nn_graph *g);
/* A tensor name not yet used in g: base, else base_1, base_2, ... (malloc'ed). */
char *nn_graph_unique_name(const nn_graph *g, const char *base);
/* A node name not yet used in g (and not a tensor name either), as above. */
char *nn_graph_unique_node_name(const nn_graph *g, const char *base);
/* Add an initializer with a fresh name derived from base; takes ownership of data
 * (freed on failure). Returns the tensor index or -1 on OOM. */
int nn_graph_add_initializer(nn_graph *g, const char *base, nn_dtype dt, int ndim,
                             const int64_t *dims, void *data);
/* Add a fresh intermediate tensor named after base; returns its index or -1. */
int nn_graph_add_tensor(nn_graph *g, const char *base);
/* Change a node's op type and domain (strings copied). */
nn_status nn_node_set_op(nn_node *n, const char *op_type, const char *domain);
/* Make sure the model imports domain (at version when absent). */
nn_status nn_model_ensure_opset(nn_model *m, const char *domain, int64_t version);
/* Append an INT attribute to node n. */
nn_status nn_node_add_attr_int(nn_node *n, const char *name, int64_t v);
nn_status nn_node_add_attr_float(nn_node *n, const char *name, float v);
/* Remove index t from an ordered list (inputs/outputs/inits/value_infos). */
void nn_graph_list_remove(int *list, int *n, int t);
#endif
