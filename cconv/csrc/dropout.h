/* Inverted dropout over n contiguous elements (one chunk of a parallel loop).
 *
 * Element i (its global index in the flat array: `offset` is the index of the
 * chunk's first element) is kept when u32(seed, i) >= threshold, where u32 is
 * the low (even i) or high (odd i) half of splitmix64's output number i / 2
 * from state `seed`. The bits depend on (seed, i) alone, so any split into
 * chunks and threads draws the same mask. threshold = floor(p * 2^32) for a
 * drop probability p in [0, 1) (p = 1 is the caller's: all zeros). Kept
 * elements are x * scale with scale rounded to the dtype first (the product
 * of x and a float mask); mask[i] is 1 for kept, 0 for dropped. */
#ifndef CCONV_DROPOUT_H
#define CCONV_DROPOUT_H

#include <stdint.h>

void cconv_dropout_forward_f32(const float *x, float *out, uint8_t *mask, int64_t offset,
                               int64_t n, uint64_t seed, uint32_t threshold, double scale);
void cconv_dropout_forward_f64(const double *x, double *out, uint8_t *mask, int64_t offset,
                               int64_t n, uint64_t seed, uint32_t threshold, double scale);
/* grad_input = mask ? grad_output * scale : 0 (any non-zero mask byte keeps). */
void cconv_dropout_backward_f32(const float *grad_output, const uint8_t *mask,
                                float *grad_input, int64_t n, double scale);
void cconv_dropout_backward_f64(const double *grad_output, const uint8_t *mask,
                                double *grad_input, int64_t n, double scale);

#endif
