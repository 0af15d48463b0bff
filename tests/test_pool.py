"""max_pool2d / avg_pool2d and their backwards against torch (float64, from the
same inputs) and tests/reference.py: values, indices, divisors, edge values."""
from typing import NamedTuple, Optional, Union

import numpy as np
import pytest

import cconv
import reference as ref
from conftest import DTYPES, assert_close, random_array, using_threads

IntOrPair = Union[int, tuple]


class MaxPool(NamedTuple):
    name: str
    n: int
    c: int
    h: int
    w: int
    kernel_size: IntOrPair
    stride: Optional[IntOrPair] = None
    padding: IntOrPair = 0
    dilation: IntOrPair = 1
    ceil_mode: bool = False

    @property
    def params(self):
        return dict(kernel_size=self.kernel_size, stride=self.stride, padding=self.padding,
                    dilation=self.dilation, ceil_mode=self.ceil_mode)

    @property
    def input_shape(self):
        return (self.n, self.c, self.h, self.w)


class AvgPool(NamedTuple):
    name: str
    n: int
    c: int
    h: int
    w: int
    kernel_size: IntOrPair
    stride: Optional[IntOrPair] = None
    padding: IntOrPair = 0
    ceil_mode: bool = False
    count_include_pad: bool = True
    divisor_override: Optional[int] = None

    @property
    def params(self):
        return dict(kernel_size=self.kernel_size, stride=self.stride, padding=self.padding,
                    ceil_mode=self.ceil_mode, count_include_pad=self.count_include_pad,
                    divisor_override=self.divisor_override)

    @property
    def input_shape(self):
        return (self.n, self.c, self.h, self.w)


MAX_CASES = [
    MaxPool("2x2", 2, 3, 8, 8, 2),
    MaxPool("non-divisible", 2, 3, 7, 9, 2),     # floor: last row and column unread
    MaxPool("3x3-s2-p1", 2, 3, 9, 11, 3, 2, 1),
    MaxPool("3x3-s2-p1-ceil", 2, 3, 9, 11, 3, 2, 1, ceil_mode=True),
    MaxPool("pairs", 1, 5, 10, 7, (3, 2), (2, 1), (1, 1)),
    MaxPool("overlapping", 1, 3, 6, 7, 3, 1, 1),
    MaxPool("dilation2", 1, 2, 11, 13, 3, 2, 1, 2),
    MaxPool("dilation-pairs-ceil", 1, 2, 11, 13, 3, 3, 1, (2, 3), ceil_mode=True),
    MaxPool("kernel-is-input", 1, 3, 7, 6, (7, 6)),
    # ceil_mode drops the last window when it would start in the trailing padding
    MaxPool("stride-exceeds-kernel-ceil", 2, 4, 5, 5, 2, 3, 1, ceil_mode=True),
    MaxPool("4x4-s3-p2-ceil", 3, 1, 10, 10, 4, 3, 2, ceil_mode=True),
    MaxPool("wide-odd-ceil", 1, 17, 5, 33, 2, 2, 0, ceil_mode=True),
    # rows wide enough for whole vector blocks of outputs plus a partial one
    MaxPool("stride1-wide", 1, 3, 5, 41, 3, 1, 1),
    MaxPool("stride2-wide-dilated", 1, 2, 9, 45, 3, 2, 1, (1, 2)),
    MaxPool("stride2-wide-ceil", 2, 2, 6, 38, 2, 2, 1, ceil_mode=True),
    MaxPool("stride1-wide-1x5-dilated", 1, 2, 7, 50, (1, 5), 1, (0, 2), (1, 3)),
    MaxPool("1x1", 1, 1, 1, 1, 1),
    MaxPool("batch0", 0, 3, 6, 6, 2, 2),
]

