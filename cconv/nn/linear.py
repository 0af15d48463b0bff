"""Linear: output = input @ W.T + b, with W (n_out, n_in) as in the homework,
over cconv.functional.linear / linear_backward (cconv's own kernels)."""
import numpy as np

from .. import _prepared
from .. import functional as F
from .init import uniform_fan_in
from .module import Module, compute_dtype

__all__ = ["Linear"]


class Linear(Module):
    parameter_names = ("W", "b")
    grad_names = ("gradW", "gradb")

    def __init__(self, n_in, n_out, bias=True, dtype=np.float32):
        super().__init__()
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.W = uniform_fan_in((self.n_out, self.n_in), self.n_in, dtype)
        self.gradW = np.zeros_like(self.W)
        if bias:
            self.b = uniform_fan_in((self.n_out,), self.n_in, dtype)
            self.gradb = np.zeros_like(self.b)
        else:
            self.parameter_names, self.grad_names = ("W",), ("gradW",)
        # the last call's shapes, validated (cconv._prepared); None until then
        self._call = None

    @property
    def _has_bias(self):
        return "b" in self.parameter_names

    def _operands(self, input, *arrays):
        if input.shape[-1:] != (self.n_in,):
            raise ValueError(f"{self!r} expects input (..., {self.n_in}), got {input.shape}")
        # the functional API takes one dtype: NumPy promotion of input and parameters
        dtype = compute_dtype(input.dtype, self.W.dtype)
        return [None if a is None else a.astype(dtype, copy=False) for a in (input,) + arrays]

    def updateOutput(self, input):
        b = self.b if self._has_bias else None
        call = self._call
        if call is not None and call.fits(input, self.W, b):
            self.output = call.forward(input, self.W, b, self)
            return self.output
        x, W, b_cast = self._operands(input, self.W, b)
        self.output = F.linear(x, W, b_cast)
        # only the module's own arrays: a call that casts them is never prepared
        self._call = _prepared.LinearCall.prepare(input, self.W, b)
        return self.output

    def _backward(self, input, gradOutput, output_mask):
        """gradInput (or None); adds the parameter gradients to gradW / gradb."""
        call, has_bias = self._call, self._has_bias
        if (call is not None and output_mask[1] and output_mask[2] == has_bias
                and call.fits(input, self.W, self.b if has_bias else None)
                and call.fits_backward(gradOutput, self.gradW,
                                       self.gradb if has_bias else None)):
            return call.backward(gradOutput, input, self.W, self.gradW,
                                 self.gradb if has_bias else None, output_mask[0], self)
        x, W, g = self._operands(input, self.W, gradOutput)
        grads = (self.gradW, self.gradb if self._has_bias else None)
        if all(a is None or (a.dtype == x.dtype and a.flags.c_contiguous and a.flags.writeable)
               for a in grads):
            # straight into the gradient arrays: no temporary, no extra pass
            return F.linear_backward(g, x, W, output_mask, add_to=grads)[0]
        grad_input, grad_weight, grad_bias = F.linear_backward(g, x, W, output_mask)
        if grad_weight is not None:
            self.gradW += grad_weight
        if grad_bias is not None:
            self.gradb += grad_bias
        return grad_input

    def updateGradInput(self, input, gradOutput):
        self.gradInput = (self._backward(input, gradOutput, (True, False, False))
                          if self.needs_gradInput else None)
        return self.gradInput

    def accGradParameters(self, input, gradOutput):
        self._backward(input, gradOutput, (False, True, self._has_bias))

    def backward(self, input, gradOutput):
        # one call for all three: the same results as updateGradInput +
        # accGradParameters, one pass of shared set-up
        self.gradInput = self._backward(input, gradOutput,
                                        (self.needs_gradInput, True, self._has_bias))
        return self.gradInput

    def __repr__(self):
        bias = "" if self._has_bias else ", bias=False"
        return f"Linear({self.n_in} -> {self.n_out}{bias})"
