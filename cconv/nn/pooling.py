"""MaxPool2d and AvgPool2d over cconv.functional, torch's output sizes
(floor by default, ceil_mode=True to round up); data_format="NHWC" for
(N, H, W, C) inputs, with TensorFlow's padding forms as cconv.functional."""
from .. import _layout
from .. import _prepared
from .. import functional as F
from .module import Module, compute_dtype

__all__ = ["MaxPool2d", "AvgPool2d"]


def _floating(array):
    return array.astype(compute_dtype(array.dtype), copy=False)


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                 data_format="NCHW"):
        super().__init__()
        self.data_format = _layout.data_format(data_format)
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.ceil_mode = dilation, ceil_mode
        # flat position of each maximum in its input H*W plane (torch's convention)
        self.max_indices = None
        # the last call's shapes, validated (cconv._prepared); None until then
        self._call = None

    def _geometry_args(self):
        return (self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                self.data_format)

    def _prepared_for(self, input):
        call = self._call
        if call is not None and call.fits(input, self._geometry_args()):
            return call
        return None

    def updateOutput(self, input):
        call = self._prepared_for(input)
        if call is not None:
            self.output, self.max_indices = call.forward(input, self)
            return self.output
        self.output, self.max_indices = F.max_pool2d(
            _floating(input), self.kernel_size, self.stride, self.padding, self.dilation,
            self.ceil_mode, return_indices=True, data_format=self.data_format)
        self._call = _prepared.MaxPool2dCall.prepare(input, self._geometry_args())
        return self.output

    def updateGradInput(self, input, gradOutput):
        call = self._prepared_for(input)
        if call is not None and call.fits_backward(gradOutput, self.max_indices):
            self.gradInput = call.backward(gradOutput, self.max_indices, self)
            return self.gradInput
        gradOutput = gradOutput.astype(self.output.dtype, copy=False)
        self.gradInput = F.max_pool2d_backward(gradOutput, self.max_indices, input.shape,
                                               data_format=self.data_format)
        return self.gradInput

    def __repr__(self):
        return f"MaxPool2d(kernel_size={self.kernel_size}" + _extra(self) + ")"


class AvgPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None, data_format="NCHW"):
        super().__init__()
        self.data_format = _layout.data_format(data_format)
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def _geometry(self):
        return (self.kernel_size, self.stride, self.padding, self.ceil_mode,
                self.count_include_pad, self.divisor_override)

    def updateOutput(self, input):
        self.output = F.avg_pool2d(_floating(input), *self._geometry(),
                                   data_format=self.data_format)
        return self.output

    def updateGradInput(self, input, gradOutput):
        gradOutput = gradOutput.astype(compute_dtype(input.dtype), copy=False)
        self.gradInput = F.avg_pool2d_backward(gradOutput, input.shape, *self._geometry(),
                                               data_format=self.data_format)
        return self.gradInput

    def __repr__(self):
        return f"AvgPool2d(kernel_size={self.kernel_size}" + _extra(self) + ")"


_DEFAULTS = dict(stride=None, padding=0, dilation=1, ceil_mode=False,
                 count_include_pad=True, divisor_override=None, data_format="NCHW")


def _extra(module):
    return "".join(f", {name}={getattr(module, name)!r}" for name, default in _DEFAULTS.items()
                   if hasattr(module, name) and getattr(module, name) != default)
