"""Inverted dropout: scaled at training time, the identity in evaluate mode."""
import numpy as np

from .. import functional as F
from .module import Module, compute_dtype

__all__ = ["Dropout"]


class Dropout(Module):
    """Through cconv.functional.dropout: `mask` is the uint8 keep mask (1 kept,
    0 dropped) of the last training forward, None when nothing was dropped
    (evaluate mode, p == 0). Kept elements are input * (1/(1-p))."""

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout probability must lie in [0, 1], got {p}")
        self.p = p
        # Seeded from NumPy's global generator by default, so `np.random.seed`
        # before building a model still makes its masks repeatable.
        self.rng = rng if rng is not None else np.random.default_rng(np.random.randint(2**31))
        self.mask = None

    def updateOutput(self, input):
        if not self.training or self.p == 0:
            self.mask = None
            self.output = input
            return self.output
        # One draw per forward: the kernel's mask is a function of the seed alone
        # (and each element's position), whatever the thread count.
        seed = int(self.rng.integers(2**63))
        x = input.astype(compute_dtype(input.dtype), copy=False)
        self.output, self.mask = F.dropout(x, self.p, seed)
        return self.output

    def updateGradInput(self, input, gradOutput):
        if self.mask is None:
            self.gradInput = gradOutput
        else:
            # NumPy's promotion of gradOutput with the output, as a float mask gave
            g = gradOutput.astype(compute_dtype(gradOutput.dtype, self.output.dtype), copy=False)
            self.gradInput = F.dropout_backward(g, self.mask, self.p)
        return self.gradInput

    def __repr__(self):
        return f"Dropout(p={self.p})"
