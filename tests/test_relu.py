"""cconv.functional.relu / relu_backward against NumPy and torch."""
import numpy as np
import pytest

import cconv
from conftest import DTYPES, using_threads


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(7,), (3, 5, 11), (2, 3, 300, 301)])  # the last is threaded
def test_relu_and_its_gradient_match_numpy(dtype, shape, rng):
    x = rng.standard_normal(shape).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    y, gx = cconv.functional.relu(x), cconv.functional.relu_backward(g, x)
    assert y.dtype == dtype and gx.dtype == dtype and y.shape == shape
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    np.testing.assert_array_equal(gx, np.where(x <= 0, 0, g))


def test_relu_matches_torch_on_special_values(torch):
    x = np.array([np.nan, -np.inf, np.inf, -0.0, 0.0, -1e-30, 1e-30, 2.5], np.float32)
    g = np.array([1, 2, 3, 4, np.nan, 6, 7, 8], np.float32)
    tx = torch.tensor(x, requires_grad=True)
    torch.relu(tx).backward(torch.tensor(g))
    y = cconv.functional.relu(x)
    np.testing.assert_array_equal(y, torch.relu(torch.tensor(x)).numpy())
    # where x <= 0 the gradient is 0 even for a NaN grad_output; a NaN x passes
    # its gradient on: torch's threshold_backward
    np.testing.assert_array_equal(cconv.functional.relu_backward(g, x), tx.grad.numpy())


def test_relu_takes_strided_inputs_and_leaves_them_alone(rng):
    base = rng.standard_normal((6, 8, 10)).astype(np.float32)
    x = base[:, ::2, ::3].transpose(2, 0, 1)
    x.flags.writeable = False
    before = x.copy()
    np.testing.assert_array_equal(cconv.functional.relu(x), np.maximum(x, 0))
    np.testing.assert_array_equal(cconv.functional.relu_backward(x, x), np.where(x > 0, x, 0))
    np.testing.assert_array_equal(x, before)


def test_relu_is_the_same_for_any_thread_count(rng):
    x = rng.standard_normal(300_001).astype(np.float32)
    with using_threads(1):
        one = cconv.functional.relu_backward(x, x)
    with using_threads(2):
        two = cconv.functional.relu_backward(x, x)
    np.testing.assert_array_equal(one, two)


def test_relu_of_empty_arrays():
    assert cconv.functional.relu(np.zeros((0, 3), np.float64)).shape == (0, 3)
    assert cconv.functional.relu_backward(np.zeros(0, np.float32),
                                          np.zeros(0, np.float32)).shape == (0,)


def test_relu_rejects_bad_arguments():
    with pytest.raises(TypeError, match="x must be float32 or float64"):
        cconv.functional.relu(np.arange(4))
    with pytest.raises(TypeError, match="grad_output"):
        cconv.functional.relu_backward(np.zeros(3, np.float64), np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="grad_output must have the shape of x"):
        cconv.functional.relu_backward(np.zeros(3, np.float32), np.zeros(4, np.float32))
