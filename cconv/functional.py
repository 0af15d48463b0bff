"""cconv.functional: conv2d, pooling, linear and ReLU on NumPy arrays, torch.nn.functional semantics.

Every function follows one path: validate and normalise the arguments (each
layer's `_check_*` does all of it, like THNN's shapeCheck), compute the output
shape in cconv._shapes, allocate new C-contiguous outputs, call a compiled
kernel once. Nothing is computed in NumPy.

Arrays are NCHW by default, or NHWC with data_format="NHWC" (filters then
HWIO, as tf.nn.conv2d; cconv._layout lists the TensorFlow argument forms
accepted), float32 or float64 (one dtype per call; anything else raises
TypeError). Any array-like NumPy converts is accepted, so a nested list of
Python floats works, but a list of ints becomes an int64 array and is refused.
Non-contiguous, Fortran-order and read-only inputs work; inputs are never
modified and outputs never alias them. Only the batch dimension may be empty.
"""
import math
from typing import NamedTuple

import numpy as np

from cconv import _arguments as args
from cconv import _kernels
from cconv import _layout
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
    "relu",
    "relu_backward",
    "dropout",
    "dropout_backward",
    "linear",
    "linear_backward",
]

_NCHW = "(N, C, H, W)"
_LAYOUTS = {"NCHW": "(N, C, H, W)", "NHWC": "(N, H, W, C)"}
_GRAD_LAYOUTS = {"NCHW": "(N, K, OH, OW)", "NHWC": "(N, OH, OW, K)"}
_FILTER_LAYOUTS = {"NCHW": "(K, C/groups, R, S)", "NHWC": "(R, S, C/groups, K) (HWIO)"}


def _with_bias(x, weight, bias):
    """x, weight and bias (or None) as arrays, and the one float dtype they share."""
    x = args.as_array("x", x)
    weight = args.as_array("weight", weight)
    arrays = {"x": x, "weight": weight}
    if bias is not None:
        bias = arrays["bias"] = args.as_array("bias", bias)
    return x, weight, bias, args.float_dtype(**arrays)


def _check_input(name, x, fmt="NCHW"):
    """x as a 4-D float array whose channel and spatial sizes are non-zero."""
    args.check_ndim(name, x, _LAYOUTS[fmt])
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


_CONV2D_GEOMETRIES = args.Memo()


def _check_conv2d(x, weight, stride, padding, dilation, groups, itemsize, fmt):
    """Validate everything conv2d and conv2d_backward share; x, weight already
    arrays. The geometry's output shape is in `fmt` too. The checks read only
    the arrays' shapes, so their result is remembered by shapes and arguments."""
    key = args.memo_key(x.shape, weight.shape, stride, padding, dilation, groups, itemsize, fmt)
    geometry = _CONV2D_GEOMETRIES.get(key)
    if geometry is None:
        geometry = _CONV2D_GEOMETRIES.put(key, _validate_conv2d(
            x, weight, stride, padding, dilation, groups, itemsize, fmt))
    return geometry


