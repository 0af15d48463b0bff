"""The NumPy baseline of the benchmark: conv2d as im2col + one BLAS matmul, and
max pooling as a running maximum over the kernel offsets.

This is how a NumPy CNN is usually written (and what cconv replaces), so it is
the "always present" peer. It materialises the whole-batch column matrix on
purpose: that is the baseline, not a design to copy. groups=1 only.
"""
import numpy as np

__all__ = ["conv2d_forward", "conv2d_backward", "max_pool2d_forward", "max_pool2d_backward"]


def _out_size(size, kernel, stride, pad, dilation):
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


def _window(r, s, oh, ow, stride, dilation):
    """The slices of the padded input that kernel offset (r, s) sees, for all outputs."""
    top, left = r * dilation, s * dilation
    return (slice(top, top + stride * (oh - 1) + 1, stride),
            slice(left, left + stride * (ow - 1) + 1, stride))


def _im2col(x, R, S, stride, pad, dilation):
    """Columns (C*R*S, N*OH*OW): the row order matches weight.reshape(K, C*R*S)."""
    n, c, h, w = x.shape
    oh, ow = _out_size(h, R, stride, pad, dilation), _out_size(w, S, stride, pad, dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    cols = np.empty((c, R, S, n, oh, ow), dtype=x.dtype)
    for r in range(R):
        for s in range(S):
            rows, columns = _window(r, s, oh, ow, stride, dilation)
            cols[:, r, s] = xp[:, :, rows, columns].transpose(1, 0, 2, 3)
    return cols.reshape(c * R * S, n * oh * ow), (oh, ow)


def _col2im(cols, input_shape, R, S, stride, pad, dilation, oh, ow):
    n, c, h, w = input_shape
    cols = cols.reshape(c, R, S, n, oh, ow)
    grad = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=cols.dtype)
    for r in range(R):
        for s in range(S):
            rows, columns = _window(r, s, oh, ow, stride, dilation)
            grad[:, :, rows, columns] += cols[:, r, s].transpose(1, 0, 2, 3)
    return grad[:, :, pad:pad + h, pad:pad + w] if pad else grad


def conv2d_forward(x, weight, bias, stride=1, padding=0, dilation=1):
    """y = conv2d(x, weight) + bias; also returns the columns for the backward pass."""
    k, _, R, S = weight.shape
    cols, (oh, ow) = _im2col(x, R, S, stride, padding, dilation)
    y = weight.reshape(k, -1) @ cols
    y = y.reshape(k, x.shape[0], oh, ow).transpose(1, 0, 2, 3)
    if bias is not None:
        y = y + bias.reshape(1, k, 1, 1)
    return np.ascontiguousarray(y), cols


def conv2d_backward(grad_output, x, weight, cols, stride=1, padding=0, dilation=1):
    """grad_input, grad_weight, grad_bias from the forward pass's columns."""
    k, _, R, S = weight.shape
    _, _, oh, ow = grad_output.shape
    gy = grad_output.transpose(1, 0, 2, 3).reshape(k, -1)
    grad_weight = (gy @ cols.T).reshape(weight.shape)
    grad_bias = grad_output.sum(axis=(0, 2, 3))
    grad_cols = weight.reshape(k, -1).T @ gy
    grad_input = _col2im(grad_cols, x.shape, R, S, stride, padding, dilation, oh, ow)
    return grad_input, grad_weight, grad_bias


def max_pool2d_forward(x, kernel_size, stride, padding=0):
    """Output and torch-style indices (flat positions in each H*W input plane;
    the first maximum in scan order wins ties, as in torch)."""
    n, c, h, w = x.shape
    oh = _out_size(h, kernel_size, stride, padding, 1)
    ow = _out_size(w, kernel_size, stride, padding, 1)
    xp = x
    if padding:
        xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)),
                    constant_values=-np.inf)
    out = np.full((n, c, oh, ow), -np.inf, dtype=x.dtype)
    indices = np.zeros((n, c, oh, ow), dtype=np.int64)
    base_rows = np.arange(oh)[:, None] * stride - padding
    base_cols = np.arange(ow)[None, :] * stride - padding
    for r in range(kernel_size):
        for s in range(kernel_size):
            rows, columns = _window(r, s, oh, ow, stride, 1)
            candidate = xp[:, :, rows, columns]
            better = candidate > out
            np.copyto(out, candidate, where=better)
            np.copyto(indices, (base_rows + r) * w + (base_cols + s), where=better)
    return out, indices


def max_pool2d_backward(grad_output, indices, input_shape):
    n, c, h, w = input_shape
    plane = h * w
    flat = indices.reshape(n * c, -1) + (np.arange(n * c) * plane)[:, None]
    grad = np.bincount(flat.ravel(), weights=grad_output.ravel(), minlength=n * c * plane)
    return grad.astype(grad_output.dtype, copy=False).reshape(input_shape)
