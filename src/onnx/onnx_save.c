/*
 * onnx_save.c - graph IR -> ModelProto (nn_model_save, nn_model_save_buffer).
 * A protobuf-c message tree is built that borrows names and tensor bytes from the IR;
 * shells are unpacked and their fields merged into the rebuilt messages. Files are
 * written atomically (temporary file in the same folder, fsync, rename), and large
 * initializers go to "<output>.data" when the model would exceed the threshold.
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

#define PROTOBUF_LIMIT ((int64_t)INT32_MAX)
#define EXTERNAL_MIN_BYTES 1024
#define EXTERNAL_ALIGN 4096

typedef struct ext_entry {
  const nn_tensor *t;
  uint64_t offset;
} ext_entry;

typedef struct save_ctx {
  void **allocs; /* everything the tree owns (freed with free) */
  size_t n_allocs, cap_allocs;
  ProtobufCMessage **keeps; /* unpacked shells (freed with free_unpacked) */
  size_t n_keeps, cap_keeps;
  /* External data: when location is set, big initializers are written there. */
  const char *ext_location;
  uint64_t ext_end;
  ext_entry *ext;
  size_t n_ext, cap_ext;
} save_ctx;

static char k_empty[] = "";

static int grow(void **arr, size_t *cap, size_t n, size_t elem) {
  if (n < *cap) return 0;
  size_t c = *cap ? *cap * 2 : 64;
  void *p = realloc(*arr, c * elem);
  if (!p) return -1;
  *arr = p;
  *cap = c;
  return 0;
}

static void *sc_alloc(save_ctx *c, size_t size) {
  if (grow((void **)&c->allocs, &c->cap_allocs, c->n_allocs, sizeof(void *))) return NULL;
  void *p = calloc(1, size ? size : 1);
  if (p) c->allocs[c->n_allocs++] = p;
  return p;
}

static nn_status sc_keep(save_ctx *c, ProtobufCMessage *m) {
  if (!m) return NN_OK;
  if (grow((void **)&c->keeps, &c->cap_keeps, c->n_keeps, sizeof(void *))) {
    protobuf_c_message_free_unpacked(m, NULL);
    return nn_errorf(NN_ERR_NOMEM, "out of memory");
  }
  c->keeps[c->n_keeps++] = m;
  return NN_OK;
}

static void sc_free(save_ctx *c) {
  for (size_t i = 0; i < c->n_allocs; i++) free(c->allocs[i]);
  for (size_t i = 0; i < c->n_keeps; i++) protobuf_c_message_free_unpacked(c->keeps[i], NULL);
  free(c->allocs);
  free(c->keeps);
  free(c->ext);
  memset(c, 0, sizeof *c);
}

static nn_status merge(save_ctx *c, ProtobufCMessage *dst, const nn_blob *shell) {
  ProtobufCMessage *keep = NULL;
  nn_status st = nn_onnx_shell_merge(dst, shell, &keep);
  if (st) return st;
  return sc_keep(c, keep);
}

#define NEW(c, T) ((T *)sc_alloc((c), sizeof(T)))
#define OOM() nn_errorf(NN_ERR_NOMEM, "out of memory")

static char *sdup(save_ctx *c, const char *s) {
  /* Decimal numbers for external_data are the only strings built here. */
  size_t n = strlen(s) + 1;
  char *p = sc_alloc(c, n);
  if (p) memcpy(p, s, n);
  return p;
}

static nn_status add_entry(save_ctx *c, Onnx__TensorProto *tp, const char *k, const char *v) {
  Onnx__StringStringEntryProto *e = NEW(c, Onnx__StringStringEntryProto);
  if (!e) return OOM();
  onnx__string_string_entry_proto__init(e);
  e->key = (char *)k;
  if (!(e->value = sdup(c, v))) return OOM();
  tp->external_data[tp->n_external_data++] = e;
  return NN_OK;
}

