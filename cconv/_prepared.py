"""Prepared calls: a layer's kernel calls validated once, then run again and
again for the same shapes.

cconv.functional validates and normalises every argument on every call: 10 to
30 us of Python a layer, and two to three times that inside a training step,
where the kernels have just pushed the interpreter's own data out of the
caches (a LeNet-5 step spent a third of its time outside the kernels). A
training loop calls each layer with the same shapes step after step, so the
cconv.nn modules keep what one successful functional call established (the
output shape, the kernels specialised for the dtype, their integer arguments)
and afterwards check only what can change between calls: each array's type,
shape, dtype and layout, and, by identity, the geometry arguments.

A prepared call serves only calls that cconv.functional has accepted in the
same form: native float32 or float64 ndarrays of one dtype, C-contiguous, a
non-empty batch. Anything else (a list, a strided view, mixed dtypes, a new
shape) goes through cconv.functional again, which converts or raises; for
the calls it serves, a prepared call computes exactly what the functional
one does, with the same kernels. Its results go into the module's previous
result arrays when nothing else refers to those (see recycled).
"""
import operator
import sys

import numpy as np

from cconv import _arguments as args
from cconv import _kernels
from cconv import _layout
from cconv import functional as F

__all__ = ["Conv2dCall", "MaxPool2dCall", "LinearCall", "relu_call", "relu_backward_call"]

_SIGNATURES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
_NDARRAY = np.ndarray


def _specialised(kernel, dtype):
    """The fused Cython kernel's version for dtype (skips its per-call dispatch)."""
    return kernel[_SIGNATURES[dtype]]


def _plain(arr, shape, dtype):
    """True when `arr` is an ndarray of exactly this shape and dtype, C-contiguous."""
    return (type(arr) is _NDARRAY and arr.shape == shape and arr.dtype == dtype
            and arr.flags.c_contiguous)


# sys.getrefcount of an array held by one attribute, seen from recycled(): the
# attribute, recycled's local variable and getrefcount's own argument
_ONLY_ITS_OWNER = 3
_COUNTS_REFERENCES = sys.implementation.name == "cpython"


def recycled(owner, name, shape, dtype):
    """An array for a layer's new result: `owner.name`, its previous result,
    when nothing but that attribute refers to it, else a new array.

    A training step replaces each layer's output and gradInput with arrays of
    the same shapes; new ones of a megabyte or more come as fresh pages from
    the OS (malloc hands freed heap tops back), ~50 page faults a LeNet step,
    and cold in the caches. An array whose only reference is the attribute
    (no caller's variable, no view, no exported buffer: each of those holds a
    reference) can be written again without anyone seeing the change."""
    previous = owner.__dict__.get(name)
    if (_COUNTS_REFERENCES and type(previous) is _NDARRAY and previous.shape == shape
            and previous.dtype == dtype and previous.base is None
            and previous.flags.writeable and previous.flags.c_contiguous
            and sys.getrefcount(previous) == _ONLY_ITS_OWNER):
        return previous
    return np.empty(shape, dtype)


def _eligible(*arrays):
    """The one kernel dtype of `arrays` (None entries skipped) when every one is a
    C-contiguous ndarray of it and the first has a non-empty batch; else None."""
    first = arrays[0]
    if type(first) is not _NDARRAY or first.dtype not in _SIGNATURES or not first.size:
        return None
    dtype = first.dtype
    for arr in arrays:
        if arr is not None and not (type(arr) is _NDARRAY and arr.dtype == dtype
                                    and arr.flags.c_contiguous):
            return None
    return dtype


def _operands_fit(call, x, weight, bias):
    """x, weight and bias (or None) have the call's shapes and dtype, C-contiguous."""
    dtype = call.dtype
    if bias is None:
        if call.bias_shape is not None:
            return False
    elif not _plain(bias, call.bias_shape, dtype):
        return False
    return _plain(x, call.x_shape, dtype) and _plain(weight, call.weight_shape, dtype)


def _same(values, expected):
    """Each geometry argument is the very object the call was prepared with."""
    return all(map(operator.is_, values, expected))


_IMMUTABLE = frozenset((int, str, bool, type(None)))


def _immutable(value):
    """True for geometry values that cannot change in place (a list can: a
    module built with stride=[1, 1] is never prepared)."""
    kind = type(value)
    return kind in _IMMUTABLE or (kind is tuple and all(map(_immutable, value)))


