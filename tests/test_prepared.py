"""Prepared calls (cconv._prepared): after one call through cconv.functional the
nn modules Conv2d, MaxPool2d, Linear and ReLU run the kernels directly. They
must give bitwise what cconv.functional gives, and fall back to it (converting
or raising) for anything the prepared call was not validated for."""
import numpy as np
import pytest

from cconv import functional as F
from cconv import nn
from conftest import DTYPES, random_array

FUNCTIONAL = ("conv2d", "conv2d_backward", "max_pool2d", "max_pool2d_backward",
              "linear", "linear_backward", "relu", "relu_backward")


def forbid_functional(monkeypatch):
    """From here on, any call into cconv.functional fails the test."""
    def fail(*args, **kwargs):
        raise AssertionError("the prepared path called cconv.functional")
    for name in FUNCTIONAL:
        monkeypatch.setattr(F, name, fail)


def conv_case(rng, fmt, bias, dtype, geometry, n=2):
    m = nn.Conv2d(3, 4, 3, bias=bias, dtype=dtype, data_format=fmt, **geometry)
    shape = (n, 3, 7, 6) if fmt == "NCHW" else (n, 7, 6, 3)
    return m, random_array(rng, shape, dtype)


def conv_ref(m, x, g=None):
    """cconv.functional on m's parameters and geometry, in the NumPy promotion of x and W."""
    dtype = np.result_type(x.dtype, m.W.dtype)
    kw = dict(stride=m.stride, padding=m.padding, data_format=m.data_format)
    b = m.b.astype(dtype) if m.bias else None
    x, W = x.astype(dtype), m.W.astype(dtype)
    if g is None:
        return F.conv2d(x, W, b, **kw)
    return F.conv2d_backward(g.astype(dtype), x, W, output_mask=(True, True, m.bias), **kw)


CONV_GEOMETRIES = [dict(), dict(stride=2, padding="same"), dict(stride=2, padding=1),
                   dict(padding=0)]


# ------------------------------------------------- 1. prepared == functional

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geometry", CONV_GEOMETRIES, ids=repr)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("fmt", ["NCHW", "NHWC"])
def test_conv2d_prepared_calls_equal_functional(rng, monkeypatch, fmt, bias, geometry, dtype):
    m, x = conv_case(rng, fmt, bias, dtype, geometry)
    y = conv_ref(m, x)
    g = random_array(rng, y.shape, dtype)
    gi, gw, gb = conv_ref(m, x, g)
    np.testing.assert_array_equal(m.forward(x), y)
    assert m._call is not None
    np.testing.assert_array_equal(m.backward(x, g), gi)
    forbid_functional(monkeypatch)
    for step in (2, 3):
        out = m.forward(x)
        assert out.dtype == dtype
        np.testing.assert_array_equal(out, y)
        if step == 2:
            np.testing.assert_array_equal(m.backward(x, g), gi)
        else:           # the split protocol takes the prepared path too
            np.testing.assert_array_equal(m.updateGradInput(x, g), gi)
            m.accGradParameters(x, g)
        np.testing.assert_array_equal(m.gradW, step * gw)
        if bias:
            np.testing.assert_array_equal(m.gradb, step * gb)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel, stride, padding", [(2, None, 0), (3, 2, 1)])
