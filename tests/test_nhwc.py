"""data_format="NHWC" (HWIO filters) and TensorFlow's argument forms.

Oracle: torch on the transposed data, with TensorFlow's padding applied
explicitly (F.pad, asymmetric where SAME needs it), forward and every
gradient; and TensorFlow itself where it is installed."""
import numpy as np
import pytest

import cconv
from cconv import functional as F
from conftest import DTYPES, assert_close, random_array

# x NHWC, filter HWIO, stride, dilation, padding, groups
CONV_CASES = [
    ((2, 9, 8, 6), (3, 3, 6, 16), 1, 1, "SAME", 1),
    ((2, 9, 8, 6), (3, 3, 6, 16), 2, 1, "SAME", 1),
    ((2, 10, 7, 4), (2, 4, 4, 5), (2, 1), 1, "same", 1),
    ((1, 11, 11, 3), (5, 5, 3, 8), 3, 1, "SAME", 1),
    ((2, 9, 8, 6), (3, 3, 6, 16), 1, 2, "SAME", 1),
    ((2, 9, 8, 6), (3, 3, 6, 7), 2, 1, "VALID", 1),
    ((2, 9, 8, 8), (3, 3, 4, 6), 1, 1, "SAME", 2),
    ((2, 9, 8, 6), (3, 2, 6, 16), [1, 2, 1, 1], [1, 1, 2, 1], [[0, 0], [2, 0], [1, 3], [0, 0]], 1),
    ((3, 6, 6, 32), (1, 1, 32, 16), 1, 1, 0, 1),
    ((2, 12, 12, 16), (3, 3, 16, 32), 1, 1, 1, 1),
    # strided input gradient: taps in several tile-wide chunks, a partial last one,
    # and groups (each group's filter chunked on its own)
    ((2, 11, 10, 20), (3, 3, 10, 70), 2, 1, "SAME", 2),
    # strided input gradients of 4+ image groups: one stride-1 forward per phase
    # of dX; phases no tap reaches (stride 3, kernel 2), dilation sharing a
    # factor with the stride, unequal strides, 5x5 with an odd width, 16+ channels
    ((4, 11, 10, 5), (2, 2, 5, 7), 3, 1, "VALID", 1),
    ((4, 13, 12, 6), (3, 3, 6, 16), 2, 2, "SAME", 1),
    ((5, 13, 15, 4), (3, 2, 4, 6), [1, 3, 2, 1], [1, 2, 3, 1], [[0, 0], [1, 0], [0, 0], [0, 0]], 1),
    ((4, 12, 11, 20), (5, 5, 20, 32), 2, 1, "SAME", 1),
    # stride-1 input gradient through planes (under 16 input channels, 4+ images):
    # RGB, one channel with padding, LeNet's second layer, a dilation, dX in two
    # row blocks (44-wide padded rows), 8 channels (float64's channel lanes)
    ((4, 9, 8, 3), (3, 3, 3, 16), 1, 1, "SAME", 1),
    ((5, 12, 12, 1), (5, 5, 1, 6), 1, 1, 2, 1),
    ((4, 14, 14, 6), (5, 5, 6, 16), 1, 1, "VALID", 1),
    ((4, 10, 9, 3), (3, 3, 3, 17), 1, 2, "SAME", 1),
    ((4, 40, 40, 3), (5, 5, 3, 16), 1, 1, "SAME", 1),
    ((4, 7, 9, 8), (3, 3, 8, 16), 1, 1, [[0, 0], [2, 0], [0, 1], [0, 0]], 1),
    # stride-1 forward through planes (under 16 output channels): grouped with
    # a bias per group, and 8 outputs (float64's channel lanes)
    ((4, 9, 8, 4), (3, 3, 2, 6), 1, 1, "SAME", 2),
    ((4, 7, 9, 3), (3, 3, 3, 8), 1, 1, "SAME", 1),
    # x read in place where no tap reaches padding (one group only): row blocks
    # padded at the top and bottom, in place between; groups must still copy
    ((2, 16, 9, 5), (3, 3, 5, 16), 1, 1, [[0, 0], [1, 1], [0, 0], [0, 0]], 1),
    ((2, 8, 7, 8), (1, 1, 4, 6), 1, 1, "VALID", 2),
    ((2, 9, 8, 8), (3, 3, 4, 16), 1, 1, "VALID", 2),
    # weight gradient in channel blocks (a multiple of 16 channels, float64: 8):
    # two pixel blocks and a partial last output-channel panel, strided with
    # three channel blocks, a 1x1 read in place, groups with a dilation, 256
    # outputs (shorter pixel blocks), 8 channels (float64 only)
    ((2, 20, 20, 32), (3, 3, 32, 20), 1, 1, "SAME", 1),
    ((2, 17, 17, 48), (3, 3, 48, 64), 2, 1, "SAME", 1),
    ((1, 30, 30, 16), (1, 1, 16, 7), 1, 1, "VALID", 1),
    ((2, 12, 12, 64), (3, 3, 32, 26), 1, 2, "SAME", 2),
    ((1, 14, 14, 16), (3, 3, 16, 256), 1, 1, "SAME", 1),
    ((2, 9, 9, 8), (3, 3, 8, 6), 1, 1, "SAME", 1),
    # a forward in two tap chunks (chunks keep 256 outputs' panels within L2)
    ((1, 7, 7, 48), (3, 3, 48, 256), 1, 1, "SAME", 1),
]


