/*
 * text.c - the TSV reader: one sentence per line -> BERT token ids. The tokenizer is
 * BERT's uncased one (clean, split CJK, lowercase, strip accents, split punctuation,
 * WordPiece greedy longest-match with "##" continuations) over the model's vocab.txt.
 * Everything is tokenized at open, so a bad line fails early, named by its number.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "core/io.h"
#include "data/dataset.h"

/* ---- vocabulary: token -> id (line number), open addressing ---- */

typedef struct vocab {
  char *buf;       /* the file, tokens NUL-terminated in place */
  char **tok;      /* id -> token */
  int64_t n;
  int64_t *slot;   /* hash slots holding id + 1 (0 empty) */
  size_t cap;
} vocab;

static uint64_t hash_str(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
  return h;
}

static int64_t vocab_find(const vocab *v, const char *s, size_t n) {
  for (size_t i = hash_str(s, n) & (v->cap - 1);; i = (i + 1) & (v->cap - 1)) {
    int64_t id = v->slot[i] - 1;
    if (id < 0) return -1;
    if (strlen(v->tok[id]) == n && !memcmp(v->tok[id], s, n)) return id;
  }
}

static void vocab_free(vocab *v) {
  free(v->buf);
  free(v->tok);
  free(v->slot);
  memset(v, 0, sizeof *v);
}

static nn_status vocab_load(const char *path, vocab *v) {
  size_t len;
  memset(v, 0, sizeof *v);
  nn_status st = nn_read_file(path, (void **)&v->buf, &len);
  if (st) return st;
  int64_t lines = 1;
  for (size_t i = 0; i < len; i++) lines += v->buf[i] == '\n';
  v->tok = malloc(sizeof *v->tok * (size_t)lines);
  v->cap = 16;
  while (v->cap < (size_t)lines * 2) v->cap <<= 1;
  v->slot = calloc(v->cap, sizeof *v->slot);
  if (!v->tok || !v->slot) {
    vocab_free(v);
    return nn_errorf(NN_ERR_NOMEM, "%s: out of memory", path);
  }
  char *p = v->buf;
  while (p < v->buf + len) {
    char *e = strchr(p, '\n');
    if (!e) e = v->buf + len;
    *e = 0;
    size_t n = strlen(p);
    if (n && p[n - 1] == '\r') p[--n] = 0;
    v->tok[v->n] = p;
    if (vocab_find(v, p, n) < 0) { /* first occurrence wins */
      size_t i = hash_str(p, n) & (v->cap - 1);
      while (v->slot[i]) i = (i + 1) & (v->cap - 1);
      v->slot[i] = v->n + 1;
    }
    v->n++;
    p = e + 1;
  }
  if (v->n == 0) {
    vocab_free(v);
    return nn_errorf(NN_ERR_PARSE, "%s: empty vocabulary", path);
  }
  return NN_OK;
}

/* ---- UTF-8 and the few Unicode properties BERT's basic tokenizer uses ---- */

/* Decode one code point at s (advancing *i); invalid bytes decode as U+FFFD. */
static uint32_t utf8_next(const char *s, size_t n, size_t *i) {
  const uint8_t *u = (const uint8_t *)s;
  uint8_t c = u[*i];
  int extra = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
  if (extra < 0 || *i + (size_t)extra >= n + (extra ? 0 : 1)) {
    (*i)++;
    return 0xfffd;
  }
  uint32_t cp = extra ? c & (0x3f >> extra) : c;
  for (int k = 1; k <= extra; k++) {
    if ((u[*i + (size_t)k] & 0xc0) != 0x80) {
      (*i)++;
      return 0xfffd;
    }
    cp = cp << 6 | (u[*i + (size_t)k] & 0x3f);
  }
  *i += (size_t)extra + 1;
  return cp;
}

