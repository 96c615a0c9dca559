/*
 * onnx_load.c - ModelProto -> graph IR (nn_model_load, nn_model_load_buffer).
 * Files are mapped, checked at the wire level, unpacked by protobuf-c, and converted;
 * raw_data buffers are taken over from the unpacked message rather than copied, and
 * the mapping's pages are released as the unpack copies them out (peak memory of a
 * load stays near one copy of the weights).
 * Unmodeled fields are packed into the IR's shells so that saving preserves them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/dtype.h"
#include "onnx/onnx_internal.h"
#include "onnx/onnx_io.h"

#define COUNT(a) (sizeof(a) / sizeof *(a))

/* Field numbers the IR models, per message; everything else goes into a shell. */
static const uint32_t k_model_modeled[] = {1, 2, 3, 4, 5, 6, 7, 8, 14};
static const uint32_t k_graph_modeled[] = {1, 2, 5, 10, 11, 12, 13};
static const uint32_t k_node_modeled[] = {1, 2, 3, 4, 5, 6, 7};

typedef struct load_ctx {
  const char *base_dir; /* external data folder, NULL: refused */
} load_ctx;

static nn_status load_graph(const load_ctx *c, Onnx__GraphProto *gp, nn_graph *g);

static char *dup_or_null(const char *s, int *oom) {
  if (!s) return NULL;
  char *p = strdup(s);
  if (!p) *oom = 1;
  return p;
}

/* Type and doc of a ValueInfoProto into tensor t. */
static nn_status apply_value_info(const Onnx__ValueInfoProto *vi, nn_tensor *t) {
  if (vi->doc_string && !t->doc_string && !(t->doc_string = strdup(vi->doc_string)))
    return nn_errorf(NN_ERR_NOMEM, "out of memory");
  const Onnx__TypeProto *tp = vi->type;
  if (!tp) return NN_OK;
  /* When a name is listed more than once, the last type wins, whole. */
  for (int i = 0; i < NN_MAX_DIMS; i++) {
    free(t->dim_param[i]);
    t->dim_param[i] = NULL;
  }
  t->dtype = NN_UNDEFINED;
  t->ndim = -1;
  t->flags &= ~(unsigned)NN_T_SHAPE_KNOWN;
  free(t->type_shell.data);
  t->type_shell.data = NULL;
  t->type_shell.len = 0;
  if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type) {
    /* Sequence / map / optional / sparse: kept verbatim. */
    t->type_shell.data = NULL;
    t->type_shell.len = protobuf_c_message_get_packed_size(&tp->base);
    if (t->type_shell.len) {
      if (!(t->type_shell.data = malloc(t->type_shell.len)))
        return nn_errorf(NN_ERR_NOMEM, "out of memory");
      protobuf_c_message_pack(&tp->base, t->type_shell.data);
    }
    return NN_OK;
  }
  const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
  int code = tt->has_elem_type ? tt->elem_type : 0;
  if (code != 0 && !nn_dtype_valid(code))
    return nn_errorf(NN_ERR_UNSUPPORTED, "tensor '%s': unsupported data type %d", t->name,
                     code);
  t->dtype = (nn_dtype)code;
  if (tt->shape) {
    if (tt->shape->n_dim > NN_MAX_DIMS)
      return nn_errorf(NN_ERR_UNSUPPORTED, "tensor '%s': rank %zu exceeds the maximum of %d",
                       t->name, tt->shape->n_dim, NN_MAX_DIMS);
    for (size_t i = 0; i < tt->shape->n_dim; i++) {
      const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
      t->dims[i] = -1;
      if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
        if (d->dim_value < 0)
          return nn_errorf(NN_ERR_INVALID, "tensor '%s': negative dimension %lld", t->name,
                           (long long)d->dim_value);
        t->dims[i] = d->dim_value;
      } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                 d->dim_param) {
        if (!(t->dim_param[i] = strdup(d->dim_param)))
          return nn_errorf(NN_ERR_NOMEM, "out of memory");
      }
    }
    t->ndim = (int)tt->shape->n_dim;
  }
  t->flags |= NN_T_SHAPE_KNOWN;
  return NN_OK;
}

