"""Property tests: random shapes and parameters, every op forward and backward
against the float64 reference (tests/reference.py), each example on a randomly
drawn micro-kernel set."""
import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import cconv
import reference as ref
from conftest import DTYPES, SIMD_PATHS, assert_close, using_simd_path

SETTINGS = settings(max_examples=60, deadline=None)

dtypes = st.sampled_from(DTYPES)
simd_paths = st.sampled_from(SIMD_PATHS)
seeds = st.integers(0, 2**32 - 1)


def int_or_pair(h, w, draw):
    """The pair (h, w), or the int h when both agree and a coin says so."""
    return h if h == w and draw(st.booleans()) else (h, w)


def size_that_fits(draw, span, total_padding, extra=6):
    """An input size whose padded extent holds a window spanning `span` pixels."""
    smallest = max(1, span - total_padding)
    return draw(st.integers(smallest, smallest + extra))


@st.composite
def conv_problems(draw):
    groups = draw(st.integers(1, 3))
    c = groups * draw(st.integers(1, 3))
    k = groups * draw(st.integers(1, 4))
    r, s = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    padding_kind = draw(st.sampled_from(["explicit", "explicit", "explicit", "same", "valid"]))
    if padding_kind == "explicit":
        sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
        padding = int_or_pair(ph, pw, draw)
        stride = int_or_pair(sh, sw, draw)
    else:
        ph = pw = 0     # 'same' pads to keep the size: any size >= 1 fits
        stride = 1 if padding_kind == "valid" or draw(st.booleans()) else (1, 1)
        padding = padding_kind
    span_h, span_w = dh * (r - 1) + 1, dw * (s - 1) + 1
    total_h = span_h - 1 if padding_kind == "same" else 2 * ph
    total_w = span_w - 1 if padding_kind == "same" else 2 * pw
    h = size_that_fits(draw, span_h, total_h)
    w = size_that_fits(draw, span_w, total_w, extra=20)
    return dict(
        x_shape=(draw(st.integers(0, 3)), c, h, w),
        weight_shape=(k, c // groups, r, s),
        bias=draw(st.booleans()),
        params=dict(stride=stride, padding=padding,
                    dilation=int_or_pair(dh, dw, draw), groups=groups),
    )


@SETTINGS
@given(problem=conv_problems(), dtype=dtypes, simd=simd_paths, seed=seeds)
def test_conv2d_forward_and_backward_match_reference(problem, dtype, simd, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(problem["x_shape"]).astype(dtype)
    weight = rng.standard_normal(problem["weight_shape"]).astype(dtype)
    k = weight.shape[0]
    bias = rng.standard_normal(k).astype(dtype) if problem["bias"] else None
    params = problem["params"]
    expected = ref.conv2d(x, weight, bias, **params)
    grad_output = rng.standard_normal(expected.shape).astype(dtype)
    expected_grads = ref.conv2d_backward(grad_output, x, weight, **params)
    with using_simd_path(simd):
        y = cconv.conv2d(x, weight, bias, **params)
        grads = cconv.conv2d_backward(grad_output, x, weight, **params)
    assert_close(y, expected, dtype)
    for ours, theirs in zip(grads, expected_grads):
        assert_close(ours, theirs, dtype)


def windows_all_hold_input(size, kernel, stride, pad, dilation, ceil_mode):
    """Whether every pooling window reaches at least one input pixel (with dilation
    some may see only padding; torch then reports -inf at an index outside the
    plane, a case the suite leaves out)."""
    out = ref.pool_output_size(size, kernel, stride, pad, dilation, ceil_mode)
    return out >= 1 and all(
        any(0 <= o * stride - pad + i * dilation < size for i in range(kernel))
        for o in range(out))


@st.composite
def pool_problems(draw, with_dilation):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    dh, dw = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if with_dilation else (1, 1)
    ceil_mode = draw(st.booleans())
    if draw(st.booleans()):
        stride, (sh, sw) = None, (kh, kw)
    else:
        sh, sw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        stride = int_or_pair(sh, sw, draw)
    h = size_that_fits(draw, dh * (kh - 1) + 1, 2 * ph)
    w = size_that_fits(draw, dw * (kw - 1) + 1, 2 * pw, extra=40)
    assume(all(windows_all_hold_input(size, k, s, p, d, ceil_mode)
               for size, k, s, p, d in ((h, kh, sh, ph, dh), (w, kw, sw, pw, dw))))
    params = dict(kernel_size=int_or_pair(kh, kw, draw), stride=stride,
                  padding=int_or_pair(ph, pw, draw), ceil_mode=ceil_mode)
    if with_dilation:
        params["dilation"] = int_or_pair(dh, dw, draw)
    return dict(x_shape=(draw(st.integers(0, 2)), draw(st.integers(1, 3)), h, w),
                params=params)


@SETTINGS
@given(problem=pool_problems(with_dilation=True), dtype=dtypes, simd=simd_paths, seed=seeds,
       values=st.sampled_from(["normal", "ties", "nan", "-inf"]))
def test_max_pool2d_forward_and_backward_match_reference(problem, dtype, simd, seed, values):
    rng = np.random.default_rng(seed)
    shape, params = problem["x_shape"], problem["params"]
    if values == "ties":
        x = rng.integers(-1, 2, size=shape).astype(dtype)
    else:
        x = rng.standard_normal(shape).astype(dtype)
        if values != "normal":
            x[rng.random(shape) < 0.3] = np.nan if values == "nan" else -np.inf
    expected, expected_indices = ref.max_pool2d(x, **params)
    grad_output = rng.standard_normal(expected.shape).astype(dtype)
    with using_simd_path(simd):
        y, indices = cconv.max_pool2d(x, **params, return_indices=True)
        grad = cconv.max_pool2d_backward(grad_output, indices, shape)
    assert_close(y, expected, dtype, rtol=0)
    assert indices.dtype == np.int64 and indices.flags.c_contiguous
    np.testing.assert_array_equal(indices, expected_indices)
    assert_close(grad, ref.max_pool2d_backward(grad_output, expected_indices, shape), dtype)


@SETTINGS
@given(problem=pool_problems(with_dilation=False), dtype=dtypes, simd=simd_paths, seed=seeds,
       count_include_pad=st.booleans(),
       divisor_override=st.one_of(st.none(), st.integers(1, 10)))
def test_avg_pool2d_forward_and_backward_match_reference(problem, dtype, simd, seed,
                                                         count_include_pad, divisor_override):
    rng = np.random.default_rng(seed)
    shape = problem["x_shape"]
    params = dict(problem["params"], count_include_pad=count_include_pad,
                  divisor_override=divisor_override)
    x = rng.standard_normal(shape).astype(dtype)
    expected = ref.avg_pool2d(x, **params)
    grad_output = rng.standard_normal(expected.shape).astype(dtype)
    with using_simd_path(simd):
        y = cconv.avg_pool2d(x, **params)
        grad = cconv.avg_pool2d_backward(grad_output, shape, **params)
    assert_close(y, expected, dtype)
    assert_close(grad, ref.avg_pool2d_backward(grad_output, shape, **params), dtype)


@st.composite
def im2col_problems(draw):
    fh, fw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 3))
    h = size_that_fits(draw, fh, 2 * pad)
    w = size_that_fits(draw, fw, 2 * pad, extra=30)
    return dict(input_shape=(draw(st.integers(0, 2)), draw(st.integers(1, 4)), h, w),
                params=dict(filter_h=fh, filter_w=fw, stride=stride, pad=pad))


@SETTINGS
@given(problem=im2col_problems(), dtype=dtypes, simd=simd_paths, seed=seeds)
def test_im2col_and_col2im_match_reference(problem, dtype, simd, seed):
    rng = np.random.default_rng(seed)
    shape, params = problem["input_shape"], problem["params"]
    x = rng.standard_normal(shape).astype(dtype)
    expected_col = ref.im2col(x, **params)
    col = rng.standard_normal(expected_col.shape).astype(dtype)
    with using_simd_path(simd):
        ours_col = cconv.im2col(x, **params)
        ours_x = cconv.col2im(col, shape, **params)
    assert_close(ours_col, expected_col, dtype, rtol=0)
    assert_close(ours_x, ref.col2im(col, shape, **params), dtype)
