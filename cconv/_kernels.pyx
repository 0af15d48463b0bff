# cython: language_level=3
"""Compiled kernels of cconv.

The `cdef ... nogil` kernels declared in _kernels.pxd are the public Cython API;
the `run_*` functions are their Python entry points, used by cconv.functional
(which validates arguments and allocates outputs first). One include per layer
family keeps each file to one job.
"""
include "_runtime.pxi"
include "_conv2d.pxi"
include "_conv2d_backward_weight.pxi"
include "_conv2d_nhwc.pxi"
include "_pool2d.pxi"
include "_pool2d_nhwc.pxi"
include "_im2col.pxi"
include "_activation.pxi"
include "_dropout.pxi"
include "_linear.pxi"
include "_optim.pxi"
include "_cross_entropy.pxi"
