"""cconv.nn criterions against torch's losses (float64) and their formulas:
values and gradients, integer labels and one-hot targets, extreme logits."""
import numpy as np
import pytest

from cconv import nn

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _t(array, grad=False):
    return torch.tensor(np.asarray(array, dtype=np.float64), requires_grad=grad)


def one_hot(labels, n):
    rows = np.zeros((len(labels), n), np.float32)
    rows[np.arange(len(labels)), labels] = 1
    return rows


def check(criterion, x, target, torch_loss):
    """criterion's loss and gradient against torch autograd through torch_loss(tx)."""
    tx = _t(x, grad=True)
    expected = torch_loss(tx)
    expected.backward()
    loss = criterion.forward(x, target)
    assert isinstance(loss, float)
    rtol = 1e-5 if x.dtype == np.float32 else 1e-12
    assert loss == pytest.approx(expected.item(), rel=rtol, abs=rtol)
    grad = criterion.backward(x, target)
    assert grad.shape == x.shape and grad.dtype == x.dtype
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=rtol, atol=rtol * np.abs(tx.grad.numpy()).max())
    return loss, grad


@pytest.fixture(params=[np.float32, np.float64])
def dtype(request):
    return request.param


def test_mse(rng, dtype):
    x, y = rng.standard_normal((5, 3)).astype(dtype), rng.standard_normal((5, 3)).astype(dtype)
    # the homework normalises by the batch size, not the element count
    check(nn.MSECriterion(), x, y, lambda tx: F.mse_loss(tx, _t(y), reduction="sum") / 5)


@pytest.mark.parametrize("as_one_hot", [True, False])
def test_class_nll(rng, dtype, as_one_hot):
    log_p = np.log(rng.dirichlet(np.ones(4), size=6)).astype(dtype)
    labels = rng.integers(0, 4, 6)
    target = one_hot(labels, 4) if as_one_hot else labels
    check(nn.ClassNLLCriterion(), log_p, target, lambda tx: F.nll_loss(tx, torch.from_numpy(labels)))


@pytest.mark.parametrize("as_one_hot", [True, False])
def test_class_nll_unstable(rng, dtype, as_one_hot):
    p = rng.dirichlet(np.ones(4), size=6).astype(dtype)
    labels = rng.integers(0, 4, 6)
    target = one_hot(labels, 4) if as_one_hot else labels
    check(nn.ClassNLLCriterionUnstable(), p, target,
          lambda tx: -(_t(one_hot(labels, 4)) * tx.log()).sum() / 6)


def test_class_nll_unstable_clips_zero_probabilities():
    p = np.array([[1.0, 0.0], [0.5, 0.5]])
    c = nn.ClassNLLCriterionUnstable()
    eps = c.EPS
    labels = np.array([1, 0])
    assert c.forward(p, labels) == pytest.approx(-(np.log(eps) + np.log(0.5)) / 2)
    np.testing.assert_allclose(c.backward(p, labels), [[0, -1 / eps / 2], [-1 / 0.5 / 2, 0]])


@pytest.mark.parametrize("target_kind", ["labels", "one-hot", "soft"])
def test_cross_entropy(rng, dtype, target_kind):
    x = (rng.standard_normal((7, 10)) * 4).astype(dtype)
    labels = rng.integers(0, 10, 7)
    if target_kind == "labels":
        target, torch_target = labels, torch.from_numpy(labels)
    else:
        target = one_hot(labels, 10) if target_kind == "one-hot" else rng.dirichlet(np.ones(10), 7)
        torch_target = _t(target)
    check(nn.CrossEntropyCriterion(), x, target, lambda tx: F.cross_entropy(tx, torch_target))


def test_cross_entropy_equals_logsoftmax_then_nll(rng):
    x = rng.standard_normal((5, 3))
    labels = rng.integers(0, 3, 5)
    log_softmax, nll = nn.LogSoftMax(), nn.ClassNLLCriterion()
    log_p = log_softmax.forward(x)
    assert nn.CrossEntropyCriterion().forward(x, labels) == pytest.approx(nll.forward(log_p, labels))
    np.testing.assert_allclose(nn.CrossEntropyCriterion().backward(x, labels),
                               log_softmax.backward(x, nll.backward(log_p, labels)), atol=1e-15)


def test_cross_entropy_is_stable_for_huge_logits():
    x = np.array([[1e4, -1e4, 0.0], [-3e4, 2e4, 1e4]], np.float32)
    c = nn.CrossEntropyCriterion()
    assert c.forward(x, np.array([1, 1])) == pytest.approx(1e4)   # -log softmax: 2e4 / 2
    grad = c.backward(x, np.array([1, 1]))
    np.testing.assert_allclose(grad, [[0.5, -0.5, 0], [0, 0, 0]], atol=1e-7)


def test_cross_entropy_backward_reuses_the_forward_only_for_the_same_array(rng):
    x = rng.standard_normal((6, 4)).astype(np.float32)
    labels = rng.integers(0, 4, 6)
    fresh = nn.CrossEntropyCriterion().backward(x, labels)
    c = nn.CrossEntropyCriterion()
    c.forward(x, labels)
    np.testing.assert_array_equal(c.backward(x, labels), fresh)
    # another array (even one equal in shape) is computed from its own values
    y = x[::-1].copy()
    np.testing.assert_array_equal(c.backward(y, labels),
                                  nn.CrossEntropyCriterion().backward(y, labels))


@pytest.mark.parametrize("criterion", [nn.CrossEntropyCriterion, nn.ClassNLLCriterion])
def test_bad_targets_raise(criterion):
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match="labels must lie"):
        criterion().forward(x, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match="one-hot"):
        criterion().forward(x, np.array([0, 1]))
    with pytest.raises(TypeError, match="integers"):
        criterion().forward(x, np.array([0.5, 1, 2]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_compiled_pass_equals_the_float64_formula(rng, dtype):
    # contiguous float logits take the compiled pass, a strided view NumPy's:
    # both must give the float64 formula, also for soft targets whose rows do
    # not sum to 1 (the loss is -<target, log_softmax(x)> for any target)
    x = (rng.standard_normal((7, 5)) * 4).astype(dtype)
    labels = rng.integers(0, 5, 7)
    soft = rng.random((7, 5)).astype(dtype)
    x64 = x.astype(np.float64)
    log_p = x64 - x64.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    tol = dict(rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-7 if dtype == np.float32 else 1e-15)
    for logits in (x, np.asfortranarray(x)):
        c = nn.CrossEntropyCriterion()
        assert c.forward(logits, labels) == pytest.approx(-log_p[np.arange(7), labels].mean(),
                                                          rel=tol["rtol"])
        grad = c.backward(logits, labels)
        assert grad.dtype == dtype
        np.testing.assert_allclose(grad, (np.exp(log_p) - np.eye(5)[labels]) / 7, **tol)
        assert c.forward(logits, soft) == pytest.approx(-(soft * log_p).sum() / 7,
                                                        rel=tol["rtol"])
        np.testing.assert_allclose(c.backward(logits, soft), (np.exp(log_p) - soft) / 7, **tol)