class Conv2dCall:
    """conv2d forward and backward for one geometry and one set of shapes."""

    __slots__ = ("geometry", "dtype", "x_shape", "weight_shape", "bias_shape", "output_shape",
                 "kernel_args", "no_bias", "run_forward", "run_input", "run_weight", "run_bias",
                 "run_weight_bias")

    @classmethod
    def prepare(cls, x, weight, bias, geometry):
        """The call for these arrays and geometry (stride, padding, dilation, groups,
        data_format), which conv2d has just accepted; None when they are not eligible."""
        dtype = _eligible(x, weight, bias)
        if dtype is None or not _immutable(geometry):
            return None
        stride, padding, dilation, groups, fmt = geometry
        fmt = _layout.data_format(fmt)
        checked = F._check_conv2d(x, weight, stride, padding, dilation, groups,
                                  dtype.itemsize, fmt)
        call = cls()
        call.geometry, call.dtype = tuple(geometry), dtype
        call.x_shape, call.weight_shape = x.shape, weight.shape
        call.bias_shape = None if bias is None else bias.shape
        call.output_shape, call.kernel_args = checked.output_shape, checked.kernel_args()
        call.no_bias = np.empty((0,), dtype)
        nhwc = fmt == "NHWC"
        call.run_forward = _specialised(
            _kernels.run_conv2d_forward_nhwc if nhwc else _kernels.run_conv2d_forward, dtype)
        call.run_input = _specialised(
            _kernels.run_conv2d_backward_input_nhwc if nhwc
            else _kernels.run_conv2d_backward_input, dtype)
        call.run_weight = _specialised(
            _kernels.run_conv2d_backward_weight_nhwc if nhwc
            else _kernels.run_conv2d_backward_weight, dtype)
        call.run_bias = _specialised(
            _kernels.run_conv2d_backward_bias_nhwc if nhwc
            else _kernels.run_conv2d_backward_bias, dtype)
        # NCHW: dW and the bias gradient in one call (see functional.conv2d_backward)
        call.run_weight_bias = None if nhwc else _specialised(
            _kernels.run_conv2d_backward_weight_bias, dtype)
        return call

    def fits(self, x, weight, bias, geometry):
        return _operands_fit(self, x, weight, bias) and _same(geometry, self.geometry)

    def fits_grad_output(self, grad_output):
        return _plain(grad_output, self.output_shape, self.dtype)

    def forward(self, x, weight, bias, owner):
        """conv2d(x, weight, bias) into owner.output when that can be recycled."""
        out = recycled(owner, "output", self.output_shape, self.dtype)
        self.run_forward(x, weight, self.no_bias if bias is None else bias, out,
                         *self.kernel_args)
        return out

    def backward(self, grad_output, x, weight, output_mask, owner):
        """(grad_input, grad_weight, grad_bias) as conv2d_backward, None where not
        wanted; grad_input into owner.gradInput when that can be recycled."""
        want_input, want_weight, want_bias = output_mask
        grad_input = grad_weight = grad_bias = None
        if want_input:
            grad_input = recycled(owner, "gradInput", self.x_shape, self.dtype)
            self.run_input(grad_output, weight, grad_input, *self.kernel_args)
        if want_bias:
            channels = _layout.weight_to_kcrs_shape(self.weight_shape, self.geometry[4])[0]
            grad_bias = np.empty((channels,), self.dtype)
        if want_weight:
            grad_weight = np.empty(self.weight_shape, self.dtype)
            if want_bias and self.run_weight_bias is not None:
                self.run_weight_bias(grad_output, x, grad_weight, grad_bias, *self.kernel_args)
                return grad_input, grad_weight, grad_bias
            self.run_weight(grad_output, x, grad_weight, *self.kernel_args)
        if want_bias:
            self.run_bias(grad_output, grad_bias)
        return grad_input, grad_weight, grad_bias


class MaxPool2dCall:
    """max_pool2d forward (with indices) and backward for one geometry and input shape."""

    __slots__ = ("geometry", "dtype", "x_shape", "output_shape", "kernel_args",
                 "run_forward", "run_backward")

    @classmethod
    def prepare(cls, x, geometry):
        """geometry: (kernel_size, stride, padding, dilation, ceil_mode, data_format),
        which max_pool2d has just accepted for x."""
        dtype = _eligible(x)
        if dtype is None or not _immutable(geometry):
            return None
        kernel_size, stride, padding, dilation, ceil_mode, fmt = geometry
        fmt = _layout.data_format(fmt)
        checked = F._check_pool2d("max_pool2d", x.shape, kernel_size, stride, padding,
                                  dilation, ceil_mode, dtype.itemsize, fmt)
        call = cls()
        call.geometry, call.dtype, call.x_shape = tuple(geometry), dtype, x.shape
        call.output_shape = checked.output_shape
        call.kernel_args = checked.kernel_args() + checked.dilation
        nhwc = fmt == "NHWC"
        call.run_forward = _specialised(
            _kernels.run_max_pool2d_forward_nhwc if nhwc else _kernels.run_max_pool2d_forward,
            dtype)
        call.run_backward = _specialised(
            _kernels.run_max_pool2d_backward_nhwc if nhwc else _kernels.run_max_pool2d_backward,
            dtype)
        return call

    def fits(self, x, geometry):
        return _plain(x, self.x_shape, self.dtype) and _same(geometry, self.geometry)

    def fits_backward(self, grad_output, indices):
        return (_plain(grad_output, self.output_shape, self.dtype)
                and type(indices) is _NDARRAY and indices.flags.c_contiguous)

    def forward(self, x, owner):
        """(output, indices) into owner.output and owner.max_indices when those
        can be recycled."""
        out = recycled(owner, "output", self.output_shape, self.dtype)
        indices = recycled(owner, "max_indices", self.output_shape, np.dtype(np.int64))
        self.run_forward(x, out, indices, *self.kernel_args)
        return out, indices

    def backward(self, grad_output, indices, owner):
        # the indices are the caller's array: their type and shape checked as
        # by max_pool2d_backward, their values by the kernel as it scatters
        args.check_indices(indices, self.output_shape)
        grad_input = recycled(owner, "gradInput", self.x_shape, self.dtype)
        try:
            self.run_backward(grad_output, indices, grad_input)
        except ValueError:
            owner.gradInput = None  # a recycled gradInput holds part of the sums now
            raise
        return grad_input


