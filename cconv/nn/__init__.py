"""Torch7-style modules over cconv's compiled kernels.

A drop-in for the homework's modules: `from cconv.nn import *` brings every
layer, the criterions and the optimizers.
"""
from ..optim import adam_optimizer, sgd_momentum
from .activations import ELU, LeakyReLU, LogSoftMax, ReLU, SoftMax, SoftPlus
from .conv import Conv2d
from .criterions import (ClassNLLCriterion, ClassNLLCriterionUnstable, Criterion,
                         CrossEntropyCriterion, MSECriterion)
from .dropout import Dropout
from .flatten import Flatten
from .linear import Linear
from .module import Module, Sequential
from .normalization import BatchNormalization, ChannelwiseScaling
from .pooling import AvgPool2d, MaxPool2d

__all__ = [
    "Module", "Sequential",
    "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten", "Linear",
    "ReLU", "LeakyReLU", "ELU", "SoftPlus", "SoftMax", "LogSoftMax",
    "Dropout", "BatchNormalization", "ChannelwiseScaling",
    "Criterion", "MSECriterion", "ClassNLLCriterionUnstable", "ClassNLLCriterion",
    "CrossEntropyCriterion",
    "sgd_momentum", "adam_optimizer",
]
