"""The benchmark suite of the speed issue: conv and max-pool layers, each timed
forward and forward+backward, plus the training steps of the module issue.

A case knows its geometry, its output shape, the work one pass does (FLOPs for
conv, bytes for pooling) and how to make its data; it knows nothing about the
libraries that run it (cconv/bench/peers.py) nor about timing.
"""
from dataclasses import dataclass

import numpy as np

__all__ = ["ConvCase", "PoolCase", "TrainCase", "CONV_CASES", "POOL_CASES", "TRAIN_CASES",
           "PASSES", "OPS", "suite"]

# "fwd": the forward op alone. "fwd+bwd": forward, then every gradient (input,
# weight and bias for conv; input for pooling) from one fixed grad_output.
PASSES = ("fwd", "fwd+bwd")
OPS = ("conv", "pool", "train")


def _out_size(size, kernel, stride, pad, dilation):
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


@dataclass(frozen=True)
class ConvCase:
    N: int
    C: int
    H: int
    W: int
    K: int
    R: int
    S: int
    stride: int = 1
    pad: int = 0
    dilation: int = 1
    groups: int = 1
    op = "conv"

    @property
    def id(self):
        extra = "".join(f" {name} {value}" for name, value, default in (
            ("stride", self.stride, 1), ("pad", self.pad, 0),
            ("dilation", self.dilation, 1), ("groups", self.groups, 1)) if value != default)
        return f"{self.N}x{self.C}x{self.H}x{self.W} K{self.K} {self.R}x{self.S}{extra}"

    @property
    def input_shape(self):
        return (self.N, self.C, self.H, self.W)

    @property
    def weight_shape(self):
        return (self.K, self.C // self.groups, self.R, self.S)

    @property
    def output_shape(self):
        return (self.N, self.K,
                _out_size(self.H, self.R, self.stride, self.pad, self.dilation),
                _out_size(self.W, self.S, self.stride, self.pad, self.dilation))

    def kwargs(self):
        return dict(stride=self.stride, padding=self.pad, dilation=self.dilation,
                    groups=self.groups)

    def work(self, pass_, itemsize=4):
        """FLOPs: 2*N*K*(C/g)*R*S*OH*OW for the forward pass; the backward pass
        computes two more products of that size (grad input, grad weight), so
        fwd+bwd counts 3x. Bias terms are not counted."""
        n, k, oh, ow = self.output_shape
        forward = 2 * n * k * (self.C // self.groups) * self.R * self.S * oh * ow
        return forward * (3 if pass_ == "fwd+bwd" else 1)

    unit = "GFLOP/s"

    def make_data(self, dtype, seed=0):
        """x, weight, bias and the grad_output of the backward pass (NCHW, OIHW)."""
        rng = np.random.default_rng(seed)
        fan_in = (self.C // self.groups) * self.R * self.S
        bound = 1 / np.sqrt(fan_in)
        return dict(
            x=rng.standard_normal(self.input_shape).astype(dtype),
            weight=rng.uniform(-bound, bound, self.weight_shape).astype(dtype),
            bias=rng.uniform(-bound, bound, (self.K,)).astype(dtype),
            grad_output=rng.standard_normal(self.output_shape).astype(dtype),
        )


@dataclass(frozen=True)
class PoolCase:
    N: int
    C: int
    H: int
    W: int
    kernel: int
    stride: int = 0  # 0: the kernel size, as torch's stride=None
    pad: int = 0
    op = "pool"

    @property
    def step(self):
        return self.stride or self.kernel

    @property
    def id(self):
        extra = "".join(f" {name} {value}" for name, value in (
            ("stride", self.stride), ("pad", self.pad)) if value)
        return f"{self.N}x{self.C}x{self.H}x{self.W} k{self.kernel}{extra}"

    @property
    def input_shape(self):
        return (self.N, self.C, self.H, self.W)

    @property
    def output_shape(self):
        return (self.N, self.C, _out_size(self.H, self.kernel, self.step, self.pad, 1),
                _out_size(self.W, self.kernel, self.step, self.pad, 1))

    def kwargs(self):
        return dict(kernel_size=self.kernel, stride=self.step, padding=self.pad)

    def work(self, pass_, itemsize=4):
        """Bytes that must move: forward reads the input and writes the output
        and the int64 indices; backward reads grad_output and the indices and
        writes grad_input. The same nominal count for every peer (TensorFlow's
        MaxPoolGrad re-reads the input instead of indices; it is not credited
        differently)."""
        x = int(np.prod(self.input_shape))
        y = int(np.prod(self.output_shape))
        forward = (x + y) * itemsize + y * 8
        backward = (y + x) * itemsize + y * 8
        return forward + (backward if pass_ == "fwd+bwd" else 0)

    unit = "GB/s"

    def make_data(self, dtype, seed=0):
        rng = np.random.default_rng(seed)
        return dict(
            x=rng.standard_normal(self.input_shape).astype(dtype),
            grad_output=rng.standard_normal(self.output_shape).astype(dtype),
        )


@dataclass(frozen=True)
class TrainCase:
    """One SGD-with-momentum training step of a small MNIST net (cconv/bench/train.py)."""
    net: str
    batch: int = 64
    op = "train"
    unit = "img/s"

    @property
    def id(self):
        return f"{self.net} batch {self.batch}"

    @property
    def input_shape(self):
        return (self.batch, 1, 28, 28)

    def work(self, pass_, itemsize=4):
        return self.batch  # images per step

    def make_data(self, dtype, seed=0):
        rng = np.random.default_rng(seed)
        return dict(x=rng.standard_normal(self.input_shape).astype(dtype),
                    labels=rng.integers(0, 10, self.batch))


# The suite of the speed issue (issue 3), in its order.
CONV_CASES = (
    ConvCase(64, 3, 28, 28, 16, 5, 5),
    ConvCase(64, 1, 28, 28, 6, 5, 5, pad=2),
    ConvCase(64, 6, 14, 14, 16, 5, 5),
    ConvCase(64, 32, 26, 26, 64, 3, 3),
    ConvCase(32, 64, 32, 32, 64, 3, 3, pad=1),
    ConvCase(8, 64, 56, 56, 64, 3, 3, pad=1),
    ConvCase(8, 128, 28, 28, 256, 3, 3, stride=2, pad=1),
    ConvCase(8, 256, 28, 28, 64, 1, 1),
)
POOL_CASES = (
    PoolCase(64, 32, 24, 24, 2),
    PoolCase(64, 3, 28, 28, 2, stride=1),
    PoolCase(32, 64, 32, 32, 2),
    PoolCase(8, 64, 112, 112, 3, stride=2, pad=1),
)
# The module issue (issue 4): LeNet-5 and the PyTorch MNIST example net.
TRAIN_CASES = (TrainCase("lenet5"), TrainCase("mnist_net"))

# The layer the memory comparison of issue 3 names.
MEMORY_CASE = CONV_CASES[4]


def suite(ops=("conv", "pool")):
    """The cases of the named ops, in suite order."""
    unknown = set(ops) - set(OPS)
    if unknown:
        raise ValueError(f"unknown ops {sorted(unknown)}; choose from {', '.join(OPS)}")
    cases = []
    for op, group in (("conv", CONV_CASES), ("pool", POOL_CASES), ("train", TRAIN_CASES)):
        if op in ops:
            cases.extend(group)
    return cases