def _validate_conv2d(x, weight, stride, padding, dilation, groups, itemsize, fmt):
    _check_input("x", x, fmt)
    args.check_ndim("weight", weight, _FILTER_LAYOUTS[fmt])
    stride = _layout.spatial_pair("stride", stride, fmt)
    dilation = _layout.spatial_pair("dilation", dilation, fmt)
    explicit = _layout.explicit_padding(padding, fmt)
    if explicit is None:
        padding = args.conv_padding(padding)
    groups = args.int_value("groups", groups)
    x_shape = _layout.to_nchw_shape(x.shape, fmt)
    w_shape = _layout.weight_to_kcrs_shape(weight.shape, fmt)
    k, c_per_group, r, s = w_shape
    if min(weight.shape) < 1:
        raise ValueError(f"weight must have non-zero sizes {_FILTER_LAYOUTS[fmt]}, "
                         f"got {weight.shape}")
    if k % groups:
        raise ValueError(f"groups={groups} must divide the output channels, but weight has "
                         f"K={k} (weight shape {weight.shape})")
    if x_shape[1] % groups:
        raise ValueError(f"groups={groups} must divide the input channels, but x has "
                         f"C={x_shape[1]} (x shape {x.shape})")
    if x_shape[1] != c_per_group * groups:
        raise ValueError(f"channel mismatch: x has C={x_shape[1]} channels but weight of shape "
                         f"{weight.shape} with groups={groups} expects "
                         f"{c_per_group * groups} (its C/groups * groups)")
    pads = explicit if explicit is not None else _shapes.conv2d_padding(
        padding, (r, s), dilation, x_shape[2:], stride)
    for axis, dim in ((0, "H"), (1, "W")):
        args.check_span(f"conv2d along {dim}", x_shape[2 + axis], sum(pads[axis]),
                        w_shape[2 + axis], stride[axis], dilation[axis])
    out_shape = _shapes.conv2d_output_shape(x_shape, w_shape, stride, pads, dilation)
    _check_output_size("conv2d", x.shape, out_shape,
                       f"kernel {r}x{s}, dilation {dilation}, padding {pads}")
    args.check_element_count("conv2d output", out_shape, itemsize)
    return _Conv2dGeometry(stride, pads, dilation, groups, _layout.from_nchw_shape(out_shape, fmt))


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, data_format="NCHW"):
    """2-D cross-correlation, as torch.nn.functional.conv2d (or tf.nn.conv2d).

    x (N, C, H, W), weight (K, C/groups, R, S), bias (K,) or None; stride and
    dilation a positive int or (h, w) pair; padding a non-negative int, an
    (h, w) pair, 'valid' or 'same' (any case; the odd extra pixel goes
    bottom/right, as torch and TensorFlow; with a stride, TensorFlow's SAME:
    ceil(H / stride) rows). Returns (N, K, OH, OW).
    With data_format="NHWC": x (N, H, W, C), weight HWIO (R, S, C/groups, K),
    result (N, OH, OW, K); stride/dilation may also be TF's length-4 lists and
    padding TF's explicit [[0, 0], [top, bottom], [left, right], [0, 0]]
    (in NCHW order [[0, 0], [0, 0], [top, bottom], [left, right]]).
    """
    fmt = _layout.data_format(data_format)
    x, weight, bias, dtype = _with_bias(x, weight, bias)
    geometry = _check_conv2d(x, weight, stride, padding, dilation, groups, dtype.itemsize, fmt)
    k = _layout.weight_to_kcrs_shape(weight.shape, fmt)[0]
    if bias is None:
        bias = np.empty((0,), dtype)    # the kernels' "no bias"
    elif bias.shape != (k,):
        raise ValueError(f"bias must be a 1-D array of K={k} elements (the filter's output "
                         f"channels), got shape {bias.shape}")
    out = np.empty(geometry.output_shape, dtype)
    if out.size == 0:
        return out
    run = _kernels.run_conv2d_forward if fmt == "NCHW" else _kernels.run_conv2d_forward_nhwc
    run(args.as_c_contiguous(x, dtype), args.as_c_contiguous(weight, dtype),
        args.as_c_contiguous(bias, dtype), out, *geometry.kernel_args())
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
                    output_mask=(True, True, True), data_format="NCHW"):
    """Gradients of conv2d: (grad_input, grad_weight, grad_bias).

    grad_output must have the shape conv2d(x, weight, ...) returns; the other
    arguments are conv2d's. output_mask says which of the three to compute;
    the others are None.
    """
    fmt = _layout.data_format(data_format)
    grad_output = args.as_array("grad_output", grad_output)
    x = args.as_array("x", x)
    weight = args.as_array("weight", weight)
    dtype = args.float_dtype(grad_output=grad_output, x=x, weight=weight)
    args.check_ndim("grad_output", grad_output, _GRAD_LAYOUTS[fmt])
    geometry = _check_conv2d(x, weight, stride, padding, dilation, groups, dtype.itemsize, fmt)
    _check_grad_output(grad_output, geometry.output_shape, "conv2d")
    want_input, want_weight, want_bias = _output_mask(output_mask)
    k = _layout.weight_to_kcrs_shape(weight.shape, fmt)[0]

    grad_input = np.empty(x.shape, dtype) if want_input else None
    grad_weight = np.empty(weight.shape, dtype) if want_weight else None
    grad_bias = np.empty((k,), dtype) if want_bias else None
    if x.shape[0] == 0:
        # An empty batch contributes nothing: the parameter gradients are zero sums.
        if want_weight:
            grad_weight[...] = 0
        if want_bias:
            grad_bias[...] = 0
        return grad_input, grad_weight, grad_bias

    nhwc = fmt == "NHWC"
    grad_output = args.as_c_contiguous(grad_output, dtype)
    if want_input:
        run = _kernels.run_conv2d_backward_input_nhwc if nhwc else _kernels.run_conv2d_backward_input
        run(grad_output, args.as_c_contiguous(weight, dtype), grad_input, *geometry.kernel_args())
    if want_weight and want_bias and not nhwc:
        # one call: the weight gradient sums the bias from the dY^T it builds
        _kernels.run_conv2d_backward_weight_bias(grad_output, args.as_c_contiguous(x, dtype),
                                                 grad_weight, grad_bias, *geometry.kernel_args())
        return grad_input, grad_weight, grad_bias
    if want_weight:
        run = _kernels.run_conv2d_backward_weight_nhwc if nhwc else _kernels.run_conv2d_backward_weight
        run(grad_output, args.as_c_contiguous(x, dtype), grad_weight, *geometry.kernel_args())
    if want_bias:
        run = _kernels.run_conv2d_backward_bias_nhwc if nhwc else _kernels.run_conv2d_backward_bias
        run(grad_output, grad_bias)
    return grad_input, grad_weight, grad_bias