def tf_pads(in_size, kernel, stride, dilation):
    return cconv._shapes.tf_same_padding(in_size, kernel, stride, dilation)


def torch_padding(padding, x_hw, k_hw, stride, dilation):
    """((top, bottom), (left, right)) the way TensorFlow pads."""
    if isinstance(padding, str):
        if padding.lower() == "valid":
            return (0, 0), (0, 0)
        return tuple(tf_pads(x_hw[i], k_hw[i], stride[i], dilation[i]) for i in range(2))
    if isinstance(padding, int):
        return (padding, padding), (padding, padding)
    return tuple(padding[1]), tuple(padding[2])


def spatial(value):
    if isinstance(value, int):
        return value, value
    if len(value) == 4:
        return value[1], value[2]
    return tuple(value)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[4]}-s{c[2]}")
def test_conv2d_nhwc_forward_and_gradients_match_torch(case, dtype, torch, rng):
    x_shape, w_shape, stride, dilation, padding, groups = case
    x = random_array(rng, x_shape, dtype)
    w = random_array(rng, w_shape, dtype)
    b = random_array(rng, (w_shape[3],), dtype)
    st, dil = spatial(stride), spatial(dilation)
    (top, bottom), (left, right) = torch_padding(padding, x_shape[1:3], w_shape[:2], st, dil)

    tx = torch.tensor(x.transpose(0, 3, 1, 2), dtype=torch.float64, requires_grad=True)
    tw = torch.tensor(w.transpose(3, 2, 0, 1), dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    ty = torch.nn.functional.conv2d(torch.nn.functional.pad(tx, (left, right, top, bottom)),
                                    tw, tb, st, 0, dil, groups)
    y = F.conv2d(x, w, b, stride, padding, dilation, groups, data_format="NHWC")
    assert_close(y, ty.detach().numpy().transpose(0, 2, 3, 1), dtype)

    gy = random_array(rng, y.shape, dtype)
    ty.backward(torch.tensor(gy.transpose(0, 3, 1, 2), dtype=torch.float64))
    gx, gw, gb = F.conv2d_backward(gy, x, w, stride, padding, dilation, groups,
                                   data_format="NHWC")
    assert_close(gx, tx.grad.numpy().transpose(0, 2, 3, 1), dtype)
    assert_close(gw, tw.grad.numpy().transpose(2, 3, 1, 0), dtype)
    assert_close(gb, tb.grad.numpy(), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES[:8], ids=lambda c: f"{c[0]}-{c[4]}-s{c[2]}")
def test_tf_padding_in_nchw_matches_nhwc(case, dtype, rng):
    """The same TensorFlow arguments work in NCHW (OIHW filters): one
    arithmetic for both layouts."""
    x_shape, w_shape, stride, dilation, padding, groups = case
    x = random_array(rng, x_shape, dtype)
    w = random_array(rng, w_shape, dtype)
    to_nchw = lambda v: [v[0], v[3], v[1], v[2]] if isinstance(v, list) and len(v) == 4 else v  # noqa: E731
    y_nhwc = F.conv2d(x, w, None, stride, padding, dilation, groups, data_format="NHWC")
    y_nchw = F.conv2d(x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1), None, to_nchw(stride),
                      to_nchw(padding), to_nchw(dilation), groups)
    assert_close(y_nchw, y_nhwc.transpose(0, 3, 1, 2), dtype)