@pytest.mark.parametrize("fmt", ["NCHW", "NHWC"])
def test_max_pool2d_prepared_calls_equal_functional(rng, monkeypatch, fmt, kernel, stride,
                                                    padding, dtype):
    m = nn.MaxPool2d(kernel, stride, padding, data_format=fmt)
    x = random_array(rng, (2, 3, 8, 7) if fmt == "NCHW" else (2, 8, 7, 3), dtype)
    y, idx = F.max_pool2d(x, kernel, stride, padding, return_indices=True, data_format=fmt)
    g = random_array(rng, y.shape, dtype)
    gi = F.max_pool2d_backward(g, idx, x.shape, data_format=fmt)
    m.forward(x)
    assert m._call is not None
    forbid_functional(monkeypatch)
    for _ in range(2):
        np.testing.assert_array_equal(m.forward(x), y)
        np.testing.assert_array_equal(m.max_indices, idx)
        np.testing.assert_array_equal(m.backward(x, g), gi)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_prepared_calls_equal_functional(rng, monkeypatch, bias, dtype):
    m = nn.Linear(7, 5, bias=bias, dtype=dtype)
    x = random_array(rng, (4, 7), dtype)
    y = F.linear(x, m.W, m.b if bias else None)
    g = random_array(rng, y.shape, dtype)
    gi, gw, gb = F.linear_backward(g, x, m.W, (True, True, bias))
    np.testing.assert_array_equal(m.forward(x), y)
    assert m._call is not None
    np.testing.assert_array_equal(m.backward(x, g), gi)
    forbid_functional(monkeypatch)
    for step in (2, 3):
        np.testing.assert_array_equal(m.forward(x), y)
        np.testing.assert_array_equal(m.backward(x, g), gi)
        np.testing.assert_array_equal(m.gradW, step * gw)
        if bias:
            np.testing.assert_array_equal(m.gradb, step * gb)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_prepared_calls_equal_functional(rng, monkeypatch, dtype):
    m, x = nn.ReLU(), random_array(rng, (3, 5, 4), dtype)
    g = random_array(rng, x.shape, dtype)
    y, gi = F.relu(x), F.relu_backward(g, x)
    forbid_functional(monkeypatch)
    for _ in range(3):
        np.testing.assert_array_equal(m.forward(x), y)
        np.testing.assert_array_equal(m.backward(x, g), gi)


# ---------------------------------------------- 2. fallback to functional

def strided_like(rng, x):
    """A non-contiguous array of x's shape and dtype (every other column)."""
    wide = random_array(rng, x.shape[:-1] + (2 * x.shape[-1],), x.dtype)
    view = wide[..., ::2]
    assert view.shape == x.shape and not view.flags.c_contiguous
    return view


def transposed_like(rng, x):
    view = np.ascontiguousarray(random_array(rng, x.shape[::-1], x.dtype)).T
    assert view.shape == x.shape and not view.flags.c_contiguous
    return view


@pytest.mark.parametrize("make", ["batch", "strided", "transposed", "float64"])
@pytest.mark.parametrize("fmt", ["NCHW", "NHWC"])
def test_conv2d_falls_back_for_other_inputs(rng, fmt, make):
    m, x = conv_case(rng, fmt, True, np.float32, dict(stride=2))
    m.forward(x)
    assert m._call is not None
    new = {"batch": lambda: random_array(rng, (5,) + x.shape[1:], np.float32),
           "strided": lambda: strided_like(rng, x), "transposed": lambda: transposed_like(rng, x),
           "float64": lambda: random_array(rng, x.shape, np.float64)}[make]()
    y = conv_ref(m, new)
    out = m.forward(new)
    assert out.dtype == y.dtype == np.result_type(new.dtype, np.float32)
    np.testing.assert_array_equal(out, y)
    g = random_array(rng, y.shape, y.dtype)
    gi, gw, gb = conv_ref(m, new, g)
    m.zeroGradParameters()
    np.testing.assert_array_equal(m.backward(new, g), gi)
    assert m.gradW.dtype == np.float32
    np.testing.assert_array_equal(m.gradW, gw.astype(np.float32))
    np.testing.assert_array_equal(m.gradb, gb.astype(np.float32))
    np.testing.assert_array_equal(m.forward(x), conv_ref(m, x))    # and back again


@pytest.mark.parametrize("make", ["batch", "strided", "transposed", "float64"])
def test_pool_linear_relu_fall_back_for_other_inputs(rng, make):
    makers = {"batch": lambda x: random_array(rng, (5,) + x.shape[1:], x.dtype),
              "strided": lambda x: strided_like(rng, x),
              "transposed": lambda x: transposed_like(rng, x),
              "float64": lambda x: x.astype(np.float64) * 1.5}
    pool, x4 = nn.MaxPool2d(2), random_array(rng, (2, 3, 6, 8), np.float32)
    lin, x2 = nn.Linear(8, 3), random_array(rng, (4, 8), np.float32)
    relu = nn.ReLU()
    for m, x in ((pool, x4), (lin, x2), (relu, x4)):
        m.forward(x)
        new = makers[make](x)
        if m is pool:
            y, idx = F.max_pool2d(new, 2, return_indices=True)
            g = random_array(rng, y.shape, y.dtype)
            gi = F.max_pool2d_backward(g, idx, new.shape)
        elif m is lin:
            W, b = lin.W.astype(new.dtype), lin.b.astype(new.dtype)
            y = F.linear(new, W, b)
            g = random_array(rng, y.shape, y.dtype)
            gi = F.linear_backward(g, new, W)[0]
        else:
            y = F.relu(new)
            g = random_array(rng, y.shape, y.dtype)
            gi = F.relu_backward(g, new)
        out = m.forward(new)
        assert out.dtype == new.dtype, m
        np.testing.assert_array_equal(out, y)
        np.testing.assert_array_equal(m.backward(new, g), gi)


