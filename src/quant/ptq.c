/*
 * ptq.c - static post-training quantization, end to end: prepare the float graph,
 * calibrate it, choose ranges, rewrite it to QDQ.
 */
#include <stdlib.h>

#include "passes/passes.h"
#include "quant/quantize.h"

nn_status nn_ptq_static(nn_model *m, nn_dataset *calib, const nn_ptq_options *opt,
                        nn_quant_report *rep) {
  nn_status st = NN_OK;
  nn_calib_result cr = {0};
  nn_tensor_range *ranges = NULL;
  int folded, bn, dead;
  NN_TRY(nn_pass_fold_constants(m, &folded));
  NN_TRY(nn_pass_fold_batchnorm(m, &bn));
  NN_TRY(nn_pass_eliminate_dead(m, &dead));
  if (opt->smooth_alpha > 0) {
    int smoothed;
    NN_TRY(nn_pass_smooth_quant(m, calib, opt->config.limit, opt->smooth_alpha, &smoothed));
  }
  if (opt->equalize > 0) {
    int pairs;
    NN_TRY(nn_pass_equalize(m, opt->equalize, &pairs));
  }
  NN_TRY(nn_graph_sort(m->graph));
  NN_TRY(nn_calibrate(m, calib, &opt->config, &cr));
  ranges = calloc((size_t)cr.n_tensors + 1, sizeof *ranges);
  if (!ranges) {
    st = nn_errorf(NN_ERR_NOMEM, "out of memory");
    goto done;
  }
  NN_TRY(nn_calib_ranges(&cr, &opt->calib, ranges));
  /* Clipping methods trade outliers for resolution, which is wrong for the model's
   * outputs: clipped logits tie at the top and change the argmax. Outputs keep their
   * full observed range. */
  for (int k = 0; k < m->graph->n_outputs; k++) {
    int t = m->graph->outputs[k];
    nn_calib_options mm = opt->calib;
    mm.method = NN_CALIB_MINMAX;
    if (t < cr.n_tensors && cr.observers[t] && cr.observers[t]->count)
      NN_TRY(nn_observer_range(cr.observers[t], &mm, &ranges[t].lo, &ranges[t].hi));
  }
  NN_TRY(nn_quantize_qdq(m, ranges, &opt->quant, rep));
done:
  nn_calib_result_free(&cr);
  free(ranges);
  return st;
}