AVG_CASES = [
    AvgPool("2x2", 2, 3, 8, 8, 2),
    AvgPool("non-divisible", 2, 3, 7, 9, 2),
    AvgPool("3x3-s2-p1", 2, 3, 9, 11, 3, 2, 1),
    AvgPool("3x3-s2-p1-exclude-pad", 2, 3, 9, 11, 3, 2, 1, count_include_pad=False),
    AvgPool("3x3-s2-p1-ceil", 2, 3, 9, 11, 3, 2, 1, ceil_mode=True),
    AvgPool("3x3-s2-p1-ceil-exclude-pad", 2, 3, 9, 11, 3, 2, 1, ceil_mode=True,
            count_include_pad=False),
    AvgPool("pairs-ceil", 1, 4, 10, 7, (3, 2), (2, 1), (1, 1), ceil_mode=True),
    AvgPool("divisor-override", 1, 4, 10, 7, (3, 2), (2, 1), (1, 1), divisor_override=5),
    AvgPool("divisor-override-ceil-exclude-pad", 1, 2, 7, 7, 3, 2, 1, True, False, 4),
    AvgPool("overlapping", 1, 3, 6, 7, 3, 1, 1),
    AvgPool("kernel-is-input", 1, 3, 7, 5, (7, 5)),
    AvgPool("stride-exceeds-kernel-ceil", 2, 4, 5, 5, 2, 3, 1, ceil_mode=True),
    AvgPool("4x4-s3-p2-ceil", 3, 1, 10, 10, 4, 3, 2, ceil_mode=True),
    AvgPool("wide-odd-ceil-exclude-pad", 1, 17, 5, 33, 2, 2, 0, True, False),
    AvgPool("stride1-wide", 1, 3, 5, 41, 3, 1, 1),
    AvgPool("stride2-wide-ceil-exclude-pad", 2, 2, 6, 38, 3, 2, 1, True, False),
    AvgPool("stride2-wide-divisor-override", 1, 2, 5, 40, (2, 4), 2, (1, 2), divisor_override=3),
    AvgPool("1x1", 1, 1, 1, 1, 1),
    AvgPool("batch0", 0, 3, 6, 6, 2, 2),
]


MAX = {case.name: case for case in MAX_CASES}
# overlapping windows, on short rows and on rows of whole vector blocks
TIE_CASES = ["pairs", "overlapping", "dilation-pairs-ceil", "stride1-wide", "stride2-wide-ceil"]


def ids(cases):
    return [case.name for case in cases]


def leaf(torch, a):
    return torch.tensor(np.asarray(a, np.float64), requires_grad=True)


def torch_max_pool2d(torch, x, case, grad_output=None):
    """torch's (y, indices) and, given grad_output, grad_input; float64."""
    tx = leaf(torch, x)
    y, indices = torch.nn.functional.max_pool2d(tx, **case.params, return_indices=True)
    grad = None
    if grad_output is not None:
        y.backward(torch.tensor(np.asarray(grad_output, np.float64)))
        grad = tx.grad.numpy()
    return y.detach().numpy(), indices.numpy(), grad


def torch_avg_pool2d(torch, x, case, grad_output=None):
    tx = leaf(torch, x)
    y = torch.nn.functional.avg_pool2d(tx, **case.params)
    grad = None
    if grad_output is not None:
        y.backward(torch.tensor(np.asarray(grad_output, np.float64)))
        grad = tx.grad.numpy()
    return y.detach().numpy(), grad


def max_pool_arrays(case, rng, dtype):
    x = random_array(rng, case.input_shape, dtype)
    y, _ = ref.max_pool2d(x, **case.params)
    return x, random_array(rng, y.shape, dtype)


def avg_pool_arrays(case, rng, dtype):
    x = random_array(rng, case.input_shape, dtype)
    oh, ow = ref.avg_pool2d_output_hw(x.shape[2:], case.kernel_size, case.stride, case.padding,
                                      case.ceil_mode)
    return x, random_array(rng, (case.n, case.c, oh, ow), dtype)


def assert_indices(actual, expected):
    assert isinstance(actual, np.ndarray) and actual.dtype == np.int64
    assert actual.flags.c_contiguous
    np.testing.assert_array_equal(actual, expected)