POOL_CASES = [  # x NHWC, kernel, stride, padding
    ((2, 9, 8, 5), 2, 2, "VALID"),
    ((2, 9, 8, 5), 2, 2, "SAME"),
    ((2, 9, 8, 5), 3, 2, "SAME"),
    ((1, 7, 10, 17), (3, 2), (1, 3), "same"),
    ((2, 9, 8, 5), 3, 2, 1),
    ((2, 8, 8, 3), 3, [1, 2, 2, 1], [[0, 0], [1, 0], [0, 1], [0, 0]]),
    ((2, 9, 8, 37), 3, 2, "SAME"),          # four AVX2 vectors at once, then one, then a tail
    ((1, 12, 11, 17), 9, 1, "VALID"),       # 81 taps: past the position table
    # stride-1 rows of fewer than 8 channels run flat along (pixel, channel):
    # padded both sides, two blocks of 256 elements, past the position table
    ((2, 9, 8, 5), 3, 1, "SAME"),
    ((1, 3, 100, 3), 2, 1, "VALID"),
    ((1, 7, 9, 2), 3, 1, 1),
    ((1, 12, 11, 3), 9, 1, "VALID"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: f"{c[0]}-k{c[1]}-s{c[2]}-{c[3]}")
def test_max_pool2d_nhwc_matches_nchw_and_torch(case, dtype, torch, rng, simd_path):
    x_shape, kernel, stride, padding = case
    x = random_array(rng, x_shape, dtype)
    y, idx = F.max_pool2d(x, kernel, stride, padding, return_indices=True, data_format="NHWC")
    k, st = spatial(kernel), spatial(stride)
    (top, bottom), (left, right) = torch_padding(padding, x_shape[1:3], k, st, (1, 1))
    tx = torch.tensor(x.transpose(0, 3, 1, 2), dtype=torch.float64, requires_grad=True)
    padded = torch.nn.functional.pad(tx, (left, right, top, bottom), value=-float("inf"))
    ty = torch.nn.functional.max_pool2d(padded, k, st)
    assert_close(y, ty.detach().numpy().transpose(0, 2, 3, 1), dtype)
    # indices are positions ih * W + iw in the unpadded plane, in both layouts
    y_nchw, idx_nchw = F.max_pool2d(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), kernel,
                                    stride if not isinstance(stride, list) else st,
                                    padding if not isinstance(padding, list) else
                                    [[0, 0], [0, 0], padding[1], padding[2]],
                                    return_indices=True)
    np.testing.assert_array_equal(idx, idx_nchw.transpose(0, 2, 3, 1))
    gy = random_array(rng, y.shape, dtype)
    ty.backward(torch.tensor(gy.transpose(0, 3, 1, 2), dtype=torch.float64))
    gx = F.max_pool2d_backward(gy, idx, x.shape, data_format="NHWC")
    assert_close(gx, tx.grad.numpy().transpose(0, 2, 3, 1), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels", [1, 3, 7, 9, 19])
def test_max_pool2d_nhwc_rows_match_nchw(channels, dtype, rng, simd_path):
    """Stride-1 rows over few channels (the flat path; 9 and 19: pixel by pixel)
    with dilation, padding, ceil_mode, ties, -inf and NaN: values and indices as
    the NCHW kernels give. A window of -inf starting in the padding reports its
    first tap inside x, as torch does (pixel by pixel it reported the padded
    start, a negative index)."""
    x = np.round(random_array(rng, (2, 11, 13, channels), dtype) * 2)  # ties
    x[0, 2, 3, 0] = x[1, 5, :, -1] = -np.inf
    x[0, 7, 5, -1] = x[1, 0, 0, 0] = np.nan
    x[1, :4, :4, :] = -np.inf  # windows with nothing above -inf
    for kernel, padding, dilation in (((3, 2), (1, 1), (2, 3)), (2, 1, 1), ((1, 4), (0, 2), 1)):
        y, idx = F.max_pool2d(x, kernel, (2, 1), padding, dilation, ceil_mode=True,
                              return_indices=True, data_format="NHWC")
        y_nchw, idx_nchw = F.max_pool2d(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), kernel,
                                        (2, 1), padding, dilation, ceil_mode=True,
                                        return_indices=True)
        np.testing.assert_array_equal(y, y_nchw.transpose(0, 2, 3, 1))
        np.testing.assert_array_equal(idx, idx_nchw.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", ["random", "descending"])
@pytest.mark.parametrize("shape", [(2, 5, 6, 1), (2, 5, 6, 3), (3, 7, 4, 37), (1, 40, 40, 300)])
def test_max_pool2d_backward_nhwc_takes_any_indices(shape, order, dtype, rng):
    # The kernel zeroes grad_input just ahead of the highest index seen so far:
    # indices that jump around (or start at the last cell) must still come out
    # as the plain scatter-add, summed in output order (bitwise).
    n, h, w, c = shape
    oh, ow = 3, 4
    idx = rng.integers(0, h * w, (n, oh, ow, c))
    if order == "descending":
        idx = np.sort(idx.reshape(n, -1, c), axis=1)[:, ::-1].reshape(n, oh, ow, c).copy()
    gy = random_array(rng, (n, oh, ow, c), dtype)
    gx = F.max_pool2d_backward(gy, idx, shape, data_format="NHWC")
    want = np.zeros((n, h * w, c), dtype)
    rows = np.arange(n)[:, None, None, None]
    cols = np.arange(c)[None, None, None, :]
    np.add.at(want, (np.broadcast_to(rows, idx.shape), idx, np.broadcast_to(cols, idx.shape)), gy)
    np.testing.assert_array_equal(gx, want.reshape(shape))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES[:5], ids=lambda c: f"{c[0]}-k{c[1]}-s{c[2]}-{c[3]}")
