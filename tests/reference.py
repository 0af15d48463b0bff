"""Float64 NumPy references for cconv's operators: the oracle where torch is absent.

Written for obviousness, not speed: every output element (or every kernel tap)
is a visible loop, vectorised only over batch and channels. Each function
follows the torch.nn.functional definition it mirrors, including torch's edge
rules (asymmetric 'same' padding, ceil_mode's last-window rule, max pooling's
tie and NaN rules, avg pooling's divisors). Shapes in the tests are small.
"""
import numpy as np


def pair(value):
    """An int or an (h, w) pair as an (h, w) tuple of ints."""
    if isinstance(value, (tuple, list)):
        h, w = value
        return int(h), int(w)
    return int(value), int(value)


# --------------------------------------------------------------------------- conv


def conv2d_padding(padding, kernel_hw, dilation_hw):
    """(top, bottom, left, right) zeros for padding given as int, pair, 'valid' or 'same'.

    'same' needs dilation * (kernel - 1) zeros per axis; when that is odd the
    extra one goes bottom/right, as torch does.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            (th, tw) = (d * (k - 1) for k, d in zip(kernel_hw, dilation_hw))
            return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        raise ValueError(padding)
    ph, pw = pair(padding)
    return (ph, ph, pw, pw)


def conv2d_output_hw(input_hw, kernel_hw, stride, padding, dilation):
    top, bottom, left, right = conv2d_padding(padding, kernel_hw, pair(dilation))
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    (H, W), (R, S) = input_hw, kernel_hw
    return ((H + top + bottom - dh * (R - 1) - 1) // sh + 1,
            (W + left + right - dw * (S - 1) - 1) // sw + 1)


def _tap_window(r, s, stride, dilation, out_hw):
    """Slices of the padded input that kernel tap (r, s) multiplies, one per output pixel."""
    (sh, sw), (dh, dw), (OH, OW) = stride, dilation, out_hw
    return (slice(r * dh, r * dh + sh * (OH - 1) + 1, sh),
            slice(s * dw, s * dw + sw * (OW - 1) + 1, sw))


def _conv2d_setup(x, weight, stride, padding, dilation):
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    stride, dilation = pair(stride), pair(dilation)
    pads = conv2d_padding(padding, weight.shape[2:], dilation)
    top, bottom, left, right = pads
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    out_hw = conv2d_output_hw(x.shape[2:], weight.shape[2:], stride, padding, dilation)
    return x, weight, stride, dilation, pads, xp, out_hw


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """y[n, k, oh, ow] = b[k] + sum_{c in group(k), r, s} w[k, c, r, s] * xpad[n, c, oh*sh + r*dh, ow*sw + s*dw]."""
    x, weight, stride, dilation, _, xp, out_hw = _conv2d_setup(x, weight, stride, padding,
                                                               dilation)
    N = x.shape[0]
    K, Cg, R, S = weight.shape
    Kg = K // groups
    out = np.zeros((N, K) + out_hw)
    for g in range(groups):
        cs, ks = slice(g * Cg, (g + 1) * Cg), slice(g * Kg, (g + 1) * Kg)
        for r in range(R):
            for s in range(S):
                hs, ws = _tap_window(r, s, stride, dilation, out_hw)
                out[:, ks] += np.einsum("nchw,kc->nkhw", xp[:, cs, hs, ws], weight[ks, :, r, s])
    if bias is not None:
        out += np.asarray(bias, dtype=np.float64)[None, :, None, None]
    return out


def conv2d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1):
    """(grad_input, grad_weight, grad_bias) of conv2d: the same tap loop, transposed."""
    x, weight, stride, dilation, pads, xp, out_hw = _conv2d_setup(x, weight, stride, padding,
                                                                  dilation)
    go = np.asarray(grad_output, dtype=np.float64)
    assert go.shape[2:] == out_hw, (go.shape, out_hw)
    K, Cg, R, S = weight.shape
    Kg = K // groups
    grad_xp = np.zeros_like(xp)
    grad_weight = np.zeros_like(weight)
    for g in range(groups):
        cs, ks = slice(g * Cg, (g + 1) * Cg), slice(g * Kg, (g + 1) * Kg)
        for r in range(R):
            for s in range(S):
                hs, ws = _tap_window(r, s, stride, dilation, out_hw)
                grad_xp[:, cs, hs, ws] += np.einsum("nkhw,kc->nchw", go[:, ks],
                                                    weight[ks, :, r, s])
                grad_weight[ks, :, r, s] = np.einsum("nkhw,nchw->kc", go[:, ks],
                                                     xp[:, cs, hs, ws])
    top, _, left, _ = pads
    H, W = x.shape[2:]
    grad_input = grad_xp[:, :, top:top + H, left:left + W]
    return np.ascontiguousarray(grad_input), grad_weight, go.sum(axis=(0, 2, 3))


# --------------------------------------------------------------------------- pooling


def pool_output_size(size, kernel, stride, pad, dilation, ceil_mode):
    """torch's pooling_output_shape: floor or ceil, and with ceil_mode the last
    window must start inside the input or its leading padding."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _pool_args(kernel_size, stride, padding, dilation):
    kernel = pair(kernel_size)
    stride = kernel if stride is None else pair(stride)
    return kernel, stride, pair(padding), pair(dilation)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """(y, indices) as torch's CPU kernel: scan each window row-major from a -inf
    start; a value replaces the running max when greater (so the first of equal
    maxima wins) or when NaN; the index starts at the window's first in-bounds
    element (what an all -inf window reports)."""
    x = np.asarray(x, dtype=np.float64)
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = _pool_args(kernel_size, stride, padding, dilation)
    OH = pool_output_size(H, kh, sh, ph, dh, ceil_mode)
    OW = pool_output_size(W, kw, sw, pw, dw, ceil_mode)
    y = np.empty((N, C, OH, OW))
    indices = np.empty((N, C, OH, OW), dtype=np.int64)
    for oh in range(OH):
        rows = [h for h in (oh * sh - ph + i * dh for i in range(kh)) if 0 <= h < H]
        for ow in range(OW):
            cols = [w for w in (ow * sw - pw + j * dw for j in range(kw)) if 0 <= w < W]
            if not (rows and cols):
                # torch then reports -inf at an index outside the plane; no test uses this
                raise ValueError(f"window ({oh}, {ow}) holds no input element")
            best = np.full((N, C), -np.inf)
            where = np.full((N, C), rows[0] * W + cols[0], dtype=np.int64)
            for h in rows:
                for w in cols:
                    v = x[:, :, h, w]
                    take = (v > best) | np.isnan(v)
                    best = np.where(take, v, best)
                    where = np.where(take, h * W + w, where)
            y[:, :, oh, ow] = best
            indices[:, :, oh, ow] = where
    return y, indices


