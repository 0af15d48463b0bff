"""Parameter initialisation shared by the layers with weights.

U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases: the homework's
Linear and PyTorch's default for Linear and Conv2d (kaiming_uniform with
a=sqrt(5) reduces to the same bound), so a recipe carries over between them.
Draws from NumPy's global generator, so `np.random.seed` makes models repeatable.
"""
import numpy as np


def uniform_fan_in(shape, fan_in, dtype):
    bound = 1.0 / np.sqrt(fan_in)
    return np.random.uniform(-bound, bound, size=shape).astype(dtype)
