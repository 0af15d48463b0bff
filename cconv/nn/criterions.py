"""Criterions: `forward(input, target)` gives the loss, `backward(input, target)`
its gradient with respect to `input`. All are means over the batch (axis 0).

Targets are one-hot rows (N, C) as in the homework; the classification
criterions also take integer labels (N,).
"""
import numpy as np

from .. import _kernels
from .activations import log_softmax

__all__ = ["Criterion", "MSECriterion", "ClassNLLCriterionUnstable",
           "ClassNLLCriterion", "CrossEntropyCriterion"]


class Criterion:
    def __init__(self):
        self.output = None
        self.gradInput = None

    def forward(self, input, target):
        return self.updateOutput(input, target)

    def backward(self, input, target):
        return self.updateGradInput(input, target)

    def updateOutput(self, input, target):
        raise NotImplementedError(f"{type(self).__name__}.updateOutput")

    def updateGradInput(self, input, target):
        raise NotImplementedError(f"{type(self).__name__}.updateGradInput")

    def __repr__(self):
        return type(self).__name__


def _one_hot(input, target):
    """`target` as rows matching `input` (N, C): one-hot rows pass through,
    integer labels (N,) are expanded."""
    target = np.asarray(target)
    if target.shape == input.shape:
        return target
    labels = _as_labels(input, target)
    rows = np.zeros(input.shape, input.dtype)
    rows[np.arange(len(labels)), labels] = 1
    return rows


def _as_labels(input, target):
    """Validated integer labels (N,) for scores `input` (N, C)."""
    if target.ndim != 1 or len(target) != len(input) or input.ndim != 2:
        raise ValueError(f"target must be one-hot {input.shape} or labels ({len(input)},), "
                         f"got shape {target.shape}")
    return _labels(target, input.shape[1])


def _labels(target, n_classes):
    if not np.issubdtype(target.dtype, np.integer):
        if not np.array_equal(target, np.round(target)):
            raise TypeError(f"labels must be integers, got dtype {target.dtype}")
    labels = target.astype(np.intp, copy=False)
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}), got [{labels.min()}, {labels.max()}]")
    return labels


class MSECriterion(Criterion):
    """sum((input - target)**2) / N, the homework's normalisation (by the batch)."""

    def updateOutput(self, input, target):
        diff = input - target
        self.output = float(np.vdot(diff, diff)) / len(input)
        return self.output

    def updateGradInput(self, input, target):
        self.gradInput = np.subtract(input, target)
        self.gradInput *= 2 / len(input)
        return self.gradInput


class ClassNLLCriterionUnstable(Criterion):
    """-sum(target * log(input)) / N for probabilities `input` (clipped away from 0 and 1)."""
    EPS = 1e-15

    def _clipped(self, input):
        return np.clip(input, self.EPS, 1 - self.EPS)

    def updateOutput(self, input, target):
        target = _one_hot(input, target)
        self.output = -float(np.sum(target * np.log(self._clipped(input)))) / len(input)
        return self.output

    def updateGradInput(self, input, target):
        target = _one_hot(input, target)
        self.gradInput = -target / self._clipped(input) / len(input)
        return self.gradInput


class ClassNLLCriterion(Criterion):
    """-sum(target * input) / N for log-probabilities `input` (e.g. after LogSoftMax)."""

    def updateOutput(self, input, target):
        target = _one_hot(input, target)
        self.output = -float(np.vdot(target, input)) / len(input)
        return self.output

    def updateGradInput(self, input, target):
        target = _one_hot(input, target)
        self.gradInput = np.multiply(target, -1 / len(input), dtype=input.dtype)
        return self.gradInput


class CrossEntropyCriterion(Criterion):
    """LogSoftMax + ClassNLLCriterion fused, for logits `input`.

    The loss is mean(logsumexp(x) - <target, x>) with the max shifted out of
    logsumexp, and the gradient (softmax(x) - target) / N; never forms log(0).
    Soft targets (rows summing to 1) work too. For C-contiguous float32 or
    float64 logits one compiled pass computes both (sums in double); anything
    else goes through NumPy.
    """

    def __init__(self):
        super().__init__()
        # (input, target, gradient) of the last forward: the backward that
        # follows it, on the same arrays as Torch7's does, takes that gradient
        # instead of computing it again (once: a later backward computes anew)
        self._last = None

    def updateOutput(self, input, target):
        self._last = None
        fused = _fused_cross_entropy(input, target)
        if fused is not None:
            self.output, grad = fused
            self._last = (input, target, grad)
            return self.output
        log_p = log_softmax(input)
        target = np.asarray(target)
        if target.shape == input.shape:
            total = np.vdot(target, log_p)
        else:
            labels = _as_labels(input, target)
            total = log_p[np.arange(len(labels)), labels].sum()
        self.output = -float(total) / len(input)
        return self.output

    def updateGradInput(self, input, target):
        last, self._last = self._last, None
        if last is not None and last[0] is input and last[1] is target:
            self.gradInput = last[2]
            return self.gradInput
        fused = _fused_cross_entropy(input, target)
        if fused is not None:
            self.gradInput = fused[1]
            return self.gradInput
        grad = np.exp(log_softmax(input))
        target = np.asarray(target)
        if target.shape == input.shape:
            grad -= target
        else:
            labels = _as_labels(input, target)
            grad[np.arange(len(labels)), labels] -= 1
        grad /= len(input)
        self.gradInput = grad
        return self.gradInput


_FUSED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _fused_cross_entropy(input, target):
    """(loss, gradient) by the compiled kernel for C-contiguous float (N, C)
    logits with N, C >= 1, or None for anything else."""
    if not (type(input) is np.ndarray and input.ndim == 2 and input.dtype in _FUSED_DTYPES
            and input.size and input.flags.c_contiguous):
        return None
    target = np.asarray(target)
    grad = np.empty(input.shape, input.dtype)
    if target.shape == input.shape:
        if target.dtype != input.dtype:
            return None
        loss = _kernels.run_cross_entropy(input, _NO_LABELS, np.ascontiguousarray(target), grad)
    else:
        labels = np.ascontiguousarray(_as_labels(input, target))
        loss = _kernels.run_cross_entropy(input, labels, _NO_TARGET[input.dtype], grad)
    return loss, grad


_NO_LABELS = np.empty((0,), np.intp)
_NO_TARGET = {dtype: np.empty((0, 0), dtype) for dtype in _FUSED_DTYPES}
