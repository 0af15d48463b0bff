"""Conv2d: a module over cconv.functional.conv2d / conv2d_backward.

W is (out_channels, in_channels / groups, kh, kw) as in the homework and torch;
with data_format="NHWC" inputs are (N, H, W, C) and W is HWIO
(kh, kw, in_channels / groups, out_channels), as in TensorFlow.
The default padding is 'same' (the homework's Conv2d keeps H and W); any
padding cconv.functional.conv2d takes is accepted.
"""
import numpy as np

from .. import _layout
from .. import _prepared
from .. import functional as F
from .init import uniform_fan_in
from .module import Module, compute_dtype

__all__ = ["Conv2d"]


def _pair(value, name):
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v > 0 for v in pair):
        raise ValueError(f"{name} must be a positive int or a pair of them, got {value!r}")
    return tuple(int(v) for v in pair)


class Conv2d(Module):
    parameter_names = ("W", "b")
    grad_names = ("gradW", "gradb")

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding="same",
                 dilation=1, groups=1, bias=True, dtype=np.float32, data_format="NCHW"):
        super().__init__()
        self.data_format = _layout.data_format(data_format)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"in_channels ({in_channels}) and out_channels ({out_channels}) "
                             f"must be divisible by groups ({groups})")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.bias = bool(bias)
        shape = (self.out_channels, self.in_channels // groups) + self.kernel_size
        fan_in = shape[1] * shape[2] * shape[3]
        if self.data_format == "NHWC":
            shape = self.kernel_size + (self.in_channels // groups, self.out_channels)
        self.W = uniform_fan_in(shape, fan_in, dtype)
        self.gradW = np.zeros_like(self.W)
        if self.bias:
            self.b = uniform_fan_in((self.out_channels,), fan_in, dtype)
            self.gradb = np.zeros_like(self.b)
        else:
            self.parameter_names, self.grad_names = ("W",), ("gradW",)
        # the last call's shapes, validated (cconv._prepared); None until then
        self._call = None

    def _geometry_args(self):
        return self.stride, self.padding, self.dilation, self.groups, self.data_format

    def _prepared_for(self, input, b):
        """The prepared call when input, parameters (b: the bias or None) and
        geometry still fit it."""
        call = self._call
        if call is not None and call.fits(input, self.W, b, self._geometry_args()):
            return call
        return None

    def _geometry(self):
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                    groups=self.groups, data_format=self.data_format)

    def _operands(self, input, *arrays):
        # the functional API takes one dtype: cast to the NumPy promotion of
        # input and parameters (no copy when they already agree)
        dtype = compute_dtype(input.dtype, self.W.dtype)
        return [None if a is None else a.astype(dtype, copy=False) for a in (input,) + arrays]

    def updateOutput(self, input):
        b = self.b if self.bias else None
        call = self._prepared_for(input, b)
        if call is not None:
            self.output = call.forward(input, self.W, b, self)
            return self.output
        x, W, b_cast = self._operands(input, self.W, b)
        self.output = F.conv2d(x, W, b_cast, **self._geometry())
        # only the module's own arrays: a call that casts them is never prepared
        self._call = _prepared.Conv2dCall.prepare(input, self.W, b, self._geometry_args())
        return self.output

    def _backward(self, input, gradOutput, output_mask):
        call = self._prepared_for(input, self.b if self.bias else None)
        if call is not None and call.fits_grad_output(gradOutput):
            return call.backward(gradOutput, input, self.W, output_mask, self)
        x, W, g = self._operands(input, self.W, gradOutput)
        return F.conv2d_backward(g, x, W, **self._geometry(), output_mask=output_mask)

    def _accumulate(self, grad_weight, grad_bias):
        self.gradW += grad_weight
        if self.bias:
            self.gradb += grad_bias

    def updateGradInput(self, input, gradOutput):
        if not self.needs_gradInput:
            self.gradInput = None
            return None
        self.gradInput = self._backward(input, gradOutput, (True, False, False))[0]
        return self.gradInput

    def accGradParameters(self, input, gradOutput):
        _, grad_weight, grad_bias = self._backward(input, gradOutput, (False, True, self.bias))
        self._accumulate(grad_weight, grad_bias)

    def backward(self, input, gradOutput):
        # one conv2d_backward call for all three gradients: same results as
        # updateGradInput + accGradParameters, one pass of shared set-up
        mask = (self.needs_gradInput, True, self.bias)
        self.gradInput, grad_weight, grad_bias = self._backward(input, gradOutput, mask)
        self._accumulate(grad_weight, grad_bias)
        return self.gradInput

    def __repr__(self):
        extra = "".join(f", {name}={value!r}" for name, value, default in (
            ("stride", self.stride, 1), ("padding", self.padding, "same"),
            ("dilation", self.dilation, 1), ("groups", self.groups, 1), ("bias", self.bias, True),
            ("data_format", self.data_format, "NCHW"))
            if value != default)
        kernel = self.kernel_size[0] if self.kernel_size[0] == self.kernel_size[1] else self.kernel_size
        return f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={kernel}{extra})"
