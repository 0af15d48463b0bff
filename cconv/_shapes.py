"""Output-size arithmetic of every cconv op, in one place.

The rules are torch's (ATen's `conv_output_size`, `pooling_output_shape`, the
`padding='same'` split) and the "Deep Learning from Scratch" im2col's. Forward
and backward functions both call these, so the grad_output shape a backward
expects is by construction the shape its forward returned.

Sizes are exact Python ints: nothing wraps around here. A result below 1 means
the kernel does not fit in the padded input; callers report that (and check
int64 limits) before any kernel runs. Floor division is deliberate: it is
ATen's `div_rtn` (round toward negative infinity), which keeps too-large
kernels at sizes <= 0 instead of truncating them up to 1.
"""

__all__ = [
    "conv_output_size",
    "conv_same_padding",
    "tf_same_padding",
    "conv2d_padding",
    "conv2d_output_shape",
    "pooling_output_size",
    "pool2d_output_shape",
    "im2col_output_size",
    "im2col_shapes",
]


def conv_output_size(in_size, kernel, stride, pad_before, pad_after, dilation):
    """Output length of a convolution along one dimension."""
    return (in_size + pad_before + pad_after - dilation * (kernel - 1) - 1) // stride + 1


def conv_same_padding(kernel, dilation):
    """(before, after) padding that keeps a stride-1 convolution's size.

    The total is dilation * (kernel - 1); when it is odd the extra pixel goes
    after (bottom/right), as torch pads for padding='same'.
    """
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2


def tf_same_padding(in_size, kernel, stride, dilation):
    """(before, after) of TensorFlow's 'SAME' along one dimension: the output
    has ceil(in / stride) elements and the padding its windows need, the odd
    pixel after. With stride 1 this is conv_same_padding."""
    out = -(-in_size // stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - in_size, 0)
    return total // 2, total - total // 2


def conv2d_padding(padding, kernel_hw, dilation_hw, in_hw=None, stride_hw=(1, 1)):
    """((top, bottom), (left, right)) for a normalised conv2d padding.

    `padding` is 'valid', 'same' or an (h, w) pair of non-negative ints (as
    cconv._arguments.conv_padding returns it); 'same' is TensorFlow's SAME for
    the input size `in_hw` and `stride_hw` (torch's 'same' when stride is 1).
    """
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        if in_hw is None:
            return (conv_same_padding(kernel_hw[0], dilation_hw[0]),
                    conv_same_padding(kernel_hw[1], dilation_hw[1]))
        return tuple(tf_same_padding(in_hw[i], kernel_hw[i], stride_hw[i], dilation_hw[i])
                     for i in range(2))
    pad_h, pad_w = padding
    return (pad_h, pad_h), (pad_w, pad_w)


def conv2d_output_shape(x_shape, weight_shape, stride_hw, padding_hw, dilation_hw):
    """(N, K, OH, OW) of conv2d; padding_hw is ((top, bottom), (left, right))."""
    n, _, h, w = x_shape
    k, _, r, s = weight_shape
    oh = conv_output_size(h, r, stride_hw[0], padding_hw[0][0], padding_hw[0][1], dilation_hw[0])
    ow = conv_output_size(w, s, stride_hw[1], padding_hw[1][0], padding_hw[1][1], dilation_hw[1])
    return n, k, oh, ow


def pooling_output_size(in_size, kernel, pad, stride, dilation, ceil_mode):
    """Output length of max/avg pooling along one dimension (torch's rule).

    With ceil_mode a last, partial window is kept only if it starts inside the
    input or its left padding; a window starting in the right padding is dropped.
    """
    numerator = in_size + 2 * pad - dilation * (kernel - 1) - 1
    if ceil_mode:
        numerator += stride - 1
    out = numerator // stride + 1
    if ceil_mode and (out - 1) * stride >= in_size + pad:
        out -= 1
    return out


def pool2d_output_shape(input_shape, kernel_hw, stride_hw, padding_hw, dilation_hw, ceil_mode):
    """(N, C, OH, OW) of 2-D pooling; every parameter is an (h, w) pair."""
    n, c, h, w = input_shape
    oh = pooling_output_size(h, kernel_hw[0], padding_hw[0], stride_hw[0], dilation_hw[0],
                             ceil_mode)
    ow = pooling_output_size(w, kernel_hw[1], padding_hw[1], stride_hw[1], dilation_hw[1],
                             ceil_mode)
    return n, c, oh, ow


def im2col_output_size(in_size, filter_size, stride, pad):
    """Output length of the "Deep Learning from Scratch" im2col along one dimension."""
    return (in_size + 2 * pad - filter_size) // stride + 1


def im2col_shapes(input_shape, filter_h, filter_w, stride, pad):
    """((OH, OW), col shape (N*OH*OW, C*filter_h*filter_w)) of im2col/col2im."""
    n, c, h, w = input_shape
    oh = im2col_output_size(h, filter_h, stride, pad)
    ow = im2col_output_size(w, filter_w, stride, pad)
    return (oh, ow), (n * oh * ow, c * filter_h * filter_w)
