/* Bias gradient of a channels-last conv: out[k - k0] = sum over rows r of
 * gy[r * K + k] for k in [k0, k1), summed in double in row order. */
#ifndef CCONV_BIAS_GRAD_NHWC_H
#define CCONV_BIAS_GRAD_NHWC_H

#include <stdint.h>

/* Channels per call: the double accumulators of one call. */
#define CCONV_BIAS_GRAD_CHANNELS 64

void cconv_bias_grad_nhwc_f32(const float *gy, int64_t rows, int64_t K, int64_t k0, int64_t k1,
                              float *out);
void cconv_bias_grad_nhwc_f64(const double *gy, int64_t rows, int64_t K, int64_t k0,
                              int64_t k1, double *out);

#endif
