/* Channels-last bias gradient (see bias_grad_nhwc.h). Each row's slice of
 * channels is contiguous, so the accumulators walk memory in order; summing
 * one channel at a time strode K floats per element and ran 8x slower than
 * NumPy's sum (8.7 ms for 64x24x24x64). The order of each sum is the rows'
 * order, whatever the split into channel blocks. */
#include "bias_grad_nhwc.h"

#define BIAS_GRAD_NHWC(SFX, REAL)                                                          \
    void cconv_bias_grad_nhwc_##SFX(const REAL *gy, int64_t rows, int64_t K, int64_t k0,  \
                                    int64_t k1, REAL *out) {                              \
        double acc[CCONV_BIAS_GRAD_CHANNELS] = {0};                                       \
        const int64_t n = k1 - k0;                                                        \
        for (int64_t r = 0; r < rows; r++) {                                              \
            const REAL *row = gy + r * K + k0;                                            \
            for (int64_t k = 0; k < n; k++) acc[k] += (double)row[k];                     \
        }                                                                                 \
        for (int64_t k = 0; k < n; k++) out[k] = (REAL)acc[k];                            \
    }

BIAS_GRAD_NHWC(f32, float)
BIAS_GRAD_NHWC(f64, double)
