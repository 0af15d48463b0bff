"""Bad input to cconv.functional (issues 2 and 6) and the input/output contract.

Each bad call must raise TypeError/ValueError naming the argument BEFORE any
kernel runs: the tests swap the compiled kernels for a stub that fails if it
is called. The contract tests (inputs never modified, read-only / Fortran /
strided / big-endian inputs, zero-size batches, outputs never aliasing inputs)
run the real kernels.
"""
import types

import numpy as np
import pytest

import cconv
from cconv import functional as F

RNG = np.random.default_rng(6)


def _randn(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


X = _randn(2, 4, 7, 6)
W = _randn(6, 2, 3, 3)          # groups=2 fits X
B = _randn(6)
GY = _randn(2, 6, 5, 4)          # conv2d(X, W, groups=2) output
P = _randn(2, 4, 3, 3)           # max/avg pool 2x2 output of X
IDX = np.zeros((2, 4, 3, 3), np.int64)
COL = _randn(2 * 5 * 4, 4 * 3 * 3)   # im2col(X, 3, 3)


@pytest.fixture
def no_kernels(monkeypatch):
    """Replace every kernel entry point by one that fails the test if called."""
    def ran(*_):
        raise AssertionError("a kernel ran before the arguments were validated")
    stub = types.SimpleNamespace(**{name: ran for name in dir(F._kernels)
                                    if name.startswith("run_")})
    monkeypatch.setattr(F, "_kernels", stub)


def conv(**kw):
    base = dict(x=X, weight=W, bias=B, stride=1, padding=0, dilation=1, groups=2)
    base.update(kw)
    return lambda: F.conv2d(**base)


def conv_back(**kw):
    base = dict(grad_output=GY, x=X, weight=W, stride=1, padding=0, dilation=1, groups=2)
    base.update(kw)
    return lambda: F.conv2d_backward(**base)


def maxpool(**kw):
    base = dict(x=X, kernel_size=2)
    base.update(kw)
    return lambda: F.max_pool2d(**base)


def maxpool_back(**kw):
    base = dict(grad_output=P, indices=IDX, input_shape=X.shape)
    base.update(kw)
    return lambda: F.max_pool2d_backward(**base)


def avgpool(**kw):
    base = dict(x=X, kernel_size=2)
    base.update(kw)
    return lambda: F.avg_pool2d(**base)


def avgpool_back(**kw):
    base = dict(grad_output=P, input_shape=X.shape, kernel_size=2)
    base.update(kw)
    return lambda: F.avg_pool2d_backward(**base)


def im2col(**kw):
    base = dict(input_data=X, filter_h=3, filter_w=3)
    base.update(kw)
    return lambda: F.im2col(**base)


def col2im(**kw):
    base = dict(col=COL, input_shape=X.shape, filter_h=3, filter_w=3)
    base.update(kw)
    return lambda: F.col2im(**base)


BAD = {
    # wrong ndim
    "conv x 3-D": (conv(x=X[0]), ValueError, r"x must be a 4-D array"),
    "conv weight 5-D": (conv(weight=W[None]), ValueError, r"weight must be a 4-D array"),
    "conv bias 2-D": (conv(bias=B[None]), ValueError, r"bias must be a 1-D array of K=6"),
    "conv bias length": (conv(bias=B[:5]), ValueError, r"bias must be .*got shape \(5,\)"),
    "back grad_output 3-D": (conv_back(grad_output=GY[0]), ValueError, r"grad_output must be a 4-D"),
    "maxpool x 2-D": (maxpool(x=X[0, 0]), ValueError, r"x must be a 4-D array"),
    "avgpool x 5-D": (avgpool(x=X[None]), ValueError, r"x must be a 4-D array"),
    "im2col 3-D": (im2col(input_data=X[0]), ValueError, r"input_data must be a 4-D array"),
    "col2im col 3-D": (col2im(col=COL[None]), ValueError, r"col must be a 2-D array"),
    # empty channel / spatial sizes (only the batch may be empty)
    "conv x no channels": (conv(x=X[:, :0], weight=W[:, :0]), ValueError, r"x must have non-empty C"),
    "maxpool x no width": (maxpool(x=X[..., :0]), ValueError, r"x must have non-empty C, H and W"),
    # channel mismatch and groups
    "conv channel mismatch": (conv(groups=1), ValueError, r"channel mismatch: x has C=4.*weight"),
    "conv groups not dividing K": (conv(weight=_randn(5, 2, 3, 3), bias=None), ValueError,
                                   r"groups=2 must divide the output channels.*K=5"),
    "conv groups not dividing C": (conv(x=_randn(1, 5, 7, 6), weight=_randn(6, 1, 3, 3),
                                        bias=None, groups=3),
                                   ValueError, r"groups=3 must divide the input channels.*C=5"),
    "conv groups 0": (conv(groups=0), ValueError, r"groups must be a positive int, got 0"),
    "conv groups -2": (conv(groups=-2), ValueError, r"groups must be a positive int, got -2"),
    "conv groups float": (conv(groups=2.0), TypeError, r"groups must be a positive int"),
    "back channel mismatch": (conv_back(groups=1), ValueError, r"channel mismatch"),
    # kernel larger than the padded input
    "conv kernel too large": (conv(weight=_randn(6, 2, 8, 3)), ValueError,
                              r"conv2d: the kernel does not fit in the padded input"),
    "conv dilated kernel too large": (conv(dilation=(1, 3)), ValueError, r"kernel does not fit"),
    "maxpool kernel too large": (maxpool(kernel_size=(8, 2)), ValueError,
                                 r"max_pool2d: the kernel does not fit"),
    "maxpool dilated too large": (maxpool(kernel_size=3, dilation=4), ValueError,
                                  r"kernel does not fit"),
    "avgpool kernel too large": (avgpool(kernel_size=7), ValueError, r"avg_pool2d: the kernel does not fit"),
    "im2col filter too large": (im2col(filter_h=10), ValueError, r"im2col: the kernel does not fit"),
    "col2im filter too large": (col2im(filter_w=9), ValueError, r"im2col: the kernel does not fit"),
    # stride, dilation, padding
    "conv stride 0": (conv(stride=0), ValueError, r"stride must be a positive int or a pair of positive ints, got 0"),
    "conv stride (1, 0)": (conv(stride=(1, 0)), ValueError, r"stride must be .*got \(1, 0\)"),
    "conv stride -1": (conv(stride=-1), ValueError, r"stride must be a positive int"),
    "conv stride float": (conv(stride=1.0), TypeError, r"stride must be a positive int"),
    "conv stride bool": (conv(stride=True), TypeError, r"stride must be a positive int"),
    "conv stride triple": (conv(stride=(1, 1, 1)), ValueError, r"stride must be .*pair"),
    "conv dilation 0": (conv(dilation=0), ValueError, r"dilation must be a positive int"),
    "conv dilation (0, 1)": (conv(dilation=(0, 1)), ValueError, r"dilation must be a positive int"),
    "conv padding -1": (conv(padding=-1), ValueError, r"padding must be a non-negative int"),
    "conv padding (1, -1)": (conv(padding=(1, -1)), ValueError, r"padding must be a non-negative int"),
    "conv padding 'full'": (conv(padding="full"), ValueError, r"padding must be 'valid', 'same'.*'full'"),
    "conv padding None": (conv(padding=None), TypeError, r"padding must be a non-negative int"),
    "back output_mask": (conv_back(output_mask=(True, False)), ValueError, r"output_mask must be a sequence of three bools"),
    "back output_mask ints": (conv_back(output_mask=(1, 1, 1)), TypeError, r"output_mask"),
    "maxpool kernel 0": (maxpool(kernel_size=0), ValueError, r"kernel_size must be a positive int"),
    "maxpool stride 0": (maxpool(stride=0), ValueError, r"stride must be a positive int"),
    "maxpool stride -1": (maxpool(stride=(-1, 1)), ValueError, r"stride must be a positive int"),
    "maxpool dilation 0": (maxpool(dilation=0), ValueError, r"dilation must be a positive int"),
    "maxpool padding -1": (maxpool(padding=-1), ValueError, r"padding must be a non-negative int"),
    "maxpool padding > k/2": (maxpool(kernel_size=3, padding=2), ValueError,
                              r"padding should be at most half of kernel_size"),
    "maxpool padding > k/2 dilated": (maxpool(kernel_size=(3, 1), padding=(1, 1), dilation=3),
                                      ValueError, r"padding should be at most half of kernel_size"),
    "maxpool ceil_mode str": (maxpool(ceil_mode="yes"), TypeError, r"ceil_mode must be a bool"),
    "maxpool return_indices int": (maxpool(return_indices=1), TypeError, r"return_indices must be a bool"),
    "avgpool padding > k/2": (avgpool(padding=(0, 2)), ValueError, r"padding should be at most half"),
    "avgpool divisor 0": (avgpool(divisor_override=0), ValueError, r"divisor_override must be a positive int"),
    "avgpool divisor -3": (avgpool(divisor_override=-3), ValueError, r"divisor_override must be a positive int"),
    "avgpool divisor bool": (avgpool(divisor_override=True), TypeError, r"divisor_override must be a positive int"),
    "avgpool divisor float": (avgpool(divisor_override=2.0), TypeError, r"divisor_override"),
    "avgpool count_include_pad": (avgpool(count_include_pad=None), TypeError, r"count_include_pad must be a bool"),
    "im2col filter 0": (im2col(filter_w=0), ValueError, r"filter_w must be a positive int"),
    "im2col stride 0": (im2col(stride=0), ValueError, r"stride must be a positive int"),
    "im2col stride pair": (im2col(stride=(1, 1)), TypeError, r"stride must be a positive int"),
    "im2col pad -1": (im2col(pad=-1), ValueError, r"pad must be a non-negative int"),
    # grad_output, indices, col and input_shape of the wrong shape
    "back grad_output shape": (conv_back(grad_output=GY[:, :, :4]), ValueError,
                               r"grad_output must have the shape conv2d returns, \(2, 6, 5, 4\)"),
    "back grad_output shape with padding": (conv_back(padding=1), ValueError,
                                            r"grad_output must have the shape conv2d returns, \(2, 6, 7, 6\)"),
    "maxpool_back N mismatch": (maxpool_back(input_shape=(3, 4, 7, 6)), ValueError,
                                r"grad_output must have shape .* input_shape"),
    "maxpool_back input_shape len": (maxpool_back(input_shape=(4, 7, 6)), ValueError,
                                     r"input_shape must be a shape \(N, C, H, W\)"),
    "maxpool_back input_shape float": (maxpool_back(input_shape=(2, 4, 7.0, 6)), TypeError,
                                       r"input_shape must be a shape"),
    "maxpool_back indices shape": (maxpool_back(indices=IDX[:, :, :2]), ValueError,
                                   r"indices must have the shape of grad_output"),
    "maxpool_back indices int32": (maxpool_back(indices=IDX.astype(np.int32)), TypeError,
                                   r"indices must be an int64 array.*int32"),
    "maxpool_back indices float": (maxpool_back(indices=IDX.astype(np.float64)), TypeError,
                                   r"indices must be an int64 array"),
    "avgpool_back grad_output shape": (avgpool_back(stride=1), ValueError,
                                       r"grad_output must have the shape avg_pool2d returns, \(2, 4, 6, 5\)"),
    "avgpool_back input_shape zero H": (avgpool_back(input_shape=(2, 4, 0, 6)), ValueError,
                                        r"input_shape must be a shape"),
    "col2im col shape": (col2im(col=COL[:-1]), ValueError, r"col must have the shape im2col gives"),
    "col2im input_shape": (col2im(input_shape=(2, 4, 7)), ValueError, r"input_shape must be a shape"),
    # int64 overflow of shapes and index arithmetic: a clear error, never wrap-around
    "conv padding overflow": (conv(padding=2**62), ValueError, r"conv2d along H: .*overflow int64"),
    "conv dilation overflow": (conv(dilation=(1, 2**62)), ValueError, r"conv2d along W: .*overflow int64"),
    "conv stride too large for int64": (conv(stride=2**63), ValueError, r"stride must be .*int64"),
    "maxpool dilation overflow": (maxpool(kernel_size=3, dilation=2**62), ValueError, r"overflow int64"),
    "im2col col overflow": (im2col(pad=2**30), ValueError, r"col of shape .* more than int64"),
    "maxpool_back input_shape overflow": (maxpool_back(input_shape=(2, 4, 2**40, 2**40)),
                                          ValueError, r"input_shape of shape .* more than int64"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_argument_raises_before_any_kernel(case, no_kernels):
    call, error, message = BAD[case]
    with pytest.raises(error, match=message):
        call()


BAD_DTYPES = [np.int64, np.int32, np.uint8, np.bool_, np.complex128, object, np.float16]


@pytest.mark.parametrize("dtype", BAD_DTYPES, ids=lambda d: np.dtype(d).name)
def test_unsupported_dtypes_raise_type_error_naming_the_argument(dtype, no_kernels):
    bad = lambda a: a.astype(dtype)   # noqa: E731
    name = np.dtype(dtype).name
    cases = [
        (conv(x=bad(X)), "x"), (conv(weight=bad(W)), "weight"), (conv(bias=bad(B)), "bias"),
        (conv_back(grad_output=bad(GY)), "grad_output"), (conv_back(x=bad(X)), "x"),
        (maxpool(x=bad(X)), "x"), (avgpool(x=bad(X)), "x"),
        (maxpool_back(grad_output=bad(P)), "grad_output"),
        (avgpool_back(grad_output=bad(P)), "grad_output"),
        (im2col(input_data=bad(X)), "input_data"), (col2im(col=bad(COL)), "col"),
    ]
    for call, arg in cases:
        with pytest.raises(TypeError, match=rf"{arg} must be float32 or float64, got {name}"):
            call()


def test_mixed_dtypes_raise_type_error_naming_them(no_kernels):
    x32 = X.astype(np.float32)
    with pytest.raises(TypeError, match=r"x, weight and bias must share one dtype.*"
                                        r"x float32, weight float64, bias float64"):
        conv(x=x32)()
    with pytest.raises(TypeError, match=r"bias float32"):
        conv(bias=B.astype(np.float32))()
    with pytest.raises(TypeError, match=r"grad_output, x and weight must share one dtype"):
        conv_back(grad_output=GY.astype(np.float32))()


def test_int_lists_are_refused_float_lists_accepted():
    with pytest.raises(TypeError, match=r"x must be float32 or float64, got int64"):
        F.max_pool2d(np.arange(16).reshape(1, 1, 4, 4).tolist(), 2)
    y = F.max_pool2d(np.arange(16.0).reshape(1, 1, 4, 4).tolist(), 2)
    np.testing.assert_array_equal(y, [[[[5.0, 7.0], [13.0, 15.0]]]])


def test_none_arrays_are_refused(no_kernels):
    with pytest.raises(TypeError, match=r"weight must be an array, got None"):
        F.conv2d(X, None)


# ------------------------------------------------------------- contract ----

def _all_calls(dtype):
    """({name: thunk} for every public function on valid inputs of dtype, [those inputs])."""
    x, w, b, gy, p, col = (a.astype(dtype) for a in (X, W, B, GY, P, COL))
    idx = F.max_pool2d(x, 2, return_indices=True)[1]
    # linear over x's last axis: weight (5, W), grad_output x.shape[:-1] + (5,)
    lw = np.linspace(-1, 1, 5 * X.shape[-1]).reshape(5, -1).astype(dtype)
    lgy = np.linspace(-2, 2, x.size // X.shape[-1] * 5).reshape(x.shape[:-1] + (5,)).astype(dtype)
    mask = F.dropout(x, 0.5, 1)[1]
    calls = {
        "conv2d": lambda: F.conv2d(x, w, b, padding=(1, 0), groups=2),
        "conv2d_backward": lambda: F.conv2d_backward(gy, x, w, groups=2),
        "max_pool2d": lambda: F.max_pool2d(x, 3, 2, 1, return_indices=True),
        "max_pool2d_backward": lambda: F.max_pool2d_backward(p, idx, X.shape),
        "avg_pool2d": lambda: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True),
        "avg_pool2d_backward": lambda: F.avg_pool2d_backward(p, X.shape, 2),
        "im2col": lambda: F.im2col(x, 3, 3),
        "col2im": lambda: F.col2im(col, X.shape, 3, 3),
        "relu": lambda: F.relu(x),
        "relu_backward": lambda: F.relu_backward(x, x),
        "linear": lambda: F.linear(x, lw, lw[:, 0].copy()),
        "linear_backward": lambda: F.linear_backward(lgy, x, lw),
        "dropout": lambda: F.dropout(x, 0.5, 1),
        "dropout_backward": lambda: F.dropout_backward(x, mask, 0.5),
    }
    return calls, [x, w, b, gy, p, col, idx, lw, lgy, mask]


def _as_tuple(result):
    return tuple(r for r in (result if isinstance(result, tuple) else (result,))
                 if r is not None)


def _variants(a):
    """The same values as read-only, Fortran-order, strided and big-endian arrays."""
    readonly = a.copy()
    readonly.flags.writeable = False
    strided = np.empty(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)[..., ::2]
    strided[...] = a
    return {"readonly": readonly, "fortran": np.asfortranarray(a), "strided": strided,
            "bigendian": a.astype(a.dtype.newbyteorder(">"))}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", F.__all__)
def test_outputs_are_new_c_contiguous_arrays_of_the_input_dtype(name, dtype):
    for out in _as_tuple(_all_calls(dtype)[0][name]()):
        assert out.flags.c_contiguous and out.flags.writeable and out.flags.owndata
        assert out.dtype in (np.dtype(dtype), np.dtype(np.int64), np.dtype(np.uint8))


@pytest.mark.parametrize("variant", ["readonly", "fortran", "strided", "bigendian"])
def test_unusual_layouts_give_the_contiguous_result_and_stay_untouched(variant):
    x, w, b, gy = X, W, B, GY
    vx, vw, vb, vgy = (_variants(a)[variant] for a in (x, w, b, gy))
    before = [a.copy() for a in (vx, vw, vb, vgy)]
    pairs = [
        (F.conv2d(vx, vw, vb, groups=2), F.conv2d(x, w, b, groups=2)),
        (F.conv2d_backward(vgy, vx, vw, groups=2), F.conv2d_backward(gy, x, w, groups=2)),
        (F.max_pool2d(vx, 2, return_indices=True), F.max_pool2d(x, 2, return_indices=True)),
        (F.avg_pool2d(vx, 3, 1, 1), F.avg_pool2d(x, 3, 1, 1)),
        (F.im2col(vx, 2, 3, 2, 1), F.im2col(x, 2, 3, 2, 1)),
        (F.dropout(vx, 0.3, 2), F.dropout(x, 0.3, 2)),
    ]
    idx = F.max_pool2d(x, 2, return_indices=True)[1]
    vidx = _variants(idx)[variant]
    vp = _variants(P)[variant]
    vcol = _variants(COL)[variant]
    mask = F.dropout(x, 0.3, 2)[1]
    vmask = _variants(mask)[variant]
    pairs += [
        (F.max_pool2d_backward(vp, vidx, x.shape), F.max_pool2d_backward(P, idx, x.shape)),
        (F.avg_pool2d_backward(vp, x.shape, 2), F.avg_pool2d_backward(P, x.shape, 2)),
        (F.col2im(vcol, x.shape, 3, 3), F.col2im(COL, x.shape, 3, 3)),
        (F.dropout_backward(vx, vmask, 0.3), F.dropout_backward(x, mask, 0.3)),
    ]
    for got, expected in pairs:
        for g, e in zip(_as_tuple(got), _as_tuple(expected)):
            assert g.dtype.isnative and g.flags.c_contiguous
            np.testing.assert_array_equal(g, e)
    for a, copy in zip((vx, vw, vb, vgy), before):
        np.testing.assert_array_equal(a, copy)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inputs_are_never_modified_nor_aliased(dtype):
    calls, inputs = _all_calls(dtype)
    snapshots = [a.copy() for a in inputs]
    for name, call in calls.items():
        for out in _as_tuple(call()):
            for a in inputs:
                assert not np.shares_memory(out, a), name
    for a, copy in zip(inputs, snapshots):
        np.testing.assert_array_equal(a, copy)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_size_batch(dtype):
    x = np.empty((0, 4, 7, 6), dtype)
    w, b = W.astype(dtype), B.astype(dtype)
    y = F.conv2d(x, w, b, padding="same", groups=2)
    assert y.shape == (0, 6, 7, 6) and y.dtype == dtype
    gx, gw, gb = F.conv2d_backward(np.empty((0, 6, 5, 4), dtype), x, w, groups=2)
    assert gx.shape == x.shape and gx.dtype == dtype
    np.testing.assert_array_equal(gw, np.zeros_like(w))
    np.testing.assert_array_equal(gb, np.zeros_like(b))
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    assert y.shape == idx.shape == (0, 4, 3, 3) and idx.dtype == np.int64
    assert F.max_pool2d_backward(y, idx, x.shape).shape == x.shape
    assert F.avg_pool2d(x, 2).shape == (0, 4, 3, 3)
    assert F.avg_pool2d_backward(y, x.shape, 2).shape == x.shape
    col = F.im2col(x, 3, 3)
    assert col.shape == (0, 36) and col.dtype == dtype
    assert F.col2im(col, x.shape, 3, 3).shape == x.shape


def test_conv2d_backward_output_mask():
    gx, gw, gb = F.conv2d_backward(GY, X, W, groups=2, output_mask=(False, True, False))
    assert gx is None and gb is None and gw.shape == W.shape
    full = F.conv2d_backward(GY, X, W, groups=2)
    np.testing.assert_array_equal(gw, full[1])


def test_nan_and_inf_propagate_without_crashing():
    x = X.copy()
    x[0, 0, 0, 0] = np.nan
    x[1, 1, 2, 2] = np.inf
    y = F.conv2d(x, W, B, groups=2)
    assert np.isnan(y[0, :3, 0, 0]).all()
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    assert np.isnan(y[0, 0, 0, 0]) and idx[0, 0, 0, 0] == 0
    assert y[1, 1, 1, 1] == np.inf
    assert np.isnan(F.avg_pool2d(x, 2)[0, 0, 0, 0])


# ---- remembered geometries (cconv._arguments.Memo): a validated call must not
# let a later, invalid one through, nor give it the old shapes

def test_remembered_geometry_never_admits_arguments_that_compare_equal():
    F.conv2d(X, W, B, stride=1, padding=1, groups=2)        # remembered
    for bad, message in ((dict(stride=True), "stride"), (dict(stride=1.0), "stride"),
                         (dict(padding=1.0), "padding"), (dict(padding=(True, 1)), "padding"),
                         (dict(groups=2.0), "groups")):
        kwargs = dict(dict(stride=1, padding=1, groups=2), **bad)
        with pytest.raises(TypeError, match=message):
            F.conv2d(X, W, B, **kwargs)
        with pytest.raises(TypeError, match=message):
            F.conv2d_backward(F.conv2d(X, W, B, stride=1, padding=1, groups=2), X, W, **kwargs)
    F.max_pool2d(X, 2, ceil_mode=False)
    with pytest.raises(TypeError, match="ceil_mode"):
        F.max_pool2d(X, 2, ceil_mode=0)
    with pytest.raises(TypeError, match="kernel_size"):
        F.max_pool2d(X, 2.0)


def test_remembered_geometry_follows_the_input_shape():
    w = _randn(3, 4, 3, 3)
    for h in (7, 9, 7, 3):
        x = _randn(2, 4, h, 6)
        y = F.conv2d(x, w)
        assert y.shape == (2, 3, h - 2, 4)
        assert F.conv2d_backward(y, x, w)[0].shape == x.shape
        p, idx = F.max_pool2d(x, 2, return_indices=True)
        assert p.shape == (2, 4, h // 2, 3)
        assert F.max_pool2d_backward(p, idx, x.shape).shape == x.shape
    with pytest.raises(ValueError, match="kernel does not fit"):
        F.conv2d(_randn(2, 4, 2, 6), w)
    with pytest.raises(ValueError, match="grad_output must have the shape"):
        F.conv2d_backward(_randn(2, 3, 5, 4), _randn(2, 4, 9, 6), w)


@pytest.mark.parametrize("data_format", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad_value", [-1, 42, 2**62, np.iinfo(np.int64).min])
@pytest.mark.parametrize("where", [0, 17, -1])
def test_max_pool_backward_index_out_of_range(data_format, dtype, bad_value, where):
    """The kernels check the indices as they scatter (no pass of their own):
    one outside [0, H*W) (the first, a middle or the last element) is a
    ValueError naming it, the caller's arrays unchanged, the next call right."""
    x = X.astype(dtype) if data_format == "NCHW" else X.astype(dtype).transpose(0, 2, 3, 1).copy()
    p, idx = F.max_pool2d(x, 2, return_indices=True, data_format=data_format)
    expected = F.max_pool2d_backward(p, idx, x.shape, data_format=data_format)
    bad = idx.copy()
    bad.reshape(-1)[where] = bad_value
    kept_p, kept_bad = p.copy(), bad.copy()
    with pytest.raises(ValueError, match=rf"indices must lie in \[0, H\*W\) = \[0, 42\) "
                                         rf".*got {bad_value}$"):
        F.max_pool2d_backward(p, bad, x.shape, data_format=data_format)
    np.testing.assert_array_equal(p, kept_p)
    np.testing.assert_array_equal(bad, kept_bad)
    np.testing.assert_array_equal(F.max_pool2d_backward(p, idx, x.shape, data_format=data_format),
                                  expected)


def test_remembered_pool_backward_shapes_still_check_every_indices_array():
    p, idx = F.max_pool2d(X, 2, return_indices=True)
    F.max_pool2d_backward(p, idx, X.shape)                  # remembered
    for bad_value in (-1, 42, np.iinfo(np.int64).min):
        bad = idx.copy()
        bad[1, 2, 0, 1] = bad_value
        with pytest.raises(ValueError, match=f"indices must lie in .*got {bad_value}"):
            F.max_pool2d_backward(p, bad, X.shape)
    with pytest.raises(ValueError, match="grad_output must have shape"):
        F.max_pool2d_backward(p, idx, (2, 5, 7, 6))
