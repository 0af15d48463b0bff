/* Sum in double of `planes` contiguous runs of n values, each `stride`
 * values after the one before: the bias gradient of a channels-first conv
 * sums one channel's H*W plane of every image. */
#ifndef CCONV_PLANE_SUM_H
#define CCONV_PLANE_SUM_H

#include <stdint.h>

double cconv_plane_sum_f32(const float *first, int64_t planes, int64_t stride, int64_t n);
double cconv_plane_sum_f64(const double *first, int64_t planes, int64_t stride, int64_t n);

#endif
