/*
 * file_list.c - which files a folder or list-file dataset holds: sorted folder walks
 * (sub-folders as classes, like torchvision's ImageFolder) and "PATH<TAB>LABEL" lists.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/graph.h"
#include "core/io.h"
#include "data/dataset.h"

nn_status nn_error_record(nn_status st, const char *path, int64_t record) {
  char old[1024];
  snprintf(old, sizeof old, "%s", nn_last_error());
  size_t n = strlen(path);
  if (!strncmp(old, path, n) && !strncmp(old + n, ": ", 2))
    return nn_errorf(st, "%s: record %lld: %s", path, (long long)record, old + n + 2);
  return nn_errorf(st, "%s: record %lld: %s", path, (long long)record, old);
}

int nn_is_dir(const char *path) {
  struct stat sb;
  return !stat(path, &sb) && S_ISDIR(sb.st_mode);
}

void nn_file_list_free(nn_file_list *l) {
  for (int64_t i = 0; i < l->n; i++) {
    free(l->paths[i]);
    if (l->labels) free(l->labels[i]);
  }
  free(l->paths);
  free(l->labels);
  for (int i = 0; i < l->n_classes; i++) free(l->classes[i]);
  free(l->classes);
  free(l->class_id);
  memset(l, 0, sizeof *l);
}

/* Growable array of strings. */
typedef struct strvec {
  int64_t n, cap;
  char **v;
} strvec;

static int strvec_push(strvec *s, char *str) {
  if (!str) return -1;
  if (s->n == s->cap) {
    int64_t cap = s->cap ? s->cap * 2 : 64;
    char **nv = realloc(s->v, sizeof *nv * (size_t)cap);
    if (!nv) {
      free(str);
      return -1;
    }
    s->v = nv;
    s->cap = cap;
  }
  s->v[s->n++] = str;
  return 0;
}

static void strvec_free(strvec *s) {
  for (int64_t i = 0; i < s->n; i++) free(s->v[i]);
  free(s->v);
  memset(s, 0, sizeof *s);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_ext(const char *name, const char *const *exts) {
  const char *dot = strrchr(name, '.');
  if (!dot) return 0;
  for (int i = 0; exts[i]; i++)
    if (!strcasecmp(dot, exts[i])) return 1;
  return 0;
}

static char *join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + b + 2);
  if (!p) return NULL;
  memcpy(p, dir, a);
  size_t o = a;
  if (a && dir[a - 1] != '/') p[o++] = '/';
  memcpy(p + o, name, b + 1);
  return p;
}

/* Sorted entries of dir: files with a wanted extension and sub-folders. */
static nn_status list_one(const char *dir, const char *const *exts, strvec *files, strvec *dirs) {
  DIR *d = opendir(dir);
  if (!d) return nn_errorf(NN_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
  nn_status st = NN_OK;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char *full = join(dir, e->d_name);
    if (!full) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      break;
    }
    struct stat sb;
    if (stat(full, &sb)) {
      free(full);
      continue; /* dangling link */
    }
    int r = 0;
    if (S_ISDIR(sb.st_mode)) r = dirs ? strvec_push(dirs, nn_strdup(e->d_name)) : 0;
    else if (S_ISREG(sb.st_mode) && has_ext(e->d_name, exts)) r = strvec_push(files, nn_strdup(e->d_name));
    free(full);
    if (r) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      break;
    }
  }
  closedir(d);
  if (files->n) qsort(files->v, (size_t)files->n, sizeof *files->v, cmp_str);
  if (dirs && dirs->n) qsort(dirs->v, (size_t)dirs->n, sizeof *dirs->v, cmp_str);
  return st;
}

/* Files under dir, recursively: a folder's own files first, then its sub-folders. */
static nn_status walk(const char *dir, const char *const *exts, strvec *out, int depth) {
  strvec files = {0}, dirs = {0};
  nn_status st = NN_OK;
  if (depth > 32) return nn_errorf(NN_ERR_INVALID, "%s: folders nested too deep", dir);
  NN_TRY(list_one(dir, exts, &files, &dirs));
  for (int64_t i = 0; i < files.n; i++)
    if (strvec_push(out, join(dir, files.v[i]))) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
  for (int64_t i = 0; i < dirs.n; i++) {
    char *sub = join(dir, dirs.v[i]);
    if (!sub) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    st = walk(sub, exts, out, depth + 1);
    free(sub);
    if (st) goto done;
  }
done:
  strvec_free(&files);
  strvec_free(&dirs);
  return st;
}

