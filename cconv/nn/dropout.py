"""Inverted dropout: scaled at training time, the identity in evaluate mode."""
import numpy as np

from .module import Module

__all__ = ["Dropout"]


class Dropout(Module):
    def __init__(self, p=0.5, rng=None):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout probability must lie in [0, 1], got {p}")
        self.p = p
        # Seeded from NumPy's global generator by default, so `np.random.seed`
        # before building a model still makes its masks repeatable; a Generator
        # draws float32 uniforms about twice as fast as np.random.
        self.rng = rng if rng is not None else np.random.default_rng(np.random.randint(2**31))
        self.mask = None

    def updateOutput(self, input):
        if not self.training or self.p == 0:
            self.mask = None
            self.output = input
            return self.output
        dtype = np.result_type(input.dtype, np.float32)
        keep = self.rng.random(input.shape, dtype=np.float32) >= self.p
        # the mask carries the 1/(1-p) scale, so backward is one multiply;
        # cast and scale in one pass (the same values as astype, then *=)
        self.mask = np.multiply(keep, 1 / (1 - self.p) if self.p < 1 else 0.0, dtype=dtype)
        self.output = np.multiply(input, self.mask)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput if self.mask is None else np.multiply(gradOutput, self.mask)
        return self.gradInput

    def __repr__(self):
        return f"Dropout(p={self.p})"
