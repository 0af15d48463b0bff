# Inverted dropout, forward and backward: one pass each, in chunks over the
# threads for large arrays. Each chunk passes the global index of its first
# element, so the counter-based mask (csrc/dropout.h) is the same for any
# thread count. NumPy's way (float uniforms, a compare, a cast, a multiply)
# made four passes and a float32 array of draws: 3-4 ms forward for mnist-cnn's
# 64x64x12x12 float32 on one core, 0.7-1.3 ms here.
from libc.stdint cimport uint8_t, uint32_t, uint64_t

cdef extern from "dropout.h" nogil:
    void cconv_dropout_forward_f32(const float *x, float *out, uint8_t *mask, int64_t offset,
                                   int64_t n, uint64_t seed, uint32_t threshold, double scale)
    void cconv_dropout_forward_f64(const double *x, double *out, uint8_t *mask, int64_t offset,
                                   int64_t n, uint64_t seed, uint32_t threshold, double scale)
    void cconv_dropout_backward_f32(const float *grad_output, const uint8_t *mask,
                                    float *grad_input, int64_t n, double scale)
    void cconv_dropout_backward_f64(const double *grad_output, const uint8_t *mask,
                                    double *grad_input, int64_t n, double scale)


cdef int dropout_forward(const floating[::1] x, floating[::1] out, uint8_t[::1] mask,
                         uint64_t seed, uint32_t threshold, double scale,
                         int64_t offset) noexcept nogil:
    """out = x * scale where the draw of (seed, offset + i) is >= threshold,
    else 0; mask = 1 where kept, else 0. offset: the position of x[0] in the
    array the mask is drawn for (0 for a whole array)."""
    cdef Py_ssize_t n = x.shape[0], span = elementwise_span(n), c, start
    cdef Py_ssize_t spans = ceil_div(n, span)
    for c in prange(spans, schedule="static", num_threads=threads_for(spans)):
        start = c * span
        if floating is float:
            cconv_dropout_forward_f32(&x[start], &out[start], &mask[start], offset + start,
                                      min(span, n - start), seed, threshold, scale)
        else:
            cconv_dropout_forward_f64(&x[start], &out[start], &mask[start], offset + start,
                                      min(span, n - start), seed, threshold, scale)
    return 0


cdef int dropout_backward(const floating[::1] grad_output, const uint8_t[::1] mask,
                          floating[::1] grad_input, double scale) noexcept nogil:
    """grad_input = grad_output * scale where mask is non-zero, else 0."""
    cdef Py_ssize_t n = grad_output.shape[0], span = elementwise_span(n), c, start
    cdef Py_ssize_t spans = ceil_div(n, span)
    for c in prange(spans, schedule="static", num_threads=threads_for(spans)):
        start = c * span
        if floating is float:
            cconv_dropout_backward_f32(&grad_output[start], &mask[start], &grad_input[start],
                                       min(span, n - start), scale)
        else:
            cconv_dropout_backward_f64(&grad_output[start], &mask[start], &grad_input[start],
                                       min(span, n - start), scale)
    return 0


def run_dropout_forward(const floating[::1] x, floating[::1] out, uint8_t[::1] mask,
                        uint64_t seed, uint32_t threshold, double scale, int64_t offset=0):
    with nogil:
        cconv_enter_call()
        dropout_forward(x, out, mask, seed, threshold, scale, offset)
        cconv_leave_call()


def run_dropout_backward(const floating[::1] grad_output, const uint8_t[::1] mask,
                         floating[::1] grad_input, double scale):
    with nogil:
        cconv_enter_call()
        dropout_backward(grad_output, mask, grad_input, scale)
        cconv_leave_call()
