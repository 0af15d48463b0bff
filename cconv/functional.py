"""cconv.functional: conv2d and pooling on NumPy arrays, torch.nn.functional semantics.

Every function follows one path: validate and normalise the arguments (each
layer's `_check_*` does all of it, like THNN's shapeCheck), compute the output
shape in cconv._shapes, allocate new C-contiguous outputs, call a compiled
kernel once. Nothing is computed in NumPy.

Arrays are NCHW, float32 or float64 (one dtype per call; anything else raises
TypeError). Any array-like NumPy converts is accepted, so a nested list of
Python floats works, but a list of ints becomes an int64 array and is refused.
Non-contiguous, Fortran-order and read-only inputs work; inputs are never
modified and outputs never alias them. Only the batch dimension may be empty.
"""
from typing import NamedTuple

import numpy as np

from cconv import _arguments as args
from cconv import _kernels
from cconv import _shapes

__all__ = [
    "conv2d",
    "conv2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "im2col",
    "col2im",
]

_NCHW = "(N, C, H, W)"


def _check_input(name, x):
    """x as a 4-D float array whose channel and spatial sizes are non-zero."""
    args.check_ndim(name, x, _NCHW)
    if min(x.shape[1:]) < 1:
        raise ValueError(f"{name} must have non-empty C, H and W (only the batch may be empty), "
                         f"got shape {x.shape}")


def _check_output_size(op, input_shape, output_shape, detail):
    if output_shape[2] < 1 or output_shape[3] < 1:
        raise ValueError(
            f"{op}: the kernel does not fit in the padded input: input of shape "
            f"{tuple(input_shape)} gives output size {output_shape[2]}x{output_shape[3]} "
            f"(must be at least 1x1); {detail}")


def _check_grad_output(grad_output, expected_shape, op):
    if grad_output.shape != tuple(expected_shape):
        raise ValueError(f"grad_output must have the shape {op} returns, "
                         f"{tuple(expected_shape)}, got {grad_output.shape}")


# ---------------------------------------------------------------- conv2d ----

class _Conv2dGeometry(NamedTuple):
    stride: tuple
    padding: tuple     # ((top, bottom), (left, right))
    dilation: tuple
    groups: int
    output_shape: tuple

    def kernel_args(self):
        """stride_h, stride_w, pad_top, pad_left, dilation_h, dilation_w, groups."""
        return (*self.stride, self.padding[0][0], self.padding[1][0], *self.dilation,
                self.groups)


