"""The homework's optimizers: update parameter arrays in place.

`variables` and `gradients` are what `Sequential.getParameters()` and
`getGradParameters()` return (lists of per-module lists, nested for nested
containers; a flat list of arrays works too). Per-variable state is keyed by
the variable's position in that traversal, so `state` can be kept across calls.
"""
import numpy as np

from cconv import _kernels

__all__ = ["sgd_momentum", "adam_optimizer"]


def _leaves(variables, out):
    """Append the arrays of a (nested) list to `out`, in traversal order."""
    if isinstance(variables, np.ndarray):
        out.append(variables)
        return out
    for item in variables:
        if isinstance(item, np.ndarray):
            out.append(item)
        elif type(item) is not list or item:   # parameterless modules give []
            _leaves(item, out)
    return out


def _pairs(variables, gradients):
    variables, gradients = _leaves(variables, []), _leaves(gradients, [])
    if len(variables) != len(gradients):
        raise ValueError(f"{len(variables)} variables but {len(gradients)} gradients")
    for index, (variable, gradient) in enumerate(zip(variables, gradients)):
        if variable.shape != gradient.shape:
            raise ValueError(f"variable {index} has shape {variable.shape}, "
                             f"its gradient {gradient.shape}")
    return enumerate(zip(variables, gradients))


# Elements per block of the blocked updates: the float32 blocks of velocity,
# gradient and variable and one temporary (4 x 128 KiB) stay in L2, so of the
# four passes over a block only the first reads memory. On the MNIST net
# (fc1: 1.2M weights) this halved the time of sgd_momentum; much smaller
# blocks lose it again to the Python overhead of each pass.
BLOCK = 32768


def _blocks(*arrays):
    """Matching flat blocks of equally shaped arrays: one block (the arrays
    themselves) when small or not all C-contiguous."""
    size = arrays[0].size
    if size <= BLOCK or not all(a.flags.c_contiguous for a in arrays):
        return (arrays,)
    flat = [a.reshape(-1) for a in arrays]
    return (tuple(a[start:start + BLOCK] for a in flat) for start in range(0, size, BLOCK))


_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _compiled(variable, gradient, velocity):
    """True when the compiled update applies: one native float dtype,
    C-contiguous arrays, the variable and velocity writeable."""
    dtype = variable.dtype
    if not (dtype in _KERNEL_DTYPES and gradient.dtype == dtype and velocity.dtype == dtype
            and variable.size):
        return False
    x, g, v = variable.flags, gradient.flags, velocity.flags
    return x.c_contiguous and x.writeable and g.c_contiguous and v.c_contiguous and v.writeable


def _require(config, keys):
    missing = [key for key in keys if key not in config]
    if missing:
        raise KeyError(f"optimizer config lacks {missing}")


def sgd_momentum(variables, gradients, config, state):
    """v = momentum * v + learning_rate * g;  x -= v.

    (torch.optim.SGD keeps v = momentum * v + g, x -= lr * v: the same steps
    while the learning rate is constant.) State: 'accumulated_grads'.
    """
    _require(config, ("learning_rate", "momentum"))
    lr, momentum = config["learning_rate"], config["momentum"]
    accumulated = state.setdefault("accumulated_grads", {})
    # Python numbers take the arrays' dtype in NumPy's arithmetic, as in the
    # kernel; a NumPy float64 scalar would promote the products instead
    weak_scalars = type(lr) in (float, int) and type(momentum) in (float, int)
    compiled = {dtype: ([], [], []) for dtype in _KERNEL_DTYPES}
    for index, (variable, gradient) in _pairs(variables, gradients):
        velocity = accumulated.get(index)
        if velocity is None:
            velocity = accumulated[index] = np.zeros_like(variable)
        if weak_scalars and _compiled(variable, gradient, velocity):
            for arrays, array in zip(compiled[variable.dtype], (variable, gradient, velocity)):
                arrays.append(array)
            continue
        # the same three updates on each block: memory is read once, not 4x
        for v, g, x in _blocks(velocity, gradient, variable):
            v *= momentum
            v += lr * g
            x -= v
    for dtype, (xs, gs, vs) in compiled.items():
        if xs:
            # one compiled pass over all of them, bitwise the NumPy updates above
            _kernels.run_sgd_momentum_arrays(xs, gs, vs, lr, momentum, dtype.itemsize == 8)


def adam_optimizer(variables, gradients, config, state):
    """Adam with the bias corrections folded into the step size:
    m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g**2;
    x -= lr * sqrt(1-b2**t) / (1-b1**t) * m / (sqrt(v) + epsilon).
    State: 'm', 'v' (per variable) and 't' (the step count).
    """
    _require(config, ("learning_rate", "beta1", "beta2", "epsilon"))
    beta1, beta2, eps = config["beta1"], config["beta2"], config["epsilon"]
    first = state.setdefault("m", {})
    second = state.setdefault("v", {})
    state["t"] = state.get("t", 0) + 1
    t = state["t"]
    lr_t = config["learning_rate"] * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    for index, (variable, gradient) in _pairs(variables, gradients):
        m = first.get(index)
        if m is None:
            m = first[index] = np.zeros_like(variable)
        v = second.get(index)
        if v is None:
            v = second[index] = np.zeros_like(variable)
        m *= beta1
        m += (1 - beta1) * gradient
        v *= beta2
        v += (1 - beta2) * np.square(gradient)
        step = np.sqrt(v)
        step += eps
        np.divide(m, step, out=step)
        step *= lr_t
        variable -= step