def max_pool2d_backward(grad_output, indices, input_shape):
    """Scatter-add each output gradient onto the input element its index names."""
    go = np.asarray(grad_output, dtype=np.float64)
    N, C, H, W = input_shape
    planes, pixels = N * C, go.shape[2] * go.shape[3]
    grad = np.zeros((planes, H * W))
    np.add.at(grad, (np.arange(planes)[:, None], np.asarray(indices).reshape(planes, pixels)),
              go.reshape(planes, pixels))
    return grad.reshape(N, C, H, W)


def _avg_windows(input_hw, kernel_size, stride, padding, ceil_mode, count_include_pad,
                 divisor_override):
    """Yield (oh, ow, rows, cols, divisor) per output pixel, as torch's CPU kernel:
    the window is clipped to the padded input for count_include_pad's divisor,
    then to the input for the sum and the other divisor."""
    H, W = input_hw
    (kh, kw), (sh, sw), (ph, pw), _ = _pool_args(kernel_size, stride, padding, 1)
    OH = pool_output_size(H, kh, sh, ph, 1, ceil_mode)
    OW = pool_output_size(W, kw, sw, pw, 1, ceil_mode)
    for oh in range(OH):
        h0 = oh * sh - ph
        h1 = min(h0 + kh, H + ph)
        for ow in range(OW):
            w0 = ow * sw - pw
            w1 = min(w0 + kw, W + pw)
            rows = slice(max(h0, 0), min(h1, H))
            cols = slice(max(w0, 0), min(w1, W))
            if divisor_override is not None:
                divisor = divisor_override
            elif count_include_pad:
                divisor = (h1 - h0) * (w1 - w0)
            else:
                divisor = (rows.stop - rows.start) * (cols.stop - cols.start)
            yield oh, ow, rows, cols, divisor