# --------------------------------------------------------------- pooling ----

class _Pool2dGeometry(NamedTuple):
    kernel: tuple
    stride: tuple
    padding: tuple       # ((top, bottom), (left, right))
    dilation: tuple
    output_shape: tuple  # in the call's data_format
    tf_padding: bool     # 'SAME' / 'VALID': padded cells never count (TensorFlow)

    def kernel_args(self):
        """kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left."""
        return (*self.kernel, *self.stride, self.padding[0][0], self.padding[1][0])


def _pool_padding(op, padding, kernel, stride, dilation, ceil_mode, in_hw, fmt):
    """((top, bottom), (left, right)), (OH, OW), tf_padding for pooling's
    padding: torch's int or pair (symmetric, at most half the kernel, with
    ceil_mode), TF's 'SAME' / 'VALID' (any case), or TF's explicit list."""
    if isinstance(padding, str):
        mode = padding.lower()
        if mode not in ("same", "valid"):
            raise ValueError(f"padding must be a non-negative int, a pair of them, 'SAME', "
                             f"'VALID' or a list of four [before, after] pairs, got the unknown "
                             f"string {padding!r}")
        if ceil_mode:
            raise ValueError(f"{op}: ceil_mode=True cannot be combined with padding {padding!r}")
        pads = tuple(_shapes.tf_same_padding(in_hw[i], kernel[i], stride[i], dilation[i])
                     if mode == "same" else (0, 0) for i in range(2))
        return pads, _conv_sizes(in_hw, kernel, stride, pads, dilation), True
    pads = _layout.explicit_padding(padding, fmt)
    if pads is not None:
        if ceil_mode:
            raise ValueError(f"{op}: ceil_mode=True cannot be combined with an explicit "
                             f"padding list")
    else:
        pad_h, pad_w = args.int_pair("padding", padding, minimum=0)
        pads = (pad_h, pad_h), (pad_w, pad_w)
    # torch's rule compares with half the kernel size itself, not the dilated one.
    if any(p > kernel[i] // 2 for i in range(2) for p in pads[i]):
        raise ValueError(f"{op}: padding should be at most half of kernel_size, "
                         f"got padding={pads} and kernel_size={kernel}")
    if pads[0][0] == pads[0][1] and pads[1][0] == pads[1][1]:
        sizes = _shapes.pool2d_output_shape((0, 0) + tuple(in_hw), kernel, stride,
                                            (pads[0][0], pads[1][0]), dilation, ceil_mode)[2:]
    else:
        sizes = _conv_sizes(in_hw, kernel, stride, pads, dilation)
    return pads, sizes, False


def _conv_sizes(in_hw, kernel, stride, pads, dilation):
    return tuple(_shapes.conv_output_size(in_hw[i], kernel[i], stride[i], pads[i][0], pads[i][1],
                                          dilation[i]) for i in range(2))


_POOL2D_GEOMETRIES = args.Memo()


def _check_pool2d(op, input_shape, kernel_size, stride, padding, dilation, ceil_mode, itemsize,
                  fmt="NCHW"):
    """Validate pooling parameters against an input shape in `fmt` (torch's rules,
    and TensorFlow's for its padding forms); remembered by its arguments."""
    key = args.memo_key(op, input_shape, kernel_size, stride, padding, dilation, ceil_mode,
                        itemsize, fmt)
    geometry = _POOL2D_GEOMETRIES.get(key)
    if geometry is None:
        geometry = _POOL2D_GEOMETRIES.put(key, _validate_pool2d(
            op, input_shape, kernel_size, stride, padding, dilation, ceil_mode, itemsize, fmt))
    return geometry


def _validate_pool2d(op, input_shape, kernel_size, stride, padding, dilation, ceil_mode,
                     itemsize, fmt):
    n, c, h, w = _layout.to_nchw_shape(input_shape, fmt)
    kernel = _layout.spatial_pair("kernel_size", kernel_size, fmt)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        stride = kernel
    else:
        stride = _layout.spatial_pair("stride", stride, fmt)
    dilation = _layout.spatial_pair("dilation", dilation, fmt)
    ceil_mode = args.flag("ceil_mode", ceil_mode)
    pads, (oh, ow), tf_padding = _pool_padding(op, padding, kernel, stride, dilation, ceil_mode,
                                               (h, w), fmt)
    for axis, dim in ((0, "H"), (1, "W")):
        args.check_span(f"{op} along {dim}", (h, w)[axis], sum(pads[axis]),
                        kernel[axis], stride[axis], dilation[axis])
    out_shape = (n, c, oh, ow)
    _check_output_size(op, input_shape, out_shape,
                       f"kernel_size {kernel}, dilation {dilation}, padding {pads}")
    args.check_element_count(f"{op} output", out_shape, itemsize)
    return _Pool2dGeometry(kernel, stride, pads, dilation, _layout.from_nchw_shape(out_shape, fmt),
                           tf_padding)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, data_format="NCHW"):
    """2-D max pooling, as torch.nn.functional.max_pool2d (or tf.nn.max_pool2d).

    stride defaults to kernel_size; padding (implicit -inf) may be at most
    half the kernel size, or TensorFlow's 'SAME' / 'VALID' / explicit list.
    Returns y, or (y, indices) with int64 indices: the flat position
    ih * W + iw of each maximum in its input H*W plane, in either data_format
    (the first wins ties; NaN propagates).
    """
    fmt = _layout.data_format(data_format)
    x = args.as_array("x", x)
    dtype = args.float_dtype(x=x)
    _check_input("x", x, fmt)
    geometry = _check_pool2d("max_pool2d", x.shape, kernel_size, stride, padding, dilation,
                             ceil_mode, dtype.itemsize, fmt)
    return_indices = args.flag("return_indices", return_indices)
    if fmt == "NHWC" and geometry.kernel[0] * geometry.kernel[1] >= 2**31:
        raise ValueError(f"max_pool2d: with data_format='NHWC' a window may have at most "
                         f"2**31 - 1 taps, got kernel_size {geometry.kernel}")
    out = np.empty(geometry.output_shape, dtype)
    indices = np.empty(geometry.output_shape, np.int64)
    if out.size:
        run = _kernels.run_max_pool2d_forward if fmt == "NCHW" else _kernels.run_max_pool2d_forward_nhwc
        run(args.as_c_contiguous(x, dtype), out, indices, *geometry.kernel_args(),
            *geometry.dilation)
    return (out, indices) if return_indices else out


