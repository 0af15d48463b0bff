"""Normalisation and validation of the arguments of cconv's public functions.

Every check raises before any kernel runs, with a message that names the
argument and says what was expected. The kernels trust what passes here: they
never validate, so a hole in these checks is a hole in memory safety.

Convention: a wrong *type* (float stride, int array, bool flag) raises
TypeError; a right type with a wrong *value* or *shape* raises ValueError.
"""
import math
import operator

import numpy as np

__all__ = [
    "INT64_MAX",
    "as_array",
    "float_dtype",
    "check_ndim",
    "as_c_contiguous",
    "int_value",
    "int_pair",
    "optional_int_pair",
    "conv_padding",
    "flag",
    "probability",
    "uint64_value",
    "shape4",
    "check_span",
    "check_element_count",
    "check_indices",
    "check_mask",
    "memo_key",
    "Memo",
]

# The kernels index with int64 / Py_ssize_t: every extent they compute must fit.
INT64_MAX = 2**63 - 1

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# ---------------------------------------------------------------- arrays ----

def as_array(name, value):
    """`value` as an ndarray (any array-like NumPy can convert), without copying if possible."""
    if isinstance(value, np.ndarray):
        return value
    if value is None:
        raise TypeError(f"{name} must be an array, got None")
    try:
        return np.asarray(value)
    # RuntimeError: what a torch tensor that requires grad raises
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"{name} must be an array-like of floats, got "
                        f"{type(value).__name__} ({exc})") from None


def _native(dtype):
    """float32/float64 of native byte order, or None for any other dtype."""
    if dtype.kind == "f" and dtype.itemsize in (4, 8):
        return np.dtype(f"f{dtype.itemsize}")
    return None


def float_dtype(**arrays):
    """The one float dtype (float32 or float64) shared by every named array.

    Any other dtype (integers, bool, complex, object, float16, longdouble) and
    mixed dtypes raise TypeError naming the arguments. Byte order does not
    matter: a big-endian float64 is float64.
    """
    # the common case, native float32 or float64 everywhere: a few comparisons
    dtypes = {arr.dtype for arr in arrays.values()}
    if len(dtypes) == 1:
        first = next(iter(dtypes))
        if first == _FLOAT_DTYPES[0] or first == _FLOAT_DTYPES[1]:
            return _FLOAT_DTYPES[first.itemsize == 8]
    for name, arr in arrays.items():
        if _native(arr.dtype) is None:
            raise TypeError(f"{name} must be float32 or float64, got {arr.dtype}")
    dtypes = {name: _native(arr.dtype) for name, arr in arrays.items()}
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{name} {dtype}" for name, dtype in dtypes.items())
        names = list(dtypes)
        joined = ", ".join(names[:-1]) + " and " + names[-1]
        raise TypeError(f"{joined} must share one dtype (float32 or float64), got {listed}")
    return next(iter(dtypes.values()))


def check_ndim(name, arr, layout):
    """`layout` names the axes, e.g. "(N, C, H, W)"; its length is the ndim required."""
    ndim = layout.count(",") + 1
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array {layout}, "
                         f"got a {arr.ndim}-D array of shape {arr.shape}")


def as_c_contiguous(arr, dtype):
    """A C-contiguous, native-byte-order view or copy of `arr` for the kernels.

    Never writes to `arr`: read-only, Fortran-order and strided inputs are
    copied only when they must be, and the kernels take their inputs as const.
    """
    return np.ascontiguousarray(arr, dtype=dtype)


# --------------------------------------------------------------- scalars ----

def _is_int(value):
    # bool is an int subclass, and numpy's bool_ converts by index in old
    # versions: neither is a size.
    return (isinstance(value, (int, np.integer))
            and not isinstance(value, (bool, np.bool_)))


def _kind(minimum):
    return "positive" if minimum == 1 else "non-negative"


