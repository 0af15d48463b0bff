"""The networks `cconv train` knows, as cconv.nn Sequentials, with their recipes.

Both take (N, 1, 28, 28) images and return (N, 10) logits (train them with
CrossEntropyCriterion). Their first layer sees the data, which needs no
gradient: `needs_gradInput = False` skips that conv2d_backward_input, as torch
does for an input without requires_grad.
"""
import numpy as np

from .nn import Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sequential

__all__ = ["lenet5", "mnist_cnn", "MODELS", "RECIPES"]


def lenet5(dtype=np.float32):
    """LeNet-5 with ReLU and max pooling: 28x28 -> 6@28x28 -> 6@14x14 -> 16@10x10
    -> 16@5x5 -> 120 -> 84 -> 10."""
    model = Sequential(
        Conv2d(1, 6, 5, dtype=dtype), ReLU(), MaxPool2d(2),
        Conv2d(6, 16, 5, padding=0, dtype=dtype), ReLU(), MaxPool2d(2),
        Flatten(),
        Linear(16 * 5 * 5, 120, dtype=dtype), ReLU(),
        Linear(120, 84, dtype=dtype), ReLU(),
        Linear(84, 10, dtype=dtype),
    )
    model[0].needs_gradInput = False
    return model


def mnist_cnn(dtype=np.float32):
    """The net of PyTorch's examples/mnist: conv 32 3x3, conv 64 3x3, max pool 2,
    dropout 0.25, fc 128, dropout 0.5, fc 10."""
    model = Sequential(
        Conv2d(1, 32, 3, padding=0, dtype=dtype), ReLU(),
        Conv2d(32, 64, 3, padding=0, dtype=dtype), ReLU(),
        MaxPool2d(2), Dropout(0.25),
        Flatten(),
        Linear(64 * 12 * 12, 128, dtype=dtype), ReLU(), Dropout(0.5),
        Linear(128, 10, dtype=dtype),
    )
    model[0].needs_gradInput = False
    return model


MODELS = {"lenet5": lenet5, "mnist-cnn": mnist_cnn}

# SGD with momentum, batch 64, PyTorch's default initialisation (cconv.nn.init):
# the learning rates that reach the targets on the default data in 5 epochs
RECIPES = {
    "lenet5": {"learning_rate": 0.02, "momentum": 0.9},
    "mnist-cnn": {"learning_rate": 0.02, "momentum": 0.9},
}