# ------------------------------------------------------------------ max_pool2d


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MAX_CASES, ids=ids(MAX_CASES))
def test_max_pool2d_matches_torch(case, dtype, simd_path, rng, torch):
    x, _ = max_pool_arrays(case, rng, dtype)
    y, indices = cconv.max_pool2d(x, **case.params, return_indices=True)
    expected_y, expected_indices, _ = torch_max_pool2d(torch, x, case)
    assert_close(y, expected_y, dtype, rtol=0)      # a max is one of the inputs, exactly
    assert_indices(indices, expected_indices)
    assert_close(cconv.max_pool2d(x, **case.params), expected_y, dtype, rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MAX_CASES, ids=ids(MAX_CASES))
def test_max_pool2d_backward_matches_torch(case, dtype, simd_path, rng, torch):
    x, grad_output = max_pool_arrays(case, rng, dtype)
    _, indices, expected = torch_max_pool2d(torch, x, case, grad_output)
    # torch's own indices, so this checks the backward alone ...
    assert_close(cconv.max_pool2d_backward(grad_output, indices, x.shape), expected, dtype)
    # ... and the forward's indices feed it the same way
    _, ours = cconv.max_pool2d(x, **case.params, return_indices=True)
    assert_close(cconv.max_pool2d_backward(grad_output, ours, x.shape), expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MAX_CASES, ids=ids(MAX_CASES))
def test_max_pool2d_matches_reference(case, dtype, simd_path, rng):
    x, grad_output = max_pool_arrays(case, rng, dtype)
    expected_y, expected_indices = ref.max_pool2d(x, **case.params)
    y, indices = cconv.max_pool2d(x, **case.params, return_indices=True)
    assert_close(y, expected_y, dtype, rtol=0)
    assert_indices(indices, expected_indices)
    assert_close(cconv.max_pool2d_backward(grad_output, indices, x.shape),
                 ref.max_pool2d_backward(grad_output, expected_indices, x.shape), dtype)


@pytest.mark.parametrize("case", MAX_CASES, ids=ids(MAX_CASES))
def test_reference_max_pool2d_matches_torch(case, rng, torch):
    x, grad_output = max_pool_arrays(case, rng, np.float64)
    y, indices, grad = torch_max_pool2d(torch, x, case, grad_output)
    ref_y, ref_indices = ref.max_pool2d(x, **case.params)
    np.testing.assert_array_equal(ref_y, y)
    np.testing.assert_array_equal(ref_indices, indices)
    np.testing.assert_allclose(ref.max_pool2d_backward(grad_output, ref_indices, x.shape), grad,
                               rtol=1e-12, atol=1e-12)


