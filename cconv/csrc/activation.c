/* ReLU kernels (see activation.h). out = 0 where x <= 0, so NaN inputs pass
 * through (as np.maximum, torch.relu); the gradient is 0 where x <= 0, else
 * grad_output (torch's threshold_backward). */
#include "activation.h"

#define RELU_KERNELS(SFX, REAL)                                                            \
    void cconv_relu_forward_##SFX(const REAL *x, REAL *out, int64_t n) {                  \
        for (int64_t i = 0; i < n; i++) out[i] = x[i] <= 0 ? (REAL)0 : x[i];              \
    }                                                                                     \
    /* grad_output is read unconditionally: a read under the condition must stay  \
     * a branch (it could fault), which mispredicts on real data (5 ns/element). */ \
    void cconv_relu_backward_##SFX(const REAL *grad_output, const REAL *x,                \
                                   REAL *grad_input, int64_t n) {                         \
        for (int64_t i = 0; i < n; i++) {                                                 \
            const REAL g = grad_output[i];                                                \
            grad_input[i] = x[i] <= 0 ? (REAL)0 : g;                                      \
        }                                                                                 \
    }

RELU_KERNELS(f32, float)
RELU_KERNELS(f64, double)