def _check_conv2d(x, weight, stride, padding, dilation, groups, itemsize):
    """Validate everything conv2d and conv2d_backward share; x, weight already 4-D arrays."""
    _check_input("x", x)
    args.check_ndim("weight", weight, "(K, C/groups, R, S)")
    stride = args.int_pair("stride", stride)
    dilation = args.int_pair("dilation", dilation)
    padding = args.conv_padding(padding)
    groups = args.int_value("groups", groups)
    if padding == "same" and stride != (1, 1):
        raise ValueError(f"padding='same' needs stride 1 (as in torch), got stride={stride}")
    k, c_per_group, r, s = weight.shape
    if min(weight.shape) < 1:
        raise ValueError(f"weight must have non-zero sizes (K, C/groups, R, S), got {weight.shape}")
    if k % groups:
        raise ValueError(f"groups={groups} must divide the output channels, but weight has "
                         f"K={k} (weight shape {weight.shape})")
    if x.shape[1] % groups:
        raise ValueError(f"groups={groups} must divide the input channels, but x has "
                         f"C={x.shape[1]} (x shape {x.shape})")
    if x.shape[1] != c_per_group * groups:
        raise ValueError(f"channel mismatch: x has C={x.shape[1]} channels but weight of shape "
                         f"{weight.shape} with groups={groups} expects "
                         f"{c_per_group * groups} (weight.shape[1] * groups)")
    pads = _shapes.conv2d_padding(padding, (r, s), dilation)
    for axis, dim in ((0, "H"), (1, "W")):
        args.check_span(f"conv2d along {dim}", x.shape[2 + axis], sum(pads[axis]),
                        weight.shape[2 + axis], stride[axis], dilation[axis])
    out_shape = _shapes.conv2d_output_shape(x.shape, weight.shape, stride, pads, dilation)
    _check_output_size("conv2d", x.shape, out_shape,
                       f"kernel {r}x{s}, dilation {dilation}, padding {pads}")
    args.check_element_count("conv2d output", out_shape, itemsize)
    return _Conv2dGeometry(stride, pads, dilation, groups, out_shape)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation, as torch.nn.functional.conv2d.

    x (N, C, H, W), weight (K, C/groups, R, S), bias (K,) or None; stride and
    dilation a positive int or (h, w) pair; padding a non-negative int, an
    (h, w) pair, 'valid' or 'same' (stride 1 only; an odd total puts the extra
    pixel bottom/right, as torch). Returns (N, K, OH, OW).
    """
    x = args.as_array("x", x)
    weight = args.as_array("weight", weight)
    arrays = {"x": x, "weight": weight}
    if bias is not None:
        bias = arrays["bias"] = args.as_array("bias", bias)
    dtype = args.float_dtype(**arrays)
    geometry = _check_conv2d(x, weight, stride, padding, dilation, groups, dtype.itemsize)
    if bias is None:
        bias = np.empty((0,), dtype)    # the kernels' "no bias"
    elif bias.shape != (weight.shape[0],):
        raise ValueError(f"bias must be a 1-D array of K={weight.shape[0]} elements "
                         f"(weight.shape[0]), got shape {bias.shape}")
    out = np.empty(geometry.output_shape, dtype)
    if out.size == 0:
        return out
    _kernels.run_conv2d_forward(args.as_c_contiguous(x, dtype),
                                args.as_c_contiguous(weight, dtype),
                                args.as_c_contiguous(bias, dtype), out,
                                *geometry.kernel_args())
    return out


def _output_mask(value):
    expected = f"output_mask must be a sequence of three bools, got {value!r}"
    try:
        items = tuple(value)
    except TypeError:
        raise TypeError(expected) from None
    if len(items) != 3:
        raise ValueError(expected)
    if not all(isinstance(v, (bool, np.bool_)) for v in items):
        raise TypeError(expected)
    return tuple(bool(v) for v in items)


def conv2d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1,
                    output_mask=(True, True, True)):
    """Gradients of conv2d: (grad_input, grad_weight, grad_bias).

    grad_output must have the shape conv2d(x, weight, ...) returns; the other
    arguments are conv2d's. output_mask says which of the three to compute;
    the others are None.
    """
    grad_output = args.as_array("grad_output", grad_output)
    x = args.as_array("x", x)
    weight = args.as_array("weight", weight)
    dtype = args.float_dtype(grad_output=grad_output, x=x, weight=weight)
    args.check_ndim("grad_output", grad_output, "(N, K, OH, OW)")
    geometry = _check_conv2d(x, weight, stride, padding, dilation, groups, dtype.itemsize)
    _check_grad_output(grad_output, geometry.output_shape, "conv2d")
    want_input, want_weight, want_bias = _output_mask(output_mask)

    grad_input = np.empty(x.shape, dtype) if want_input else None
    grad_weight = np.empty(weight.shape, dtype) if want_weight else None
    grad_bias = np.empty((weight.shape[0],), dtype) if want_bias else None
    if x.shape[0] == 0:
        # An empty batch contributes nothing: the parameter gradients are zero sums.
        if want_weight:
            grad_weight[...] = 0
        if want_bias:
            grad_bias[...] = 0
        return grad_input, grad_weight, grad_bias

    grad_output = args.as_c_contiguous(grad_output, dtype)
    if want_input:
        _kernels.run_conv2d_backward_input(grad_output, args.as_c_contiguous(weight, dtype),
                                           grad_input, *geometry.kernel_args())
    if want_weight:
        _kernels.run_conv2d_backward_weight(grad_output, args.as_c_contiguous(x, dtype),
                                            grad_weight, *geometry.kernel_args())
    if want_bias:
        _kernels.run_conv2d_backward_bias(grad_output, grad_bias)
    return grad_input, grad_weight, grad_bias


# --------------------------------------------------------------- pooling ----

class _Pool2dGeometry(NamedTuple):
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    output_shape: tuple

    def kernel_args(self):
        """kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w."""
        return (*self.kernel, *self.stride, *self.padding)


def _check_pool2d(op, input_shape, kernel_size, stride, padding, dilation, ceil_mode, itemsize):
    """Validate pooling parameters against an (N, C, H, W) input shape (torch's rules)."""
    kernel = args.int_pair("kernel_size", kernel_size)
    stride = args.optional_int_pair("stride", stride, default=kernel)
    padding = args.int_pair("padding", padding, minimum=0)
    dilation = args.int_pair("dilation", dilation)
    ceil_mode = args.flag("ceil_mode", ceil_mode)
    # torch's rule compares with half the kernel size itself, not the dilated one.
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding should be at most half of kernel_size, "
                         f"got padding={padding} and kernel_size={kernel}")
    for axis, dim in ((0, "H"), (1, "W")):
        args.check_span(f"{op} along {dim}", input_shape[2 + axis], 2 * padding[axis],
                        kernel[axis], stride[axis], dilation[axis])
    out_shape = _shapes.pool2d_output_shape(input_shape, kernel, stride, padding, dilation,
                                            ceil_mode)
    _check_output_size(op, input_shape, out_shape,
                       f"kernel_size {kernel}, dilation {dilation}, padding {padding}")
    args.check_element_count(f"{op} output", out_shape, itemsize)
    return _Pool2dGeometry(kernel, stride, padding, dilation, out_shape)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling, as torch.nn.functional.max_pool2d.

    stride defaults to kernel_size; padding (implicit -inf) may be at most
    half the kernel size. Returns y, or (y, indices) with int64 indices: the
    flat position of each maximum in its input H*W plane (the first wins ties;
    NaN propagates).
    """
    x = args.as_array("x", x)
    dtype = args.float_dtype(x=x)
    _check_input("x", x)
    geometry = _check_pool2d("max_pool2d", x.shape, kernel_size, stride, padding, dilation,
                             ceil_mode, dtype.itemsize)
    return_indices = args.flag("return_indices", return_indices)
    out = np.empty(geometry.output_shape, dtype)
    indices = np.empty(geometry.output_shape, np.int64)
    if out.size:
        _kernels.run_max_pool2d_forward(args.as_c_contiguous(x, dtype), out, indices,
                                        *geometry.kernel_args(), *geometry.dilation)
    return (out, indices) if return_indices else out


def max_pool2d_backward(grad_output, indices, input_shape):
    """Gradient of max_pool2d: scatter-add grad_output into input_shape at indices.

    indices is what max_pool2d(..., return_indices=True) returned (int64,
    grad_output's shape, each in [0, H*W)); input_shape is the forward input's
    (N, C, H, W), whose N and C must match grad_output's.
    """
    grad_output = args.as_array("grad_output", grad_output)
    indices = args.as_array("indices", indices)
    dtype = args.float_dtype(grad_output=grad_output)
    input_shape = args.shape4("input_shape", input_shape)
    args.check_ndim("grad_output", grad_output, "(N, C, OH, OW)")
    if grad_output.shape[:2] != input_shape[:2] or min(grad_output.shape[2:]) < 1:
        raise ValueError(f"grad_output must have shape (N, C, OH, OW) = ({input_shape[0]}, "
                         f"{input_shape[1]}, OH >= 1, OW >= 1) to match input_shape "
                         f"{input_shape}, got {grad_output.shape}")
    args.check_indices(indices, grad_output.shape, input_shape[2] * input_shape[3])
    args.check_element_count("grad_input", input_shape, dtype.itemsize)
    grad_input = np.empty(input_shape, dtype)
    if grad_input.size:
        _kernels.run_max_pool2d_backward(args.as_c_contiguous(grad_output, dtype),
                                         args.as_c_contiguous(indices, np.int64), grad_input)
    return grad_input


def _divisor_override(value):
    if value is None:
        return 0    # the kernels' "none"
    return args.int_value("divisor_override", value)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """2-D average pooling, as torch.nn.functional.avg_pool2d.

    stride defaults to kernel_size; padding (implicit zeros) may be at most
    half the kernel size; divisor_override, if given, is a positive int used
    instead of the window size.
    """
    x = args.as_array("x", x)
    dtype = args.float_dtype(x=x)
    _check_input("x", x)
    geometry = _check_pool2d("avg_pool2d", x.shape, kernel_size, stride, padding, 1, ceil_mode,
                             dtype.itemsize)
    count_include_pad = args.flag("count_include_pad", count_include_pad)
    divisor = _divisor_override(divisor_override)
    out = np.empty(geometry.output_shape, dtype)
    if out.size:
        _kernels.run_avg_pool2d_forward(args.as_c_contiguous(x, dtype), out,
                                        *geometry.kernel_args(), count_include_pad, divisor)
    return out


def avg_pool2d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None):
    """Gradient of avg_pool2d for an input of input_shape (N, C, H, W).

    grad_output must have the shape avg_pool2d returns for that input and
    these parameters.
    """
    grad_output = args.as_array("grad_output", grad_output)
    dtype = args.float_dtype(grad_output=grad_output)
    input_shape = args.shape4("input_shape", input_shape)
    args.check_ndim("grad_output", grad_output, "(N, C, OH, OW)")
    geometry = _check_pool2d("avg_pool2d", input_shape, kernel_size, stride, padding, 1,
                             ceil_mode, dtype.itemsize)
    count_include_pad = args.flag("count_include_pad", count_include_pad)
    divisor = _divisor_override(divisor_override)
    _check_grad_output(grad_output, geometry.output_shape, "avg_pool2d")
    args.check_element_count("grad_input", input_shape, dtype.itemsize)
    grad_input = np.empty(input_shape, dtype)
    if grad_input.size:
        _kernels.run_avg_pool2d_backward(args.as_c_contiguous(grad_output, dtype), grad_input,
                                         *geometry.kernel_args(), count_include_pad, divisor)
    return grad_input


# -------------------------------------------------------- im2col / col2im ----

def _check_im2col(input_shape, filter_h, filter_w, stride, pad, itemsize):
    """((OH, OW), col shape) after validating the "Deep Learning from Scratch" parameters."""
    filter_h = args.int_value("filter_h", filter_h)
    filter_w = args.int_value("filter_w", filter_w)
    stride = args.int_value("stride", stride)
    pad = args.int_value("pad", pad, minimum=0)
    for axis, (dim, size) in enumerate((("H", filter_h), ("W", filter_w))):
        args.check_span(f"im2col along {dim}", input_shape[2 + axis], 2 * pad, size, stride, 1)
    (oh, ow), col_shape = _shapes.im2col_shapes(input_shape, filter_h, filter_w, stride, pad)
    _check_output_size("im2col", input_shape, (0, 0, oh, ow),
                       f"filter {filter_h}x{filter_w}, stride {stride}, pad {pad}")
    args.check_element_count("col", col_shape, itemsize)
    return (filter_h, filter_w, stride, pad), col_shape


def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """Unfold (N, C, H, W) patches into rows: (N*OH*OW, C*filter_h*filter_w).

    The layout of the "Deep Learning from Scratch" helper: one row per output
    pixel (n, oh, ow), columns ordered (c, fh, fw); stride and pad are ints
    applied to both dimensions, OH = (H + 2*pad - filter_h) // stride + 1.
    """
    x = args.as_array("input_data", input_data)
    dtype = args.float_dtype(input_data=x)
    _check_input("input_data", x)
    params, col_shape = _check_im2col(x.shape, filter_h, filter_w, stride, pad, dtype.itemsize)
    col = np.empty(col_shape, dtype)
    if col.size:
        _kernels.run_im2col(args.as_c_contiguous(x, dtype), col, *params)
    return col


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """Fold rows back into an (N, C, H, W) array, summing overlapping patches.

    The inverse layout of im2col (and its adjoint: overlaps add up, padding is
    dropped); col must have the shape im2col gives for input_shape.
    """
    col = args.as_array("col", col)
    dtype = args.float_dtype(col=col)
    input_shape = args.shape4("input_shape", input_shape)
    args.check_ndim("col", col, "(N*OH*OW, C*FH*FW)")
    params, col_shape = _check_im2col(input_shape, filter_h, filter_w, stride, pad,
                                      dtype.itemsize)
    if col.shape != col_shape:
        raise ValueError(f"col must have the shape im2col gives for input_shape {input_shape}, "
                         f"{col_shape}, got {col.shape}")
    args.check_element_count("col2im output", input_shape, dtype.itemsize)
    out = np.empty(input_shape, dtype)
    if out.size:
        _kernels.run_col2im(args.as_c_contiguous(col, dtype), out, *params)
    return out