_MAX_POOL2D_BACKWARD_SHAPES = args.Memo()


def _check_max_pool2d_backward(grad_output, input_shape, itemsize, fmt):
    """input_shape as a tuple, after checking grad_output's shape against it."""
    input_shape = args.shape4("input_shape", input_shape)  # N first in both layouts
    n, c, _, _ = _layout.to_nchw_shape(input_shape, fmt)
    grad_layout = _LAYOUTS[fmt].replace("H, W", "OH, OW")
    args.check_ndim("grad_output", grad_output, grad_layout)
    g_n, g_c, g_h, g_w = _layout.to_nchw_shape(grad_output.shape, fmt)
    if (g_n, g_c) != (n, c) or min(g_h, g_w) < 1:
        raise ValueError(f"grad_output must have shape {grad_layout} with N = {n}, C = {c} "
                         f"and OH, OW >= 1 to match input_shape {input_shape}, "
                         f"got {grad_output.shape}")
    args.check_element_count("grad_input", input_shape, itemsize)
    return input_shape


def max_pool2d_backward(grad_output, indices, input_shape, data_format="NCHW"):
    """Gradient of max_pool2d: scatter-add grad_output into input_shape at indices.

    indices is what max_pool2d(..., return_indices=True) returned (int64,
    grad_output's shape, each in [0, H*W)); input_shape is the forward input's
    shape, whose N and C must match grad_output's.
    """
    fmt = _layout.data_format(data_format)
    grad_output = args.as_array("grad_output", grad_output)
    indices = args.as_array("indices", indices)
    dtype = args.float_dtype(grad_output=grad_output)
    key = args.memo_key(input_shape, grad_output.shape, dtype.itemsize, fmt)
    checked_shape = _MAX_POOL2D_BACKWARD_SHAPES.get(key)
    if checked_shape is None:
        checked_shape = _MAX_POOL2D_BACKWARD_SHAPES.put(key, _check_max_pool2d_backward(
            grad_output, input_shape, dtype.itemsize, fmt))
    input_shape = checked_shape
    args.check_indices(indices, grad_output.shape)  # the kernel checks their values
    grad_input = np.empty(input_shape, dtype)
    if grad_input.size:
        run = _kernels.run_max_pool2d_backward if fmt == "NCHW" else _kernels.run_max_pool2d_backward_nhwc
        run(args.as_c_contiguous(grad_output, dtype), args.as_c_contiguous(indices, np.int64),
            grad_input)
    return grad_input


