"""BatchNormalization (no affine part) and ChannelwiseScaling (the affine part).

As in the homework, `BatchNormalization(alpha)` normalises with the batch
statistics in training and with moving ones in evaluate mode, updated as
`moving = alpha * moving + (1 - alpha) * batch` (biased batch variance, EPS
1e-3); `ChannelwiseScaling` multiplies by gamma and adds beta. The pair equals
torch's BatchNorm{1,2}d(eps=1e-3, momentum=1-alpha) in training mode. Both work
per feature on (N, F) and per channel on (N, C, H, W).
"""
import numpy as np

from .module import Module, compute_dtype

__all__ = ["BatchNormalization", "ChannelwiseScaling"]


def _reduce_axes(input):
    if input.ndim == 2:
        return (0,)
    if input.ndim == 4:
        return (0, 2, 3)
    raise ValueError(f"expected (N, F) or (N, C, H, W) input, got shape {input.shape}")


def _per_channel(vector, ndim):
    # (C,) -> broadcastable against (N, C) or (N, C, H, W)
    return vector.reshape((1, -1) + (1,) * (ndim - 2))


class BatchNormalization(Module):
    EPS = 1e-3
    buffer_names = ("moving_mean", "moving_variance")

    def __init__(self, alpha=0., n_features=None, dtype=np.float32):
        super().__init__()
        self.alpha = alpha
        self.dtype = np.dtype(dtype)
        # allocated at the first batch when n_features is not given
        self.moving_mean = self.moving_variance = None
        if n_features is not None:
            self._allocate(n_features)

    def _allocate(self, n_features):
        self.moving_mean = np.zeros(n_features, self.dtype)
        self.moving_variance = np.ones(n_features, self.dtype)

    def updateOutput(self, input):
        axes = _reduce_axes(input)
        if self.moving_mean is None:
            self._allocate(input.shape[1])
        if input.shape[1] != len(self.moving_mean):
            raise ValueError(f"{self!r}: {len(self.moving_mean)} features, input has {input.shape[1]}")
        if self.training:
            mean = input.mean(axis=axes)
            var = input.var(axis=axes)
            self.moving_mean *= self.alpha
            self.moving_mean += (1 - self.alpha) * mean
            self.moving_variance *= self.alpha
            self.moving_variance += (1 - self.alpha) * var
        else:
            dtype = compute_dtype(input.dtype, self.moving_mean.dtype)
            mean = self.moving_mean.astype(dtype, copy=False)
            var = self.moving_variance.astype(dtype, copy=False)
        self.inv_std = 1 / np.sqrt(var + self.EPS)
        self.output = input - _per_channel(mean, input.ndim)
        self.output *= _per_channel(self.inv_std, input.ndim)
        return self.output

    def updateGradInput(self, input, gradOutput):
        axes = _reduce_axes(input)
        inv_std = _per_channel(self.inv_std, input.ndim)
        if not self.training:
            self.gradInput = gradOutput * inv_std
            return self.gradInput
        # (g - mean(g) - x_hat * mean(g * x_hat)) / std, x_hat being self.output
        mean_g = gradOutput.mean(axis=axes, keepdims=True)
        mean_gx = (gradOutput * self.output).mean(axis=axes, keepdims=True)
        grad = self.output * mean_gx
        np.subtract(gradOutput, grad, out=grad)
        grad -= mean_g
        grad *= inv_std
        self.gradInput = grad
        return self.gradInput

    def load_state(self, state):
        if self.moving_mean is None:
            self._allocate(len(state["moving_mean"]))
        super().load_state(state)

    def astype(self, dtype):
        self.dtype = np.dtype(dtype)
        if self.moving_mean is None:
            return self
        return super().astype(dtype)

    def state(self):
        return {} if self.moving_mean is None else super().state()

    def __repr__(self):
        return f"BatchNormalization(alpha={self.alpha})"


class ChannelwiseScaling(Module):
    parameter_names = ("gamma", "beta")
    grad_names = ("gradGamma", "gradBeta")

    def __init__(self, n_out, dtype=np.float32):
        super().__init__()
        # BatchNorm's usual start: the identity map
        self.gamma = np.ones(n_out, dtype)
        self.beta = np.zeros(n_out, dtype)
        self.gradGamma = np.zeros_like(self.gamma)
        self.gradBeta = np.zeros_like(self.beta)

    def updateOutput(self, input):
        self.output = input * _per_channel(self.gamma, input.ndim)
        self.output += _per_channel(self.beta, input.ndim)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput * _per_channel(self.gamma, input.ndim)
        return self.gradInput

    def accGradParameters(self, input, gradOutput):
        axes = _reduce_axes(input)
        self.gradBeta += gradOutput.sum(axis=axes)
        self.gradGamma += (gradOutput * input).sum(axis=axes)

    def __repr__(self):
        return f"ChannelwiseScaling({len(self.gamma)})"