static size_t utf8_put(uint32_t cp, char *out) {
  if (cp < 0x80) return out[0] = (char)cp, 1;
  if (cp < 0x800) return out[0] = (char)(0xc0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3f)), 2;
  if (cp < 0x10000) {
    out[0] = (char)(0xe0 | cp >> 12);
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | cp >> 18);
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  out[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

static int is_space(uint32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x202f || c == 0x205f || c == 0x3000;
}

static int is_control(uint32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return 0;
  return c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0xad || (c >= 0x200b && c <= 0x200f) ||
         (c >= 0x202a && c <= 0x202e) || (c >= 0x2060 && c <= 0x2064) || c == 0xfeff;
}

static int is_punct(uint32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
      (c >= 123 && c <= 126))
    return 1;
  return c == 0xa1 || c == 0xa7 || c == 0xab || c == 0xb6 || c == 0xb7 || c == 0xbb ||
         c == 0xbf || (c >= 0x2010 && c <= 0x2027) || (c >= 0x2030 && c <= 0x205e) ||
         (c >= 0x3001 && c <= 0x3003) || (c >= 0x3008 && c <= 0x3011) ||
         (c >= 0xff01 && c <= 0xff0f && c != 0xff04 && c != 0xff0b) || c == 0xff1a ||
         c == 0xff1b || c == 0xff1f;
}

static int is_cjk(uint32_t c) {
  return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) ||
         (c >= 0x20000 && c <= 0x2a6df) || (c >= 0x2a700 && c <= 0x2b73f) ||
         (c >= 0x2b740 && c <= 0x2b81f) || (c >= 0x2b820 && c <= 0x2ceaf) ||
         (c >= 0xf900 && c <= 0xfaff) || (c >= 0x2f800 && c <= 0x2fa1f);
}

/* U+00C0..U+017F lowered and stripped to ASCII; '?' where that is not one ASCII letter.
 * Generated with Python's unicodedata: NFD(chr(c).lower()) without Mn marks. */
static const char k_latin_base[] =
    "aaaaaa?ceeeeiiii?nooooo??uuuuy??aaaaaa?ceeeeiiii?nooooo??uuuuy?y"
    "aaaaaaccccccccdd??eeeeeeeeeegggggggghh??iiiiiiiii???jjkk?llllll?"
    "???nnnnnn???oooooo??rrrrrrsssssssstttt??uuuuuuuuuuuuwwyyyzzzzzz?";

/* Lowercase (Python's str.lower()) for ASCII, Latin-1, Latin Extended-A, Greek and
 * Cyrillic; other scripts pass through. */
static uint32_t lower_case(uint32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
  if (c >= 0xc0 && c <= 0xde && c != 0xd7) return c + 0x20;
  if (c >= 0x100 && c <= 0x17f) {
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e)) return c + (c & 1);
    if (c == 0x178) return 0xff;
    if (c == 0x130) return 'i'; /* İ lowers to i + combining dot above */
    if (c != 0x131 && c != 0x138 && c != 0x149 && c != 0x17f) return c | 1;
    return c;
  }
  if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2) return c + 0x20;
  if (c >= 0x410 && c <= 0x42f) return c + 0x20;
  if (c >= 0x400 && c <= 0x40f) return c + 0x50;
  return c;
}

/* The base letter NFD leaves after dropping accents (BERT's strip_accents); 0 for a
 * combining mark, which is removed. */
static uint32_t strip_accent(uint32_t c) {
  if (c >= 0x300 && c <= 0x36f) return 0;
  if (c >= 0xc0 && c <= 0x17f && k_latin_base[c - 0xc0] != '?') return (uint32_t)k_latin_base[c - 0xc0];
  return c;
}

/* ---- tokenizer ---- */

typedef struct tokenizer {
  vocab v;
  int64_t cls, sep, pad, unk;
  int lower;
  int wordpiece; /* 0: lowercase + whitespace split (no accent stripping, no
                  * punctuation split, as Python's text.lower().split()) */
} tokenizer;

typedef struct ids {
  int64_t *v;
  int64_t n, max; /* max: stop after this many */
} ids;

static void emit(ids *out, int64_t id) {
  if (out->n < out->max) out->v[out->n++] = id;
}

