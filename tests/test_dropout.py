"""cconv.functional.dropout / dropout_backward against the float64 NumPy
reference (tests/reference.py) and the generator's published test vector."""
import numpy as np
import pytest

import cconv
import reference as ref
from cconv import _kernels
from conftest import DTYPES, using_threads

F = cconv.functional


def test_the_reference_generator_is_splitmix64():
    # SplitMix64's first outputs from seed 1234567 (Vigna's splitmix64.c, as
    # quoted by Rosetta Code): pins tests/reference.py to the real algorithm.
    np.testing.assert_array_equal(ref.splitmix64(1234567, [0, 1, 2]), np.array(
        [6457827717110365317, 3203168211198807973, 9817491932198370423], np.uint64))


@pytest.mark.parametrize("seed", [0, 1234567, 2**63 + 5, 2**64 - 1])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_mask_is_the_splitmix64_draw_of_seed_and_position(seed, p):
    n = 1001      # odd: the last element is the low half of its pair's draw
    _, mask = F.dropout(np.ones(n, np.float32), p, seed)
    assert mask.dtype == np.uint8 and mask.shape == (n,)
    np.testing.assert_array_equal(mask, ref.dropout_keep(seed, p, n))


def test_mask_of_a_threaded_call_is_the_reference_one():
    n = 300_001   # five chunks over the threads, the last one short
    with using_threads(2):
        _, mask = F.dropout(np.zeros((n,), np.float64), 0.3, 99)
    np.testing.assert_array_equal(mask, ref.dropout_keep(99, 0.3, n))


@pytest.mark.parametrize("first", [1, 2, 65535, 65536, 65537])
def test_a_kernel_call_at_an_offset_draws_the_whole_array_s_bits(first):
    # the C kernels take the position of their first element, so any chunk
    # (odd starts included, which the parallel split never makes) agrees
    n = 70_000
    x = np.arange(n, dtype=np.float32)
    out, mask = np.empty_like(x), np.empty(n, np.uint8)
    _kernels.run_dropout_forward(x, out, mask, 7, int(0.4 * 2**32), 1 / 0.6, first)
    np.testing.assert_array_equal(mask, ref.dropout_keep(7, 0.4, n, first))
    np.testing.assert_array_equal(out, ref.dropout(x, mask, 0.4).astype(np.float32))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.25, 0.3, 0.5, 0.9])
@pytest.mark.parametrize("shape", [(7,), (3, 5, 11), (64, 64, 12, 12)])  # the last is threaded
def test_values_are_the_float64_formula_given_the_mask(dtype, p, shape, rng):
    x = rng.standard_normal(shape).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    out, mask = F.dropout(x, p, 12345)
    assert out.dtype == dtype and out.shape == shape and out.flags.c_contiguous
    assert set(np.unique(mask)) <= {0, 1}
    np.testing.assert_array_equal(out, ref.dropout(x, mask, p).astype(dtype))
    grad_input = F.dropout_backward(g, mask, p)
    assert grad_input.dtype == dtype
    np.testing.assert_array_equal(grad_input, ref.dropout(g, mask, p).astype(dtype))


