"""im2col / col2im ("Deep Learning from Scratch" layout) against tests/reference.py,
the published worked example, col2im as im2col's adjoint, and conv2d as a matmul."""
from typing import NamedTuple

import numpy as np
import pytest

import cconv
import reference as ref
from conftest import DTYPES, assert_close, random_array

# The worked example (input 1x3x4x4, 2x2 filter, stride 1, no padding) and the
# im2col matrix it prints: row (oh, ow), columns (c, fh, fw).
EXAMPLE_INPUT = np.array([
    3, 0, 4, 2,
    6, 5, 4, 3,
    3, 0, 2, 3,
    1, 0, 3, 1,

    1, 2, 0, 1,
    3, 0, 2, 4,
    1, 0, 3, 2,
    4, 3, 0, 1,

    4, 2, 0, 1,
    1, 2, 0, 4,
    3, 0, 4, 2,
    6, 2, 4, 5,
], dtype=np.float64).reshape(1, 3, 4, 4)

EXAMPLE_COL = np.array([
    [3, 0, 6, 5, 1, 2, 3, 0, 4, 2, 1, 2],
    [0, 4, 5, 4, 2, 0, 0, 2, 2, 0, 2, 0],
    [4, 2, 4, 3, 0, 1, 2, 4, 0, 1, 0, 4],
    [6, 5, 3, 0, 3, 0, 1, 0, 1, 2, 3, 0],
    [5, 4, 0, 2, 0, 2, 0, 3, 2, 0, 0, 4],
    [4, 3, 2, 3, 2, 4, 3, 2, 0, 4, 4, 2],
    [3, 0, 1, 0, 1, 0, 4, 3, 3, 0, 6, 2],
    [0, 2, 0, 3, 0, 3, 3, 0, 0, 4, 2, 4],
    [2, 3, 3, 1, 3, 2, 0, 1, 4, 2, 4, 5],
], dtype=np.float64)

# Its two filters: every weight of the first is 1, of the second 2.
EXAMPLE_WEIGHT = np.array([1] * 12 + [2] * 12, dtype=np.float64).reshape(2, 3, 2, 2)


class Im2col(NamedTuple):
    name: str
    n: int
    c: int
    h: int
    w: int
    filter_h: int
    filter_w: int
    stride: int = 1
    pad: int = 0

    @property
    def params(self):
        return dict(filter_h=self.filter_h, filter_w=self.filter_w, stride=self.stride,
                    pad=self.pad)

    @property
    def input_shape(self):
        return (self.n, self.c, self.h, self.w)

    def col_shape(self):
        oh, ow = ref.im2col_output_hw((self.h, self.w), self.filter_h, self.filter_w,
                                      self.stride, self.pad)
        return (self.n * oh * ow, self.c * self.filter_h * self.filter_w)


CASES = [
    Im2col("3x3", 2, 3, 5, 6, 3, 3),
    Im2col("3x2-stride2-pad1", 2, 3, 7, 8, 3, 2, 2, 1),
    Im2col("1x1-C13", 1, 13, 9, 9, 1, 1),
    Im2col("filter-is-input", 1, 2, 5, 5, 5, 5),
    Im2col("stride3-pad2-leaves-input-unread", 2, 1, 7, 9, 3, 3, 3, 2),
    Im2col("wide-stride2-pad1", 1, 3, 4, 17, 2, 2, 2, 1),
    Im2col("pad-exceeds-half-filter", 3, 4, 6, 5, 4, 2, 2, 3),
    Im2col("wide-stride1-pad1", 1, 2, 4, 40, 3, 3, 1, 1),
    Im2col("wide-stride2-pad1", 1, 2, 5, 41, 3, 3, 2, 1),
    Im2col("batch0", 0, 3, 6, 6, 3, 3, 1, 1),
]
IDS = [case.name for case in CASES]


