/* OpenMP shims and the thread budget (threads.c): the extension also builds
 * (serial) where the compiler has no OpenMP, so nothing outside this header
 * and threads.c includes <omp.h>. */
#ifndef CCONV_THREADS_H
#define CCONV_THREADS_H

#ifdef _OPENMP
#include <omp.h>
static inline int cconv_openmp_enabled(void) { return 1; }
static inline int cconv_thread_id(void) { return omp_get_thread_num(); }
#else
static inline int cconv_openmp_enabled(void) { return 0; }
static inline int cconv_thread_id(void) { return 0; }
#endif

/* cconv.set_num_threads(n) if called (process-wide), else omp_get_max_threads()
 * of the calling thread (OMP_NUM_THREADS, threadpoolctl limits). */
int cconv_configured_threads(void);
/* Threads this call may start: its share of the configured count among the
 * calls in flight, 1 inside another parallel region. */
int cconv_max_threads(void);
void cconv_set_max_threads(int n);
/* Bracket every kernel call made from Python (the run_* entry points). */
void cconv_enter_call(void);
void cconv_leave_call(void);

#endif