@pytest.mark.parametrize("change", ["stride=2", "padding=0", "list stride mutated",
                                    "W float64", "load_state", "W updated in place"])
def test_conv2d_sees_changed_geometry_and_parameters(rng, change):
    # a list can change in place: a module built with one is never prepared
    listed = change == "list stride mutated"
    m, x = conv_case(rng, "NCHW", True, np.float32,
                     dict(stride=[1, 1] if listed else (1, 1), padding=1))
    before = m.forward(x)
    assert (m._call is None) == listed
    if change == "stride=2":
        m.stride = 2
    elif change == "padding=0":
        m.padding = 0
    elif change == "list stride mutated":
        m.stride[0] = 2                     # the same list object, another value
    elif change == "W float64":
        m.W = m.W.astype(np.float64)
    elif change == "load_state":
        m.load_state({"W": random_array(rng, m.W.shape, np.float64),
                      "b": random_array(rng, m.b.shape, np.float64)})
    else:
        m.W *= 2
    y = conv_ref(m, x)                      # the functional on the current geometry
    out = m.forward(x)
    assert out.shape == y.shape and out.dtype == y.dtype
    np.testing.assert_array_equal(out, y)
    assert out.shape != before.shape or not np.array_equal(out, before)    # it mattered


@pytest.mark.parametrize("change", ["kernel_size=3", "stride=1", "list kernel mutated"])
def test_max_pool2d_sees_changed_geometry(rng, change):
    listed = change == "list kernel mutated"
    m = nn.MaxPool2d([2, 2] if listed else (2, 2))
    x = random_array(rng, (2, 3, 8, 7), np.float32)
    m.forward(x)
    assert (m._call is None) == listed
    if change == "kernel_size=3":
        m.kernel_size = 3
    elif change == "stride=1":
        m.stride = 1
    else:
        m.kernel_size[0] = 3
    y, idx = F.max_pool2d(x, m.kernel_size, m.stride, return_indices=True)
    np.testing.assert_array_equal(m.forward(x), y)
    np.testing.assert_array_equal(m.max_indices, idx)
    g = random_array(rng, y.shape, np.float32)
    np.testing.assert_array_equal(m.backward(x, g), F.max_pool2d_backward(g, idx, x.shape))


def test_linear_sees_replaced_parameters(rng):
    m, x = nn.Linear(6, 4), random_array(rng, (3, 6), np.float32)
    m.forward(x)
    m.load_state({"W": random_array(rng, (4, 6), np.float32), "b": np.ones(4)})
    np.testing.assert_array_equal(m.forward(x), F.linear(x, m.W, m.b))
    m.W = m.W.astype(np.float64)
    out = m.forward(x)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, F.linear(x.astype(np.float64), m.W, m.b.astype(np.float64)))


# ------------------------------------------------------------ 3. errors

@pytest.mark.parametrize("fmt", ["NCHW", "NHWC"])
def test_errors_after_preparing(rng, fmt):
    conv, x = conv_case(rng, fmt, True, np.float32, dict())
    pool = nn.MaxPool2d(2, data_format=fmt)
    lin, x2 = nn.Linear(5, 3), random_array(rng, (4, 5), np.float32)
    for m, inp in ((conv, x), (pool, x), (lin, x2)):
        out = m.forward(inp)
        m.backward(inp, np.ones_like(out))
        assert m._call is not None
        grads = [a.copy() for a in m.getGradParameters()]
        for shape in ((out.shape[0] + 1,) + out.shape[1:], out.shape[:-1] + (out.shape[-1] + 1,)):
            with pytest.raises(ValueError):
                m.backward(inp, np.ones(shape, np.float32))
        for a, b in zip(m.getGradParameters(), grads):
            np.testing.assert_array_equal(a, b)
    wrong = list(x.shape)
    wrong[1 if fmt == "NCHW" else 3] = 2
    with pytest.raises(ValueError, match="channel"):
        conv.forward(random_array(rng, wrong, np.float32))
    with pytest.raises(ValueError):
        lin.forward(random_array(rng, (4, 6), np.float32))