static nn_status load_value_infos(nn_graph *g, size_t n, Onnx__ValueInfoProto **vis,
                                  unsigned flag, int **list, int *count) {
  nn_status st;
  for (size_t i = 0; i < n; i++) {
    const char *name = vis[i]->name ? vis[i]->name : "";
    int idx = nn_graph_intern(g, name);
    if (idx < 0) return nn_errorf(NN_ERR_NOMEM, "out of memory");
    nn_tensor *t = &g->tensors[idx];
    if ((st = apply_value_info(vis[i], t))) return st;
    t->flags |= flag;
    if ((st = nn_graph_list_push(list, count, idx))) return st;
  }
  return NN_OK;
}

/* Type of an attribute written without the 'type' field (IR version 1 files). */
static int infer_attr_type(const Onnx__AttributeProto *ap) {
  if (ap->has_f) return NN_ATTR_FLOAT;
  if (ap->has_i) return NN_ATTR_INT;
  if (ap->has_s) return NN_ATTR_STRING;
  if (ap->t) return NN_ATTR_TENSOR;
  if (ap->g) return NN_ATTR_GRAPH;
  if (ap->sparse_tensor) return NN_ATTR_SPARSE_TENSOR;
  if (ap->tp) return NN_ATTR_TYPE_PROTO;
  if (ap->n_floats) return NN_ATTR_FLOATS;
  if (ap->n_ints) return NN_ATTR_INTS;
  if (ap->n_strings) return NN_ATTR_STRINGS;
  if (ap->n_tensors) return NN_ATTR_TENSORS;
  if (ap->n_graphs) return NN_ATTR_GRAPHS;
  if (ap->n_sparse_tensors) return NN_ATTR_SPARSE_TENSORS;
  if (ap->n_type_protos) return NN_ATTR_TYPE_PROTOS;
  return NN_ATTR_UNDEFINED;
}

/* AttributeProto field number holding the value of each attribute type. */
static uint32_t attr_value_field(int type) {
  switch (type) {
  case NN_ATTR_FLOAT: return 2;
  case NN_ATTR_INT: return 3;
  case NN_ATTR_STRING: return 4;
  case NN_ATTR_TENSOR: return 5;
  case NN_ATTR_GRAPH: return 6;
  case NN_ATTR_FLOATS: return 7;
  case NN_ATTR_INTS: return 8;
  case NN_ATTR_STRINGS: return 9;
  case NN_ATTR_TENSORS: return 10;
  case NN_ATTR_GRAPHS: return 11;
  }
  return 0;
}

