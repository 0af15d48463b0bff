"""conv2d and conv2d_backward against torch (float64, from the same inputs) and
against tests/reference.py, on every micro-kernel set this CPU runs."""
import itertools
from typing import NamedTuple, Union

import numpy as np
import pytest

import cconv
import reference as ref
from conftest import DTYPES, assert_close, random_array, using_threads

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


class Conv(NamedTuple):
    name: str
    n: int
    c: int
    h: int
    w: int
    k: int
    r: int
    s: int
    stride: Union[int, tuple] = 1
    padding: Union[int, tuple, str] = 0
    dilation: Union[int, tuple] = 1
    groups: int = 1
    bias: bool = True

    @property
    def params(self):
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                    groups=self.groups)

    def output_shape(self):
        oh, ow = ref.conv2d_output_hw((self.h, self.w), (self.r, self.s), self.stride,
                                      self.padding, self.dilation)
        return (self.n, self.k, oh, ow)

    def arrays(self, rng, dtype):
        """x, weight, bias (or None) and a grad_output, all of `dtype`."""
        x = random_array(rng, (self.n, self.c, self.h, self.w), dtype)
        weight = random_array(rng, (self.k, self.c // self.groups, self.r, self.s), dtype)
        bias = random_array(rng, (self.k,), dtype) if self.bias else None
        grad_output = random_array(rng, self.output_shape(), dtype)
        return x, weight, bias, grad_output


# Vector tails: K in {1, 5, 7, 17, 70} and C in {1, 3, 13} are no multiple of any
# SIMD width; output widths 17 and 35 leave a tail after full 16-wide tiles.
CASES = [
    Conv("3x3", 2, 3, 9, 11, 5, 3, 3),
    Conv("3x3-pad1", 2, 3, 8, 8, 7, 3, 3, padding=1),
    Conv("stride2-pad1", 2, 3, 10, 13, 7, 3, 3, stride=2, padding=1),
    Conv("stride-padding-pairs", 1, 13, 11, 9, 17, 3, 5, stride=(2, 1), padding=(1, 2)),
    # the last input row and the last two columns are never read
    Conv("stride3-leaves-input-unread", 1, 3, 10, 11, 5, 3, 3, stride=3),
    Conv("stride-exceeds-kernel", 2, 3, 11, 11, 5, 2, 2, stride=3),
    Conv("dilation2", 2, 3, 12, 12, 5, 3, 3, padding=2, dilation=2),
    Conv("dilation-pairs", 1, 4, 13, 15, 6, 3, 2, stride=(1, 2), padding=(0, 1),
         dilation=(2, 3), bias=False),
    Conv("groups2", 2, 6, 9, 9, 4, 3, 3, padding=1, groups=2),
    Conv("groups3-tails", 1, 9, 7, 19, 15, 3, 3, padding=1, groups=3),
    Conv("depthwise", 2, 13, 10, 10, 13, 3, 3, padding=1, groups=13),
    Conv("depthwise-multiplier2-stride2", 1, 5, 8, 9, 10, 3, 3, stride=2, padding=1, groups=5),
    Conv("1x1-K70", 2, 13, 7, 17, 70, 1, 1),
    Conv("1x1-stride2-nobias", 1, 3, 9, 9, 17, 1, 1, stride=2, bias=False),
    Conv("kernel-is-input", 2, 3, 5, 7, 5, 5, 7),
    Conv("kernel-is-padded-input", 1, 2, 3, 4, 7, 5, 6, padding=1),
    Conv("K1-C1", 3, 1, 12, 20, 1, 3, 3, padding=1),
    Conv("OW35", 1, 3, 6, 37, 7, 3, 3),
    Conv("OW17-K70-C13", 1, 13, 5, 19, 70, 3, 3, bias=False),
    Conv("single-row", 2, 3, 1, 21, 5, 1, 3),
    Conv("padding-exceeds-kernel", 1, 2, 5, 5, 3, 3, 3, padding=3),
    Conv("same-odd", 2, 3, 8, 9, 5, 3, 3, padding="same"),
    # total padding 3 rows / 1 column: the extra one goes bottom / right
    Conv("same-even-asymmetric", 1, 3, 8, 9, 5, 4, 2, padding="same"),
    # total padding 1 row / 9 columns
    Conv("same-even-dilated", 1, 3, 9, 10, 7, 2, 4, padding="same", dilation=(1, 3)),
    Conv("same-groups", 1, 4, 7, 7, 6, 2, 2, padding="same", groups=2),
    Conv("valid", 2, 3, 8, 9, 5, 3, 2, padding="valid"),
    Conv("batch0", 0, 3, 7, 7, 5, 3, 3, padding=1),
    # channel-lane tiles: K = 32 and 64 fill whole AVX-512 tiles, K = 48 ends
    # in a masked half tile, K = 16 is half of one
    Conv("lanes-K32-pad1", 2, 5, 7, 9, 32, 3, 3, padding=1),
    Conv("lanes-K48", 2, 4, 8, 11, 48, 3, 3),
    Conv("lanes-K64-C33", 1, 33, 6, 7, 64, 3, 3, padding=1, bias=False),
    Conv("lanes-K16-5x5", 3, 2, 9, 9, 16, 5, 5, padding=2),
    # float32 K = 16 on rows that waste under a fifth of the positions takes
    # position lanes with AVX-512 (channel lanes with AVX2); C = 16 in dX
    Conv("K16-wide-rows", 3, 5, 6, 14, 16, 3, 3, padding=1),
    Conv("C16-wide-rows", 2, 16, 5, 20, 8, 3, 3, padding=1),
    Conv("1x1-K96", 2, 19, 5, 6, 96, 1, 1),
    # 1x1 stride-1 input gradients are the forward with W^T, per group; with
    # padding they still go through col2im
    Conv("1x1-grouped", 3, 14, 5, 7, 10, 1, 1, groups=2),
    Conv("1x1-pad1", 2, 3, 4, 5, 6, 1, 1, padding=1),
    Conv("stride2-K80", 1, 7, 11, 12, 80, 3, 3, stride=2, padding=1),
    # a first layer's dW is one tile: partial sums over blocks of 16 images
    Conv("first-layer-batch37", 37, 1, 9, 10, 6, 5, 5, padding=2),
    # K < 16 at stride 1 with a batch of 32+: pixels in the lanes (dot_rows),
    # with row tails (OW 22, 33), K past one 6-channel tile, 3 of 4 taps
    Conv("pixel-lanes-K7-dilated", 33, 3, 11, 21, 7, 3, 2, padding=(2, 1), dilation=(2, 1)),
    Conv("pixel-lanes-K13-OW33", 40, 2, 5, 35, 13, 1, 3, bias=False),
    # strided, small images: im2col tiles across image boundaries (9 x 25 pixels)
    Conv("batched-small-images", 9, 5, 9, 9, 70, 3, 3, stride=2, padding=1),
    # stride 1, one row block per image and several images per thread: each
    # thread's padded copy keeps its zeros from image to image (position and
    # channel lanes; the input gradient pads dY by kernel - 1 - padding)
    Conv("direct-images-share-halo", 7, 3, 9, 8, 5, 3, 3, padding=2),
    Conv("lanes-K16-images-share-halo", 9, 4, 7, 7, 16, 5, 5, padding=1),
    # channel lanes in one tap chunk: the tile goes transposed straight into
    # y's planes (planes kernels), 81 positions ending in a partial tile; K = 48
    # leaves the AVX-512 tile's last vector masked
    Conv("planes-K64-one-chunk", 2, 16, 9, 9, 64, 3, 3, padding=1),
    Conv("planes-K48-masked", 2, 8, 9, 9, 48, 3, 3, padding=1),
    # strided convs read x through phase planes: even padding, an odd width
    # (the even phase one cell longer), and a stride past the planes' limit
    Conv("stride2-pad2-5x5", 2, 3, 11, 12, 5, 5, 5, stride=2, padding=2),
    Conv("stride2-pad0-odd-width", 2, 4, 9, 13, 6, 3, 3, stride=2),
    Conv("stride9-gathers", 1, 2, 20, 21, 3, 3, 3, stride=9, padding=1),
    # strided input gradients as one direct conv per phase of dX (4+ images):
    # phases no tap reaches (stride 3, kernel 2), dilation sharing a factor
    # with the stride, unequal strides with dilation, 5x5 with even padding
    Conv("dx-phases-stride3-kernel2", 4, 3, 11, 10, 5, 2, 2, stride=3),
    Conv("dx-phases-dilation2-stride2", 4, 5, 13, 12, 7, 3, 3, stride=2, padding=2,
         dilation=2),
    Conv("dx-phases-stride-pairs-dilated", 5, 4, 13, 15, 6, 3, 2, stride=(3, 2),
         padding=(1, 0), dilation=(2, 3), bias=False),
    Conv("dx-phases-5x5-K32", 4, 16, 12, 11, 32, 5, 5, stride=2, padding=2),
    # the phases' weights as channel-lane panels of dX's channels: two of 16,
    # and 48 (AVX-512: one tile, its last vector masked)
    Conv("dx-phases-lanes-C32", 4, 32, 10, 9, 16, 3, 3, stride=2, padding=1),
    Conv("dx-phases-lanes-C48", 4, 48, 9, 9, 8, 3, 3, stride=2, padding=1),
    # strided, whole images an item, 14 x 14 outputs ending in 4 columns past
    # whole tiles (K = 20: masked lanes; and per group)
    Conv("stride2-lane-tail", 8, 3, 28, 28, 20, 3, 3, stride=2, padding=1),
    Conv("stride2-lane-tail-grouped", 8, 4, 28, 27, 10, 3, 3, stride=2, padding=1, groups=2),
    # K = 32 strided: channel lanes over the phase planes, partial position
    # tiles in place of the tails item (the im2col panels are not packed)
    Conv("stride2-channel-lanes-14x14", 8, 3, 28, 28, 32, 3, 3, stride=2, padding=1),
    # weights of 64K+ elements are packed by every thread, a slice of 48 output
    # channels each, here ending in partial slices: channel lanes (forward and
    # input gradient) and, strided and grouped, the MR-row panels
    Conv("packed-in-slices-K80-C96", 1, 96, 5, 6, 80, 3, 3, padding=1),
    Conv("packed-in-slices-grouped-stride2", 1, 160, 5, 5, 200, 3, 3, stride=2,
         padding=1, groups=2),
    # strided channel lanes: panels of channels packed in 48-channel slices
    # (with AVX-512's 64-wide panels two threads share one)
    Conv("packed-in-slices-stride2-lanes-K80", 1, 96, 7, 7, 80, 3, 3, stride=2, padding=1),
    # float32 weight gradient of one 16-channel block split by images (blocks
    # of 16, the last one short); at 241 images their partials pass 4 MiB and
    # go in waves of one block per thread
    Conv("dw-by-images", 70, 3, 6, 6, 16, 3, 3, padding=1),
    Conv("dw-by-images-in-waves", 241, 512, 3, 3, 16, 3, 3),
]
CASE_IDS = [case.name for case in CASES]


def torch_conv2d(torch, case, x, weight, bias, grad_output):
    """torch's y and (grad_input, grad_weight, grad_bias), in float64."""
    F = torch.nn.functional

    def leaf(a):
        return torch.tensor(np.asarray(a, np.float64), requires_grad=True)

    tx, tw = leaf(x), leaf(weight)
    y = F.conv2d(tx.detach(), tw.detach(), None if bias is None else leaf(bias), **case.params)
    # conv2d_backward always has a grad_bias: differentiate with a (zero) bias
    tb = leaf(np.zeros(case.k) if bias is None else bias)
    F.conv2d(tx, tw, tb, **case.params).backward(
        torch.tensor(np.asarray(grad_output, np.float64)))
    return y.detach().numpy(), (tx.grad.numpy(), tw.grad.numpy(), tb.grad.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_conv2d_matches_torch(case, dtype, simd_path, rng, torch):
    x, weight, bias, grad_output = case.arrays(rng, dtype)
    expected, _ = torch_conv2d(torch, case, x, weight, bias, grad_output)
    assert_close(cconv.conv2d(x, weight, bias, **case.params), expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_conv2d_backward_matches_torch(case, dtype, simd_path, rng, torch):
    x, weight, bias, grad_output = case.arrays(rng, dtype)
    _, expected = torch_conv2d(torch, case, x, weight, bias, grad_output)
    grads = cconv.conv2d_backward(grad_output, x, weight, **case.params)
    for name, ours, theirs in zip(("grad_input", "grad_weight", "grad_bias"), grads, expected):
        assert ours is not None, name
        assert_close(ours, theirs, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_conv2d_matches_reference(case, dtype, simd_path, rng):
    x, weight, bias, _ = case.arrays(rng, dtype)
    expected = ref.conv2d(x, weight, bias, **case.params)
    assert_close(cconv.conv2d(x, weight, bias, **case.params), expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_conv2d_backward_matches_reference(case, dtype, simd_path, rng):
    x, weight, _, grad_output = case.arrays(rng, dtype)
    expected = ref.conv2d_backward(grad_output, x, weight, **case.params)
    grads = cconv.conv2d_backward(grad_output, x, weight, **case.params)
    for ours, theirs in zip(grads, expected):
        assert_close(ours, theirs, dtype)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_reference_conv2d_matches_torch(case, rng, torch):
    """The oracle of the torch-less runs is itself right."""
    x, weight, bias, grad_output = case.arrays(rng, np.float64)
    y, grads = torch_conv2d(torch, case, x, weight, bias, grad_output)
    np.testing.assert_allclose(ref.conv2d(x, weight, bias, **case.params), y,
                               rtol=1e-12, atol=1e-12)
    for ours, theirs in zip(ref.conv2d_backward(grad_output, x, weight, **case.params), grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_conv2d_hand_computed():
    # 2x2 box filter, stride 2, over 0..15: each output sums one 2x2 block.
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    y = cconv.conv2d(x, np.ones((1, 1, 2, 2)), np.array([0.5]), stride=2)
    np.testing.assert_array_equal(y, [[[[10.5, 18.5], [42.5, 50.5]]]])
    # grad_output of ones: each input pixel is in exactly one window
    gx, gw, gb = cconv.conv2d_backward(np.ones((1, 1, 2, 2)), x, np.ones((1, 1, 2, 2)), stride=2)
    np.testing.assert_array_equal(gx, np.ones((1, 1, 4, 4)))
    np.testing.assert_array_equal(gw, [[[[0 + 2 + 8 + 10, 1 + 3 + 9 + 11],
                                         [4 + 6 + 12 + 14, 5 + 7 + 13 + 15]]]])
    np.testing.assert_array_equal(gb, [4.0])


MASK_CASE = Conv("mask", 2, 6, 7, 9, 4, 3, 2, stride=(2, 1), padding=1, groups=2)


@pytest.mark.parametrize("mask", list(itertools.product([True, False], repeat=3)),
                         ids=lambda m: "".join("1" if b else "0" for b in m))
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_backward_output_mask(mask, dtype, rng):
    x, weight, _, grad_output = MASK_CASE.arrays(rng, dtype)
    expected = ref.conv2d_backward(grad_output, x, weight, **MASK_CASE.params)
    grads = cconv.conv2d_backward(grad_output, x, weight, output_mask=mask, **MASK_CASE.params)
    assert len(grads) == 3
    for wanted, ours, theirs in zip(mask, grads, expected):
        if wanted:
            assert_close(ours, theirs, dtype)
        else:
            assert ours is None


# Enough images, channels and rows that two threads both get work in every kernel.
THREAD_CASE = Conv("threads", 4, 5, 15, 21, 17, 3, 3, stride=1, padding=1, groups=1)
THREAD_CASE_GROUPED = Conv("threads-grouped", 3, 6, 11, 19, 9, 3, 2, stride=(2, 1),
                           padding=(1, 0), dilation=(1, 2), groups=3)


@pytest.mark.parametrize("case", [THREAD_CASE, THREAD_CASE_GROUPED], ids=lambda c: c.name)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_thread_count_does_not_change_results(case, dtype, simd_path, rng):
    x, weight, bias, grad_output = case.arrays(rng, dtype)
    results = {}
    for threads in (1, 2):
        with using_threads(threads):
            assert cconv.get_num_threads() in (1, threads)   # 1 in a serial build
            results[threads] = (cconv.conv2d(x, weight, bias, **case.params),
                                *cconv.conv2d_backward(grad_output, x, weight, **case.params))
    # only the order of float additions may differ
    rtol = 1e-5 if dtype == np.float32 else 1e-13
    for one, two in zip(results[1], results[2]):
        assert_close(two, one, dtype, rtol=rtol)
    assert_close(results[1][0], ref.conv2d(x, weight, bias, **case.params), dtype)


def _awkward_layouts(a):
    """The same values as a Fortran-order copy, a strided view and a read-only array."""
    fortran = np.asfortranarray(a)
    strided = np.repeat(a, 2, axis=-1)[..., ::2]
    readonly = a.copy()
    readonly.setflags(write=False)
    assert not strided.flags.c_contiguous and not fortran.flags.c_contiguous
    return [fortran, strided, readonly]


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_accepts_any_layout_and_leaves_inputs_alone(dtype, rng):
    case = Conv("layouts", 2, 4, 6, 7, 6, 3, 2, padding=1, groups=2)
    x, weight, bias, grad_output = case.arrays(rng, dtype)
    y = cconv.conv2d(x, weight, bias, **case.params)
    grads = cconv.conv2d_backward(grad_output, x, weight, **case.params)
    for xl, wl, gl in zip(_awkward_layouts(x), _awkward_layouts(weight),
                          _awkward_layouts(grad_output)):
        before = [a.copy() for a in (xl, wl, gl)]
        assert_close(cconv.conv2d(xl, wl, bias, **case.params), y, dtype)
        for ours, theirs in zip(cconv.conv2d_backward(gl, xl, wl, **case.params), grads):
            assert_close(ours, theirs, dtype)
        for a, b in zip((xl, wl, gl), before):
            np.testing.assert_array_equal(a, b)
    out = cconv.conv2d(x, weight, bias, **case.params)
    assert not np.shares_memory(out, x)
