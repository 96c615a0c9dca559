/*
 * threadpool.h - a fixed pool of worker threads that run one parallel loop at a time
 * (the shape of pthreadpool's parallelize_1d): the caller takes part as thread 0,
 * tasks are claimed dynamically, and the call returns when every task is done.
 * Workers spin briefly after a loop (ops follow each other closely) and then sleep.
 * A session owns one pool sized by nn_session_options.threads.
 */
#ifndef NN_RUNTIME_THREADPOOL_H
#define NN_RUNTIME_THREADPOOL_H

#include <stddef.h>

typedef struct nn_threadpool nn_threadpool;

/* A pool of `threads` threads counting the caller (threads - 1 workers). Returns
 * NULL when threads <= 1 or the workers cannot be started: NULL is a valid pool
 * that runs everything on the caller. */
nn_threadpool *nn_threadpool_create(int threads);
void nn_threadpool_destroy(nn_threadpool *p);
/* Threads that take part in a loop (1 for NULL). */
int nn_threadpool_size(const nn_threadpool *p);

/* fn(ctx, thread, task) for task = 0 .. tasks-1, where thread < nn_threadpool_size()
 * identifies the running thread (for per-thread workspace). Not reentrant: fn must
 * not call nn_threadpool_parallelize on the same pool. */
typedef void (*nn_parallel_fn)(void *ctx, size_t thread, size_t task);
void nn_threadpool_parallelize(nn_threadpool *p, nn_parallel_fn fn, void *ctx, size_t tasks);

#endif
