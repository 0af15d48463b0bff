"""Elementwise activations and the softmax pair.

Each forward is one ufunc pass writing a fresh output (no copy-then-modify),
each backward one or two passes; the stable forms (logaddexp, expm1 on the
clipped side, max-shifted exponentials) keep float32 free of overflow.
"""
import numpy as np

from .. import _prepared
from .. import functional as F
from .module import Module

__all__ = ["ReLU", "LeakyReLU", "ELU", "SoftPlus", "SoftMax", "LogSoftMax"]


class ReLU(Module):
    """Through cconv.functional's one-pass kernels for float arrays of one dtype;
    NumPy for anything else (integer inputs, mixed dtypes), as before."""

    def updateOutput(self, input):
        # a contiguous float array straight to the kernel (cconv._prepared)
        self.output = _prepared.relu_call(input, self)
        if self.output is not None:
            return self.output
        if _kernel_dtypes(input):
            self.output = F.relu(input)
        else:
            self.output = np.maximum(input, 0)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = _prepared.relu_backward_call(gradOutput, input, self)
        if self.gradInput is not None:
            return self.gradInput
        if _kernel_dtypes(input, gradOutput) and input.shape == gradOutput.shape:
            self.gradInput = F.relu_backward(gradOutput, input)
        else:
            self.gradInput = np.multiply(gradOutput, input > 0)
        return self.gradInput


def _kernel_dtypes(*arrays):
    """True when every array is a float32 array, or every one a float64 array."""
    dtype = getattr(arrays[0], "dtype", None)
    return dtype in _KERNEL_DTYPES and all(getattr(a, "dtype", None) == dtype for a in arrays)


_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class LeakyReLU(Module):
    def __init__(self, slope=0.03):
        super().__init__()
        self.slope = slope

    def updateOutput(self, input):
        self.output = np.where(input > 0, input, input * self.slope)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = np.where(input > 0, gradOutput, gradOutput * self.slope)
        return self.gradInput

    def __repr__(self):
        return f"LeakyReLU(slope={self.slope})"


class ELU(Module):
    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = alpha

    def updateOutput(self, input):
        # expm1 only of the non-positive part: no overflow for large inputs
        negative = np.expm1(np.minimum(input, 0))
        negative *= self.alpha
        self.output = np.where(input > 0, input, negative)
        return self.output

    def updateGradInput(self, input, gradOutput):
        # d/dx alpha*(exp(x)-1) = output + alpha on the negative side
        self.gradInput = np.where(input > 0, gradOutput, gradOutput * (self.output + self.alpha))
        return self.gradInput

    def __repr__(self):
        return f"ELU(alpha={self.alpha})"


class SoftPlus(Module):
    def updateOutput(self, input):
        self.output = np.logaddexp(0, input)
        return self.output

    def updateGradInput(self, input, gradOutput):
        # sigmoid(x) = (1 + tanh(x/2)) / 2 never overflows
        sigmoid = np.tanh(input * 0.5)
        sigmoid += 1
        sigmoid *= 0.5
        self.gradInput = np.multiply(gradOutput, sigmoid, out=sigmoid)
        return self.gradInput


def _shifted(input):
    # x - max(x) per row: exponentials stay in (0, 1]
    return input - input.max(axis=1, keepdims=True)


def log_softmax(input):
    """log(softmax(x)) over axis 1 as x - max - log(sum(exp(x - max)))."""
    shifted = _shifted(input)
    shifted -= np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted


class SoftMax(Module):
    """Softmax over axis 1 (classes of (N, C), channels of (N, C, H, W))."""

    def updateOutput(self, input):
        e = np.exp(_shifted(input))
        e /= e.sum(axis=1, keepdims=True)
        self.output = e
        return self.output

    def updateGradInput(self, input, gradOutput):
        dot = np.sum(gradOutput * self.output, axis=1, keepdims=True)
        self.gradInput = (gradOutput - dot) * self.output
        return self.gradInput


class LogSoftMax(Module):
    """log(softmax(x)) over axis 1."""

    def updateOutput(self, input):
        self.output = log_softmax(input)
        return self.output

    def updateGradInput(self, input, gradOutput):
        total = gradOutput.sum(axis=1, keepdims=True)
        self.gradInput = gradOutput - np.exp(self.output) * total
        return self.gradInput
