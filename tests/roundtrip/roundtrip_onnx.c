/*
 * roundtrip_onnx.c - for every <dir>/<suite>/<test>/model.onnx: load, save to a
 * buffer, reload, and require nn_model_equal; then require that saving the reloaded
 * model gives the same bytes (the writer is deterministic and loses nothing).
 * Prints "N passed, N failed"; exits non-zero on any failure or when no model is found.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "nnopt.h"

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the entries of dir (without "." and ".."). */
static int list_dir(const char *dir, char ***out) {
  DIR *d = opendir(dir);
  int n = 0, cap = 0;
  char **v = NULL;
  *out = NULL;
  if (!d) return 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      char **p = realloc(v, (size_t)cap * sizeof *p);
      if (!p) break;
      v = p;
    }
    v[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(v, (size_t)n, sizeof *v, cmp_str);
  *out = v;
  return n;
}

static int check_model(const char *path, const char *dir) {
  nn_model *a = NULL, *b = NULL;
  void *buf1 = NULL, *buf2 = NULL;
  size_t len1 = 0, len2 = 0;
  char why[1024];
  int ok = 0;
  if (nn_model_load(path, &a)) {
    printf("FAIL %s: load: %s\n", path, nn_last_error());
    goto done;
  }
  if (nn_model_save_buffer(a, &buf1, &len1)) {
    printf("FAIL %s: save: %s\n", path, nn_last_error());
    goto done;
  }
  if (nn_model_load_buffer(buf1, len1, dir, path, &b)) {
    printf("FAIL %s: reload: %s\n", path, nn_last_error());
    goto done;
  }
  if (!nn_model_equal(a, b, why, sizeof why)) {
    printf("FAIL %s: reloaded model differs: %s\n", path, why);
    goto done;
  }
  if (nn_model_save_buffer(b, &buf2, &len2)) {
    printf("FAIL %s: second save: %s\n", path, nn_last_error());
    goto done;
  }
  if (len1 != len2 || memcmp(buf1, buf2, len1)) {
    printf("FAIL %s: second save differs (%zu vs %zu bytes)\n", path, len1, len2);
    goto done;
  }
  ok = 1;
done:
  nn_model_free(a);
  nn_model_free(b);
  free(buf1);
  free(buf2);
  return ok;
}

int main(int argc, char **argv) {
  const char *root = argc > 1 ? argv[1] : "/usr/share/libonnx-testdata/data";
  int passed = 0, failed = 0;
  char **suites;
  int ns = list_dir(root, &suites);
  for (int s = 0; s < ns; s++) {
    char suite[4096], **tests;
    snprintf(suite, sizeof suite, "%s/%s", root, suites[s]);
    int nt = list_dir(suite, &tests);
    for (int t = 0; t < nt; t++) {
      char dir[4096], path[4200];
      snprintf(dir, sizeof dir, "%s/%s", suite, tests[t]);
      snprintf(path, sizeof path, "%s/model.onnx", dir);
      FILE *f = fopen(path, "rb");
      if (f) {
        fclose(f);
        if (check_model(path, dir))
          passed++;
        else
          failed++;
      }
      free(tests[t]);
    }
    free(tests);
    free(suites[s]);
  }
  free(suites);
  printf("%d passed, %d failed\n", passed, failed);
  if (!passed) fprintf(stderr, "no models found under %s\n", root);
  return failed || !passed;
}
