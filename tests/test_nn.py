"""cconv.nn modules against the equivalent torch modules (float64, weights copied
across): output, gradInput and parameter gradients; then the module protocol
itself (accumulation, dtypes, containers) and LeNet-5 end to end."""
import numpy as np
import pytest

from cconv import functional as F
from cconv import nn
from conftest import DTYPES, assert_close

torch = pytest.importorskip("torch")


def _t(array):
    return torch.from_numpy(np.asarray(array, dtype=np.float64).copy())


def check_module(module, torch_module, x, rng, params=(), rtol=None):
    """Run `module` and `torch_module` (weights copied from `module`) forward and
    backward on x with one random gradOutput and compare everything.
    params: (our parameter, our gradient, torch parameter) names."""
    dtype = np.result_type(np.float32, x.dtype, *[getattr(module, p).dtype for p, _, _ in params])
    torch_module = torch_module.double()
    with torch.no_grad():
        for ours, _, theirs in params:
            getattr(torch_module, theirs).copy_(_t(getattr(module, ours)))
    tx = _t(x).requires_grad_()
    expected = torch_module(tx)
    out = module.forward(x)
    assert_close(out, expected.detach().numpy(), dtype, rtol)

    grad_output = rng.standard_normal(out.shape).astype(dtype)
    expected.backward(_t(grad_output))
    grad_input = module.backward(x, grad_output)
    assert grad_input is module.gradInput
    assert_close(grad_input, tx.grad.numpy(), dtype, rtol)
    for ours, grad, theirs in params:
        assert getattr(module, grad).dtype == getattr(module, ours).dtype
        assert_close(getattr(module, grad), getattr(torch_module, theirs).grad.numpy(),
                     getattr(module, ours).dtype, rtol)
    return out, grad_input


def images(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


WB = [("W", "gradW", "weight"), ("b", "gradb", "bias")]


# ---------------------------------------------------------------- layers with weights

@pytest.mark.parametrize("dtype", DTYPES)
def test_linear(rng, dtype):
    m = nn.Linear(7, 5, dtype=dtype)
    assert m.W.shape == (5, 7) and m.b.shape == (5,) and m.W.dtype == dtype
    check_module(m, torch.nn.Linear(7, 5), images(rng, (4, 7), dtype), rng, WB)


def test_linear_without_bias(rng):
    m = nn.Linear(6, 3, bias=False)
    check_module(m, torch.nn.Linear(6, 3, bias=False), images(rng, (5, 6), np.float32), rng, WB[:1])
    assert m.getParameters() == [m.W]


CONVS = [
    dict(in_channels=1, out_channels=6, kernel_size=5),                 # default: 'same'
    dict(in_channels=3, out_channels=4, kernel_size=3, padding=0),
    dict(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=1),
    dict(in_channels=2, out_channels=4, kernel_size=(3, 2), padding="valid", dilation=2),
    dict(in_channels=4, out_channels=6, kernel_size=3, groups=2, bias=False),
    dict(in_channels=2, out_channels=3, kernel_size=4),                 # even 'same': asymmetric
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", CONVS, ids=lambda c: repr(nn.Conv2d(**c)))
def test_conv2d(rng, dtype, config):
    m = nn.Conv2d(**config, dtype=dtype)
    kwargs = {k: v for k, v in config.items()}
    kwargs.setdefault("padding", "same")
    x = images(rng, (3, config["in_channels"], 9, 8), dtype)
    params = WB if config.get("bias", True) else WB[:1]
    out, _ = check_module(m, torch.nn.Conv2d(**kwargs), x, rng, params)
    if config.get("padding", "same") == "same":
        assert out.shape[2:] == x.shape[2:]


def test_conv2d_updateGradInput_and_accGradParameters_match_backward(rng):
    m = nn.Conv2d(3, 4, 3)
    x = images(rng, (2, 3, 6, 6), np.float32)
    g = images(rng, (2, 4, 6, 6), np.float32)
    m.forward(x)
    fused = m.backward(x, g).copy()
    grads = [a.copy() for a in m.getGradParameters()]
    m.zeroGradParameters()
    np.testing.assert_array_equal(m.updateGradInput(x, g), fused)
    m.accGradParameters(x, g)
    for a, b in zip(m.getGradParameters(), grads):
        np.testing.assert_array_equal(a, b)


def test_needs_gradInput_false_skips_input_gradient(rng):
    for m, x in ((nn.Conv2d(1, 2, 3), images(rng, (2, 1, 5, 5), np.float32)),
                 (nn.Linear(4, 3), images(rng, (2, 4), np.float32))):
        m.needs_gradInput = False
        out = m.forward(x)
        assert m.backward(x, np.ones_like(out)) is None
        assert np.abs(m.getGradParameters()[0]).sum() > 0


def test_mixed_dtypes_follow_numpy_promotion(rng):
    conv, lin = nn.Conv2d(2, 3, 3), nn.Linear(4, 2)          # float32 parameters
    x64 = images(rng, (2, 2, 5, 5), np.float64)
    assert conv.forward(x64).dtype == np.float64
    assert conv.backward(x64, np.ones((2, 3, 5, 5))).dtype == np.float64
    assert conv.gradW.dtype == np.float32                      # gradients keep the parameters' dtype
    assert conv.forward(x64.astype(np.float32)).dtype == np.float32
    assert conv.forward((x64 > 0).astype(np.uint8)).dtype == np.float32
    assert lin.forward(images(rng, (3, 4), np.float64)).dtype == np.float64


# ---------------------------------------------------------------- pooling

POOLS = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), stride=(2, 1)),
    dict(kernel_size=2, ceil_mode=True),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", POOLS, ids=repr)
