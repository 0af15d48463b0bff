"""cconv._shapes: output-size arithmetic against torch's (on shape-only 'meta' tensors)."""
import itertools

import pytest

from cconv import _shapes

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _meta(*shape):
    return torch.empty(*shape, device="meta")


def _torch_size(fn):
    """The last spatial size torch computes, or None where torch refuses."""
    try:
        return fn().shape[-1]
    except RuntimeError:
        return None


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("dilation", [1, 2, 3])
def test_conv_output_size_matches_torch(stride, dilation):
    for size, kernel, pad in itertools.product(range(1, 10), range(1, 5), range(3)):
        ours = _shapes.conv_output_size(size, kernel, stride, pad, pad, dilation)
        theirs = _torch_size(lambda: F.conv2d(_meta(1, 1, 1, size), _meta(1, 1, 1, kernel),
                                              stride=stride, padding=pad, dilation=dilation))
        if theirs is None:
            # torch refuses exactly where the kernel does not fit: our size is < 1
            assert ours < 1, (size, kernel, stride, pad, dilation)
        else:
            assert ours == theirs, (size, kernel, stride, pad, dilation)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("kernel_hw", [(1, 1), (2, 3), (3, 2), (4, 4), (5, 1)])
@pytest.mark.parametrize("dilation_hw", [(1, 1), (2, 1), (1, 3), (2, 2)])
def test_conv_same_padding_puts_the_odd_pixel_bottom_right(kernel_hw, dilation_hw):
    (top, bottom), (left, right) = _shapes.conv2d_padding("same", kernel_hw, dilation_hw)
    assert top + bottom == dilation_hw[0] * (kernel_hw[0] - 1)
    assert left + right == dilation_hw[1] * (kernel_hw[1] - 1)
    x = torch.randn(1, 2, 7, 6, dtype=torch.float64)
    w = torch.randn(3, 2, *kernel_hw, dtype=torch.float64)
    same = F.conv2d(x, w, padding="same", dilation=dilation_hw)
    ours = F.conv2d(F.pad(x, (left, right, top, bottom)), w, dilation=dilation_hw)
    assert same.shape == ours.shape == (1, 3, 7, 6)
    torch.testing.assert_close(same, ours, rtol=0, atol=1e-12)
    assert _shapes.conv2d_output_shape(
        x.shape, w.shape, (1, 1), ((top, bottom), (left, right)), dilation_hw) == (1, 3, 7, 6)


def test_conv2d_padding_valid_and_pairs():
    assert _shapes.conv2d_padding("valid", (3, 3), (1, 1)) == ((0, 0), (0, 0))
    assert _shapes.conv2d_padding((2, 1), (3, 3), (1, 1)) == ((2, 2), (1, 1))


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_pooling_output_size_matches_torch(ceil_mode, dilation, stride):
    for size, kernel in itertools.product(range(1, 12), range(1, 6)):
        for pad in range(kernel // 2 + 1):    # torch's pad <= kernel // 2 rule
            ours = _shapes.pooling_output_size(size, kernel, pad, stride, dilation, ceil_mode)
            theirs = _torch_size(lambda: F.max_pool2d(
                _meta(1, 1, 1, size), (1, kernel), stride=(1, stride), padding=(0, pad),
                dilation=(1, dilation), ceil_mode=ceil_mode))
            case = (size, kernel, pad, stride, dilation, ceil_mode)
            if theirs is None:
                assert ours < 1, case
            else:
                assert ours == theirs, case
                if dilation == 1:
                    avg = F.avg_pool2d(_meta(1, 1, 1, size), (1, kernel), stride=(1, stride),
                                       padding=(0, pad), ceil_mode=ceil_mode)
                    assert avg.shape[-1] == ours, case


def test_ceil_mode_drops_a_window_that_starts_in_the_right_padding():
    # size 5, kernel 2, stride 2, pad 1: windows start at -1, 1, 3 and (ceil) 5 = in + pad
    assert _shapes.pooling_output_size(5, 2, 1, 2, 1, ceil_mode=False) == 3
    assert _shapes.pooling_output_size(5, 2, 1, 2, 1, ceil_mode=True) == 3
    assert _shapes.pooling_output_size(6, 2, 1, 2, 1, ceil_mode=True) == 4


def test_pool2d_output_shape_per_axis():
    shape = _shapes.pool2d_output_shape((2, 3, 9, 7), (3, 2), (2, 1), (1, 0), (1, 2), False)
    expected = F.max_pool2d(_meta(2, 3, 9, 7), (3, 2), (2, 1), (1, 0), (1, 2)).shape
    assert shape == tuple(expected)


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("pad", [0, 1, 2])
def test_im2col_sizes_follow_the_scratch_formula(stride, pad):
    for size, filt in itertools.product(range(1, 9), range(1, 5)):
        expected = (size + 2 * pad - filt) // stride + 1
        assert _shapes.im2col_output_size(size, filt, stride, pad) == expected
        # it is a convolution's size with dilation 1 and symmetric padding
        assert expected == _shapes.conv_output_size(size, filt, stride, pad, pad, 1)
    (oh, ow), col = _shapes.im2col_shapes((2, 3, 8, 6), 3, 2, stride, pad)
    assert col == (2 * oh * ow, 3 * 3 * 2)
    # the layout of F.unfold, transposed: same number of patches and patch length
    unfolded = F.unfold(_meta(2, 3, 8, 6), (3, 2), stride=stride, padding=pad)
    assert unfolded.shape == (2, col[1], oh * ow)


def test_sizes_are_exact_python_ints_for_huge_values():
    huge = 2**70
    assert _shapes.conv_output_size(huge, 1, 1, 0, 0, 1) == huge
    assert _shapes.pooling_output_size(huge, 3, 1, 1, 1, True) == huge
