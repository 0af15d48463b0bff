"""cconv.functional.linear / linear_backward (cconv's own matrix products)
against float64 NumPy and torch, on every micro-kernel set."""
import numpy as np
import pytest

import cconv
from cconv import functional as F
from conftest import DTYPES, assert_close, random_array, using_threads

# (rows, in_features, out_features): LeNet's and the MNIST net's layers, edges
# of every tile (12 x 64 AVX-512, 6 x 16 AVX2), a depth of several blocks
SHAPES = [(64, 400, 120), (64, 84, 10), (1, 1, 1), (7, 3, 5), (13, 300, 65),
          (130, 517, 33), (3, 1000, 129)]


def reference(x, weight, bias, g):
    x, weight, g = (a.astype(np.float64) for a in (x, weight, g))
    y = x @ weight.T + (0 if bias is None else bias.astype(np.float64))
    return y, g @ weight, g.T @ x, g.sum(axis=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_linear_and_gradients_match_float64_numpy(shape, dtype, rng, simd_path):
    rows, n_in, n_out = shape
    x, weight = random_array(rng, (rows, n_in), dtype), random_array(rng, (n_out, n_in), dtype)
    bias, g = random_array(rng, (n_out,), dtype), random_array(rng, (rows, n_out), dtype)
    y_ref, gx_ref, gw_ref, gb_ref = reference(x, weight, bias, g)
    assert_close(F.linear(x, weight, bias), y_ref, dtype)
    assert_close(F.linear(x, weight), y_ref - bias, dtype)
    gx, gw, gb = F.linear_backward(g, x, weight)
    assert_close(gx, gx_ref, dtype)
    assert_close(gw, gw_ref, dtype)
    assert_close(gb, gb_ref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_mnist_net_layer_is_threaded_and_exact(dtype, rng):
    # 64 x 9216 -> 128: many depth blocks, blocks split over the threads
    x, weight = random_array(rng, (64, 9216), dtype), random_array(rng, (128, 9216), dtype)
    g = random_array(rng, (64, 128), dtype)
    y_ref, gx_ref, gw_ref, _ = reference(x, weight, None, g)
    results = {}
    for threads in (1, 2, 3):
        with using_threads(threads):
            results[threads] = (F.linear(x, weight), *F.linear_backward(g, x, weight)[:2])
    for y, gx, gw in results.values():
        assert_close(y, y_ref, dtype)
        assert_close(gx, gx_ref, dtype)
        assert_close(gw, gw_ref, dtype)
    # each element is summed in the same order whatever the split
    for other in (2, 3):
        for a, b in zip(results[1], results[other]):
            np.testing.assert_array_equal(a, b)


def test_matches_torch_with_batch_dimensions(torch, rng):
    x = random_array(rng, (2, 3, 5, 17), np.float32)
    weight, bias = random_array(rng, (9, 17), np.float32), random_array(rng, (9,), np.float32)
    g = random_array(rng, (2, 3, 5, 9), np.float32)
    tx, tw, tb = (torch.tensor(a.astype(np.float64), requires_grad=True) for a in (x, weight, bias))
    ty = torch.nn.functional.linear(tx, tw, tb)
    ty.backward(torch.tensor(g.astype(np.float64)))
    assert_close(F.linear(x, weight, bias), ty.detach().numpy(), np.float32)
    gx, gw, gb = F.linear_backward(g, x, weight)
    for ours, theirs in ((gx, tx.grad), (gw, tw.grad), (gb, tb.grad)):
        assert_close(ours, theirs.numpy(), np.float32)
    # a 1-D input is one row, as in torch
    assert_close(F.linear(x[0, 0, 0], weight, bias),
                 torch.nn.functional.linear(tx[0, 0, 0], tw, tb).detach().numpy(), np.float32)


def test_add_to_accumulates_in_place(rng):
    x, weight = random_array(rng, (10, 20), np.float32), random_array(rng, (6, 20), np.float32)
    g = random_array(rng, (10, 6), np.float32)
    _, gw_ref, gb_ref = F.linear_backward(g, x, weight, (False, True, True))
    gw, gb = np.full((6, 20), 2.0, np.float32), np.full(6, -1.0, np.float32)
    gx, gw_out, gb_out = F.linear_backward(g, x, weight, add_to=(gw, gb))
    assert gw_out is gw and gb_out is gb and gx.shape == x.shape
    np.testing.assert_allclose(gw, gw_ref + 2, rtol=1e-6)
    np.testing.assert_allclose(gb, gb_ref - 1, rtol=1e-6)
    # only what the mask asks for is touched
    before = gw.copy()
    F.linear_backward(g, x, weight, (False, False, True), add_to=(gw, gb))
    np.testing.assert_array_equal(gw, before)


def test_output_mask_and_empty_sizes(rng):
    x, weight = random_array(rng, (4, 3), np.float64), random_array(rng, (2, 3), np.float64)
    g = random_array(rng, (4, 2), np.float64)
    gx, gw, gb = F.linear_backward(g, x, weight, (True, False, False))
    assert gw is None and gb is None and gx.shape == (4, 3)
    # no rows: an empty output, zero parameter gradients
    gx, gw, gb = F.linear_backward(np.empty((0, 2)), np.empty((0, 3)), weight)
    assert gx.shape == (0, 3) and not gw.any() and not gb.any()
    assert F.linear(np.empty((0, 3)), weight).shape == (0, 2)
    # no input features: the output is the bias
    np.testing.assert_array_equal(F.linear(np.empty((4, 0)), np.empty((2, 0)), np.ones(2)),
                                  np.ones((4, 2)))


def test_strided_inputs_are_read_and_left_alone(rng):
    base = random_array(rng, (8, 30), np.float32)
    x = base[::2, ::3]                 # (4, 10), not contiguous
    weight = random_array(rng, (10, 5), np.float32).T   # (5, 10) transposed view
    for a in (x, weight):
        a.flags.writeable = False
    before = (x.copy(), weight.copy())
    assert_close(F.linear(x, weight), x.astype(np.float64) @ weight.T.astype(np.float64),
                 np.float32)
    g = random_array(rng, (4, 5), np.float32)
    F.linear_backward(g, x, weight)
    np.testing.assert_array_equal(x, before[0])
    np.testing.assert_array_equal(weight, before[1])


@pytest.mark.parametrize("call, error, words", [
    (lambda x, w, g: F.linear(x, w[0]), ValueError, "weight must be a 2-D"),
    (lambda x, w, g: F.linear(x[:, :3], w), ValueError, "x must have shape"),
    (lambda x, w, g: F.linear(x, w, np.ones(5, np.float32)), ValueError, "bias must be"),
    (lambda x, w, g: F.linear(x.astype(np.int64), w), TypeError, "x must be float32"),
    (lambda x, w, g: F.linear(x, w.astype(np.float64)), TypeError, "share one dtype"),
    (lambda x, w, g: F.linear_backward(g[:2], x, w), ValueError, "grad_output must have"),
    (lambda x, w, g: F.linear_backward(g, x, w, (True, True)), ValueError, "output_mask"),
    (lambda x, w, g: F.linear_backward(g, x, w, add_to=np.zeros(3)), TypeError, "add_to"),
    (lambda x, w, g: F.linear_backward(g, x, w, add_to=(np.zeros((4, 2), np.float32),
                                                        np.zeros(2, np.float32))),
     ValueError, "grad_weight must have shape"),
    (lambda x, w, g: F.linear_backward(g, x, w, add_to=(np.zeros((2, 4), np.float64),
                                                        np.zeros(2, np.float32))),
     ValueError, "dtype float32"),
    (lambda x, w, g: F.linear_backward(g, x, w, add_to=(np.zeros((2, 8), np.float32)[:, ::2],
                                                        np.zeros(2, np.float32))),
     ValueError, "C-contiguous"),
    (lambda x, w, g: F.linear_backward(g, x, w, add_to=(np.zeros((2, 4), np.float32), None)),
     TypeError, "grad_bias must be an ndarray"),
])
def test_bad_arguments_raise_before_any_kernel(call, error, words):
    x, w, g = np.ones((3, 4), np.float32), np.ones((2, 4), np.float32), np.ones((3, 2), np.float32)
    with pytest.raises(error, match=words):
        call(x, w, g)