static nn_status build_tensor(save_ctx *c, const nn_tensor *t, int write_doc,
                              Onnx__TensorProto **out) {
  Onnx__TensorProto *tp = NEW(c, Onnx__TensorProto);
  if (!tp) return OOM();
  onnx__tensor_proto__init(tp);
  tp->name = t->name;
  if (write_doc) tp->doc_string = t->doc_string;
  tp->has_data_type = 1;
  tp->data_type = (int32_t)t->dtype;
  if (t->ndim > 0) {
    tp->n_dims = (size_t)t->ndim;
    tp->dims = (int64_t *)t->dims;
  }
  if (t->dtype == NN_STRING) {
    size_t n = t->nbytes / sizeof(nn_bytes);
    const nn_bytes *s = t->data;
    if (n) {
      tp->string_data = sc_alloc(c, n * sizeof(ProtobufCBinaryData));
      if (!tp->string_data) return OOM();
      for (size_t i = 0; i < n; i++) {
        tp->string_data[i].len = s[i].len;
        tp->string_data[i].data = (uint8_t *)s[i].data;
      }
      tp->n_string_data = n;
    }
  } else if (c->ext_location && t->nbytes >= EXTERNAL_MIN_BYTES) {
    char num[32];
    uint64_t off = (c->ext_end + EXTERNAL_ALIGN - 1) / EXTERNAL_ALIGN * EXTERNAL_ALIGN;
    if (grow((void **)&c->ext, &c->cap_ext, c->n_ext, sizeof *c->ext)) return OOM();
    c->ext[c->n_ext].t = t;
    c->ext[c->n_ext++].offset = off;
    c->ext_end = off + t->nbytes;
    tp->has_data_location = 1;
    tp->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    if (!(tp->external_data = sc_alloc(c, 3 * sizeof(void *)))) return OOM();
    nn_status st;
    if ((st = add_entry(c, tp, "location", c->ext_location))) return st;
    snprintf(num, sizeof num, "%llu", (unsigned long long)off);
    if ((st = add_entry(c, tp, "offset", num))) return st;
    snprintf(num, sizeof num, "%zu", t->nbytes);
    if ((st = add_entry(c, tp, "length", num))) return st;
  } else {
    tp->has_raw_data = 1;
    tp->raw_data.len = t->nbytes;
    tp->raw_data.data = t->data;
  }
  *out = tp;
  return merge(c, &tp->base, &t->init_shell);
}

