/* A program using only the installed public header. */
#include <nnopt.h>
#include <stdio.h>

int main(void) {
  nn_model *m = NULL;
  if (nn_model_load("/nonexistent.onnx", &m) == NN_OK) return 1;
  if (!*nn_last_error()) return 1;
  printf("%s %zu\n", nn_dtype_name(NN_FLOAT), nn_dtype_size(NN_FLOAT));
  return 0;
}