static nn_status load_attr(const load_ctx *c, Onnx__AttributeProto *ap, nn_graph *g,
                           nn_attr *a) {
  nn_status st = NN_OK;
  int oom = 0;
  memset(a, 0, sizeof *a);
  a->name = strdup(ap->name ? ap->name : "");
  a->ref_attr_name = dup_or_null(ap->ref_attr_name, &oom);
  a->doc_string = dup_or_null(ap->doc_string, &oom);
  if (!a->name || oom) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  int type = ap->has_type ? (int)ap->type : infer_attr_type(ap);
  a->type = (nn_attr_type)type;
  switch (type) {
  case NN_ATTR_FLOAT: a->f = ap->f; break;
  case NN_ATTR_INT: a->i = ap->i; break;
  case NN_ATTR_STRING:
    a->s.len = ap->s.len;
    if (!(a->s.data = nn_strndup((const char *)ap->s.data, ap->s.len))) goto oom;
    break;
  case NN_ATTR_FLOATS:
    a->n = (int)ap->n_floats;
    if (!(a->floats = malloc((ap->n_floats ? ap->n_floats : 1) * sizeof(float)))) goto oom;
    if (ap->n_floats) memcpy(a->floats, ap->floats, ap->n_floats * sizeof(float));
    break;
  case NN_ATTR_INTS:
    a->n = (int)ap->n_ints;
    if (!(a->ints = malloc((ap->n_ints ? ap->n_ints : 1) * sizeof(int64_t)))) goto oom;
    if (ap->n_ints) memcpy(a->ints, ap->ints, ap->n_ints * sizeof(int64_t));
    break;
  case NN_ATTR_STRINGS:
    if (!(a->strings = calloc(ap->n_strings ? ap->n_strings : 1, sizeof(nn_bytes)))) goto oom;
    for (size_t i = 0; i < ap->n_strings; i++) {
      a->n = (int)i + 1;
      a->strings[i].len = ap->strings[i].len;
      if (!(a->strings[i].data =
                nn_strndup((const char *)ap->strings[i].data, ap->strings[i].len)))
        goto oom;
    }
    a->n = (int)ap->n_strings;
    break;
  case NN_ATTR_TENSOR:
  case NN_ATTR_TENSORS: {
    size_t n = type == NN_ATTR_TENSOR ? 1 : ap->n_tensors;
    if (type == NN_ATTR_TENSOR && !ap->t)
      return nn_errorf(NN_ERR_INVALID, "attribute '%s' of type TENSOR has no tensor",
                       a->name);
    if (!(a->tensors = calloc(n ? n : 1, sizeof(nn_tensor)))) goto oom;
    for (size_t i = 0; i < n; i++) {
      Onnx__TensorProto *tp = type == NN_ATTR_TENSOR ? ap->t : ap->tensors[i];
      if ((st = nn_onnx_load_tensor(tp, c->base_dir, 1, "tensor", &a->tensors[i])))
        return nn_error_prefix(st, "attribute '%s'", a->name);
      a->tensors[i].flags = 0; /* a value, not a graph initializer */
      a->n = (int)i + 1;
    }
    a->n = (int)n;
    break;
  }
  case NN_ATTR_GRAPH:
  case NN_ATTR_GRAPHS: {
    size_t n = type == NN_ATTR_GRAPH ? 1 : ap->n_graphs;
    if (type == NN_ATTR_GRAPH && !ap->g)
      return nn_errorf(NN_ERR_INVALID, "attribute '%s' of type GRAPH has no graph", a->name);
    if (!(a->graphs = calloc(n ? n : 1, sizeof(nn_graph *)))) goto oom;
    for (size_t i = 0; i < n; i++) {
      if (!(a->graphs[i] = nn_graph_new(g))) goto oom;
      a->n = (int)i + 1;
      if ((st = load_graph(c, type == NN_ATTR_GRAPH ? ap->g : ap->graphs[i], a->graphs[i])))
        return nn_error_prefix(st, "attribute '%s'", a->name);
    }
    a->n = (int)n;
    break;
  }
  case NN_ATTR_SPARSE_TENSOR:
  case NN_ATTR_SPARSE_TENSORS:
  case NN_ATTR_TYPE_PROTO:
  case NN_ATTR_TYPE_PROTOS:
    /* Not modeled: the whole AttributeProto is kept. */
    a->n = type == NN_ATTR_SPARSE_TENSORS  ? (int)ap->n_sparse_tensors
           : type == NN_ATTR_TYPE_PROTOS ? (int)ap->n_type_protos
                                          : 1;
    return nn_onnx_shell_pack(&ap->base, NULL, 0, &a->shell);
  default:
    return nn_errorf(NN_ERR_UNSUPPORTED, "attribute '%s' has unknown type %d", a->name, type);
  }
  /* Shell: whatever is set besides name, docs, type and this type's value field. */
  uint32_t modeled[] = {1, 13, 20, 21, attr_value_field(type)};
  return nn_onnx_shell_pack(&ap->base, modeled, COUNT(modeled), &a->shell);
oom:
  return nn_errorf(NN_ERR_NOMEM, "out of memory");
}

