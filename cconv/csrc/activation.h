/* ReLU forward and backward over n contiguous elements (one chunk of a
 * parallel loop). Plain loops of selects, which compilers vectorise. */
#ifndef CCONV_ACTIVATION_H
#define CCONV_ACTIVATION_H

#include <stdint.h>

void cconv_relu_forward_f32(const float *x, float *out, int64_t n);
void cconv_relu_forward_f64(const double *x, double *out, int64_t n);
void cconv_relu_backward_f32(const float *grad_output, const float *x, float *grad_input,
                             int64_t n);
void cconv_relu_backward_f64(const double *grad_output, const double *x, double *grad_input,
                             int64_t n);

#endif