def _divisor_override(value):
    if value is None:
        return 0    # the kernels' "none"
    return args.int_value("divisor_override", value)


def _avg_count_include_pad(geometry, count_include_pad):
    count_include_pad = args.flag("count_include_pad", count_include_pad)
    if geometry.tf_padding:
        return False    # TensorFlow's SAME never counts padded cells
    (top, bottom), (left, right) = geometry.padding
    if count_include_pad and (top != bottom or left != right):
        raise ValueError("avg_pool2d: count_include_pad=True needs symmetric padding, got "
                         f"{geometry.padding}; pass count_include_pad=False")
    return count_include_pad


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, data_format="NCHW"):
    """2-D average pooling, as torch.nn.functional.avg_pool2d (or tf.nn.avg_pool2d).

    stride defaults to kernel_size; padding (implicit zeros) may be at most
    half the kernel size, or TensorFlow's 'SAME' / 'VALID' (padded cells then
    never count, whatever count_include_pad says) or explicit list;
    divisor_override, if given, is a positive int used instead of the window
    size.
    """
    fmt = _layout.data_format(data_format)
    x = args.as_array("x", x)
    dtype = args.float_dtype(x=x)
    _check_input("x", x, fmt)
    geometry = _check_pool2d("avg_pool2d", x.shape, kernel_size, stride, padding, 1, ceil_mode,
                             dtype.itemsize, fmt)
    count_include_pad = _avg_count_include_pad(geometry, count_include_pad)
    divisor = _divisor_override(divisor_override)
    out = np.empty(geometry.output_shape, dtype)
    if out.size:
        run = _kernels.run_avg_pool2d_forward if fmt == "NCHW" else _kernels.run_avg_pool2d_forward_nhwc
        run(args.as_c_contiguous(x, dtype), out, *geometry.kernel_args(), count_include_pad,
            divisor)
    return out


def avg_pool2d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None,
                        data_format="NCHW"):
    """Gradient of avg_pool2d for an input of input_shape.

    grad_output must have the shape avg_pool2d returns for that input and
    these parameters.
    """
    fmt = _layout.data_format(data_format)
    grad_output = args.as_array("grad_output", grad_output)
    dtype = args.float_dtype(grad_output=grad_output)
    input_shape = args.shape4("input_shape", input_shape)  # N first in both layouts
    args.check_ndim("grad_output", grad_output, _LAYOUTS[fmt].replace("H, W", "OH, OW"))
    geometry = _check_pool2d("avg_pool2d", input_shape, kernel_size, stride, padding, 1,
                             ceil_mode, dtype.itemsize, fmt)
    count_include_pad = _avg_count_include_pad(geometry, count_include_pad)
    divisor = _divisor_override(divisor_override)
    _check_grad_output(grad_output, geometry.output_shape, "avg_pool2d")
    args.check_element_count("grad_input", input_shape, dtype.itemsize)
    grad_input = np.empty(input_shape, dtype)
    if grad_input.size:
        run = _kernels.run_avg_pool2d_backward if fmt == "NCHW" else _kernels.run_avg_pool2d_backward_nhwc
        run(args.as_c_contiguous(grad_output, dtype), grad_input, *geometry.kernel_args(),
            count_include_pad, divisor)
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