static nn_status build_value_info(save_ctx *c, const nn_tensor *t, Onnx__ValueInfoProto **out) {
  nn_status st;
  Onnx__ValueInfoProto *vi = NEW(c, Onnx__ValueInfoProto);
  if (!vi) return OOM();
  onnx__value_info_proto__init(vi);
  vi->name = t->name;
  vi->doc_string = t->doc_string;
  *out = vi;
  if (t->type_shell.len) {
    Onnx__TypeProto *tp = NEW(c, Onnx__TypeProto);
    if (!tp) return OOM();
    onnx__type_proto__init(tp);
    vi->type = tp;
    return merge(c, &tp->base, &t->type_shell);
  }
  if (t->dtype == NN_UNDEFINED && t->ndim < 0) return NN_OK;
  Onnx__TypeProto *tp = NEW(c, Onnx__TypeProto);
  Onnx__TypeProto__Tensor *tt = NEW(c, Onnx__TypeProto__Tensor);
  if (!tp || !tt) return OOM();
  onnx__type_proto__init(tp);
  onnx__type_proto__tensor__init(tt);
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tp->tensor_type = tt;
  if (t->dtype != NN_UNDEFINED) {
    tt->has_elem_type = 1;
    tt->elem_type = (int32_t)t->dtype;
  }
  if (t->ndim >= 0) {
    Onnx__TensorShapeProto *sp = NEW(c, Onnx__TensorShapeProto);
    if (!sp) return OOM();
    onnx__tensor_shape_proto__init(sp);
    if (t->ndim > 0) {
      Onnx__TensorShapeProto__Dimension *dims =
          sc_alloc(c, (size_t)t->ndim * sizeof(Onnx__TensorShapeProto__Dimension));
      sp->dim = sc_alloc(c, (size_t)t->ndim * sizeof(void *));
      if (!dims || !sp->dim) return OOM();
      for (int i = 0; i < t->ndim && i < NN_MAX_DIMS; i++) {
        onnx__tensor_shape_proto__dimension__init(&dims[i]);
        if (t->dims[i] >= 0) {
          dims[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
          dims[i].dim_value = t->dims[i];
        } else if (t->dim_param[i]) {
          dims[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
          dims[i].dim_param = t->dim_param[i];
        }
        sp->dim[i] = &dims[i];
      }
      sp->n_dim = (size_t)t->ndim;
    }
    tt->shape = sp;
  }
  (void)st;
  vi->type = tp;
  return NN_OK;
}

static nn_status build_graph(save_ctx *c, const nn_graph *g, Onnx__GraphProto **out);

static int attr_whole_shell(nn_attr_type t) {
  return t == NN_ATTR_SPARSE_TENSOR || t == NN_ATTR_SPARSE_TENSORS ||
         t == NN_ATTR_TYPE_PROTO || t == NN_ATTR_TYPE_PROTOS;
}

static nn_status build_attr(save_ctx *c, const nn_attr *a, Onnx__AttributeProto **out) {
  nn_status st;
  Onnx__AttributeProto *ap = NEW(c, Onnx__AttributeProto);
  if (!ap) return OOM();
  onnx__attribute_proto__init(ap);
  *out = ap;
  if (attr_whole_shell(a->type)) return merge(c, &ap->base, &a->shell);
  ap->name = a->name;
  ap->ref_attr_name = a->ref_attr_name;
  ap->doc_string = a->doc_string;
  ap->has_type = 1;
  ap->type = (Onnx__AttributeProto__AttributeType)a->type;
  switch (a->type) {
  case NN_ATTR_FLOAT:
    ap->has_f = 1;
    ap->f = a->f;
    break;
  case NN_ATTR_INT:
    ap->has_i = 1;
    ap->i = a->i;
    break;
  case NN_ATTR_STRING:
    ap->has_s = 1;
    ap->s.len = a->s.len;
    ap->s.data = (uint8_t *)a->s.data;
    break;
  case NN_ATTR_FLOATS:
    ap->n_floats = (size_t)(a->n > 0 ? a->n : 0);
    ap->floats = a->floats;
    break;
  case NN_ATTR_INTS:
    ap->n_ints = (size_t)(a->n > 0 ? a->n : 0);
    ap->ints = a->ints;
    break;
  case NN_ATTR_STRINGS:
    if (a->n > 0) {
      if (!(ap->strings = sc_alloc(c, (size_t)a->n * sizeof(ProtobufCBinaryData))))
        return OOM();
      for (int i = 0; i < a->n; i++) {
        ap->strings[i].len = a->strings[i].len;
        ap->strings[i].data = (uint8_t *)a->strings[i].data;
      }
      ap->n_strings = (size_t)a->n;
    }
    break;
  case NN_ATTR_TENSOR:
    if ((st = build_tensor(c, &a->tensors[0], 1, &ap->t))) return st;
    break;
  case NN_ATTR_TENSORS:
    if (a->n > 0) {
      if (!(ap->tensors = sc_alloc(c, (size_t)a->n * sizeof(void *)))) return OOM();
      for (int i = 0; i < a->n; i++)
        if ((st = build_tensor(c, &a->tensors[i], 1, &ap->tensors[i]))) return st;
      ap->n_tensors = (size_t)a->n;
    }
    break;
  case NN_ATTR_GRAPH:
    if ((st = build_graph(c, a->graphs[0], &ap->g))) return st;
    break;
  case NN_ATTR_GRAPHS:
    if (a->n > 0) {
      if (!(ap->graphs = sc_alloc(c, (size_t)a->n * sizeof(void *)))) return OOM();
      for (int i = 0; i < a->n; i++)
        if ((st = build_graph(c, a->graphs[i], &ap->graphs[i]))) return st;
      ap->n_graphs = (size_t)a->n;
    }
    break;
  default:
    return nn_errorf(NN_ERR_INVALID, "attribute '%s' has unknown type %d", a->name,
                     (int)a->type);
  }
  return merge(c, &ap->base, &a->shell);
}

static char *tensor_name(const nn_graph *g, int idx) {
  return idx >= 0 && idx < g->n_tensors ? g->tensors[idx].name : k_empty;
}

static nn_status build_node(save_ctx *c, const nn_graph *g, int ni, Onnx__NodeProto **out) {
  nn_status st;
  const nn_node *n = &g->nodes[ni];
  Onnx__NodeProto *np = NEW(c, Onnx__NodeProto);
  if (!np) return OOM();
  onnx__node_proto__init(np);
  np->name = n->name;
  np->op_type = n->op_type;
  np->domain = n->domain && *n->domain ? n->domain : NULL;
  np->doc_string = n->doc_string;
  if (!(np->input = sc_alloc(c, (size_t)(n->n_inputs + 1) * sizeof(char *))) ||
      !(np->output = sc_alloc(c, (size_t)(n->n_outputs + 1) * sizeof(char *))))
    return OOM();
  for (int k = 0; k < n->n_inputs; k++) np->input[k] = tensor_name(g, n->inputs[k]);
  for (int k = 0; k < n->n_outputs; k++) np->output[k] = tensor_name(g, n->outputs[k]);
  np->n_input = (size_t)n->n_inputs;
  np->n_output = (size_t)n->n_outputs;
  if (n->n_attrs > 0) {
    if (!(np->attribute = sc_alloc(c, (size_t)n->n_attrs * sizeof(void *)))) return OOM();
    for (int k = 0; k < n->n_attrs; k++) {
      if ((st = build_attr(c, &n->attrs[k], &np->attribute[k]))) {
        char label[320];
        return nn_error_prefix(st, "%s", nn_node_label(g, ni, label, sizeof label));
      }
    }
    np->n_attribute = (size_t)n->n_attrs;
  }
  *out = np;
  return merge(c, &np->base, &n->shell);
}

static nn_status build_vi_list(save_ctx *c, const nn_graph *g, int n, const int *list,
                               size_t *count, Onnx__ValueInfoProto ***out) {
  nn_status st;
  if (n <= 0) return NN_OK;
  if (!(*out = sc_alloc(c, (size_t)n * sizeof(void *)))) return OOM();
  for (int i = 0; i < n; i++)
    if ((st = build_value_info(c, &g->tensors[list[i]], &(*out)[i]))) return st;
  *count = (size_t)n;
  return NN_OK;
}

static nn_status build_graph(save_ctx *c, const nn_graph *g, Onnx__GraphProto **out) {
  nn_status st;
  Onnx__GraphProto *gp = NEW(c, Onnx__GraphProto);
  if (!gp) return OOM();
  onnx__graph_proto__init(gp);
  gp->name = g->name;
  gp->doc_string = g->doc_string;
  if ((st = build_vi_list(c, g, g->n_inputs, g->inputs, &gp->n_input, &gp->input)) ||
      (st = build_vi_list(c, g, g->n_outputs, g->outputs, &gp->n_output, &gp->output)) ||
      (st = build_vi_list(c, g, g->n_value_infos, g->value_infos, &gp->n_value_info,
                          &gp->value_info)))
    return st;
  if (g->n_inits > 0) {
    if (!(gp->initializer = sc_alloc(c, (size_t)g->n_inits * sizeof(void *)))) return OOM();
    for (int i = 0; i < g->n_inits; i++) {
      const nn_tensor *t = &g->tensors[g->inits[i]];
      int has_vi = (t->flags & (NN_T_INPUT | NN_T_OUTPUT | NN_T_VALUE_INFO)) != 0;
      if ((st = build_tensor(c, t, !has_vi, &gp->initializer[i])))
        return nn_error_prefix(st, "initializer '%s'", t->name);
    }
    gp->n_initializer = (size_t)g->n_inits;
  }
  if (g->n_nodes > 0) {
    if (!(gp->node = sc_alloc(c, (size_t)g->n_nodes * sizeof(void *)))) return OOM();
    for (int i = 0; i < g->n_nodes; i++)
      if ((st = build_node(c, g, i, &gp->node[i]))) return st;
    gp->n_node = (size_t)g->n_nodes;
  }
  *out = gp;
  return merge(c, &gp->base, &g->shell);
}

static nn_status build_model(save_ctx *c, const nn_model *m, Onnx__ModelProto **out) {
  nn_status st;
  Onnx__ModelProto *mp = NEW(c, Onnx__ModelProto);
  if (!mp) return OOM();
  onnx__model_proto__init(mp);
  if (m->ir_version) {
    mp->has_ir_version = 1;
    mp->ir_version = m->ir_version;
  }
  if (m->model_version) {
    mp->has_model_version = 1;
    mp->model_version = m->model_version;
  }
  mp->producer_name = m->producer_name;
  mp->producer_version = m->producer_version;
  mp->domain = m->domain;
  mp->doc_string = m->doc_string;
  if (m->n_opsets > 0) {
    Onnx__OperatorSetIdProto *ops = sc_alloc(c, (size_t)m->n_opsets * sizeof *ops);
    if (!ops || !(mp->opset_import = sc_alloc(c, (size_t)m->n_opsets * sizeof(void *))))
      return OOM();
    for (int i = 0; i < m->n_opsets; i++) {
      onnx__operator_set_id_proto__init(&ops[i]);
      ops[i].domain = m->opsets[i].domain;
      ops[i].has_version = 1;
      ops[i].version = m->opsets[i].version;
      mp->opset_import[i] = &ops[i];
    }
    mp->n_opset_import = (size_t)m->n_opsets;
  }
  if (m->n_meta > 0) {
    Onnx__StringStringEntryProto *e = sc_alloc(c, (size_t)m->n_meta * sizeof *e);
    if (!e || !(mp->metadata_props = sc_alloc(c, (size_t)m->n_meta * sizeof(void *))))
      return OOM();
    for (int i = 0; i < m->n_meta; i++) {
      onnx__string_string_entry_proto__init(&e[i]);
      e[i].key = m->meta_keys[i];
      e[i].value = m->meta_values[i];
      mp->metadata_props[i] = &e[i];
    }
    mp->n_metadata_props = (size_t)m->n_meta;
  }
  if (!m->graph) return nn_errorf(NN_ERR_INVALID, "the model has no graph");
  if ((st = build_graph(c, m->graph, &mp->graph))) return st;
  *out = mp;
  return merge(c, &mp->base, &m->shell);
}

/* Bytes of tensor data in g and its subgraphs: initializers and attribute values
 * (Constant nodes of exported models can be as large as weights). */
static uint64_t init_bytes(const nn_graph *g) {
  uint64_t total = 0;
  for (int i = 0; i < g->n_inits; i++) total += g->tensors[g->inits[i]].nbytes;
  for (int i = 0; i < g->n_nodes; i++)
    for (int a = 0; a < g->nodes[i].n_attrs; a++) {
      const nn_attr *at = &g->nodes[i].attrs[a];
      if ((at->type == NN_ATTR_GRAPH || at->type == NN_ATTR_GRAPHS) && at->graphs)
        for (int k = 0; k < (at->type == NN_ATTR_GRAPH ? 1 : at->n); k++)
          total += init_bytes(at->graphs[k]);
      if ((at->type == NN_ATTR_TENSOR || at->type == NN_ATTR_TENSORS) && at->tensors)
        for (int k = 0; k < (at->type == NN_ATTR_TENSOR ? 1 : at->n); k++)
          total += at->tensors[k].nbytes;
    }
  return total;
}

nn_status nn_model_save_buffer(const nn_model *m, void **buf, size_t *len) {
  nn_status st = NN_OK;
  save_ctx c;
  Onnx__ModelProto *mp = NULL;
  memset(&c, 0, sizeof c);
  *buf = NULL;
  *len = 0;
  NN_TRY(build_model(&c, m, &mp));
  size_t n = onnx__model_proto__get_packed_size(mp);
  if ((int64_t)n > PROTOBUF_LIMIT) {
    st = nn_errorf(NN_ERR_UNSUPPORTED, "model serializes to %zu bytes, over the 2 GB "
                   "protobuf limit; save to a file to use external data", n);
    goto done;
  }
  uint8_t *p = malloc(n ? n : 1);
  if (!p) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory for %zu bytes", n);
    goto done;
  }
  *len = onnx__model_proto__pack(mp, p);
  *buf = p;
done:
  sc_free(&c);
  return st;
}

/* ---- atomic files ---- */

typedef struct atomic_file {
  char *tmp;
  int fd;
} atomic_file;

static nn_status atomic_open(const char *path, atomic_file *af) {
  size_t n = strlen(path);
  af->fd = -1;
  af->tmp = malloc(n + 16);
  if (!af->tmp) return OOM();
  memcpy(af->tmp, path, n);
  memcpy(af->tmp + n, ".tmp.XXXXXX", 12);
  af->fd = mkstemp(af->tmp);
  if (af->fd < 0) {
    nn_status st = nn_errorf(NN_ERR_IO, "%s: cannot create a temporary file: %s", path,
                             strerror(errno));
    free(af->tmp);
    af->tmp = NULL;
    return st;
  }
  fchmod(af->fd, 0644);
  return NN_OK;
}

static void atomic_abort(atomic_file *af) {
  if (af->fd >= 0) close(af->fd);
  if (af->tmp) unlink(af->tmp);
  free(af->tmp);
  af->tmp = NULL;
  af->fd = -1;
}

/* fsync and close; the rename happens in atomic_commit. */
static nn_status atomic_finish(atomic_file *af, const char *path) {
  if (fsync(af->fd) != 0 || close(af->fd) != 0) {
    af->fd = -1;
    return nn_errorf(NN_ERR_IO, "%s: %s", path, strerror(errno));
  }
  af->fd = -1;
  return NN_OK;
}

static nn_status atomic_commit(atomic_file *af, const char *path) {
  if (rename(af->tmp, path) != 0)
    return nn_errorf(NN_ERR_IO, "%s: rename failed: %s", path, strerror(errno));
  free(af->tmp);
  af->tmp = NULL;
  return NN_OK;
}

static void fsync_dir(const char *path) {
  char *dir = nn_onnx_dirname(path);
  if (!dir) return;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  free(dir);
}

static nn_status write_all(int fd, const void *p, size_t n, const char *path) {
  const uint8_t *b = p;
  while (n) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return nn_errorf(NN_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    b += w;
    n -= (size_t)w;
  }
  return NN_OK;
}

/* A ProtobufCBuffer that streams packed bytes to a file descriptor. */
typedef struct fd_buffer {
  ProtobufCBuffer base;
  int fd;
  const char *path;
  nn_status st;
  uint8_t chunk[1 << 16];
  size_t used;
} fd_buffer;

static void fd_flush(fd_buffer *b) {
  if (b->used && !b->st) b->st = write_all(b->fd, b->chunk, b->used, b->path);
  b->used = 0;
}

static void fd_append(ProtobufCBuffer *buf, size_t len, const uint8_t *data) {
  fd_buffer *b = (fd_buffer *)buf;
  if (b->st) return;
  if (len >= sizeof b->chunk) {
    fd_flush(b);
    if (!b->st) b->st = write_all(b->fd, data, len, b->path);
    return;
  }
  if (b->used + len > sizeof b->chunk) fd_flush(b);
  memcpy(b->chunk + b->used, data, len);
  b->used += len;
}

static int same_file(const char *a, const char *b) {
  struct stat sa, sb;
  if (!a || !b || stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

nn_status nn_model_save(const nn_model *m, const char *path, const nn_save_options *opt) {
  nn_status st = NN_OK;
  save_ctx c;
  Onnx__ModelProto *mp = NULL;
  atomic_file mf = {NULL, -1}, df = {NULL, -1};
  char *data_path = NULL, *data_loc = NULL;
  fd_buffer *fb = NULL;
  memset(&c, 0, sizeof c);
  int64_t threshold = opt && opt->external_threshold > 0 ? opt->external_threshold
                                                          : PROTOBUF_LIMIT;
  if (!path || !*path) return nn_errorf(NN_ERR_INVALID, "no output path");
  if (!(opt && opt->allow_overwrite_input) && m->path && same_file(m->path, path))
    return nn_errorf(NN_ERR_INVALID, "%s: refusing to overwrite the model's input file "
                     "(set allow_overwrite_input)", path);
  if (init_bytes(m->graph) > (uint64_t)threshold) {
    size_t n = strlen(path);
    if (!(data_path = malloc(n + 6))) return OOM();
    memcpy(data_path, path, n);
    memcpy(data_path + n, ".data", 6);
    data_loc = (char *)base_name(data_path);
    c.ext_location = data_loc;
  }
  NN_TRY(build_model(&c, m, &mp));
  size_t n = onnx__model_proto__get_packed_size(mp);
  if ((int64_t)n > PROTOBUF_LIMIT) {
    st = nn_errorf(NN_ERR_UNSUPPORTED, "%s: model serializes to %zu bytes, over the 2 GB "
                   "protobuf limit", path, n);
    goto done;
  }
  if (c.n_ext) {
    NN_TRY(atomic_open(data_path, &df));
    uint64_t pos = 0;
    static const uint8_t zeros[EXTERNAL_ALIGN];
    for (size_t i = 0; i < c.n_ext; i++) {
      while (pos < c.ext[i].offset) {
        size_t pad = (size_t)(c.ext[i].offset - pos);
        if (pad > sizeof zeros) pad = sizeof zeros;
        NN_TRY(write_all(df.fd, zeros, pad, data_path));
        pos += pad;
      }
      NN_TRY(write_all(df.fd, c.ext[i].t->data, c.ext[i].t->nbytes, data_path));
      pos += c.ext[i].t->nbytes;
    }
    NN_TRY(atomic_finish(&df, data_path));
  }
  NN_TRY(atomic_open(path, &mf));
  if (!(fb = calloc(1, sizeof *fb))) {
    st = OOM();
    goto done;
  }
  fb->base.append = fd_append;
  fb->fd = mf.fd;
  fb->path = path;
  onnx__model_proto__pack_to_buffer(mp, &fb->base);
  fd_flush(fb);
  NN_TRY(fb->st);
  NN_TRY(atomic_finish(&mf, path));
  if (c.n_ext) NN_TRY(atomic_commit(&df, data_path));
  NN_TRY(atomic_commit(&mf, path));
  fsync_dir(path);
done:
  atomic_abort(&df);
  atomic_abort(&mf);
  free(fb);
  free(data_path);
  sc_free(&c);
  return st;
}