static nn_status load_node(const load_ctx *c, Onnx__NodeProto *np, nn_graph *g, int index) {
  nn_status st = NN_OK;
  int *ins = NULL, *outs = NULL;
  char label[320];
  if (np->n_input > INT32_MAX / 2 || np->n_output > INT32_MAX / 2 ||
      np->n_attribute > INT32_MAX / 2)
    return nn_errorf(NN_ERR_INVALID, "node #%d: too many inputs/outputs", index);
  ins = malloc((np->n_input + 1) * sizeof(int));
  outs = malloc((np->n_output + 1) * sizeof(int));
  if (!ins || !outs) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (size_t k = 0; k < np->n_input + np->n_output; k++) {
    const char *nm = k < np->n_input ? np->input[k] : np->output[k - np->n_input];
    int idx = -1;
    if (nm && *nm && (idx = nn_graph_intern(g, nm)) < 0) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    if (k < np->n_input)
      ins[k] = idx;
    else
      outs[k - np->n_input] = idx;
  }
  int ni = nn_graph_add_node(g, np->op_type ? np->op_type : "", np->domain, np->name,
                             (int)np->n_input, ins, (int)np->n_output, outs);
  if (ni < 0) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  nn_node *n = &g->nodes[ni];
  if (np->doc_string && !(n->doc_string = strdup(np->doc_string))) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  NN_TRY(nn_onnx_shell_pack(&np->base, k_node_modeled, COUNT(k_node_modeled), &n->shell));
  if (np->n_attribute) {
    if (!(n->attrs = calloc(np->n_attribute, sizeof(nn_attr)))) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    for (size_t k = 0; k < np->n_attribute; k++) {
      /* n_attrs counts attributes to free, including one that failed half-way. */
      n->n_attrs = (int)k + 1;
      st = load_attr(c, np->attribute[k], g, &n->attrs[k]);
      n = &g->nodes[ni];
      if (st) {
        nn_error_prefix(st, "%s", nn_node_label(g, ni, label, sizeof label));
        goto done;
      }
    }
  }
done:
  free(ins);
  free(outs);
  return st;
}