def test_max_pool2d(rng, dtype, config):
    m = nn.MaxPool2d(**config)
    x = images(rng, (2, 3, 9, 7), dtype)        # not divisible by the kernel: floors like torch
    check_module(m, torch.nn.MaxPool2d(**config), x, rng)
    _, expected = torch.nn.functional.max_pool2d(_t(x), **config, return_indices=True)
    np.testing.assert_array_equal(m.max_indices, expected.numpy())


def test_max_pool2d_dilation(rng):
    check_module(nn.MaxPool2d(2, dilation=2), torch.nn.MaxPool2d(2, dilation=2),
                 images(rng, (2, 2, 8, 8), np.float32), rng)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", POOLS + [dict(kernel_size=3, padding=1, count_include_pad=False),
                                            dict(kernel_size=2, divisor_override=3)], ids=repr)
def test_avg_pool2d(rng, dtype, config):
    check_module(nn.AvgPool2d(**config), torch.nn.AvgPool2d(**config),
                 images(rng, (2, 3, 9, 7), dtype), rng)


# ---------------------------------------------------------------- elementwise and softmax

ELEMENTWISE = [
    (nn.ReLU, torch.nn.ReLU),
    (lambda: nn.LeakyReLU(), lambda: torch.nn.LeakyReLU(0.03)),
    (lambda: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2)),
    (nn.ELU, torch.nn.ELU),
    (lambda: nn.ELU(0.5), lambda: torch.nn.ELU(0.5)),
    (nn.SoftPlus, torch.nn.Softplus),
    (nn.SoftMax, lambda: torch.nn.Softmax(dim=1)),
    (nn.LogSoftMax, lambda: torch.nn.LogSoftmax(dim=1)),
    (nn.Flatten, torch.nn.Flatten),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make, make_torch", ELEMENTWISE, ids=lambda f: repr(f()))
def test_elementwise(rng, dtype, make, make_torch):
    x = images(rng, (4, 6), dtype) * 3
    check_module(make(), make_torch(), x, rng)
    check_module(make(), make_torch(), images(rng, (2, 3, 4, 5), dtype), rng)


@pytest.mark.parametrize("make", [nn.SoftMax, nn.LogSoftMax, nn.SoftPlus, nn.ELU])
def test_extreme_inputs_stay_finite(make):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 88.0]], np.float32)
    m = make()
    assert np.all(np.isfinite(m.forward(x)))
    assert np.all(np.isfinite(m.backward(x, np.ones_like(x))))


def test_relu_does_not_modify_its_input(rng):
    x = images(rng, (3, 4), np.float32)
    before = x.copy()
    m = nn.ReLU()
    m.forward(x)
    m.backward(x, np.ones_like(x))
    np.testing.assert_array_equal(x, before)


# ---------------------------------------------------------------- dropout

def test_dropout_training_is_inverted_and_backward_uses_the_mask(rng):
    m = nn.Dropout(0.3, rng=np.random.default_rng(0))
    x = np.ones((200, 500), np.float32)
    out = m.forward(x)
    kept = out != 0
    np.testing.assert_array_equal(kept, m.mask == 1)
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(out[kept], 1 / 0.7, rtol=1e-6)
    g = images(rng, x.shape, np.float32)
    np.testing.assert_allclose(m.backward(x, g), g * out, rtol=1e-6)


def test_dropout_is_identity_in_evaluate_mode_and_for_p0(rng):
    x = images(rng, (5, 4), np.float32)
    m = nn.Dropout(0.5).evaluate()
    np.testing.assert_array_equal(m.forward(x), x)
    np.testing.assert_array_equal(m.backward(x, x), x)
    np.testing.assert_array_equal(nn.Dropout(0.0).forward(x), x)
    assert np.all(nn.Dropout(1.0).forward(x) == 0)
    with pytest.raises(ValueError):
        nn.Dropout(1.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [0.25, 0.3, 1.0])