def test_avg_pool2d_nhwc_matches_a_reference(case, dtype, rng):
    """SAME / VALID average TensorFlow's way (padded cells never count);
    integer padding torch's way (count_include_pad=True by default)."""
    x_shape, kernel, stride, padding = case
    x = random_array(rng, x_shape, dtype)
    y = F.avg_pool2d(x, kernel, stride, padding, data_format="NHWC")
    k, st = spatial(kernel), spatial(stride)
    (top, bottom), (left, right) = torch_padding(padding, x_shape[1:3], k, st, (1, 1))
    h, w = x_shape[1:3]
    expected = np.zeros(y.shape)
    for oh in range(y.shape[1]):
        for ow in range(y.shape[2]):
            h0, w0 = oh * st[0] - top, ow * st[1] - left
            window = x[:, max(h0, 0):min(h0 + k[0], h), max(w0, 0):min(w0 + k[1], w), :]
            count = window.shape[1] * window.shape[2] if isinstance(padding, str) else k[0] * k[1]
            expected[:, oh, ow, :] = window.astype(np.float64).sum(axis=(1, 2)) / count
    assert_close(y, expected, dtype)
    # the gradient is the adjoint: <avg(x), g> == <x, avg_backward(g)>
    g = random_array(rng, y.shape, dtype)
    gx = F.avg_pool2d_backward(g, x.shape, kernel, stride, padding, data_format="NHWC")
    lhs = float((y.astype(np.float64) * g).sum())
    rhs = float((x.astype(np.float64) * gx).sum())
    assert abs(lhs - rhs) <= 1e-4 * max(1.0, abs(lhs)) if dtype == np.float32 else abs(lhs - rhs) <= 1e-9 * max(1.0, abs(lhs))


def test_against_tensorflow_where_installed(rng):
    tf = pytest.importorskip("tensorflow")
    x = random_array(rng, (2, 11, 9, 6), np.float32)
    w = random_array(rng, (3, 3, 6, 8), np.float32)
    for stride, padding in ((1, "SAME"), (2, "SAME"), (2, "VALID"), ([1, 2, 1, 1], "SAME")):
        expected = tf.nn.conv2d(x, w, stride, padding).numpy()
        assert_close(F.conv2d(x, w, None, stride, padding, data_format="NHWC"), expected,
                     np.float32)
    for kernel, stride, padding in ((2, 2, "SAME"), (3, 2, "SAME"), (3, 1, "VALID")):
        assert_close(F.max_pool2d(x, kernel, stride, padding, data_format="NHWC"),
                     tf.nn.max_pool2d(x, kernel, stride, padding).numpy(), np.float32)
        assert_close(F.avg_pool2d(x, kernel, stride, padding, data_format="NHWC"),
                     tf.nn.avg_pool2d(x, kernel, stride, padding).numpy(), np.float32)