@pytest.mark.parametrize("bad", [-1, "plane", 2**40])
@pytest.mark.parametrize("fmt", ["NCHW", "NHWC"])
def test_max_pool2d_tampered_indices_raise(rng, fmt, bad):
    m = nn.MaxPool2d(2, data_format=fmt)
    x = random_array(rng, (2, 3, 6, 4) if fmt == "NCHW" else (2, 6, 4, 3), np.float32)
    g = np.ones_like(m.forward(x))
    good = m.backward(x, g).copy()
    m.forward(x)
    m.max_indices.reshape(-1)[5] = 6 * 4 if bad == "plane" else bad
    with pytest.raises(ValueError, match="indices must lie in"):
        m.backward(x, g)
    assert m.gradInput is None                       # not an array of partial sums
    m.forward(x)                                     # fresh indices: works again
    np.testing.assert_array_equal(m.backward(x, g), good)


# --------------------------------------------- 4. no writes, no aliasing

@pytest.mark.parametrize("fmt", ["NCHW", "NHWC"])
def test_prepared_path_leaves_inputs_alone(rng, fmt):
    conv, x = conv_case(rng, fmt, True, np.float32, dict())
    cases = [(conv, x), (nn.MaxPool2d(2, data_format=fmt), x),
             (nn.Linear(6, 3), random_array(rng, (4, 6), np.float32)), (nn.ReLU(), x)]
    for m, inp in cases:
        out = m.forward(inp)
        g = random_array(rng, out.shape, np.float32)
        m.backward(inp, g)
        if hasattr(m, "_call"):
            assert m._call is not None
        saved = [a.copy() for a in [inp, g] + m.getParameters()]
        out = m.forward(inp)
        grad_input = m.backward(inp, g)
        for a, b in zip([inp, g] + m.getParameters(), saved):
            np.testing.assert_array_equal(a, b)
        for result in (out, grad_input):
            for arr in [inp, g] + m.getParameters():
                assert not np.shares_memory(result, arr), m
        assert not np.shares_memory(out, grad_input)


# ------------------------------------- 5. recycled outputs (cconv._prepared.recycled)

def recycling_cases(rng):
    """(module, input, grad_output) for each layer whose results are recycled."""
    conv, x4 = conv_case(rng, "NCHW", True, np.float32, dict(padding=1))
    pool, lin, relu = nn.MaxPool2d(2), nn.Linear(8, 3), nn.ReLU()
    x2 = random_array(rng, (4, 8), np.float32)
    cases = []
    for m, x in ((conv, x4), (pool, x4), (lin, x2), (relu, x4)):
        y = m.forward(x)
        cases.append((m, x, random_array(rng, y.shape, y.dtype)))
    return cases


def test_results_only_the_module_holds_are_written_again(rng):
    for m, x, g in recycling_cases(rng):
        m.backward(x, g)
        first = id(m.output), id(m.gradInput)
        m.forward(x + 1)
        m.backward(x + 1, g)
        assert (id(m.output), id(m.gradInput)) == first, m


@pytest.mark.parametrize("hold", ["array", "view"])
def test_results_someone_holds_are_never_overwritten(rng, hold):
    for m, x, g in recycling_cases(rng):
        out, grad_in = m.forward(x), m.backward(x, g)
        indices = getattr(m, "max_indices", None)
        kept = [a.reshape(-1) if hold == "view" else a for a in (out, grad_in, indices)
                if a is not None]
        copies = [a.copy() for a in kept]
        del out, grad_in, indices
        other = x[::-1].copy() * 3
        m.forward(other)
        m.backward(other, g * 2)
        for a, c in zip(kept, copies):
            np.testing.assert_array_equal(a, c)
        assert not any(np.shares_memory(a, m.output) or np.shares_memory(a, m.gradInput)
                       for a in kept), m