/* WordPiece one word (UTF-8, already normalized). */
static void wordpiece(const tokenizer *t, const char *w, size_t n, ids *out) {
  size_t chars = 0;
  for (size_t i = 0; i < n; i++) chars += ((uint8_t)w[i] & 0xc0) != 0x80;
  if (chars > 100 || !t->wordpiece) {
    int64_t id = chars > 100 ? -1 : vocab_find(&t->v, w, n);
    emit(out, id >= 0 ? id : t->unk);
    return;
  }
  char piece[512];
  int64_t start_n = out->n;
  size_t start = 0;
  while (start < n) {
    size_t end = n;
    int64_t found = -1;
    while (start < end) {
      size_t pl = 0;
      if (start > 0) memcpy(piece, "##", 2), pl = 2;
      if (end - start + pl >= sizeof piece) {
        end--;
        while (end > start && ((uint8_t)w[end] & 0xc0) == 0x80) end--;
        continue;
      }
      memcpy(piece + pl, w + start, end - start);
      found = vocab_find(&t->v, piece, pl + end - start);
      if (found >= 0) break;
      end--; /* back off one code point */
      while (end > start && ((uint8_t)w[end] & 0xc0) == 0x80) end--;
    }
    if (found < 0) { /* the whole word is unknown */
      out->n = start_n;
      emit(out, t->unk);
      return;
    }
    emit(out, found);
    start = end;
  }
}

/* Basic tokenization + WordPiece of one text into out. */
static nn_status tokenize(const tokenizer *t, const char *s, ids *out) {
  size_t n = strlen(s), i = 0;
  char *word = malloc(n * 4 + 8);
  if (!word) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  size_t wl = 0;
  while (i <= n) {
    uint32_t c = i < n ? utf8_next(s, n, &i) : (i++, ' ');
    if (t->wordpiece && (c == 0 || c == 0xfffd || is_control(c))) continue;
    if (t->lower) c = lower_case(c);
    if (t->lower && t->wordpiece && !(c = strip_accent(c))) continue;
    int alone = is_cjk(c) || (t->wordpiece && is_punct(c));
    if (is_space(c) || alone) {
      if (wl) wordpiece(t, word, wl, out);
      wl = 0;
      if (alone) {
        char one[4];
        size_t k = utf8_put(c, one);
        wordpiece(t, one, k, out);
      }
      continue;
    }
    wl += utf8_put(c, word + wl);
  }
  free(word);
  return NN_OK;
}

/* ---- the dataset ---- */

typedef struct tsv_impl {
  int64_t seq;
  int32_t *ids;    /* count * seq token ids (vocabulary ids fit 32 bits) */
  int32_t *len;    /* count: tokens of the row, [CLS] and [SEP] included */
  int64_t pad;     /* [PAD] id */
  int64_t *labels; /* count, or NULL */
  nn_dtype dtype;
} tsv_impl;

static void tsv_free(void *impl) {
  tsv_impl *x = impl;
  if (!x) return;
  free(x->ids);
  free(x->len);
  free(x->labels);
  free(x);
}

/* Row of ids (src), of the attention mask (src NULL, n tokens) or of zeros (n < 0). */
static nn_status row_array(const tsv_impl *x, const int32_t *src, int64_t n, nn_array *a) {
  size_t es = nn_dtype_size(x->dtype);
  a->dtype = x->dtype;
  a->ndim = 2;
  a->dims[0] = 1;
  a->dims[1] = x->seq;
  a->nbytes = (size_t)x->seq * es;
  a->data = calloc((size_t)x->seq, es);
  if (!a->data) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  if (n >= 0)
    for (int64_t k = 0; k < x->seq; k++) {
      int64_t v = src ? (k < n ? src[k] : x->pad) : k < n;
      if (x->dtype == NN_INT32) ((int32_t *)a->data)[k] = (int32_t)v;
      else ((int64_t *)a->data)[k] = v;
    }
  return NN_OK;
}

static nn_status tsv_get(nn_dataset *ds, int64_t i, nn_array *inputs, nn_array *label) {
  tsv_impl *x = ds->impl;
  nn_status st;
  size_t off = (size_t)i * (size_t)x->seq;
  if ((st = row_array(x, x->ids + off, x->len[i], &inputs[0])) ||
      (st = row_array(x, NULL, x->len[i], &inputs[1])) ||
      (st = row_array(x, NULL, -1, &inputs[2])))
    return st;
  if (x->labels) return nn_label_int(label, x->labels[i]);
  return NN_OK;
}

