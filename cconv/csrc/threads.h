/* OpenMP shims: the extension also builds (serial) where the compiler has no
 * OpenMP, so nothing outside this header includes <omp.h>. */
#ifndef CCONV_THREADS_H
#define CCONV_THREADS_H

#ifdef _OPENMP
#include <omp.h>
static inline int cconv_openmp_enabled(void) { return 1; }
/* omp_get_max_threads() honours OMP_NUM_THREADS, omp_set_num_threads and
 * threadpoolctl limits, so every kernel asks it at call time. */
static inline int cconv_max_threads(void) { return omp_get_max_threads(); }
static inline void cconv_set_max_threads(int n) { omp_set_num_threads(n); }
static inline int cconv_thread_id(void) { return omp_get_thread_num(); }
#else
static inline int cconv_openmp_enabled(void) { return 0; }
static inline int cconv_max_threads(void) { return 1; }
static inline void cconv_set_max_threads(int n) { (void)n; }
static inline int cconv_thread_id(void) { return 0; }
#endif

#endif
