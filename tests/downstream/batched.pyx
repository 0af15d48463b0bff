# cython: language_level=3, boundscheck=False, wraparound=False
"""A downstream extension: cimports cconv's kernels and calls them without
the GIL from its own prange (tests/test_cython_api.py builds it)."""
from cython.parallel cimport prange
from libc.stdint cimport int64_t

from cconv._kernels cimport conv2d_forward, conv2d_backward_input, conv2d_backward_weight
from cconv._kernels cimport max_pool2d_forward, max_pool2d_backward
from cconv._kernels cimport avg_pool2d_forward, avg_pool2d_backward


def conv_many(const float[:, :, :, :, ::1] xs, const float[:, :, :, ::1] w,
              const float[::1] bias, float[:, :, :, :, ::1] out, int pad):
    """out[b] = conv2d(xs[b], w, bias, padding=pad), one batch per iteration."""
    cdef Py_ssize_t b
    cdef int failures = 0
    for b in prange(xs.shape[0], nogil=True):
        failures += conv2d_forward(xs[b], w, bias, out[b], 1, 1, pad, pad, 1, 1, 1)
    return failures


def conv_grads_many(const double[:, :, :, :, ::1] gys, const double[:, :, :, :, ::1] xs,
                    const double[:, :, :, ::1] w, double[:, :, :, :, ::1] gxs,
                    double[:, :, :, :, ::1] gws, int pad):
    cdef Py_ssize_t b
    cdef int failures = 0
    for b in prange(xs.shape[0], nogil=True):
        failures += conv2d_backward_input(gys[b], w, gxs[b], 1, 1, pad, pad, 1, 1, 1)
        failures += conv2d_backward_weight(gys[b], xs[b], gws[b], 1, 1, pad, pad, 1, 1, 1)
    return failures


def max_pool_many(const float[:, :, :, :, ::1] xs, float[:, :, :, :, ::1] out,
                  int64_t[:, :, :, :, ::1] indices, float[:, :, :, :, ::1] grad_in):
    """2x2 max pooling of each xs[b], then its backward with grad_output = out[b]."""
    cdef Py_ssize_t b
    cdef int failures = 0
    for b in prange(xs.shape[0], nogil=True):
        failures += max_pool2d_forward(xs[b], out[b], indices[b], 2, 2, 2, 2, 0, 0, 1, 1)
        failures += max_pool2d_backward(out[b], indices[b], grad_in[b])
    return failures


def avg_pool_many(const double[:, :, :, :, ::1] xs, double[:, :, :, :, ::1] out,
                  double[:, :, :, :, ::1] grad_in):
    """3x3 stride-2 pad-1 average pooling of each xs[b] and its backward."""
    cdef Py_ssize_t b
    cdef int failures = 0
    for b in prange(xs.shape[0], nogil=True):
        failures += avg_pool2d_forward(xs[b], out[b], 3, 3, 2, 2, 1, 1, True, 0)
        failures += avg_pool2d_backward(out[b], grad_in[b], 3, 3, 2, 2, 1, 1, True, 0)
    return failures
