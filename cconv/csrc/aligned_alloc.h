/* 64-byte aligned heap blocks for packed weights and kernel workspaces
 * (aligned_alloc.c). Freed blocks are kept for the next call's reuse. */
#ifndef CCONV_ALIGNED_ALLOC_H
#define CCONV_ALIGNED_ALLOC_H

#include <stddef.h>

#define CCONV_ALIGNMENT 64

/* NULL when out of memory. The block's contents are undefined (as malloc's). */
void *cconv_aligned_malloc(size_t size);
void cconv_aligned_free(void *block);
/* Hands the kept blocks back to the C library; returns the bytes released. */
size_t cconv_release_cached_blocks(void);

#endif