def test_keep_fraction_is_1_minus_p_within_five_sigma():
    n, p = 1_000_000, 0.3
    _, mask = F.dropout(np.ones(n, np.float32), p, 2024)
    sigma = np.sqrt(p * (1 - p) / n)
    assert abs(mask.mean() - (1 - p)) < 5 * sigma
    # the two halves of one 64-bit draw are independent draws too
    same = np.mean(mask[0::2] == mask[1::2])
    assert abs(same - ((1 - p) ** 2 + p ** 2)) < 5 * np.sqrt(0.25 / (n // 2))


def test_same_seed_gives_the_same_mask_and_other_seeds_differ():
    x = np.ones((100, 100), np.float32)
    a, b, c = (F.dropout(x, 0.5, seed)[1] for seed in (3, 3, 4))
    np.testing.assert_array_equal(a, b)
    assert 0.4 < np.mean(a == c) < 0.6          # independent: agree half the time
    assert not np.array_equal(F.dropout(x, 0.5, 0)[1], F.dropout(x, 0.5, 2**63)[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_mask_and_values_are_the_same_for_any_thread_count(dtype, rng):
    x = rng.standard_normal(300_001).astype(dtype)
    with using_threads(1):
        one = F.dropout(x, 0.3, 5)
        one_back = F.dropout_backward(x, one[1], 0.3)
    with using_threads(2):
        two = F.dropout(x, 0.3, 5)
        two_back = F.dropout_backward(x, one[1], 0.3)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])
    np.testing.assert_array_equal(one_back, two_back)


def test_strided_read_only_inputs_give_the_contiguous_result_and_stay_alone(rng):
    base = rng.standard_normal((6, 8, 10)).astype(np.float32)
    x = base[:, ::2, ::3].transpose(2, 0, 1)
    x.flags.writeable = False
    before = x.copy()
    out, mask = F.dropout(x, 0.4, 11)
    expected, expected_mask = F.dropout(np.ascontiguousarray(x), 0.4, 11)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(mask, expected_mask)   # positions in C order of x's shape
    strided_mask = np.empty(mask.shape[:-1] + (2 * mask.shape[-1],), np.uint8)[..., ::2]
    strided_mask[...] = mask
    np.testing.assert_array_equal(F.dropout_backward(x, strided_mask, 0.4),
                                  F.dropout_backward(np.ascontiguousarray(x), mask, 0.4))
    np.testing.assert_array_equal(x, before)


def test_nan_and_inf_are_kept_or_dropped_like_any_value():
    x = np.array([np.nan, np.inf, -np.inf, -0.0] * 50, np.float32)
    out, mask = F.dropout(x, 0.5, 1)
    kept = mask == 1
    assert 0 < kept.sum() < x.size
    np.testing.assert_array_equal(out[~kept], 0)        # even NaN and inf
    np.testing.assert_array_equal(out[kept], x[kept] * np.float32(2))
    np.testing.assert_array_equal(F.dropout_backward(x, mask, 0.5)[~kept], 0)


def test_empty_arrays():
    out, mask = F.dropout(np.zeros((0, 3), np.float64), 0.5, 0)
    assert out.shape == mask.shape == (0, 3) and out.dtype == np.float64 and mask.dtype == np.uint8
    grad_input = F.dropout_backward(np.zeros(0, np.float32), np.zeros(0, np.uint8), 0.5)
    assert grad_input.shape == (0,) and grad_input.dtype == np.float32


@pytest.mark.parametrize("dtype", DTYPES)
def test_p0_keeps_a_copy_and_p1_drops_everything(dtype, rng):
    x = rng.standard_normal((5, 7)).astype(dtype)
    out, mask = F.dropout(x, 0, 9)
    np.testing.assert_array_equal(out, x)
    assert not np.shares_memory(out, x)
    np.testing.assert_array_equal(mask, np.ones(x.shape, np.uint8))
    np.testing.assert_array_equal(F.dropout_backward(x, mask, 0.0), x)
    x[0, 0] = np.nan
    out, mask = F.dropout(x, 1.0, 9)
    assert out.dtype == dtype and mask.dtype == np.uint8
    np.testing.assert_array_equal(out, np.zeros(x.shape))
    np.testing.assert_array_equal(mask, np.zeros(x.shape))
    # whatever the mask says
    np.testing.assert_array_equal(F.dropout_backward(x, np.ones(x.shape, np.uint8), 1),
                                  np.zeros(x.shape))


def test_p_near_one_keeps_a_few_at_the_huge_scale():
    p = 1 - 2**-16
    out, mask = F.dropout(np.ones(2**22, np.float32), p, 3)
    assert 20 < mask.sum() < 120                            # 64 expected
    np.testing.assert_array_equal(out[mask == 1], 2.0**16)


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.dropout(np.arange(4), 0.5, 0), TypeError, "x must be float32 or float64"),
    (lambda: F.dropout(np.ones(4), -0.1, 0), ValueError, r"p must be a probability in \[0, 1\]"),
    (lambda: F.dropout(np.ones(4), 1.5, 0), ValueError, "p must be a probability"),
    (lambda: F.dropout(np.ones(4), float("nan"), 0), ValueError, "p must be a probability"),
    (lambda: F.dropout(np.ones(4), 2, 0), ValueError, "p must be a probability"),
    (lambda: F.dropout(np.ones(4), True, 0), TypeError, "p must be a probability"),
    (lambda: F.dropout(np.ones(4), "0.5", 0), TypeError, "p must be a probability"),
    (lambda: F.dropout(np.ones(4), None, 0), TypeError, "p must be a probability"),
    (lambda: F.dropout(np.ones(4), 0.5, -1), ValueError, r"seed must be an int in \[0, 2\*\*64\)"),
    (lambda: F.dropout(np.ones(4), 0.5, 2**64), ValueError, "seed must be an int"),
    (lambda: F.dropout(np.ones(4), 0.5, 1.0), TypeError, "seed must be an int"),
    (lambda: F.dropout(np.ones(4), 0.5, True), TypeError, "seed must be an int"),
    (lambda: F.dropout(np.ones(4), 0.5, None), TypeError, "seed must be an int"),
    (lambda: F.dropout_backward(np.arange(4), np.ones(4, np.uint8), 0.5), TypeError,
     "grad_output must be float32 or float64"),
    (lambda: F.dropout_backward(np.ones(4), np.ones(4, bool), 0.5), TypeError,
     "mask must be a uint8 array"),
    (lambda: F.dropout_backward(np.ones(4), np.ones(4), 0.5), TypeError, "mask must be a uint8"),
    (lambda: F.dropout_backward(np.ones(4), np.ones(5, np.uint8), 0.5), ValueError,
     r"mask must have the shape of grad_output \(4,\)"),
    (lambda: F.dropout_backward(np.ones(4), np.ones((4, 1), np.uint8), 0.5), ValueError,
     "mask must have the shape"),
    (lambda: F.dropout_backward(np.ones(4), np.ones(4, np.uint8), 1.01), ValueError,
     "p must be a probability"),
    (lambda: F.dropout_backward(np.ones(4), None, 0.5), TypeError, "mask must be an array"),
])
def test_bad_arguments_raise_naming_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_numpy_scalars_are_accepted():
    x = np.ones(10, np.float32)
    expected = F.dropout(x, 0.25, 8)
    for p, seed in ((np.float32(0.25), np.uint64(8)), (np.float64(0.25), np.int8(8))):
        got = F.dropout(x, p, seed)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
