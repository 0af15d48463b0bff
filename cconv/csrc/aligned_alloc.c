/* Aligned blocks, and a cache of freed ones.
 *
 * Alignment: vector loads of packed weights that straddle cache lines cost
 * ~10% of the stride-1 forward (88 vs 80 GFLOP/s on one Zen 2 core), and
 * malloc only promises 16 bytes. Portable: over-allocate and keep malloc's
 * pointer and the block's size just before the aligned block.
 *
 * The cache: every call packs its weights and each of its threads takes a
 * workspace. Handed back to glibc, those blocks, and the output arrays NumPy
 * allocates beside them, went back to the kernel (heap trimming), and the
 * next call page-faulted them all in again: 1.3 ms of a 6 ms 8x128x28x28
 * K256 stride-2 forward (Zen 3 VM, ~3 us a 4 KiB page). So freed blocks of
 * useful size stay here, a bounded number and bytes, for the next call. */
#include "aligned_alloc.h"

#include <stdint.h>
#include <stdlib.h>

#include "atomics.h"

#define CACHE_SLOTS 16
#define CACHE_MAX_BYTES ((size_t)64 << 20)
/* Smaller blocks malloc recycles well itself. */
#define CACHE_MIN_BYTES ((size_t)16 << 10)

typedef struct {
    void *block; /* aligned; NULL: empty slot */
    size_t size;
    unsigned long age; /* when it was freed: the oldest go first */
} cached_block;

static cached_block cache[CACHE_SLOTS];
static size_t cached_bytes = 0;
static unsigned long clock_ticks = 0;
static long cache_lock = 0;

/* A spin lock: the sections below scan 16 slots, and calls into the kernels
 * from several Python threads are the only contention. */
static void lock(void) {
    while (CCONV_ATOMIC_EXCHANGE(&cache_lock, 1) != 0)
        while (CCONV_ATOMIC_LOAD(&cache_lock) != 0) {
        }
}
static void unlock(void) { CCONV_ATOMIC_RELEASE(&cache_lock); }

static size_t *size_slot(void *block) { return (size_t *)block - 2; }

static void release(void *block) { free(((void **)block)[-1]); }

static void *allocate(size_t size) {
    void *raw = malloc(size + CCONV_ALIGNMENT + 2 * sizeof(void *));
    if (raw == NULL) return NULL;
    const uintptr_t start = ((uintptr_t)raw + 2 * sizeof(void *) + CCONV_ALIGNMENT - 1) &
                            ~(uintptr_t)(CCONV_ALIGNMENT - 1);
    ((void **)start)[-1] = raw;
    *size_slot((void *)start) = size;
    return (void *)start;
}

void *cconv_aligned_malloc(size_t size) {
#ifndef CCONV_NO_BLOCK_CACHE
    if (size >= CACHE_MIN_BYTES) {
        /* the smallest kept block that holds size, if it is at most twice
         * that (a small call would otherwise take a big call's block) */
        void *found = NULL;
        lock();
        int best = -1;
        for (int i = 0; i < CACHE_SLOTS; i++)
            if (cache[i].block != NULL && cache[i].size >= size && cache[i].size / 2 <= size &&
                (best < 0 || cache[i].size < cache[best].size))
                best = i;
        if (best >= 0) {
            found = cache[best].block;
            cached_bytes -= cache[best].size;
            cache[best].block = NULL;
        }
        unlock();
        if (found != NULL) return found;
    }
#endif
    return allocate(size);
}

void cconv_aligned_free(void *block) {
    if (block == NULL) return;
#ifndef CCONV_NO_BLOCK_CACHE
    const size_t size = *size_slot(block);
    if (size >= CACHE_MIN_BYTES && size <= CACHE_MAX_BYTES) {
        void *evicted[CACHE_SLOTS];
        int n_evicted = 0;
        lock();
        /* room for it: the oldest blocks go until a slot and the bytes are free */
        for (;;) {
            int empty = -1, oldest = -1;
            for (int i = 0; i < CACHE_SLOTS; i++) {
                if (cache[i].block == NULL) {
                    if (empty < 0) empty = i;
                } else if (oldest < 0 || cache[i].age < cache[oldest].age) {
                    oldest = i;
                }
            }
            if (empty >= 0 && cached_bytes + size <= CACHE_MAX_BYTES) {
                cache[empty].block = block;
                cache[empty].size = size;
                cache[empty].age = ++clock_ticks;
                cached_bytes += size;
                block = NULL;
                break;
            }
            evicted[n_evicted++] = cache[oldest].block;
            cached_bytes -= cache[oldest].size;
            cache[oldest].block = NULL;
        }
        unlock();
        for (int i = 0; i < n_evicted; i++) release(evicted[i]);
        return;
    }
#endif
    release(block);
}

size_t cconv_release_cached_blocks(void) {
    void *kept[CACHE_SLOTS];
    int n = 0;
    size_t bytes;
    lock();
    bytes = cached_bytes;
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (cache[i].block != NULL) {
            kept[n++] = cache[i].block;
            cache[i].block = NULL;
        }
    cached_bytes = 0;
    unlock();
    for (int i = 0; i < n; i++) release(kept[i]);
    return bytes;
}
