"""Linear: output = input @ W.T + b, with W (n_out, n_in) as in the homework."""
import numpy as np

from ._blas import one_blas_thread
from .init import uniform_fan_in
from .module import Module

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

    def _check(self, input):
        if input.shape[-1:] != (self.n_in,):
            raise ValueError(f"{self!r} expects input (..., {self.n_in}), got {input.shape}")

    def updateOutput(self, input):
        self._check(input)
        with one_blas_thread():
            self.output = np.matmul(input, self.W.T)
        if "b" in self.parameter_names:
            self.output += self.b
        return self.output

    def updateGradInput(self, input, gradOutput):
        if not self.needs_gradInput:
            self.gradInput = None
            return None
        with one_blas_thread():
            self.gradInput = np.matmul(gradOutput, self.W)
        return self.gradInput

    def accGradParameters(self, input, gradOutput):
        with one_blas_thread():
            self._accumulate(input, gradOutput)

    def _accumulate(self, input, gradOutput):
        g = gradOutput.reshape(-1, self.n_out)
        self.gradW += np.matmul(g.T, input.reshape(-1, self.n_in))
        if "b" in self.parameter_names:
            self.gradb += g.sum(axis=0)

    def backward(self, input, gradOutput):
        # updateGradInput + accGradParameters under one BLAS limit
        with one_blas_thread():
            self.gradInput = np.matmul(gradOutput, self.W) if self.needs_gradInput else None
            self._accumulate(input, gradOutput)
        return self.gradInput

    def __repr__(self):
        bias = "" if "b" in self.parameter_names else ", bias=False"
        return f"Linear({self.n_in} -> {self.n_out}{bias})"
