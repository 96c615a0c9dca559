/*
 * planner.h - static memory planning: place values with known sizes and lifetimes
 * (first and last step that touch them) at offsets of one arena so that values alive
 * at the same time never overlap.
 *
 *   offset ^
 *          |   +-----+        values whose lifetimes do not overlap
 *          |   |  b  |  +--+  may share addresses (a and c here)
 *          |+--+-----+--+c |
 *          ||  a  |     +--+
 *          ++-----+-------------> step
 */
#ifndef NN_RUNTIME_PLANNER_H
#define NN_RUNTIME_PLANNER_H

#include "core/status.h"

typedef struct planner_item {
  int id;          /* caller's identifier (tensor index) */
  size_t size;     /* bytes, already aligned */
  int first, last; /* inclusive step range during which the value is alive */
  size_t offset;   /* result */
} planner_item;

/* Greedy by size (largest first, lowest fitting offset), as TFLite's greedy planner.
 * Sets items[i].offset and *total (the arena size). */
nn_status nn_plan_offsets(planner_item *items, int n, size_t *total);

#endif
