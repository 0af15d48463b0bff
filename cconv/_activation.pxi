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

# Elements per chunk: below this a second thread costs more than it saves.
cdef enum:
    ELEMENTWISE_CHUNK = 65536


cdef int relu_forward(const floating[::1] x, floating[::1] out) noexcept nogil:
    """out = x where x > 0 (and where x is NaN, as np.maximum), else 0."""
    cdef Py_ssize_t n = x.shape[0], chunks = ceil_div(n, ELEMENTWISE_CHUNK), c, start
    for c in prange(chunks, schedule="static", num_threads=threads_for(chunks)):
        start = c * ELEMENTWISE_CHUNK
        if floating is float:
            cconv_relu_forward_f32(&x[start], &out[start], min(ELEMENTWISE_CHUNK, n - start))
        else:
            cconv_relu_forward_f64(&x[start], &out[start], min(ELEMENTWISE_CHUNK, n - start))
    return 0


cdef int relu_backward(const floating[::1] grad_output, const floating[::1] x,
                       floating[::1] grad_input) noexcept nogil:
    """grad_input = 0 where x <= 0, else grad_output (torch's threshold_backward:
    a NaN input passes its gradient on)."""
    cdef Py_ssize_t n = x.shape[0], chunks = ceil_div(n, ELEMENTWISE_CHUNK), c, start
    for c in prange(chunks, schedule="static", num_threads=threads_for(chunks)):
        start = c * ELEMENTWISE_CHUNK
        if floating is float:
            cconv_relu_backward_f32(&grad_output[start], &x[start], &grad_input[start],
                                    min(ELEMENTWISE_CHUNK, n - start))
        else:
            cconv_relu_backward_f64(&grad_output[start], &x[start], &grad_input[start],
                                    min(ELEMENTWISE_CHUNK, n - start))
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
