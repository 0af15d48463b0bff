"""BatchNormalization (no affine part) and ChannelwiseScaling (the affine part).

As in the homework, `BatchNormalization(alpha)` normalises with the batch
statistics in training and with moving ones in evaluate mode, updated as
`moving = alpha * moving + (1 - alpha) * batch` (biased batch variance, EPS
1e-3); `ChannelwiseScaling` multiplies by gamma and adds beta. The pair equals
torch's BatchNorm{1,2}d(eps=1e-3, momentum=1-alpha) in training mode. Both work
per feature on (N, F) and per channel on (N, C, H, W), or on (N, H, W, C) with
data_format="NHWC".
"""
import numpy as np

from .. import _layout
from .module import Module, compute_dtype

__all__ = ["BatchNormalization", "ChannelwiseScaling"]


def _reduce_axes(input, data_format="NCHW"):
    if input.ndim == 2:
        return (0,)
    if input.ndim == 4:
        return (0, 2, 3) if data_format == "NCHW" else (0, 1, 2)
    raise ValueError(f"expected (N, F) or 4-D {data_format} input, got shape {input.shape}")


def _channel_axis(ndim, data_format):
    return 3 if ndim == 4 and data_format == "NHWC" else 1


def _per_channel(vector, ndim, data_format="NCHW"):
    # (C,) -> broadcastable against (N, C), (N, C, H, W) or (N, H, W, C)
    shape = [1] * ndim
    shape[_channel_axis(ndim, data_format)] = -1
    return vector.reshape(shape)


class BatchNormalization(Module):
    EPS = 1e-3
    buffer_names = ("moving_mean", "moving_variance")

    def __init__(self, alpha=0., n_features=None, dtype=np.float32, data_format="NCHW"):
        super().__init__()
        self.alpha = alpha
        self.data_format = _layout.data_format(data_format)
        self.dtype = np.dtype(dtype)
        # allocated at the first batch when n_features is not given
        self.moving_mean = self.moving_variance = None
        if n_features is not None:
            self._allocate(n_features)

    def _allocate(self, n_features):
        self.moving_mean = np.zeros(n_features, self.dtype)
        self.moving_variance = np.ones(n_features, self.dtype)

    def updateOutput(self, input):
        axes = _reduce_axes(input, self.data_format)
        features = input.shape[_channel_axis(input.ndim, self.data_format)]
        if self.moving_mean is None:
            self._allocate(features)
        if features != len(self.moving_mean):
            raise ValueError(f"{self!r}: {len(self.moving_mean)} features, input has {features}")
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
        self.output = input - _per_channel(mean, input.ndim, self.data_format)
        self.output *= _per_channel(self.inv_std, input.ndim, self.data_format)
        return self.output

    def updateGradInput(self, input, gradOutput):
        axes = _reduce_axes(input, self.data_format)
        inv_std = _per_channel(self.inv_std, input.ndim, self.data_format)
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
        extra = ", data_format='NHWC'" if self.data_format == "NHWC" else ""
        return f"BatchNormalization(alpha={self.alpha}{extra})"


class ChannelwiseScaling(Module):
    parameter_names = ("gamma", "beta")
    grad_names = ("gradGamma", "gradBeta")

    def __init__(self, n_out, dtype=np.float32, data_format="NCHW"):
        super().__init__()
        self.data_format = _layout.data_format(data_format)
        # BatchNorm's usual start: the identity map
        self.gamma = np.ones(n_out, dtype)
        self.beta = np.zeros(n_out, dtype)
        self.gradGamma = np.zeros_like(self.gamma)
        self.gradBeta = np.zeros_like(self.beta)

    def updateOutput(self, input):
        self.output = input * _per_channel(self.gamma, input.ndim, self.data_format)
        self.output += _per_channel(self.beta, input.ndim, self.data_format)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput * _per_channel(self.gamma, input.ndim, self.data_format)
        return self.gradInput

    def accGradParameters(self, input, gradOutput):
        axes = _reduce_axes(input, self.data_format)
        self.gradBeta += gradOutput.sum(axis=axes)
        self.gradGamma += (gradOutput * input).sum(axis=axes)

    def __repr__(self):
        return f"ChannelwiseScaling({len(self.gamma)})"