def int_value(name, value, minimum=1):
    """A Python int >= minimum (0 or 1); numpy integer scalars are accepted."""
    expected = f"{name} must be a {_kind(minimum)} int, got {value!r}"
    if not _is_int(value):
        raise TypeError(f"{expected} ({type(value).__name__})")
    value = operator.index(value)
    if value < minimum:
        raise ValueError(expected)
    if value > INT64_MAX:
        raise ValueError(f"{expected}, which does not fit in int64")
    return value


def int_pair(name, value, minimum=1):
    """(h, w) from an int or a sequence of one or two ints (torch's _pair)."""
    kind = _kind(minimum)
    expected = f"{name} must be a {kind} int or a pair of {kind} ints, got {value!r}"
    if _is_int(value):
        items = (value, value)
    elif isinstance(value, (tuple, list)):
        if not all(_is_int(v) for v in value):
            raise TypeError(expected)
        if len(value) == 1:
            items = (value[0], value[0])
        elif len(value) == 2:
            items = tuple(value)
        else:
            raise ValueError(expected)
    else:
        raise TypeError(f"{expected} ({type(value).__name__})")
    items = tuple(operator.index(v) for v in items)
    if min(items) < minimum:
        raise ValueError(expected)
    if max(items) > INT64_MAX:
        raise ValueError(f"{expected}, which does not fit in int64")
    return items


def optional_int_pair(name, value, default):
    """Pooling's stride: None (or an empty sequence, as torch) means `default`."""
    if value is None or (isinstance(value, (tuple, list)) and len(value) == 0):
        return default
    return int_pair(name, value, minimum=1)


def conv_padding(value):
    """conv2d's padding: 'valid', 'same' (any case) or an (h, w) pair of non-negative ints."""
    if isinstance(value, str):
        mode = value.lower()
        if mode not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid', 'same', a non-negative int or a "
                             f"pair of non-negative ints, got the unknown string {value!r}")
        return mode
    return int_pair("padding", value, minimum=0)


