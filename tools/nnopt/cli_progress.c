/*
 * cli_progress.c - a progress bar on stderr, drawn only when stderr is a terminal,
 * redrawn at most 10 times a second, with elapsed and remaining time. The line is
 * cleared when the task completes.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static double g_start, g_last;
static int64_t g_prev = -1;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cli_progress(void *user, int64_t done, int64_t total) {
  (void)user;
  if (!isatty(STDERR_FILENO) || total <= 0) return;
  double t = now();
  if (g_prev < 0 || done < g_prev) g_start = t, g_last = 0; /* a new task */
  g_prev = done;
  if (done < total && t - g_last < 0.1) return;
  g_last = t;
  int width = 30, fill = (int)(width * done / total);
  char bar[64];
  for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '-';
  bar[width] = 0;
  double el = t - g_start, eta = done ? el * (double)(total - done) / (double)done : 0;
  fprintf(stderr, "\r[%s] %lld/%lld %3d%%  %.1f s, %.0f s left ", bar, (long long)done,
          (long long)total, (int)(100 * done / total), el, eta);
  if (done >= total) fprintf(stderr, "\r%*s\r", width + 60, "");
  fflush(stderr);
}

void cli_progress_done(void) { g_prev = -1; }
