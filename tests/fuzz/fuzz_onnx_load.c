/*
 * fuzz_onnx_load.c - libFuzzer target for the ONNX reader. Any input must load or
 * fail cleanly; what loads must validate without crashing, save, reload, compare
 * equal, and save again to the same bytes. The same bytes are also tried as a
 * TensorProto (the test-data .pb path). External data resolves against a small
 * folder made at start-up (one 4 KB file, "w.bin"), so offsets, lengths and locations
 * get exercised too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/graph.h"
#include "nnopt.h"
#include "onnx/onnx_io.h"

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_onnx_load: %s: %s\n", what, detail);
  abort();
}

static const char *g_dir;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  static char dir[64];
  (void)argc;
  (void)argv;
  snprintf(dir, sizeof dir, "/tmp/nnopt-fuzz-extdata-%d", (int)getuid());
  mkdir(dir, 0700);
  char path[128];
  snprintf(path, sizeof path, "%s/w.bin", dir);
  FILE *f = fopen(path, "wb");
  if (f) {
    for (int i = 0; i < 4096; i++) fputc(i * 7, f);
    fclose(f);
    g_dir = dir;
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nn_model *m = NULL, *r = NULL;
  void *buf = NULL, *buf2 = NULL;
  size_t len = 0, len2 = 0;
  char why[512];

  nn_tensor t;
  if (nn_onnx_tensor_parse(data, size, g_dir, "fuzz.pb", &t) == NN_OK) nn_tensor_clear(&t);

  if (nn_model_load_buffer(data, size, g_dir, "fuzz.onnx", &m) != NN_OK) return 0;
  nn_model_validate(m, 1);
  if (nn_model_save_buffer(m, &buf, &len) != NN_OK) fail("save", nn_last_error());
  if (nn_model_load_buffer(buf, len, NULL, "resaved.onnx", &r) != NN_OK)
    fail("reload of saved model", nn_last_error());
  if (!nn_model_equal(m, r, why, sizeof why)) fail("reloaded model differs", why);
  if (nn_model_save_buffer(r, &buf2, &len2) != NN_OK) fail("second save", nn_last_error());
  if (len != len2 || memcmp(buf, buf2, len)) fail("second save", "bytes differ");
  free(buf);
  free(buf2);
  nn_model_free(r);
  nn_model_free(m);
  return 0;
}