@pytest.mark.parametrize("dtype", DTYPES)
def test_im2col_worked_example(dtype, simd_path):
    col = cconv.im2col(EXAMPLE_INPUT.astype(dtype), 2, 2, stride=1, pad=0)
    assert_close(col, EXAMPLE_COL, dtype, rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_col2im_worked_example(dtype, simd_path):
    # folding adds each pixel back once per 2x2 window holding it: 1, 2, 2, 1 per axis
    x = cconv.col2im(EXAMPLE_COL.astype(dtype), (1, 3, 4, 4), 2, 2, stride=1, pad=0)
    windows = np.outer([1, 2, 2, 1], [1, 2, 2, 1])
    assert_close(x, EXAMPLE_INPUT * windows, dtype, rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_worked_example(dtype, simd_path):
    # the first filter sums each patch (a row of EXAMPLE_COL), the second doubles that
    row_sums = np.array([[29, 21, 25], [24, 22, 33], [23, 21, 30]], dtype=np.float64)
    y = cconv.conv2d(EXAMPLE_INPUT.astype(dtype), EXAMPLE_WEIGHT.astype(dtype),
                     np.zeros(2, dtype))
    assert_close(y, np.stack([row_sums, 2 * row_sums])[None], dtype, rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_im2col_matches_reference(case, dtype, simd_path, rng):
    x = random_array(rng, case.input_shape, dtype)
    assert_close(cconv.im2col(x, **case.params), ref.im2col(x, **case.params), dtype, rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_col2im_matches_reference(case, dtype, simd_path, rng):
    col = random_array(rng, case.col_shape(), dtype)
    assert_close(cconv.col2im(col, case.input_shape, **case.params),
                 ref.col2im(col, case.input_shape, **case.params), dtype)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_col2im_is_the_adjoint_of_im2col(case, simd_path, rng):
    # <im2col(x), c> == <x, col2im(c)> for every x and c
    x = random_array(rng, case.input_shape, np.float64)
    c = random_array(rng, case.col_shape(), np.float64)
    lhs = np.vdot(cconv.im2col(x, **case.params), c)
    rhs = np.vdot(x, cconv.col2im(c, case.input_shape, **case.params))
    scale = np.abs(x).sum() * np.abs(c).max(initial=0.0)
    assert abs(lhs - rhs) <= 1e-12 * max(scale, 1.0), (lhs, rhs)


def _conv_by_matmul(col, weight, bias, out_shape):
    """conv2d as im2col's rows times the flattened filters (float64)."""
    n, k, oh, ow = out_shape
    y = col.astype(np.float64) @ weight.reshape(k, -1).T.astype(np.float64) + bias
    return y.reshape(n, oh, ow, k).transpose(0, 3, 1, 2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conv2d_equals_im2col_times_filters(case, dtype, simd_path, rng):
    k = 7
    x = random_array(rng, case.input_shape, dtype)
    weight = random_array(rng, (k, case.c, case.filter_h, case.filter_w), dtype)
    bias = random_array(rng, (k,), dtype)
    y = cconv.conv2d(x, weight, bias, stride=case.stride, padding=case.pad)
    expected = _conv_by_matmul(cconv.im2col(x, **case.params), weight, bias, y.shape)
    assert_close(y, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conv2d_backward_equals_col2im_of_matmuls(case, dtype, simd_path, rng):
    # the im2col formulation of the backward: dW = dout^T col, dx = col2im(dout W)
    k = 5
    x = random_array(rng, case.input_shape, dtype)
    weight = random_array(rng, (k, case.c, case.filter_h, case.filter_w), dtype)
    oh, ow = ref.im2col_output_hw((case.h, case.w), case.filter_h, case.filter_w, case.stride,
                                  case.pad)
    grad_output = random_array(rng, (case.n, k, oh, ow), dtype)
    dout = grad_output.transpose(0, 2, 3, 1).reshape(-1, k).astype(np.float64)
    col = cconv.im2col(x, **case.params).astype(np.float64)
    w2d = weight.reshape(k, -1).astype(np.float64)
    gx, gw, gb = cconv.conv2d_backward(grad_output, x, weight, stride=case.stride,
                                       padding=case.pad)
    assert_close(gx, cconv.col2im(dout @ w2d, case.input_shape, **case.params), dtype)
    assert_close(gw, (dout.T @ col).reshape(weight.shape), dtype)
    assert_close(gb, dout.sum(axis=0), dtype)