def relu(x):
    """max(x, 0) elementwise, of any shape (NaN stays NaN, as np.maximum)."""
    x = args.as_array("x", x)
    dtype = args.float_dtype(x=x)
    out = np.empty(x.shape, dtype)
    if out.size:
        _kernels.run_relu_forward(args.as_c_contiguous(x, dtype).reshape(-1), out.reshape(-1))
    return out


def relu_backward(grad_output, x):
    """0 where x <= 0, else grad_output (torch's ReLU gradient); same shapes."""
    grad_output = args.as_array("grad_output", grad_output)
    x = args.as_array("x", x)
    dtype = args.float_dtype(grad_output=grad_output, x=x)
    if grad_output.shape != x.shape:
        raise ValueError(f"grad_output must have the shape of x {x.shape}, "
                         f"got {grad_output.shape}")
    grad_input = np.empty(x.shape, dtype)
    if grad_input.size:
        _kernels.run_relu_backward(args.as_c_contiguous(grad_output, dtype).reshape(-1),
                                   args.as_c_contiguous(x, dtype).reshape(-1),
                                   grad_input.reshape(-1))
    return grad_input


def dropout(x, p, seed):
    """Inverted dropout of x (any shape): (output, mask).

    Each element is dropped (0) with probability p, else kept as x * scale,
    scale = 1/(1-p) rounded to x's dtype (one multiply, as x * float mask).
    mask is uint8 of x's shape, 1 where kept, 0 where dropped. The draws depend
    on seed (an int in [0, 2**64)) and each element's flat C-order position
    alone, so a seed gives one mask whatever the thread count: element i is
    kept when the low (even i) or high (odd i) 32 bits of splitmix64's output
    number i // 2 from state seed are >= floor(p * 2**32), a drop rate within
    2**-32 of p. p == 1 drops everything; p == 0 returns a copy of x.
    """
    x = args.as_array("x", x)
    dtype = args.float_dtype(x=x)
    p = args.probability("p", p)
    seed = args.uint64_value("seed", seed)
    if p == 1:
        return np.zeros(x.shape, dtype), np.zeros(x.shape, np.uint8)
    out = np.empty(x.shape, dtype)
    mask = np.empty(x.shape, np.uint8)
    if out.size:
        # p < 1: floor(p * 2**32) < 2**32, the kernel's uint32 threshold
        _kernels.run_dropout_forward(args.as_c_contiguous(x, dtype).reshape(-1), out.reshape(-1),
                                     mask.reshape(-1), seed, int(p * 2**32), 1 / (1 - p))
    return out, mask


def dropout_backward(grad_output, mask, p):
    """Gradient of dropout: grad_output * scale where mask is non-zero, else 0.

    mask is the uint8 array dropout returned (grad_output's shape), p the
    probability it was drawn with (p == 1: all zeros).
    """
    grad_output = args.as_array("grad_output", grad_output)
    mask = args.as_array("mask", mask)
    dtype = args.float_dtype(grad_output=grad_output)
    args.check_mask(mask, grad_output.shape)
    p = args.probability("p", p)
    if p == 1:
        return np.zeros(grad_output.shape, dtype)
    grad_input = np.empty(grad_output.shape, dtype)
    if grad_input.size:
        _kernels.run_dropout_backward(args.as_c_contiguous(grad_output, dtype).reshape(-1),
                                      args.as_c_contiguous(mask, np.uint8).reshape(-1),
                                      grad_input.reshape(-1), 1 / (1 - p))
    return grad_input


# ---------------------------------------------------------------- linear ----

