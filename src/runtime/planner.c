/*
 * planner.c - greedy-by-size arena planning of value lifetimes.
 */
#include "runtime/planner.h"

#include <stdlib.h>

static int by_size_desc(const void *a, const void *b) {
  const planner_item *x = a, *y = b;
  if (x->size != y->size) return x->size < y->size ? 1 : -1;
  return x->first - y->first;
}

static int by_offset(const void *a, const void *b) {
  const planner_item *x = *(const planner_item *const *)a, *y = *(const planner_item *const *)b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

nn_status nn_plan_offsets(planner_item *items, int n, size_t *total) {
  *total = 0;
  if (n <= 0) return NN_OK;
  planner_item **placed = malloc((size_t)n * sizeof *placed);
  planner_item **live = malloc((size_t)n * sizeof *live);
  if (!placed || !live) {
    free(placed);
    free(live);
    return nn_errorf(NN_ERR_NOMEM, "out of memory planning activations");
  }
  qsort(items, (size_t)n, sizeof *items, by_size_desc);
  int np = 0;
  for (int i = 0; i < n; i++) {
    planner_item *it = &items[i];
    /* Values already placed whose lifetimes overlap this one, by offset. */
    int nl = 0;
    for (int j = 0; j < np; j++)
      if (placed[j]->first <= it->last && it->first <= placed[j]->last) live[nl++] = placed[j];
    qsort(live, (size_t)nl, sizeof *live, by_offset);
    size_t off = 0;
    for (int j = 0; j < nl; j++) {
      if (live[j]->offset >= off + it->size) break; /* fits in the gap before live[j] */
      size_t end = live[j]->offset + live[j]->size;
      if (end > off) off = end;
    }
    it->offset = off;
    if (off + it->size > *total) *total = off + it->size;
    placed[np++] = it;
  }
  free(placed);
  free(live);
  return NN_OK;
}
