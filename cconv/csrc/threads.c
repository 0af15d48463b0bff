/* The process-wide thread budget of cconv's kernels.
 *
 * omp_set_num_threads() only sets the calling thread's count, so a limit set
 * from Python's main thread would not reach calls made from other Python
 * threads: cconv keeps its own limit, read by every call. And each Python
 * thread that enters a kernel starts its own OpenMP team, so eight threads
 * calling at once on two cores would run sixteen workers: calls in flight are
 * counted, and each takes its share of the budget (at least one thread).
 * Results do not depend on the thread count, so sharing changes speed only. */
#include "threads.h"
#include "atomics.h"

static int thread_limit = 0; /* 0: omp_get_max_threads() decides */
static int active_calls = 0;

#define LOAD CCONV_ATOMIC_LOAD
#define ADD CCONV_ATOMIC_ADD
#define STORE CCONV_ATOMIC_STORE

int cconv_configured_threads(void) {
    const int limit = (int)LOAD(&thread_limit);
#ifdef _OPENMP
    return limit > 0 ? limit : omp_get_max_threads();
#else
    (void)limit;
    return 1;
#endif
}

int cconv_max_threads(void) {
#ifdef _OPENMP
    if (omp_in_parallel()) return 1; /* called from someone's parallel region */
#endif
    const int active = (int)LOAD(&active_calls);
    const int n = cconv_configured_threads() / (active > 1 ? active : 1);
    return n > 0 ? n : 1;
}

void cconv_set_max_threads(int n) {
    STORE(&thread_limit, n);
#ifdef _OPENMP
    omp_set_num_threads(n); /* and the calling thread's own count, for code that asks OpenMP */
#endif
}

void cconv_enter_call(void) { ADD(&active_calls, 1); }
void cconv_leave_call(void) { ADD(&active_calls, -1); }
