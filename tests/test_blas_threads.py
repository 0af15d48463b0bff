"""cconv.nn runs NumPy's matrix products on one BLAS thread (cconv/nn/_blas.py)
and gives the caller's BLAS thread count back afterwards."""
import numpy as np
import pytest

from cconv.nn import Linear
from cconv.nn._blas import one_blas_thread

threadpoolctl = pytest.importorskip("threadpoolctl")


def blas_threads():
    return [info["num_threads"] for info in threadpoolctl.threadpool_info()
            if info["user_api"] == "blas"]


def test_one_blas_thread_inside_and_restored_after():
    before = blas_threads()
    if not before:
        pytest.skip("NumPy's BLAS is not visible to threadpoolctl here")
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        with one_blas_thread():
            assert blas_threads() == [1] * len(before)
        assert blas_threads() == [2] * len(before)


def test_linear_results_do_not_depend_on_the_limit(rng):
    layer = Linear(37, 11, dtype=np.float64)
    x = rng.standard_normal((5, 37))
    expected = x @ layer.W.T + layer.b
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12)


def test_one_blas_thread_when_blas_is_on_one_thread_already():
    # the cheap path (no threadpoolctl limit entered) must still leave BLAS on
    # one thread, and notice a later change of the caller's thread count
    before = blas_threads()
    if not before:
        pytest.skip("NumPy's BLAS is not visible to threadpoolctl here")
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        with one_blas_thread():
            assert blas_threads() == [1] * len(before)
        assert blas_threads() == [1] * len(before)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        with one_blas_thread():
            assert blas_threads() == [1] * len(before)
        assert blas_threads() == [2] * len(before)


def test_linear_backward_equals_updateGradInput_then_accGradParameters(rng):
    layer = Linear(37, 11, dtype=np.float64)
    x, g = rng.standard_normal((5, 37)), rng.standard_normal((5, 11))
    layer.forward(x)
    grad_input = layer.backward(x, g).copy()
    grads = [p.copy() for p in layer.getGradParameters()]
    layer.zeroGradParameters()
    np.testing.assert_array_equal(layer.updateGradInput(x, g), grad_input)
    layer.accGradParameters(x, g)
    for got, expected in zip(layer.getGradParameters(), grads):
        np.testing.assert_array_equal(got, expected)
    layer.needs_gradInput = False
    assert layer.backward(x, g) is None
