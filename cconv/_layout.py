"""data_format and the TensorFlow forms of geometry arguments.

`data_format` is "NCHW" (torch's layout, the default) or "NHWC" (TF's; conv
filters are then HWIO). Next to torch's ints and pairs, stride, dilation and
padding accept what tf.nn.conv2d takes: a length-4 list of strides/dilations
whose batch and channel entries are 1, 'SAME' / 'VALID' in any case, and an
explicit padding list of four [before, after] pairs in the data format's axis
order. Everything is normalised here to (h, w) pairs and
((top, bottom), (left, right)) paddings, before any kernel runs.
"""
import numpy as np

from cconv import _arguments as args

__all__ = ["data_format", "spatial_pair", "explicit_padding", "to_nchw_shape", "from_nchw_shape",
           "weight_to_kcrs_shape"]

_FORMATS = ("NCHW", "NHWC")


def data_format(value):
    if not isinstance(value, str) or value.upper() not in _FORMATS:
        raise ValueError(f"data_format must be 'NCHW' or 'NHWC', got {value!r}")
    return value.upper()


def _spatial_axes(fmt):
    return (2, 3) if fmt == "NCHW" else (1, 2)


def spatial_pair(name, value, fmt, minimum=1):
    """An int, an (h, w) pair, or TF's length-4 list (batch and channel entries 1)."""
    if isinstance(value, (tuple, list, np.ndarray)) and len(value) == 4:
        value = list(value)
        h_axis, w_axis = _spatial_axes(fmt)
        others = [value[i] for i in range(4) if i not in (h_axis, w_axis)]
        if any(not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v != 1 for v in others):
            raise ValueError(f"{name} as a list of four follows data_format {fmt}: its batch "
                             f"and channel entries must be 1, got {value!r}")
        value = (value[h_axis], value[w_axis])
    return args.int_pair(name, value, minimum=minimum)


def explicit_padding(value, fmt):
    """((top, bottom), (left, right)) from TF's explicit list of four [before,
    after] pairs (batch and channel pairs [0, 0]), or None when `value` is
    not such a list."""
    if not (isinstance(value, (tuple, list)) and len(value) == 4
            and all(isinstance(p, (tuple, list)) for p in value)):
        return None
    expected = (f"padding as a list of four [before, after] pairs in {fmt} order must hold "
                f"non-negative ints with [0, 0] for batch and channels, got {value!r}")
    if not all(len(p) == 2 for p in value):
        raise ValueError(expected)
    h_axis, w_axis = _spatial_axes(fmt)
    pairs = []
    for i, pair in enumerate(value):
        before, after = (args.int_value("padding", v, minimum=0) for v in pair)
        if i not in (h_axis, w_axis) and (before, after) != (0, 0):
            raise ValueError(expected)
        pairs.append((before, after))
    return pairs[h_axis], pairs[w_axis]


def to_nchw_shape(shape, fmt):
    """(N, C, H, W) of an activation shape given in `fmt`."""
    if fmt == "NCHW":
        return tuple(shape)
    n, h, w, c = shape
    return n, c, h, w


def from_nchw_shape(shape, fmt):
    """An (N, C, H, W) shape in `fmt`'s axis order."""
    if fmt == "NCHW":
        return tuple(shape)
    n, c, h, w = shape
    return n, h, w, c


def weight_to_kcrs_shape(shape, fmt):
    """(K, C/groups, R, S) of a filter given as OIHW (NCHW) or HWIO (NHWC)."""
    if fmt == "NCHW":
        return tuple(shape)
    r, s, c, k = shape
    return k, c, r, s