/* Split a line into tab-separated fields in place; returns the count (<= max). */
static int split_tabs(char *line, char **f, int max) {
  int n = 0;
  f[n++] = line;
  for (char *p = line; *p && n < max; p++)
    if (*p == '\t') {
      *p = 0;
      f[n++] = p + 1;
    }
  return n;
}

static int column_of(const char *spec, char **hdr, int nh, int *col) {
  char *end;
  long v = strtol(spec, &end, 10);
  if (end != spec && !*end) {
    *col = (int)v;
    return v >= 0;
  }
  for (int k = 0; hdr && k < nh; k++)
    if (!strcmp(hdr[k], spec)) {
      *col = k;
      return 1;
    }
  return 0;
}

nn_status nn_dataset_open_tsv(nn_dataset *ds, nn_spec_opts *o) {
  nn_status st = NN_OK;
  char *buf = NULL;
  int64_t *row_ids = NULL; /* one row as tokenized, before narrowing to 32 bits */
  size_t len;
  tokenizer t = {0};
  tsv_impl *x = calloc(1, sizeof *x);
  if (!x) return nn_errorf(NN_ERR_NOMEM, "out of memory");
  ds->impl = x;
  ds->free_impl = tsv_free;
  ds->get = tsv_get;
  int64_t lower, header;
  const char *vocab_path = nn_opt_str(o, "vocab", NULL);
  const char *text_col = nn_opt_str(o, "text", NULL), *label_col = nn_opt_str(o, "label", NULL);
  const char *tok = nn_opt_str(o, "tokenizer", "auto");
  const char *dt = nn_opt_str(o, "dtype", "int64");
  NN_TRY(nn_opt_int(o, "seq", 128, &x->seq));
  NN_TRY(nn_opt_int(o, "lower", 1, &lower));
  NN_TRY(nn_opt_int(o, "header", -1, &header));
  if (!vocab_path) {
    st = nn_errorf(NN_ERR_INVALID, "%s: tsv needs vocab=FILE (the model's vocab.txt)", o->path);
    goto done;
  }
  if (x->seq < 2 || x->seq > 1 << 20) {
    st = nn_errorf(NN_ERR_INVALID, "%s: seq=%lld out of range", o->path, (long long)x->seq);
    goto done;
  }
  if (!strcmp(dt, "int64")) x->dtype = NN_INT64;
  else if (!strcmp(dt, "int32")) x->dtype = NN_INT32;
  else {
    st = nn_errorf(NN_ERR_INVALID, "%s: dtype=%s: expected int64 or int32", o->path, dt);
    goto done;
  }
  if (!strcmp(tok, "wordpiece")) t.wordpiece = 1;
  else if (strcmp(tok, "whitespace") && strcmp(tok, "auto")) {
    st = nn_errorf(NN_ERR_INVALID, "%s: tokenizer=%s: expected auto, wordpiece or whitespace",
                   o->path, tok);
    goto done;
  }
  t.lower = lower != 0;
  NN_TRY(vocab_load(vocab_path, &t.v));
  if (!strcmp(tok, "auto")) /* a WordPiece vocabulary has "##" continuation pieces */
    for (int64_t k = 0; k < t.v.n && !t.wordpiece; k++) t.wordpiece = !strncmp(t.v.tok[k], "##", 2);
  const char *need[] = {"[CLS]", "[SEP]", "[PAD]", "[UNK]"};
  int64_t *slots[] = {&t.cls, &t.sep, &t.pad, &t.unk};
  for (int k = 0; k < 4; k++)
    if ((*slots[k] = vocab_find(&t.v, need[k], strlen(need[k]))) < 0) {
      st = nn_errorf(NN_ERR_INVALID, "%s: vocabulary has no %s token", vocab_path, need[k]);
      goto done;
    }

  ds->n_inputs = 3;
  ds->names = calloc(3, sizeof *ds->names);
  if (!ds->names || !(ds->names[0] = nn_strdup("input_ids")) ||
      !(ds->names[1] = nn_strdup("attention_mask")) || !(ds->names[2] = nn_strdup("token_type_ids"))) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }

  NN_TRY(nn_read_file(o->path, (void **)&buf, &len));
  int64_t lines = 1;
  for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
  x->ids = calloc((size_t)lines * (size_t)x->seq, sizeof *x->ids);
  x->len = calloc((size_t)lines, sizeof *x->len);
  row_ids = malloc((size_t)x->seq * sizeof *row_ids);
  x->labels = calloc((size_t)lines, sizeof *x->labels);
  x->pad = t.pad;
  if (!x->ids || !x->len || !x->labels || !row_ids) {
    st = nn_errorf(NN_ERR_NOMEM, "%s: out of memory", o->path);
    goto done;
  }
  int tcol = -1, lcol = -1, have_labels = 1;
  int64_t line_no = 0;
  for (char *line = buf, *next; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    line_no++;
    size_t n = strlen(line);
    if (n && line[n - 1] == '\r') line[--n] = 0;
    if (!n) continue;
    char *f[64];
    int nf = split_tabs(line, f, 64);
    if (tcol < 0) { /* first line: header or data; choose the columns */
      char *end;
      int first_is_header = header >= 0 ? (int)header : 0;
      if (header < 0) { /* a header has no integer label column */
        first_is_header = 1;
        for (int k = 0; k < nf; k++) {
          (void)strtol(f[k], &end, 10);
          if (end != f[k] && !*end) first_is_header = 0;
        }
      }
      char **hdr = first_is_header ? f : NULL;
      if (label_col ? !column_of(label_col, hdr, nf, &lcol) : !column_of("label", hdr, nf, &lcol))
        lcol = label_col ? -2 : (nf >= 2 ? 0 : -1);
      if (lcol == -2) {
        st = nn_errorf(NN_ERR_INVALID, "%s: no column '%s' (label)", o->path, label_col);
        goto done;
      }
      if (text_col) {
        if (!column_of(text_col, hdr, nf, &tcol)) {
          st = nn_errorf(NN_ERR_INVALID, "%s: no column '%s' (text)", o->path, text_col);
          goto done;
        }
      } else {
        tcol = lcol == 0 ? 1 : 0;
        if (hdr)
          for (int k = 0; k < nf; k++)
            if (k != lcol && (!strcmp(f[k], "sentence") || !strcmp(f[k], "content") ||
                              !strcmp(f[k], "text")))
              tcol = k;
      }
      have_labels = lcol >= 0;
      if (first_is_header) continue;
    }
    if (tcol >= nf || (have_labels && lcol >= nf)) {
      st = nn_errorf(NN_ERR_PARSE, "%s: line %lld: %d fields, expected at least %d", o->path,
                     (long long)line_no, nf, (tcol > lcol ? tcol : lcol) + 1);
      goto done;
    }
    int64_t row = ds->count;
    if (have_labels) {
      char *end;
      errno = 0;
      long long v = strtoll(f[lcol], &end, 10);
      if (end == f[lcol] || *end || errno) {
        st = nn_errorf(NN_ERR_PARSE, "%s: line %lld: label '%s' is not an integer", o->path,
                       (long long)line_no, f[lcol]);
        goto done;
      }
      x->labels[row] = v;
    }
    int32_t *r = x->ids + (size_t)row * (size_t)x->seq;
    ids out = {row_ids + 1, 0, x->seq - 2};
    NN_TRY(tokenize(&t, f[tcol], &out));
    row_ids[0] = t.cls;
    row_ids[out.n + 1] = t.sep;
    for (int64_t k = 0; k < out.n + 2; k++) r[k] = (int32_t)row_ids[k];
    x->len[row] = (int32_t)(out.n + 2);
    ds->count++;
  }
  if (ds->count == 0) {
    st = nn_errorf(NN_ERR_INVALID, "%s: no sentences", o->path);
    goto done;
  }
  if (!have_labels) {
    free(x->labels);
    x->labels = NULL;
  }
  ds->has_labels = have_labels;
done:
  free(buf);
  free(row_ids);
  vocab_free(&t.v);
  return st;
}