class LinearCall:
    """linear forward and backward for 2-D inputs of one shape."""

    __slots__ = ("dtype", "x_shape", "weight_shape", "bias_shape", "output_shape", "no_bias",
                 "unused", "run_forward", "run_backward")

    @classmethod
    def prepare(cls, x, weight, bias):
        dtype = _eligible(x, weight, bias)
        if dtype is None or x.ndim != 2:
            return None
        call = cls()
        call.dtype, call.x_shape, call.weight_shape = dtype, x.shape, weight.shape
        call.bias_shape = None if bias is None else bias.shape
        call.output_shape = (x.shape[0], weight.shape[0])
        call.no_bias, call.unused = np.empty((0,), dtype), np.empty((0, 0), dtype)
        call.run_forward = _specialised(_kernels.run_linear_forward, dtype)
        call.run_backward = _specialised(_kernels.run_linear_backward, dtype)
        return call

    def fits(self, x, weight, bias):
        return _operands_fit(self, x, weight, bias)

    def fits_backward(self, grad_output, grad_weight, grad_bias):
        """grad_output of the output's shape, and the gradient arrays writeable
        C-contiguous arrays of the parameters' shapes to add into."""
        dtype = self.dtype
        if not (_plain(grad_output, self.output_shape, dtype)
                and _plain(grad_weight, self.weight_shape, dtype)
                and grad_weight.flags.writeable):
            return False
        if grad_bias is None:
            return self.bias_shape is None
        return _plain(grad_bias, self.bias_shape, dtype) and grad_bias.flags.writeable

    def forward(self, x, weight, bias, owner):
        """linear(x, weight, bias) into owner.output when that can be recycled."""
        out = recycled(owner, "output", self.output_shape, self.dtype)
        self.run_forward(x, weight, self.no_bias if bias is None else bias, out)
        return out

    def backward(self, grad_output, x, weight, grad_weight, grad_bias, want_input, owner):
        """grad_input (or None; into owner.gradInput when that can be recycled);
        the parameter gradients are added to grad_weight and grad_bias (or
        None: no bias) in place."""
        grad_input = (recycled(owner, "gradInput", self.x_shape, self.dtype) if want_input
                      else self.unused)
        has_bias = grad_bias is not None
        self.run_backward(grad_output, x, weight, grad_input, grad_weight,
                          grad_bias if has_bias else self.no_bias,
                          want_input, True, has_bias, True)
        return grad_input if want_input else None


_RELU_FORWARD = {dtype: _specialised(_kernels.run_relu_forward, dtype) for dtype in _SIGNATURES}
_RELU_BACKWARD = {dtype: _specialised(_kernels.run_relu_backward, dtype) for dtype in _SIGNATURES}


def relu_call(x, owner):
    """F.relu(x) for a C-contiguous float ndarray, or None for anything else;
    into owner.output when that can be recycled."""
    if type(x) is not _NDARRAY or x.dtype not in _SIGNATURES or not x.flags.c_contiguous:
        return None
    out = recycled(owner, "output", x.shape, x.dtype)
    if out.size:
        _RELU_FORWARD[x.dtype](x.reshape(-1), out.reshape(-1))
    return out


def relu_backward_call(grad_output, x, owner):
    """F.relu_backward(grad_output, x) for C-contiguous float ndarrays of one
    shape and dtype, or None for anything else; into owner.gradInput when
    that can be recycled."""
    if (type(x) is not _NDARRAY or x.dtype not in _SIGNATURES
            or not _plain(grad_output, x.shape, x.dtype) or not x.flags.c_contiguous):
        return None
    grad_input = recycled(owner, "gradInput", x.shape, x.dtype)
    if grad_input.size:
        _RELU_BACKWARD[x.dtype](grad_output.reshape(-1), x.reshape(-1), grad_input.reshape(-1))
    return grad_input
