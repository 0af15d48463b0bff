/* Relaxed atomics on a long, for MSVC and for gcc/clang (C11 <stdatomic.h>
 * is missing from MSVC's C mode): the thread budget's counters (threads.c)
 * and the block cache's lock (aligned_alloc.c). */
#ifndef CCONV_ATOMICS_H
#define CCONV_ATOMICS_H

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#define CCONV_ATOMIC_LOAD(p) (*(volatile long *)(p))
#define CCONV_ATOMIC_ADD(p, v) _InterlockedExchangeAdd((volatile long *)(p), (v))
#define CCONV_ATOMIC_STORE(p, v) _InterlockedExchange((volatile long *)(p), (v))
/* the old value; a full barrier, as a lock needs */
#define CCONV_ATOMIC_EXCHANGE(p, v) _InterlockedExchange((volatile long *)(p), (v))
#define CCONV_ATOMIC_RELEASE(p) _InterlockedExchange((volatile long *)(p), 0)
#else
#define CCONV_ATOMIC_LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define CCONV_ATOMIC_ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define CCONV_ATOMIC_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define CCONV_ATOMIC_EXCHANGE(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQUIRE)
#define CCONV_ATOMIC_RELEASE(p) __atomic_store_n((p), 0, __ATOMIC_RELEASE)
#endif

#endif