static nn_status load_graph(const load_ctx *c, Onnx__GraphProto *gp, nn_graph *g) {
  nn_status st = NN_OK;
  if (gp->name && !(g->name = strdup(gp->name))) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  if (gp->doc_string && !(g->doc_string = strdup(gp->doc_string)))
    return nn_errorf(NN_ERR_NOMEM, "out of memory");
  NN_TRY(load_value_infos(g, gp->n_input, gp->input, NN_T_INPUT, &g->inputs, &g->n_inputs));
  NN_TRY(load_value_infos(g, gp->n_output, gp->output, NN_T_OUTPUT, &g->outputs,
                          &g->n_outputs));
  NN_TRY(load_value_infos(g, gp->n_value_info, gp->value_info, NN_T_VALUE_INFO,
                          &g->value_infos, &g->n_value_infos));
  for (size_t i = 0; i < gp->n_initializer; i++) {
    Onnx__TensorProto *tp = gp->initializer[i];
    const char *name = tp->name ? tp->name : "";
    int idx = nn_graph_intern(g, name);
    if (idx < 0) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    if (g->tensors[idx].flags & NN_T_INITIALIZER) {
      st = nn_errorf(NN_ERR_INVALID, "duplicate initializer '%s'", name);
      goto done;
    }
    nn_tensor tmp;
    NN_TRY(nn_onnx_load_tensor(tp, c->base_dir, 1, "initializer", &tmp));
    nn_tensor *t = &g->tensors[idx];
    /* The data decides dtype and shape; names, docs and value types stay. */
    t->dtype = tmp.dtype;
    t->ndim = tmp.ndim;
    memcpy(t->dims, tmp.dims, sizeof t->dims);
    for (int k = 0; k < NN_MAX_DIMS; k++) {
      free(t->dim_param[k]);
      t->dim_param[k] = NULL;
    }
    t->data = tmp.data;
    t->nbytes = tmp.nbytes;
    tmp.data = NULL;
    t->flags |= NN_T_INITIALIZER | NN_T_SHAPE_KNOWN;
    t->init_shell = tmp.init_shell;
    tmp.init_shell.data = NULL;
    tmp.init_shell.len = 0;
    if (tmp.doc_string) {
      if (t->flags & (NN_T_INPUT | NN_T_OUTPUT | NN_T_VALUE_INFO)) {
        /* The value info owns t->doc_string; keep the initializer's in its shell. */
        Onnx__TensorProto only = ONNX__TENSOR_PROTO__INIT;
        only.doc_string = tmp.doc_string;
        size_t extra = onnx__tensor_proto__get_packed_size(&only);
        uint8_t *p = realloc(t->init_shell.data, t->init_shell.len + extra);
        if (!p) {
          nn_tensor_clear(&tmp);
          st = nn_errorf(NN_ERR_NOMEM, "out of memory");
          goto done;
        }
        onnx__tensor_proto__pack(&only, p + t->init_shell.len);
        t->init_shell.data = p;
        t->init_shell.len += extra;
      } else {
        free(t->doc_string);
        t->doc_string = tmp.doc_string;
        tmp.doc_string = NULL;
      }
    }
    nn_tensor_clear(&tmp);
    NN_TRY(nn_graph_list_push(&g->inits, &g->n_inits, idx));
  }
  for (size_t i = 0; i < gp->n_node; i++) NN_TRY(load_node(c, gp->node[i], g, (int)i));
  NN_TRY(nn_onnx_shell_pack(&gp->base, k_graph_modeled, COUNT(k_graph_modeled), &g->shell));
  NN_TRY(nn_graph_build_maps(g, NULL));
done:
  if (st && g->name && !g->parent) nn_error_prefix(st, "graph '%s'", g->name);
  return st;
}

static nn_status load_model(const load_ctx *c, Onnx__ModelProto *mp, nn_model *m) {
  nn_status st = NN_OK;
  int oom = 0;
  m->ir_version = mp->has_ir_version ? mp->ir_version : 0;
  m->model_version = mp->has_model_version ? mp->model_version : 0;
  m->producer_name = dup_or_null(mp->producer_name, &oom);
  m->producer_version = dup_or_null(mp->producer_version, &oom);
  m->domain = dup_or_null(mp->domain, &oom);
  m->doc_string = dup_or_null(mp->doc_string, &oom);
  if (oom) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  if (mp->n_opset_import) {
    if (!(m->opsets = calloc(mp->n_opset_import, sizeof *m->opsets)))
      return nn_errorf(NN_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < mp->n_opset_import; i++) {
      const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
      m->n_opsets = (int)i + 1;
      if (!(m->opsets[i].domain = strdup(o->domain ? o->domain : "")))
        return nn_errorf(NN_ERR_NOMEM, "out of memory");
      m->opsets[i].version = o->has_version ? o->version : 0;
    }
  }
  if (mp->n_metadata_props) {
    m->meta_keys = calloc(mp->n_metadata_props, sizeof(char *));
    m->meta_values = calloc(mp->n_metadata_props, sizeof(char *));
    if (!m->meta_keys || !m->meta_values) return nn_errorf(NN_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < mp->n_metadata_props; i++) {
      const Onnx__StringStringEntryProto *e = mp->metadata_props[i];
      m->n_meta = (int)i + 1;
      m->meta_keys[i] = strdup(e->key ? e->key : "");
      m->meta_values[i] = strdup(e->value ? e->value : "");
      if (!m->meta_keys[i] || !m->meta_values[i])
        return nn_errorf(NN_ERR_NOMEM, "out of memory");
    }
  }
  if (!mp->graph) return nn_errorf(NN_ERR_INVALID, "the model has no graph");
  NN_TRY(load_graph(c, mp->graph, m->graph));
  NN_TRY(nn_onnx_shell_pack(&mp->base, k_model_modeled, COUNT(k_model_modeled), &m->shell));
done:
  return st;
}