def test_dropout_draws_one_seed_per_forward_and_scales_the_kept(dtype, p):
    x = images(np.random.default_rng(1), (64, 50), dtype)
    m = nn.Dropout(p, rng=np.random.default_rng(5))
    seeds = np.random.default_rng(5)
    scale = dtype(1 / (1 - p)) if p < 1 else 0
    masks = []
    for _ in range(2):
        out = m.forward(x)
        expected, mask = F.dropout(x, p, int(seeds.integers(2**63)))
        assert m.mask.dtype == np.uint8 and out.dtype == dtype
        np.testing.assert_array_equal(m.mask, mask)
        np.testing.assert_array_equal(out, expected)
        np.testing.assert_array_equal(out, x * m.mask * scale)
        g = images(np.random.default_rng(2), x.shape, dtype)
        np.testing.assert_array_equal(m.backward(x, g), g * m.mask * scale)
        masks.append(m.mask)
    assert p == 1 or not np.array_equal(*masks)     # a fresh mask each forward


def test_dropout_follows_numpy_promotion():
    m = nn.Dropout(0.5, rng=np.random.default_rng(0))
    assert m.forward(np.ones((4, 5), np.uint8)).dtype == np.float32
    assert m.forward(np.ones((4, 5), np.int64)).dtype == np.float64
    x64, g32 = np.ones((4, 5), np.float64), np.ones((4, 5), np.float32)
    assert m.forward(x64).dtype == np.float64
    assert m.backward(x64, g32).dtype == np.float64     # g32 * a float64 mask, as before
    assert m.forward(g32).dtype == np.float32
    assert m.backward(g32, g32).dtype == np.float32


def test_dropout_masks_repeat_after_np_random_seed():
    x = np.ones((10, 10))
    np.random.seed(3)
    a = nn.Dropout().forward(x)
    np.random.seed(3)
    np.testing.assert_array_equal(nn.Dropout().forward(x), a)


# ---------------------------------------------------------------- normalisation

@pytest.mark.parametrize("shape", [(16, 5), (4, 3, 5, 6)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_normalization_training(rng, shape, dtype):
    x = images(rng, shape, dtype) * 2 + 1
    norm = torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d
    m = nn.BatchNormalization(alpha=0.9)
    check_module(m, norm(shape[1], eps=1e-3, affine=False), x, rng)
    axes = (0,) if len(shape) == 2 else (0, 2, 3)
    # moving statistics: alpha * old + (1 - alpha) * batch, biased variance, from 0 and 1
    np.testing.assert_allclose(m.moving_mean, 0.1 * x.mean(axis=axes), rtol=1e-5)
    np.testing.assert_allclose(m.moving_variance, 0.9 + 0.1 * x.var(axis=axes), rtol=1e-5)


@pytest.mark.parametrize("shape", [(16, 5), (4, 3, 5, 6)])
def test_batch_normalization_evaluate(rng, shape):
    x = images(rng, shape, np.float64)
    m = nn.BatchNormalization()          # alpha=0: the moving statistics are the last batch's
    m.forward(x * 3 + 2)
    m.evaluate()
    norm = (torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d)(
        shape[1], eps=1e-3, affine=False).double().eval()
    norm.running_mean.copy_(_t(m.moving_mean))
    norm.running_var.copy_(_t(m.moving_variance))
    check_module(m, norm, x, rng)


@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 2, 5)])
def test_channelwise_scaling(rng, shape):
    m = nn.ChannelwiseScaling(4)
    m.gamma[:] = rng.standard_normal(4)
    m.beta[:] = rng.standard_normal(4)
    affine = torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d
    # torch's BatchNorm in eval mode with running stats 0 / 1 - eps is exactly gamma * x + beta
    t = affine(4, eps=1e-3).eval()
    t.running_var.fill_(1 - 1e-3)
    check_module(m, t, images(rng, shape, np.float32), rng,
                 [("gamma", "gradGamma", "weight"), ("beta", "gradBeta", "bias")])


# ---------------------------------------------------------------- the protocol

def test_backward_accumulates_until_zeroGradParameters(rng):
    m = nn.Linear(3, 2)
    x, g = images(rng, (4, 3), np.float32), images(rng, (4, 2), np.float32)
    m.forward(x)
    m.backward(x, g)
    once = [a.copy() for a in m.getGradParameters()]
    m.backward(x, g)
    for a, b in zip(m.getGradParameters(), once):
        np.testing.assert_allclose(a, 2 * b, rtol=1e-6)
    m.zeroGradParameters()
    assert all(not a.any() for a in m.getGradParameters())


def test_parameters_are_the_arrays_themselves():
    m = nn.Conv2d(1, 2, 3)
    W, b = m.getParameters()
    assert W is m.W and b is m.b
    gW, gb = m.getGradParameters()
    assert gW is m.gradW and gb is m.gradb


