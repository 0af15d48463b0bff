# The SGD-with-momentum update of cconv.optim in one pass per parameter array,
# in chunks over the threads for large ones: NumPy's four passes cost ~25 us a
# parameter in a LeNet step, and on the MNIST net's 1.2M fc weights read the
# arrays from memory four times.

cdef extern from "optim.h" nogil:
    void cconv_sgd_momentum_f32(float *x, const float *g, float *v, int64_t n,
                                float learning_rate, float momentum)
    void cconv_sgd_momentum_f64(double *x, const double *g, double *v, int64_t n,
                                double learning_rate, double momentum)


cdef int sgd_momentum(floating[::1] x, const floating[::1] g, floating[::1] v,
                      floating learning_rate, floating momentum) noexcept nogil:
    """v = momentum * v + learning_rate * g; x -= v (every step rounded to floating)."""
    cdef Py_ssize_t n = x.shape[0], span = elementwise_span(n), c, start
    cdef Py_ssize_t spans = ceil_div(n, span)
    for c in prange(spans, schedule="static", num_threads=threads_for(spans)):
        start = c * span
        if floating is float:
            cconv_sgd_momentum_f32(&x[start], &g[start], &v[start],
                                   min(span, n - start), learning_rate, momentum)
        else:
            cconv_sgd_momentum_f64(&x[start], &g[start], &v[start],
                                   min(span, n - start), learning_rate, momentum)
    return 0


def run_sgd_momentum(floating[::1] x, const floating[::1] g, floating[::1] v,
                     double learning_rate, double momentum):
    # the scalars rounded to the arrays' type first, as NumPy does with a
    # Python float against a float32 array
    with nogil:
        cconv_enter_call()
        sgd_momentum(x, g, v, <floating>learning_rate, <floating>momentum)
        cconv_leave_call()