def test_max_pool2d_first_maximum_wins_ties(simd_path):
    x = np.array([[[[0.0, 5.0, 5.0],
                    [5.0, 1.0, 5.0]]]])
    y, indices = cconv.max_pool2d(x, 2, stride=1, return_indices=True)
    np.testing.assert_array_equal(y, [[[[5.0, 5.0]]]])
    np.testing.assert_array_equal(indices, [[[[1, 1]]]])
    # every element equal: each window reports its first in-bounds element
    y, indices = cconv.max_pool2d(np.ones((1, 1, 4, 5)), 3, stride=2, padding=1,
                                  return_indices=True)
    np.testing.assert_array_equal(indices, [[[[0, 1, 3], [5, 6, 8]]]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [MAX[name] for name in TIE_CASES], ids=TIE_CASES)
def test_max_pool2d_many_ties_match_reference(case, dtype, simd_path, rng):
    x = rng.integers(-1, 2, size=case.input_shape).astype(dtype)   # three values: ties everywhere
    expected_y, expected_indices = ref.max_pool2d(x, **case.params)
    y, indices = cconv.max_pool2d(x, **case.params, return_indices=True)
    assert_close(y, expected_y, dtype, rtol=0)
    assert_indices(indices, expected_indices)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_nan_propagates(dtype, simd_path):
    x = np.array([[[[20.0, np.nan, 3.0, 4.0],
                    [5.0, 6.0, 7.0, 8.0],
                    [9.0, 10.0, np.nan, 0.0],
                    [13.0, 14.0, 15.0, 16.0]]]], dtype)
    y, indices = cconv.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(y, np.array([[[[np.nan, 8.0], [14.0, np.nan]]]], dtype))
    np.testing.assert_array_equal(indices, [[[[1, 7], [13, 10]]]])
    # NaN wins over larger values scanned before (20) and after (15, 16) it,
    # and its gradient goes to it
    grad = cconv.max_pool2d_backward(np.ones((1, 1, 2, 2), dtype), indices, x.shape)
    assert grad[0, 0, 0, 1] == 1 and grad[0, 0, 2, 2] == 1 and grad.sum() == 4


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [MAX[name] for name in TIE_CASES], ids=TIE_CASES)
def test_max_pool2d_several_nans_in_a_window(case, dtype, simd_path, rng):
    x = random_array(rng, case.input_shape, dtype)
    x[rng.random(x.shape) < 0.3] = np.nan
    expected_y, expected_indices = ref.max_pool2d(x, **case.params)
    y, indices = cconv.max_pool2d(x, **case.params, return_indices=True)
    assert np.isnan(expected_y).any() and not np.isnan(expected_y).all()
    assert_close(y, expected_y, dtype, rtol=0)
    # wherever the max is NaN, the index names a NaN of the window
    planes = x.reshape(case.n * case.c, -1)
    picked = np.take_along_axis(planes, indices.reshape(case.n * case.c, -1), axis=1)
    np.testing.assert_array_equal(np.isnan(picked), np.isnan(y.reshape(picked.shape)))
    # which NaN: torch's CPU kernel keeps the last one it scans
    assert_indices(indices, expected_indices)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_nans_match_torch(dtype, simd_path, rng, torch):
    case = MaxPool("nans", 2, 3, 9, 35, 3, 2, 1, ceil_mode=True)
    x = random_array(rng, case.input_shape, dtype)
    x[rng.random(x.shape) < 0.15] = np.nan
    y, indices = cconv.max_pool2d(x, **case.params, return_indices=True)
    expected_y, expected_indices, _ = torch_max_pool2d(torch, x, case)
    assert_close(y, expected_y, dtype, rtol=0)
    assert_indices(indices, expected_indices)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_negative_infinity(dtype, simd_path, rng, torch):
    case = MaxPool("-inf", 1, 2, 7, 40, 3, 2, 1, dilation=(1, 2), ceil_mode=True)
    x = np.full(case.input_shape, -np.inf, dtype)
    x[0, 1, 3, ::9] = rng.standard_normal(5)            # some windows do have a finite max
    y, indices = cconv.max_pool2d(x, **case.params, return_indices=True)
    expected_y, expected_indices, _ = torch_max_pool2d(torch, x, case)
    assert np.isneginf(expected_y).any() and np.isfinite(expected_y).any()
    assert_close(y, expected_y, dtype, rtol=0)
    # an all -inf window reports -inf at its first in-bounds element, never at padding
    assert_indices(indices, expected_indices)


