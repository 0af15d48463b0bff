/* Channels-last pooling helpers (pool2d_nhwc.c) and their AVX2 channel loops
 * (pool2d_nhwc_avx2.c). A max "channels" routine does the leading multiple
 * of its vector width of channels and returns where it stopped; start is the
 * index to report when nothing beats -inf. */
#ifndef CCONV_POOL2D_NHWC_H
#define CCONV_POOL2D_NHWC_H

#include <stdint.h>

/* Windows of up to this many taps get a table of plane positions (the stack
 * array of one pixel); larger ones convert tap numbers by division. */
#define CCONV_NHWC_POSITIONS 64

#if defined(__x86_64__) || defined(_M_X64)
#define CCONV_POOL2D_NHWC_HAVE_X86 1
int64_t cconv_max_pool2d_nhwc_channels_f32_avx2(const float *x, int64_t W, int64_t C,
                                                int64_t ih0, int64_t ih1, int64_t dh,
                                                int64_t iw0, int64_t iw1, int64_t dw,
                                                int64_t start, float *out, int64_t *index);
int64_t cconv_max_pool2d_nhwc_channels_f64_avx2(const double *x, int64_t W, int64_t C,
                                                int64_t ih0, int64_t ih1, int64_t dh,
                                                int64_t iw0, int64_t iw1, int64_t dw,
                                                int64_t start, double *out, int64_t *index);
#endif

#endif
