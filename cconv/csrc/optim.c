/* SGD-with-momentum kernels (see optim.h): one pass where NumPy's form
 * (v *= m; v += lr * g; x -= v) takes four, with the very same roundings:
 * each product and sum is rounded to the array's type on its own, so results
 * are bitwise NumPy's. Contraction into FMAs would change those roundings. */
#include "optim.h"

#if defined(__clang__)
#define NO_CONTRACT _Pragma("clang fp contract(off)")
#else
#if defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#define NO_CONTRACT
#endif

#define SGD_MOMENTUM_KERNEL(SFX, REAL)                                                     \
    void cconv_sgd_momentum_##SFX(REAL *x, const REAL *g, REAL *v, int64_t n,             \
                                  REAL learning_rate, REAL momentum) {                    \
        NO_CONTRACT                                                                       \
        for (int64_t i = 0; i < n; i++) {                                                 \
            const REAL decayed = v[i] * momentum, step = learning_rate * g[i];            \
            const REAL velocity = decayed + step;                                         \
            v[i] = velocity;                                                              \
            x[i] -= velocity;                                                             \
        }                                                                                 \
    }

SGD_MOMENTUM_KERNEL(f32, float)
SGD_MOMENTUM_KERNEL(f64, double)