def test_max_pool2d_negative_infinity_without_torch(simd_path):
    y, indices = cconv.max_pool2d(np.full((1, 1, 3, 3), -np.inf), 2, stride=2, padding=1,
                                  return_indices=True)
    np.testing.assert_array_equal(y, np.full((1, 1, 2, 2), -np.inf))
    np.testing.assert_array_equal(indices, [[[[0, 1], [3, 4]]]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_backward_accumulates_overlapping_windows(dtype, simd_path, rng):
    # one large value inside all nine overlapping 3x3 windows of a 5x5 plane
    x = -np.abs(random_array(rng, (1, 2, 5, 5), dtype)) - 1
    x[:, :, 2, 2] = 10
    grad_output = random_array(rng, (1, 2, 3, 3), dtype)
    y, indices = cconv.max_pool2d(x, 3, stride=1, return_indices=True)
    np.testing.assert_array_equal(indices, np.full((1, 2, 3, 3), 12))
    grad = cconv.max_pool2d_backward(grad_output, indices, x.shape)
    expected = np.zeros(x.shape)
    expected[:, :, 2, 2] = grad_output.astype(np.float64).sum(axis=(2, 3))
    assert_close(grad, expected, dtype)


# ------------------------------------------------------------------ avg_pool2d


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", AVG_CASES, ids=ids(AVG_CASES))
def test_avg_pool2d_matches_torch(case, dtype, simd_path, rng, torch):
    x, grad_output = avg_pool_arrays(case, rng, dtype)
    expected_y, expected_grad = torch_avg_pool2d(torch, x, case, grad_output)
    assert_close(cconv.avg_pool2d(x, **case.params), expected_y, dtype)
    assert_close(cconv.avg_pool2d_backward(grad_output, x.shape, **case.params), expected_grad,
                 dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", AVG_CASES, ids=ids(AVG_CASES))
def test_avg_pool2d_matches_reference(case, dtype, simd_path, rng):
    x, grad_output = avg_pool_arrays(case, rng, dtype)
    assert_close(cconv.avg_pool2d(x, **case.params), ref.avg_pool2d(x, **case.params), dtype)
    assert_close(cconv.avg_pool2d_backward(grad_output, x.shape, **case.params),
                 ref.avg_pool2d_backward(grad_output, x.shape, **case.params), dtype)


@pytest.mark.parametrize("case", AVG_CASES, ids=ids(AVG_CASES))
def test_reference_avg_pool2d_matches_torch(case, rng, torch):
    x, grad_output = avg_pool_arrays(case, rng, np.float64)
    y, grad = torch_avg_pool2d(torch, x, case, grad_output)
    np.testing.assert_allclose(ref.avg_pool2d(x, **case.params), y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ref.avg_pool2d_backward(grad_output, x.shape, **case.params), grad,
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("count_include_pad, divisor_override, expected", [
    # windows of a padded 3x3 plane of ones hold 1, 2, 2 and 4 input pixels
    (True, None, [[1 / 4, 2 / 4], [2 / 4, 4 / 4]]),
    (False, None, [[1, 1], [1, 1]]),
    (True, 3, [[1 / 3, 2 / 3], [2 / 3, 4 / 3]]),
    (False, 3, [[1 / 3, 2 / 3], [2 / 3, 4 / 3]]),
])
def test_avg_pool2d_divisors(count_include_pad, divisor_override, expected, simd_path):
    y = cconv.avg_pool2d(np.ones((1, 1, 3, 3)), 2, stride=2, padding=1,
                         count_include_pad=count_include_pad, divisor_override=divisor_override)
    np.testing.assert_allclose(y, [[expected]], rtol=1e-15)


def test_avg_pool2d_ceil_mode_window_past_the_input_counts_only_the_input(simd_path):
    # ceil_mode adds windows that run off the (unpadded) input; torch divides them
    # by the part inside the padded input, so a plane of ones averages to one.
    y = cconv.avg_pool2d(np.ones((1, 1, 4, 4)), 3, stride=2, ceil_mode=True)
    np.testing.assert_allclose(y, np.ones((1, 1, 2, 2)), rtol=1e-15)
    grad = cconv.avg_pool2d_backward(np.ones((1, 1, 2, 2)), (1, 1, 4, 4), 3, stride=2,
                                     ceil_mode=True)
    np.testing.assert_allclose(grad, [[[[1 / 9, 1 / 9, 1 / 9 + 1 / 6, 1 / 6],
                                        [1 / 9, 1 / 9, 1 / 9 + 1 / 6, 1 / 6],
                                        [1 / 9 + 1 / 6, 1 / 9 + 1 / 6,
                                         1 / 9 + 2 / 6 + 1 / 4, 1 / 6 + 1 / 4],
                                        [1 / 6, 1 / 6, 1 / 6 + 1 / 4, 1 / 4]]]], rtol=1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool2d_backward_spreads_one_window_evenly(dtype, simd_path):
    # regression: a build doubled column 0 here (2/3, 1/3, 1/3) and mis-spread
    # every stride-1 window that overlaps the next
    grad = cconv.avg_pool2d_backward(np.ones((1, 1, 1, 1), dtype), (1, 1, 1, 3), (1, 3),
                                     stride=1)
    assert_close(grad, np.full((1, 1, 1, 3), 1 / 3), dtype)
    grad = cconv.avg_pool2d_backward(np.ones((1, 1, 3, 3), dtype), (1, 1, 3, 3), 3, stride=1,
                                     padding=1)
    # each pixel is in (rows it shares) x (columns it shares) of the nine windows
    shared = np.array([2, 3, 2])
    assert_close(grad, np.outer(shared, shared)[None, None] / 9, dtype)


# ------------------------------------------------------------------ both


@pytest.mark.parametrize("dtype", DTYPES)
def test_pool_thread_count_does_not_change_results(dtype, simd_path, rng):
    x = random_array(rng, (4, 5, 13, 37), dtype)
    params = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)
    results = {}
    for threads in (1, 2):
        with using_threads(threads):
            y, indices = cconv.max_pool2d(x, **params, return_indices=True)
            avg = cconv.avg_pool2d(x, **params)
            results[threads] = (y, indices,
                                cconv.max_pool2d_backward(np.ones_like(y), indices, x.shape),
                                avg, cconv.avg_pool2d_backward(np.ones_like(avg), x.shape, **params))
    for one, two in zip(results[1], results[2]):
        np.testing.assert_array_equal(two, one)
    expected, _ = ref.max_pool2d(x, **params)
    assert_close(results[2][0], expected, dtype, rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_pool_accepts_any_layout_and_leaves_inputs_alone(dtype, simd_path, rng):
    x = random_array(rng, (2, 3, 7, 8), dtype)
    params = dict(kernel_size=3, stride=2, padding=1)
    y, indices = cconv.max_pool2d(x, **params, return_indices=True)
    avg = cconv.avg_pool2d(x, **params)
    grad_output = random_array(rng, y.shape, dtype)
    grad_max = cconv.max_pool2d_backward(grad_output, indices, x.shape)
    grad_avg = cconv.avg_pool2d_backward(grad_output, x.shape, **params)
    fortran = np.asfortranarray
    strided = (lambda a: np.repeat(a, 2, axis=-1)[..., ::2])

    def readonly(a):
        a = a.copy()
        a.setflags(write=False)
        return a

    for layout in (fortran, strided, readonly):
        xl, gl, il = layout(x), layout(grad_output), layout(indices)
        before = [a.copy() for a in (xl, gl, il)]
        y2, i2 = cconv.max_pool2d(xl, **params, return_indices=True)
        assert_close(y2, y, dtype, rtol=0)
        assert_indices(i2, indices)
        assert_close(cconv.avg_pool2d(xl, **params), avg, dtype)
        assert_close(cconv.max_pool2d_backward(gl, il, x.shape), grad_max, dtype)
        assert_close(cconv.avg_pool2d_backward(gl, x.shape, **params), grad_avg, dtype)
        for a, b in zip((xl, gl, il), before):
            np.testing.assert_array_equal(a, b)


def test_pooling_keeps_its_vector_kernels_on_every_simd_path(simd_path):
    """Regression: pooling picked its AVX2 row kernels by the name 'avx2-fma'
    and fell back to the scalar ones when AVX-512 was selected (6x slower)."""
    from cconv import _kernels
    expected = "generic" if simd_path == "generic" else "avx2-fma"
    assert _kernels.pool_simd_path() == expected


@pytest.mark.parametrize("width", [2, 5, 9, 14, 15, 19, 28, 33, 40])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("kernel", [2, 3])
def test_max_pool2d_short_rows_match_reference(width, stride, kernel, simd_path, rng):
    """Rows of fewer than 8 outputs take masked vector loads (LeNet's 10x10 -> 5x5),
    rows of 9-15 two overlapping blocks (28 -> 14), longer ones whole blocks and
    a tail: values, NaN, ties and indices as the reference, the last plane included."""
    x = rng.integers(0, 4, (2, 3, 6, width)).astype(np.float32)  # many ties
    x[1, 2, 1, width - 1] = np.nan  # in the tensor's last plane, last column
    if width < kernel:
        return
    expected_y, expected_indices = ref.max_pool2d(x, kernel, stride)
    y, indices = cconv.max_pool2d(x, kernel, stride, return_indices=True)
    np.testing.assert_array_equal(y, expected_y)
    np.testing.assert_array_equal(indices, expected_indices)