def _check_linear(x, weight):
    """(rows, in_features, out_features) of x (..., in) @ weight (out, in).T."""
    if weight.ndim != 2:
        raise ValueError(f"weight must be a 2-D array (out_features, in_features), "
                         f"got a {weight.ndim}-D array of shape {weight.shape}")
    if x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"x must have shape (..., in_features={weight.shape[1]}) to match "
                         f"weight {weight.shape}, got {x.shape}")
    rows = math.prod(x.shape[:-1])   # not np.prod: ~5 us a call, twice a layer a step
    return rows, weight.shape[1], weight.shape[0]


def linear(x, weight, bias=None):
    """x @ weight.T + bias, as torch.nn.functional.linear: x (..., in_features),
    weight (out_features, in_features), bias (out_features,) or None; returns
    (..., out_features). Computed by cconv's own kernels on its threads, not by
    NumPy's BLAS."""
    x, weight, bias, dtype = _with_bias(x, weight, bias)
    rows, n_in, n_out = _check_linear(x, weight)
    if bias is None:
        bias = np.empty((0,), dtype)    # the kernels' "no bias"
    elif bias.shape != (n_out,):
        raise ValueError(f"bias must be a 1-D array of out_features={n_out} elements, "
                         f"got shape {bias.shape}")
    out = np.empty(x.shape[:-1] + (n_out,), dtype)
    _kernels.run_linear_forward(args.as_c_contiguous(x, dtype).reshape(rows, n_in),
                                args.as_c_contiguous(weight, dtype),
                                args.as_c_contiguous(bias, dtype), out.reshape(rows, n_out))
    return out


def _check_add_to(add_to, want_weight, want_bias, weight_shape, dtype):
    """The (grad_weight, grad_bias) arrays linear_backward adds into."""
    try:
        grad_weight, grad_bias = add_to
    except (TypeError, ValueError):
        raise TypeError(f"add_to must be None or a pair (grad_weight, grad_bias), "
                        f"got {add_to!r}") from None
    for name, arr, wanted, shape in (("grad_weight", grad_weight, want_weight, weight_shape),
                                     ("grad_bias", grad_bias, want_bias, weight_shape[:1])):
        if not wanted:
            continue
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"add_to's {name} must be an ndarray, got {type(arr).__name__}")
        if arr.shape != shape or arr.dtype != dtype:
            raise ValueError(f"add_to's {name} must have shape {shape} and dtype {dtype}, "
                             f"got {arr.shape} {arr.dtype}")
        if not (arr.flags.c_contiguous and arr.flags.writeable):
            raise ValueError(f"add_to's {name} must be C-contiguous and writeable")
    return grad_weight, grad_bias


def linear_backward(grad_output, x, weight, output_mask=(True, True, True), add_to=None):
    """Gradients of linear: (grad_input, grad_weight, grad_bias).

    grad_output has the shape linear(x, weight) returns; output_mask says which
    of the three to compute (the others are None). With add_to=(grad_weight,
    grad_bias), C-contiguous arrays of weight's dtype, the parameter gradients
    are added to them in place (Torch7's accGradParameters, with no temporary)
    and those arrays are returned.
    """
    grad_output = args.as_array("grad_output", grad_output)
    x = args.as_array("x", x)
    weight = args.as_array("weight", weight)
    dtype = args.float_dtype(grad_output=grad_output, x=x, weight=weight)
    rows, n_in, n_out = _check_linear(x, weight)
    _check_grad_output(grad_output, x.shape[:-1] + (n_out,), "linear")
    want_input, want_weight, want_bias = _output_mask(output_mask)
    if add_to is None:
        grad_weight = np.empty(weight.shape, dtype) if want_weight else None
        grad_bias = np.empty((n_out,), dtype) if want_bias else None
    else:
        grad_weight, grad_bias = _check_add_to(add_to, want_weight, want_bias, weight.shape,
                                               dtype)
    grad_input = np.empty(x.shape, dtype) if want_input else None
    unused = np.empty((0, 0), dtype)
    _kernels.run_linear_backward(
        args.as_c_contiguous(grad_output, dtype).reshape(rows, n_out),
        args.as_c_contiguous(x, dtype).reshape(rows, n_in) if want_weight else unused,
        args.as_c_contiguous(weight, dtype) if want_input else unused,
        grad_input.reshape(rows, n_in) if want_input else unused,
        grad_weight if want_weight else unused,
        grad_bias if want_bias else np.empty((0,), dtype),
        want_input, want_weight, want_bias, add_to is not None)
    return grad_input, grad_weight, grad_bias
