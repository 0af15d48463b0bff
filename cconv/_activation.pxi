# ReLU forward and backward: one pass each over contiguous arrays, in chunks
# over the threads for large ones. NumPy's maximum(x, 0) and multiply(g, x > 0)
# take one and three passes (the mask is a temporary) on one thread; in a
# small CNN these elementwise layers cost as much as a conv.

cdef extern from "activation.h" nogil:
    void cconv_relu_forward_f32(const float *x, float *out, int64_t n)
    void cconv_relu_forward_f64(const double *x, double *out, int64_t n)
    void cconv_relu_backward_f32(const float *grad_output, const float *x, float *grad_input,
                                 int64_t n)
    void cconv_relu_backward_f64(const double *grad_output, const double *x,
                                 double *grad_input, int64_t n)

# Elements a thread must have before a second one is worth starting.
cdef enum:
    ELEMENTWISE_CHUNK = 65536


cdef inline Py_ssize_t elementwise_span(Py_ssize_t n) noexcept nogil:
    """Elements per thread of an elementwise pass over n: one even span each
    (rounded up to 16, a cache line of float32), not 64K chunks dealt out in
    turn: five chunks on two threads gave one thread 3/5 of a LeNet
    activation and took 2.5x torch's time; halves stay in each core's L2."""
    cdef Py_ssize_t parts = threads_for(ceil_div(n, ELEMENTWISE_CHUNK))
    return max(16, (ceil_div(n, parts) + 15) // 16 * 16)


cdef int relu_forward(const floating[::1] x, floating[::1] out) noexcept nogil:
    """out = x where x > 0 (and where x is NaN, as np.maximum), else 0."""
    cdef Py_ssize_t n = x.shape[0], span = elementwise_span(n), c, start
    cdef Py_ssize_t spans = ceil_div(n, span)
    for c in prange(spans, schedule="static", num_threads=threads_for(spans)):
        start = c * span
        if floating is float:
            cconv_relu_forward_f32(&x[start], &out[start], min(span, n - start))
        else:
            cconv_relu_forward_f64(&x[start], &out[start], min(span, n - start))
    return 0


cdef int relu_backward(const floating[::1] grad_output, const floating[::1] x,
                       floating[::1] grad_input) noexcept nogil:
    """grad_input = 0 where x <= 0, else grad_output (torch's threshold_backward:
    a NaN input passes its gradient on)."""
    cdef Py_ssize_t n = x.shape[0], span = elementwise_span(n), c, start
    cdef Py_ssize_t spans = ceil_div(n, span)
    for c in prange(spans, schedule="static", num_threads=threads_for(spans)):
        start = c * span
        if floating is float:
            cconv_relu_backward_f32(&grad_output[start], &x[start], &grad_input[start],
                                    min(span, n - start))
        else:
            cconv_relu_backward_f64(&grad_output[start], &x[start], &grad_input[start],
                                    min(span, n - start))
    return 0


def run_relu_forward(const floating[::1] x, floating[::1] out):
    with nogil:
        cconv_enter_call()   # share the thread budget with concurrent calls
        relu_forward(x, out)
        cconv_leave_call()


def run_relu_backward(const floating[::1] grad_output, const floating[::1] x,
                      floating[::1] grad_input):
    with nogil:
        cconv_enter_call()
        relu_backward(grad_output, x, grad_input)
        cconv_leave_call()