def test_float_and_double_convert_parameters_gradients_and_buffers(rng):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNormalization(n_features=2), nn.Flatten(),
                          nn.Linear(2 * 4 * 4, 3))
    assert all(a.dtype == np.float32 for layer in model.getParameters() for a in layer)
    assert model.double() is model
    arrays = [a for layer in model.getParameters() + model.getGradParameters() for a in layer]
    assert all(a.dtype == np.float64 for a in arrays + model[1].getBuffers())
    assert model.forward(images(rng, (2, 1, 4, 4), np.float32)).dtype == np.float64
    model.float()
    assert model.forward(images(rng, (2, 1, 4, 4), np.float32)).dtype == np.float32


def test_sequential_container():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    model.add(nn.Dropout())
    assert len(model) == 3 and isinstance(model[1], nn.ReLU) and model[-1] is model.modules[2]
    assert [type(m) for m in model] == [nn.Linear, nn.ReLU, nn.Dropout]
    params = model.getParameters()
    assert len(params) == 3 and len(params[0]) == 2 and params[1] == [] == params[2]
    model.evaluate()
    assert not model.training and not any(m.training for m in model)
    model.train()
    assert all(m.training for m in model)
    assert repr(model) == ("Sequential(\n  (0): Linear(4 -> 3)\n  (1): ReLU\n"
                           "  (2): Dropout(p=0.5)\n)")
    with pytest.raises(TypeError):
        model.add(torch.nn.ReLU())


def test_sequential_updateGradInput_then_accGradParameters_equals_backward(rng):
    model = nn.Sequential(nn.Linear(5, 4), nn.ELU(), nn.Linear(4, 2))
    x, g = images(rng, (3, 5), np.float64), images(rng, (3, 2), np.float64)
    model.forward(x)
    gi = model.backward(x, g).copy()
    grads = [a.copy() for layer in model.getGradParameters() for a in layer]
    model.zeroGradParameters()
    np.testing.assert_allclose(model.updateGradInput(x, g), gi)
    model.accGradParameters(x, g)
    for a, b in zip([a for layer in model.getGradParameters() for a in layer], grads):
        np.testing.assert_allclose(a, b)


def test_state_round_trip(rng):
    make = lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNormalization(), nn.Flatten(),  # noqa: E731
                                 nn.Linear(2 * 16, 3))
    a, b = make(), make()
    a.forward(images(rng, (2, 1, 4, 4), np.float32))   # allocates the moving statistics
    b.load_state({k: v.copy() for k, v in a.state().items()})
    x = images(rng, (2, 1, 4, 4), np.float32)
    np.testing.assert_array_equal(a.evaluate().forward(x), b.evaluate().forward(x))
    with pytest.raises(ValueError, match="missing"):
        make().load_state({"0.W": a[0].W})


# ---------------------------------------------------------------- LeNet-5 end to end

def torch_lenet():
    tn = torch.nn
    return tn.Sequential(tn.Conv2d(1, 6, 5, padding=2), tn.ReLU(), tn.MaxPool2d(2),
                         tn.Conv2d(6, 16, 5), tn.ReLU(), tn.MaxPool2d(2), tn.Flatten(),
                         tn.Linear(400, 120), tn.ReLU(), tn.Linear(120, 84), tn.ReLU(),
                         tn.Linear(84, 10))


@pytest.mark.parametrize("dtype", DTYPES)
def test_lenet5_end_to_end(rng, dtype):
    from cconv.models import lenet5
    model = lenet5(dtype=dtype)
    model[0].needs_gradInput = True
    reference = torch_lenet().double()
    with torch.no_grad():
        for ours, theirs in zip(model, reference):
            if ours.getParameters():
                theirs.weight.copy_(_t(ours.W))
                theirs.bias.copy_(_t(ours.b))
    x = images(rng, (8, 1, 28, 28), dtype)
    labels = rng.integers(0, 10, 8)
    tx = _t(x).requires_grad_()
    expected = reference(tx)
    loss = torch.nn.functional.cross_entropy(expected, torch.from_numpy(labels))
    loss.backward()

    criterion = nn.CrossEntropyCriterion()
    scores = model.forward(x)
    rtol = 1e-3 if dtype == np.float32 else 1e-9
    assert_close(scores, expected.detach().numpy(), dtype, rtol)
    assert criterion.forward(scores, labels) == pytest.approx(loss.item(), rel=rtol)
    grad_input = model.backward(x, criterion.backward(scores, labels))
    assert_close(grad_input, tx.grad.numpy(), dtype, rtol)
    for ours, theirs in zip(model, reference):
        if ours.getParameters():
            assert_close(ours.gradW, theirs.weight.grad.numpy(), dtype, rtol)
            assert_close(ours.gradb, theirs.bias.grad.numpy(), dtype, rtol)