BAD = {
    "unknown data_format": (lambda x, w: F.conv2d(x, w, data_format="NWHC"), ValueError,
                            r"data_format must be 'NCHW' or 'NHWC'"),
    "stride list batch != 1": (lambda x, w: F.conv2d(x, w, stride=[2, 1, 1, 1], data_format="NHWC"),
                               ValueError, r"stride as a list of four .* must be 1"),
    "padding list channel pad": (lambda x, w: F.conv2d(x, w, padding=[[0, 0], [1, 1], [1, 1], [0, 1]],
                                                       data_format="NHWC"),
                                 ValueError, r"padding as a list of four"),
    "padding list negative": (lambda x, w: F.conv2d(x, w, padding=[[0, 0], [-1, 1], [1, 1], [0, 0]],
                                                    data_format="NHWC"), ValueError, r"padding"),
    "HWIO channel mismatch": (lambda x, w: F.conv2d(x, w[:, :, :3], data_format="NHWC"), ValueError,
                              r"channel mismatch"),
    "pool unknown padding": (lambda x, w: F.max_pool2d(x, 2, padding="full", data_format="NHWC"),
                             ValueError, r"unknown string 'full'"),
    "pool SAME with ceil_mode": (lambda x, w: F.max_pool2d(x, 2, padding="SAME", ceil_mode=True,
                                                           data_format="NHWC"),
                                 ValueError, r"ceil_mode=True cannot be combined"),
    "avg asymmetric counting pads": (lambda x, w: F.avg_pool2d(x, 3, padding=[[0, 0], [1, 0], [0, 0], [0, 0]],
                                                               data_format="NHWC"),
                                     ValueError, r"count_include_pad=True needs symmetric padding"),
    "max backward indices shape": (lambda x, w: F.max_pool2d_backward(np.ones((2, 4, 4, 6), np.float32),
                                                                      np.zeros((2, 6, 4, 4), np.int64),
                                                                      x.shape, data_format="NHWC"),
                                   ValueError, r"indices must have the shape of grad_output"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_nhwc_arguments_raise_naming_them(case, rng):
    x = random_array(rng, (2, 8, 8, 6), np.float32)
    w = random_array(rng, (3, 3, 6, 4), np.float32)
    call, error, message = BAD[case]
    with pytest.raises(error, match=message):
        call(x, w)


def test_nn_layers_in_nhwc_match_the_nchw_net(rng):
    """A conv / batch-norm / pool / flatten / linear net in NHWC gives the NCHW
    net's loss gradients (weights copied across: OIHW -> HWIO)."""
    from cconv import nn

    def net(fmt):
        return nn.Sequential(
            nn.Conv2d(3, 16, 3, data_format=fmt, dtype=np.float64),
            nn.BatchNormalization(0.9, data_format=fmt, dtype=np.float64),
            nn.ChannelwiseScaling(16, data_format=fmt, dtype=np.float64), nn.ReLU(),
            nn.MaxPool2d(2, data_format=fmt), nn.AvgPool2d(2, padding="SAME", data_format=fmt),
            nn.Flatten())

    nchw, nhwc = net("NCHW"), net("NHWC")
    nhwc[0].W[...] = nchw[0].W.transpose(2, 3, 1, 0)
    nhwc[0].b[...] = nchw[0].b
    nhwc[2].gamma[...] = nchw[2].gamma = rng.uniform(0.5, 1.5, 16)
    x = rng.standard_normal((4, 3, 9, 9))
    y_nchw = nchw.forward(x)
    y_nhwc = nhwc.forward(np.ascontiguousarray(x.transpose(0, 2, 3, 1)))
    # Flatten orders features differently: compare per layout before it
    pooled = nhwc[5].output
    np.testing.assert_allclose(pooled.transpose(0, 3, 1, 2), nchw[5].output, rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(y_nchw.shape)
    gx_nchw = nchw.backward(x, g)
    g_nhwc = g.reshape(nchw[5].output.shape).transpose(0, 2, 3, 1).reshape(y_nhwc.shape)
    gx_nhwc = nhwc.backward(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), g_nhwc)
    np.testing.assert_allclose(gx_nhwc.transpose(0, 3, 1, 2), gx_nchw, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(nhwc[0].gradW, nchw[0].gradW.transpose(2, 3, 1, 0), rtol=1e-9,
                               atol=1e-12)
    np.testing.assert_allclose(nhwc[2].gradGamma, nchw[2].gradGamma, rtol=1e-9, atol=1e-12)
    assert "data_format='NHWC'" in repr(nhwc[0])