/* Allocator of the unpack of a mapped file. protobuf-c allocates each bytes field
 * (raw_data) right before copying it out of the buffer, so on every large allocation
 * the pages of the mapping faulted in so far are dropped (MADV_DONTNEED on a read-only
 * private file mapping only unmaps them; they are re-read from the page cache when
 * touched again). The mapping's resident part then stays within about one tensor
 * instead of growing to the whole file next to the unpacked copy. */
typedef struct map_release {
  void *map;
  size_t len;
} map_release;

#define NN_MAP_RELEASE_MIN ((size_t)1 << 20)

static void *map_release_alloc(void *data, size_t size) {
  const map_release *r = data;
  if (size >= NN_MAP_RELEASE_MIN) (void)madvise(r->map, r->len, MADV_DONTNEED);
  return malloc(size);
}

static void map_release_free(void *data, void *p) {
  (void)data;
  free(p);
}

static nn_status load_buffer(const void *buf, size_t len, const char *base_dir,
                             const char *label, ProtobufCAllocator *alloc, nn_model **out) {
  nn_status st = NN_OK;
  Onnx__ModelProto *mp = NULL;
  nn_model *m = NULL;
  if (!label) label = "<buffer>";
  *out = NULL;
  if (!buf && len) return nn_errorf(NN_ERR_INVALID, "%s: NULL buffer", label);
  if (len > INT32_MAX) {
    st = nn_errorf(NN_ERR_PARSE, "model larger than 2 GB (protobuf limit)");
    goto done;
  }
  NN_TRY(nn_onnx_wire_check(buf, len, &onnx__model_proto__descriptor));
  mp = onnx__model_proto__unpack(alloc, len, buf);
  if (!mp) {
    st = nn_errorf(NN_ERR_PARSE, "not a valid ONNX model (protobuf parse failed)");
    goto done;
  }
  if (!(m = nn_model_new())) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  if (base_dir && !(m->dir = strdup(base_dir))) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  load_ctx c = {base_dir};
  NN_TRY(load_model(&c, mp, m));
done:
  if (mp) onnx__model_proto__free_unpacked(mp, alloc);
  if (st) {
    nn_model_free(m);
    return nn_error_prefix(st, "%s", label);
  }
  *out = m;
  return NN_OK;
}

nn_status nn_model_load_buffer(const void *buf, size_t len, const char *base_dir,
                               const char *label, nn_model **out) {
  return load_buffer(buf, len, base_dir, label, NULL, out);
}

nn_status nn_model_load(const char *path, nn_model **out) {
  nn_status st = NN_OK;
  void *map = MAP_FAILED;
  size_t len = 0;
  char *dir = NULL;
  map_release mr = {NULL, 0};
  ProtobufCAllocator alloc = {map_release_alloc, map_release_free, &mr};
  *out = NULL;
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
    st = nn_errorf(NN_ERR_PARSE, "%s: larger than 2 GB, the protobuf limit", path);
    goto done;
  }
  len = (size_t)sb.st_size;
  if (len) {
    map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      st = nn_errorf(NN_ERR_IO, "%s: %s", path, strerror(errno));
      goto done;
    }
  }
  if (!(dir = nn_onnx_dirname(path))) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  mr.map = map;
  mr.len = len;
  NN_TRY(load_buffer(len ? map : "", len, dir, path, len ? &alloc : NULL, out));
  if (!((*out)->path = strdup(path))) {
    nn_model_free(*out);
    *out = NULL;
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
  }
done:
  if (map != MAP_FAILED) munmap(map, len);
  if (fd >= 0) close(fd);
  free(dir);
  return st;
}
