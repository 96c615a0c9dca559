/*
 * threadpool.c - see threadpool.h. One job at a time, described by a single 64-bit
 * word (generation | task count | next task) that threads claim tasks from with a
 * compare-and-swap, so a claim can never land in a later job. The caller counts
 * finished tasks, not workers: a worker the OS has not scheduled yet never holds the
 * caller up (it finds no task left when it wakes). Workers spin briefly on the word
 * after a job (ops follow each other closely) and then sleep on a condition variable.
 */
#include "runtime/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

/* Spin iterations before a worker sleeps / the caller yields while waiting. */
enum { SPIN_WORKER = 20000, SPIN_CALLER = 2000 };
/* A claim takes 1/(GUIDE * threads) of the tasks left (at least one). */
enum { GUIDE = 4 };

/* job word: generation (16 bits) | tasks (24 bits) | next task (24 bits) */
#define JOB_BITS 24
#define JOB_MAX ((1u << JOB_BITS) - 1)
#define W_GEN(w) ((unsigned)((w) >> (2 * JOB_BITS)))
#define W_TASKS(w) ((size_t)(((w) >> JOB_BITS) & JOB_MAX))
#define W_NEXT(w) ((size_t)((w)&JOB_MAX))

typedef struct worker {
  struct nn_threadpool *pool;
  size_t index;
  pthread_t th;
} worker;

/* job is written by every claim and done by every thread leaving a job: each gets its
 * own cache line so claims, completions and the read-mostly fields do not bounce one
 * line between cores (visible in 2-thread profiles of INT8 MobileNetV2 as run_tasks time). */
#define NN_CACHE_LINE 64
struct nn_threadpool {
  _Alignas(NN_CACHE_LINE) _Atomic uint64_t job;
  _Alignas(NN_CACHE_LINE) atomic_size_t done;
  _Alignas(NN_CACHE_LINE) nn_parallel_fn fn;
  void *ctx;
  int n; /* threads including the caller */
  worker *w;
  atomic_int stop;
  pthread_mutex_t mu;
  pthread_cond_t cv;
};

/* Claim and run tasks of the current job until none is left; returns its generation.
 * Finished tasks are counted locally and published once on the way out: while any are
 * unpublished the caller cannot start another job, so fn/ctx stay valid here. */
static unsigned run_tasks(nn_threadpool *p, size_t thread) {
  uint64_t w = atomic_load_explicit(&p->job, memory_order_acquire);
  size_t ran = 0;
  for (;;) {
    const size_t next = W_NEXT(w), tasks = W_TASKS(w);
    if (next >= tasks) break;
    /* Guided claims: a share of what is left (1/(GUIDE*n)), so a loop of many tiny tasks
     * (one per depthwise channel) costs O(n log tasks) claims instead of one contended
     * CAS per task, while the last claims stay single tasks for balance. */
    size_t take = (tasks - next) / ((size_t)GUIDE * (size_t)p->n);
    if (take < 1) take = 1;
    if (!atomic_compare_exchange_weak_explicit(&p->job, &w, w + take, memory_order_acq_rel,
                                               memory_order_acquire))
      continue;
    for (size_t t = next; t < next + take; t++) p->fn(p->ctx, thread, t);
    ran += take;
    w = atomic_load_explicit(&p->job, memory_order_acquire);
  }
  if (ran) atomic_fetch_add_explicit(&p->done, ran, memory_order_release);
  return W_GEN(w);
}

static void *worker_main(void *arg) {
  worker *wk = arg;
  nn_threadpool *p = wk->pool;
  unsigned seen = W_GEN(atomic_load(&p->job));
  while (!atomic_load_explicit(&p->stop, memory_order_relaxed)) {
    uint64_t w = atomic_load_explicit(&p->job, memory_order_acquire);
    for (int i = 0; W_GEN(w) == seen && i < SPIN_WORKER; i++) {
      CPU_RELAX();
      w = atomic_load_explicit(&p->job, memory_order_acquire);
    }
    if (W_GEN(w) == seen) {
      pthread_mutex_lock(&p->mu);
      while (W_GEN(atomic_load(&p->job)) == seen && !atomic_load(&p->stop))
        pthread_cond_wait(&p->cv, &p->mu);
      pthread_mutex_unlock(&p->mu);
      continue;
    }
    seen = run_tasks(p, wk->index);
  }
  return NULL;
}

nn_threadpool *nn_threadpool_create(int threads) {
  if (threads <= 1) return NULL;
  nn_threadpool *p = aligned_alloc(NN_CACHE_LINE, sizeof *p); /* sizeof is a line multiple */
  if (!p) return NULL;
  memset(p, 0, sizeof *p);
  p->w = calloc((size_t)threads, sizeof *p->w);
  if (!p->w) {
    free(p);
    return NULL;
  }
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  atomic_init(&p->job, 0);
  atomic_init(&p->done, 0);
  atomic_init(&p->stop, 0);
  p->n = 1;
  for (int i = 1; i < threads; i++) {
    p->w[i].pool = p;
    p->w[i].index = (size_t)i;
    if (pthread_create(&p->w[i].th, NULL, worker_main, &p->w[i])) break;
    p->n++;
  }
  if (p->n == 1) {
    nn_threadpool_destroy(p);
    return NULL;
  }
  return p;
}

void nn_threadpool_destroy(nn_threadpool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  atomic_store(&p->stop, 1);
  atomic_fetch_add(&p->job, (uint64_t)1 << (2 * JOB_BITS)); /* wake the spinners */
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  for (int i = 1; i < p->n; i++) pthread_join(p->w[i].th, NULL);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p->w);
  free(p);
}

int nn_threadpool_size(const nn_threadpool *p) { return p ? p->n : 1; }

/* More tasks than the job word holds: run them in chunks through this adapter. */
typedef struct chunk {
  nn_parallel_fn fn;
  void *ctx;
  size_t base;
} chunk;

static void chunk_task(void *ctx, size_t thread, size_t t) {
  const chunk *c = ctx;
  c->fn(c->ctx, thread, c->base + t);
}

void nn_threadpool_parallelize(nn_threadpool *p, nn_parallel_fn fn, void *ctx, size_t tasks) {
  if (!p || tasks <= 1) {
    for (size_t t = 0; t < tasks; t++) fn(ctx, 0, t);
    return;
  }
  if (tasks > JOB_MAX) {
    for (size_t b = 0; b < tasks; b += JOB_MAX) {
      chunk c = {fn, ctx, b};
      nn_threadpool_parallelize(p, chunk_task, &c, tasks - b < JOB_MAX ? tasks - b : JOB_MAX);
    }
    return;
  }
  p->fn = fn;
  p->ctx = ctx;
  atomic_store_explicit(&p->done, 0, memory_order_relaxed);
  const uint64_t gen = (W_GEN(atomic_load_explicit(&p->job, memory_order_relaxed)) + 1) & 0xffff;
  const uint64_t w = gen << (2 * JOB_BITS) | (uint64_t)tasks << JOB_BITS;
  pthread_mutex_lock(&p->mu);
  atomic_store_explicit(&p->job, w, memory_order_release);
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  run_tasks(p, 0);
  for (int i = 0; atomic_load_explicit(&p->done, memory_order_acquire) < tasks; i++) {
    if (i < SPIN_CALLER)
      CPU_RELAX();
    else
      sched_yield();
  }
}
