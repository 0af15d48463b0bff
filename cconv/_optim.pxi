# The SGD-with-momentum update of cconv.optim: one pass over each parameter
# array where NumPy's form takes four (~25 us a parameter in a LeNet step, and
# the MNIST net's 1.2M fc weights read from memory four times), all of a
# step's arrays in one call.

cdef extern from "optim.h" nogil:
    void cconv_sgd_momentum_f32(float *x, const float *g, float *v, int64_t n,
                                float learning_rate, float momentum)
    void cconv_sgd_momentum_f64(double *x, const double *g, double *v, int64_t n,
                                double learning_rate, double momentum)


# One call for all the arrays: a call per array cost ~3 us of set-up each
# (buffers, thread team), ten arrays a LeNet step. The arrays are treated as
# one concatenation, cut into one even span a thread.

from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, Py_buffer
from cpython.buffer cimport PyBUF_C_CONTIGUOUS, PyBUF_WRITABLE

# Elements a thread must have before a second one is worth starting: a
# quarter of ReLU's, since each element moves five values (read x, g, v; write
# x, v). LeNet's 62K parameters on two threads: 0.68x the time (0.74x from
# cold caches, as inside a step).
cdef enum:
    SGD_CHUNK = ELEMENTWISE_CHUNK // 4


cdef void sgd_momentum_span(char **x, char **g, char **v, const int64_t *offsets,
                            Py_ssize_t arrays, int64_t start, int64_t stop, bint is_double,
                            double learning_rate, double momentum) noexcept nogil:
    """The update on elements [start, stop) of the arrays laid end to end."""
    cdef Py_ssize_t i
    cdef int64_t lo, hi
    for i in range(arrays):
        lo, hi = max(start, offsets[i]), min(stop, offsets[i + 1])
        if lo >= hi:
            continue
        lo -= offsets[i]
        hi -= offsets[i]
        if is_double:
            cconv_sgd_momentum_f64(<double *>x[i] + lo, <const double *>g[i] + lo,
                                   <double *>v[i] + lo, hi - lo, learning_rate, momentum)
        else:
            cconv_sgd_momentum_f32(<float *>x[i] + lo, <const float *>g[i] + lo,
                                   <float *>v[i] + lo, hi - lo, <float>learning_rate,
                                   <float>momentum)


def run_sgd_momentum_arrays(list variables, list gradients, list velocities,
                            double learning_rate, double momentum, bint is_double):
    """v = momentum * v + learning_rate * g; x -= v (every step rounded to the
    arrays' type) over several (variable, gradient, velocity) triples at once.
    The caller has checked each: C-contiguous ndarrays of one float dtype
    (float64 when is_double) and one size, variable and velocity writeable;
    the buffer requests below still refuse a non-contiguous or read-only one."""
    cdef Py_ssize_t arrays = len(variables), i, filled = 0
    cdef Py_ssize_t itemsize = 8 if is_double else 4
    cdef Py_buffer *views = <Py_buffer *> calloc(max(3 * arrays, 1), sizeof(Py_buffer))
    cdef char **pointers = <char **> calloc(max(3 * arrays, 1), sizeof(char *))
    cdef int64_t *offsets = <int64_t *> calloc(arrays + 1, sizeof(int64_t))
    cdef int64_t total, span
    cdef int t, teams
    if views == NULL or pointers == NULL or offsets == NULL:
        free(views); free(pointers); free(offsets)
        raise MemoryError()
    try:
        for i in range(arrays):
            PyObject_GetBuffer(variables[i], &views[filled], PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE)
            filled += 1
            PyObject_GetBuffer(gradients[i], &views[filled], PyBUF_C_CONTIGUOUS)
            filled += 1
            PyObject_GetBuffer(velocities[i], &views[filled], PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE)
            filled += 1
            if not (views[filled - 3].len == views[filled - 2].len == views[filled - 1].len):
                raise ValueError(f"parameter {i}: variable, gradient and velocity sizes differ")
            pointers[i] = <char *>views[filled - 3].buf
            pointers[arrays + i] = <char *>views[filled - 2].buf
            pointers[2 * arrays + i] = <char *>views[filled - 1].buf
            offsets[i + 1] = offsets[i] + views[filled - 3].len // itemsize
        total = offsets[arrays]
        with nogil:
            cconv_enter_call()
            teams = threads_for(ceil_div(total, SGD_CHUNK))
            span = (ceil_div(total, teams) + 15) // 16 * 16   # whole cache lines
            for t in prange(teams, schedule="static", num_threads=teams):
                sgd_momentum_span(pointers, pointers + arrays, pointers + 2 * arrays, offsets,
                                  arrays, t * span, min(total, (t + 1) * span), is_double,
                                  learning_rate, momentum)
            cconv_leave_call()
    finally:
        for i in range(filled):
            PyBuffer_Release(&views[i])
        free(views); free(pointers); free(offsets)
