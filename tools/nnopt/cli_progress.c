/*
 * cli_progress.c - a progress bar on stderr, drawn only when stderr is a terminal.
 */
#include <stdio.h>
#include <unistd.h>

#include "cli.h"

static int g_drawn;

void cli_progress(void *user, int64_t done, int64_t total) {
  (void)user;
  if (!isatty(STDERR_FILENO) || total <= 0) return;
  int width = 40, fill = (int)(width * done / total);
  fprintf(stderr, "\r[%.*s%*s] %lld/%lld", fill, "########################################",
          width - fill, "", (long long)done, (long long)total);
  fflush(stderr);
  g_drawn = 1;
}

void cli_progress_done(void) {
  if (g_drawn) fputc('\n', stderr);
  g_drawn = 0;
}
