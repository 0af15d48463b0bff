/* Plane sums (see plane_sum.h) over 16 independent double accumulators that
 * the compiler keeps in vector registers, across all the planes: four scalar
 * chains waited out the add latency and took 2.5x torch's time on a LeNet
 * bias gradient (64x6x28x28). The order depends on the shape alone, never on
 * the thread count. */
#include "plane_sum.h"

#define LANES 16

#define PLANE_SUM(SFX, REAL)                                                              \
    double cconv_plane_sum_##SFX(const REAL *first, int64_t planes, int64_t stride,      \
                                 int64_t n) {                                            \
        double acc[LANES] = {0};                                                         \
        for (int64_t p = 0; p < planes; p++) {                                           \
            const REAL *values = first + p * stride;                                     \
            int64_t i = 0;                                                               \
            for (; i + LANES <= n; i += LANES)                                           \
                for (int j = 0; j < LANES; j++) acc[j] += (double)values[i + j];         \
            for (int j = 0; i < n; i++, j++) acc[j] += (double)values[i];                \
        }                                                                                \
        for (int width = LANES / 2; width > 0; width /= 2)                               \
            for (int j = 0; j < width; j++) acc[j] += acc[j + width];                    \
        return acc[0];                                                                   \
    }

PLANE_SUM(f32, float)
PLANE_SUM(f64, double)