def avg_pool2d_output_hw(input_hw, kernel_size, stride=None, padding=0, ceil_mode=False):
    (kh, kw), (sh, sw), (ph, pw), _ = _pool_args(kernel_size, stride, padding, 1)
    return (pool_output_size(input_hw[0], kh, sh, ph, 1, ceil_mode),
            pool_output_size(input_hw[1], kw, sw, pw, 1, ceil_mode))


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    x = np.asarray(x, dtype=np.float64)
    N, C, H, W = x.shape
    OH, OW = avg_pool2d_output_hw((H, W), kernel_size, stride, padding, ceil_mode)
    y = np.empty((N, C, OH, OW))
    for oh, ow, rows, cols, divisor in _avg_windows((H, W), kernel_size, stride, padding,
                                                    ceil_mode, count_include_pad,
                                                    divisor_override):
        y[:, :, oh, ow] = x[:, :, rows, cols].sum(axis=(2, 3)) / divisor
    return y


def avg_pool2d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None):
    go = np.asarray(grad_output, dtype=np.float64)
    N, C, H, W = input_shape
    grad = np.zeros((N, C, H, W))
    for oh, ow, rows, cols, divisor in _avg_windows((H, W), kernel_size, stride, padding,
                                                    ceil_mode, count_include_pad,
                                                    divisor_override):
        grad[:, :, rows, cols] += go[:, :, oh, ow][:, :, None, None] / divisor
    return grad


# --------------------------------------------------------------------------- im2col


def im2col_output_hw(input_hw, filter_h, filter_w, stride=1, pad=0):
    H, W = input_hw
    return (H + 2 * pad - filter_h) // stride + 1, (W + 2 * pad - filter_w) // stride + 1


def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """Row (n, oh, ow) holds the zero-padded patch under the filter at that output
    pixel, flattened in (c, fh, fw) order."""
    x = np.asarray(input_data, dtype=np.float64)
    N, C, H, W = x.shape
    OH, OW = im2col_output_hw((H, W), filter_h, filter_w, stride, pad)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    col = np.empty((N, OH, OW, C, filter_h, filter_w))
    for oh in range(OH):
        for ow in range(OW):
            h, w = oh * stride, ow * stride
            col[:, oh, ow] = xp[:, :, h:h + filter_h, w:w + filter_w]
    return col.reshape(N * OH * OW, C * filter_h * filter_w)


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """The adjoint of im2col: add every row's patch back where it came from and
    drop what lands in the padding."""
    N, C, H, W = input_shape
    OH, OW = im2col_output_hw((H, W), filter_h, filter_w, stride, pad)
    col = np.asarray(col, dtype=np.float64).reshape(N, OH, OW, C, filter_h, filter_w)
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    for oh in range(OH):
        for ow in range(OW):
            h, w = oh * stride, ow * stride
            xp[:, :, h:h + filter_h, w:w + filter_w] += col[:, oh, ow]
    return xp[:, :, pad:pad + H, pad:pad + W].copy()


# ------------------------------------------------------------------------ dropout

_GOLDEN, _MIX1, _MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def splitmix64(seed, k):
    """Output number k (an array of them) of SplitMix64 started from state seed:
    the state after k + 1 golden-ratio steps, then the finaliser. uint64 array
    arithmetic wraps, as the C does."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + (np.asarray(k, np.uint64) + np.uint64(1)) * np.uint64(_GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(_MIX1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(_MIX2)
    return z ^ (z >> np.uint64(31))


def dropout_keep(seed, p, n, first=0):
    """Which of the flat elements first .. first + n - 1 dropout(..., p, seed)
    keeps: those whose 32-bit draw, the low (even position) or high (odd) half
    of splitmix64(seed, position // 2), is at least floor(p * 2**32)."""
    i = np.arange(first, first + n, dtype=np.uint64)
    bits = splitmix64(seed, i >> np.uint64(1))
    u32 = np.where(i & np.uint64(1), bits >> np.uint64(32), bits & np.uint64(0xFFFFFFFF))
    return u32 >= np.uint64(int(p * 2**32))


def dropout(x, mask, p):
    """x / (1 - p) where mask is set, else 0, in float64 with the scale rounded
    to x's dtype first (what one multiply by a float mask gives)."""
    x = np.asarray(x)
    scale = float(x.dtype.type(1 / (1 - p))) if p < 1 else 0.0
    return np.where(mask != 0, x.astype(np.float64) * scale, 0.0)