nn_status nn_file_list_dir(const char *dir, const char *const *exts, nn_file_list *out) {
  strvec files = {0}, dirs = {0}, all = {0};
  nn_status st = NN_OK;
  memset(out, 0, sizeof *out);
  NN_TRY(list_one(dir, exts, &files, &dirs));
  if (dirs.n == 0) {
    out->n = files.n;
    out->paths = calloc((size_t)files.n + 1, sizeof *out->paths);
    if (!out->paths) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    for (int64_t i = 0; i < files.n; i++)
      if (!(out->paths[i] = join(dir, files.v[i]))) {
        st = nn_errorf(NN_ERR_NOMEM, "out of memory");
        goto done;
      }
  } else {
    /* Class folders: every sub-folder is a class, in sorted order. */
    int64_t *ids = NULL;
    out->classes = calloc((size_t)dirs.n, sizeof *out->classes);
    if (!out->classes) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    for (int64_t c = 0; c < dirs.n; c++) {
      out->classes[c] = dirs.v[c];
      dirs.v[c] = NULL;
      out->n_classes++;
      int64_t before = all.n;
      char *sub = join(dir, out->classes[c]);
      if (!sub) {
        st = nn_errorf(NN_ERR_NOMEM, "out of memory");
        goto done;
      }
      st = walk(sub, exts, &all, 1);
      free(sub);
      if (st) goto done;
      int64_t *ni = realloc(ids, sizeof *ids * (size_t)(all.n + 1));
      if (!ni) {
        free(ids);
        st = nn_errorf(NN_ERR_NOMEM, "out of memory");
        goto done;
      }
      ids = ni;
      for (int64_t i = before; i < all.n; i++) ids[i] = c;
    }
    out->class_id = ids;
    out->paths = all.v;
    out->n = all.n;
    memset(&all, 0, sizeof all);
  }
  if (out->n == 0)
    st = nn_errorf(NN_ERR_INVALID, "%s: no files with a supported extension (%s...)", dir, exts[0]);
done:
  strvec_free(&files);
  strvec_free(&dirs);
  strvec_free(&all);
  if (st) nn_file_list_free(out);
  return st;
}

nn_status nn_file_list_read(const char *file, const char *base, nn_file_list *out) {
  nn_status st = NN_OK;
  char *buf = NULL, *folder = NULL;
  size_t len;
  strvec paths = {0}, labels = {0};
  memset(out, 0, sizeof *out);
  NN_TRY(nn_read_file(file, (void **)&buf, &len));
  if (!base) {
    folder = nn_strdup(file);
    if (!folder) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    char *slash = strrchr(folder, '/');
    if (slash) slash[1] = 0;
    else strcpy(folder, ".");
    base = folder;
  }
  int any_label = 0;
  int64_t line_no = 0;
  for (char *line = buf, *next; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    line_no++;
    size_t n = strlen(line);
    if (n && line[n - 1] == '\r') line[--n] = 0;
    if (!n || line[0] == '#') continue;
    char *sep = strchr(line, '\t');
    if (!sep) sep = strchr(line, ' ');
    char *lab = NULL;
    if (sep) {
      *sep = 0;
      lab = sep + 1;
      any_label = 1;
    }
    if (!*line) {
      st = nn_errorf(NN_ERR_PARSE, "%s: line %lld: empty path", file, (long long)line_no);
      goto done;
    }
    char *full = line[0] == '/' ? nn_strdup(line) : join(base, line);
    if (strvec_push(&paths, full) || strvec_push(&labels, nn_strdup(lab ? lab : ""))) {
      st = nn_errorf(NN_ERR_NOMEM, "out of memory");
      goto done;
    }
    if (!lab) { /* no label on this line: keep NULL */
      free(labels.v[labels.n - 1]);
      labels.v[labels.n - 1] = NULL;
    }
  }
  if (paths.n == 0) {
    st = nn_errorf(NN_ERR_INVALID, "%s: lists no files", file);
    goto done;
  }
  out->n = paths.n;
  out->paths = paths.v;
  memset(&paths, 0, sizeof paths);
  if (any_label) {
    out->labels = labels.v;
    memset(&labels, 0, sizeof labels);
  }
done:
  strvec_free(&paths);
  strvec_free(&labels);
  free(buf);
  free(folder);
  if (st) nn_file_list_free(out);
  return st;
}

int nn_file_list_int_labels(const nn_file_list *l) {
  if (!l->labels) return -1;
  for (int64_t i = 0; i < l->n; i++) {
    const char *s = l->labels[i];
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    (void)strtoll(s, &end, 10);
    while (*end == ' ' || *end == '\t') end++;
    if (end == s || *end || errno) return 0;
  }
  return 1;
}

nn_status nn_label_int(nn_array *a, int64_t v) {
  memset(a, 0, sizeof *a);
  a->data = malloc(sizeof(int64_t));
  if (!a->data) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  *(int64_t *)a->data = v;
  a->dtype = NN_INT64;
  a->ndim = 1;
  a->dims[0] = 1;
  a->nbytes = sizeof(int64_t);
  return NN_OK;
}

nn_status nn_label_text(nn_array *a, const char *s) {
  memset(a, 0, sizeof *a);
  nn_bytes *b = calloc(1, sizeof *b);
  if (!b) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  b->len = strlen(s);
  b->data = nn_strdup(s);
  if (!b->data) {
    free(b);
    return nn_errorf(NN_ERR_NOMEM, "out of memory");
  }
  a->data = b;
  a->dtype = NN_STRING;
  a->ndim = 1;
  a->dims[0] = 1;
  a->nbytes = sizeof(nn_bytes);
  return NN_OK;
}