def flag(name, value):
    """A bool (Python or numpy); ints and strings are refused to catch swapped arguments."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r} ({type(value).__name__})")
    return bool(value)


def probability(name, value):
    """A probability in [0, 1] as a Python float, from an int or a float
    (numpy's too); bools are refused, NaN is out of range."""
    expected = f"{name} must be a probability in [0, 1], got {value!r}"
    if _is_int(value):
        value = operator.index(value)   # an int too large for float is just out of range
    elif not isinstance(value, (float, np.floating)):
        raise TypeError(f"{expected} ({type(value).__name__})")
    if not 0 <= value <= 1:
        raise ValueError(expected)
    return float(value)


def uint64_value(name, value):
    """An int in [0, 2**64) (numpy integers accepted, bools refused): a seed."""
    expected = f"{name} must be an int in [0, 2**64), got {value!r}"
    if not _is_int(value):
        raise TypeError(f"{expected} ({type(value).__name__})")
    value = operator.index(value)
    if not 0 <= value < 2**64:
        raise ValueError(expected)
    return value


def shape4(name, value):
    """An (N, C, H, W) shape: four ints, N >= 0 and C, H, W >= 1."""
    expected = (f"{name} must be a shape (N, C, H, W) of four ints with N >= 0 and "
                f"C, H, W >= 1, got {value!r}")
    try:
        items = tuple(value)
    except TypeError:
        raise TypeError(expected) from None
    if not all(_is_int(v) for v in items):
        raise TypeError(expected)
    if len(items) != 4:
        raise ValueError(expected)
    items = tuple(operator.index(v) for v in items)
    if items[0] < 0 or min(items[1:]) < 1:
        raise ValueError(expected)
    check_element_count(name, items, 1)
    return items


# ------------------------------------------------------------ int64 guard ----

def check_span(name, in_size, pad_total, kernel, stride, dilation):
    """Refuse one spatial dimension whose index arithmetic could leave int64.

    Kernels compute positions like out*stride - pad + k*dilation, all bounded
    by in + pads + (kernel-1)*dilation + stride; keeping that sum in int64
    keeps every intermediate in range.
    """
    span = in_size + pad_total + dilation * (kernel - 1) + 1 + stride
    if span > INT64_MAX:
        raise ValueError(f"{name}: input size {in_size}, padding {pad_total}, kernel {kernel}, "
                         f"dilation {dilation} and stride {stride} overflow int64 index "
                         f"arithmetic (their span is {span}, above {INT64_MAX})")


def check_element_count(name, shape, itemsize):
    """Refuse a shape whose element (or byte) count would not fit in int64."""
    count = math.prod(shape)
    if count * itemsize > INT64_MAX:
        raise ValueError(f"{name} of shape {tuple(shape)} would hold {count} elements "
                         f"({count * itemsize} bytes), more than int64 indexing allows")


def check_indices(indices, shape):
    """max_pool2d_backward's indices: int64 of shape `shape`. Their values are
    checked by the kernels as they scatter (an extra pass over an index array
    larger than the caches was a third of an NHWC backward)."""
    if not (indices.dtype.kind == "i" and indices.dtype.itemsize == 8):
        raise TypeError(f"indices must be an int64 array (as max_pool2d returns), "
                        f"got dtype {indices.dtype}")
    if indices.shape != tuple(shape):
        raise ValueError(f"indices must have the shape of grad_output {tuple(shape)}, "
                         f"got {indices.shape}")


def check_mask(mask, shape):
    """dropout_backward's mask: uint8 (as dropout returns) of shape `shape`.
    Its values are not checked: any non-zero byte means kept."""
    if mask.dtype != np.uint8:
        raise TypeError(f"mask must be a uint8 array (as dropout returns), got dtype {mask.dtype}")
    if mask.shape != tuple(shape):
        raise ValueError(f"mask must have the shape of grad_output {tuple(shape)}, "
                         f"got {mask.shape}")


# ------------------------------------------------- memoized validation ----

_KEYABLE = frozenset((int, str, bool, type(None)))


def _frozen(value):
    """`value` tagged with its exact type (so 1, 1.0, True and np.int64(1),
    which validation tells apart, never share a key), or None when it is of
    a type not worth keying on (arrays, numpy scalars, other objects)."""
    kind = type(value)
    if kind in _KEYABLE:
        return kind, value
    if kind is tuple or kind is list:
        if all(type(v) is int for v in value):     # shapes, stride pairs
            return kind, tuple(value)
        items = tuple(_frozen(v) for v in value)
        return None if None in items else (kind, items)
    return None


_INT_ONLY = frozenset((int,))


def memo_key(*values):
    """A hashable key of geometry arguments (shapes, ints, strings, flags and
    tuples or lists of them), or None when some value cannot be keyed.

    The common values (a plain int, str or bool, a shape) are tagged inline:
    the generic _frozen per value was a tenth of a LeNet step's Python time.
    Each value adds either its type and itself or one tagged tuple, so the
    flat key is unambiguous."""
    key = []
    for value in values:
        kind = type(value)
        if kind in _KEYABLE:
            key += (kind, value)
        elif kind is tuple and _INT_ONLY.issuperset(map(type, value)):
            key += (kind, value)
        else:
            frozen = _frozen(value)
            if frozen is None:
                return None
            key.append(frozen)
    return tuple(key)


class Memo:
    """Results of a validation that is a pure function of shapes and geometry
    arguments, by memo_key of those.

    A training loop validates the same few layer geometries again and again;
    looking the normalised result up costs a few microseconds where the checks
    cost tens. Only results of checks that passed are stored (a call that
    raises is checked, and raises, each time); the memo is emptied when it
    reaches `size` entries.
    """

    def __init__(self, size=256):
        self.size, self.results = size, {}

    def get(self, key):
        """The stored result for `key`, or None (always None for key None)."""
        return None if key is None else self.results.get(key)

    def put(self, key, result):
        """Store `result` under `key` (unless key is None) and return it."""
        if key is not None:
            if len(self.results) >= self.size:
                self.results.clear()
            self.results[key] = result
        return result
