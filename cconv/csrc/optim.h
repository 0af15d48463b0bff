/* The SGD-with-momentum update over n contiguous elements (one chunk of a
 * parallel loop): v = momentum * v + learning_rate * g; x -= v. */
#ifndef CCONV_OPTIM_H
#define CCONV_OPTIM_H

#include <stdint.h>

void cconv_sgd_momentum_f32(float *x, const float *g, float *v, int64_t n, float learning_rate,
                            float momentum);
void cconv_sgd_momentum_f64(double *x, const double *g, double *v, int64_t n,
                            double learning_rate, double momentum);

#endif
