"""cconv.optim against the update formulas it documents (written out again here,
step by step in float64), and against torch.optim where the two coincide."""
import numpy as np
import pytest

from cconv import nn
from cconv.optim import adam_optimizer, sgd_momentum


def problem(rng):
    """Nested variables/gradients as Sequential.getParameters() gives them."""
    variables = [[rng.standard_normal((3, 2)), rng.standard_normal(3)], [], [rng.standard_normal(4)]]
    return variables


def grads_for(rng, variables):
    return [[rng.standard_normal(v.shape) for v in layer] for layer in variables]


def flat(nested):
    return [a for layer in nested for a in layer]


def test_sgd_momentum_formula(rng):
    variables = problem(rng)
    ids = [id(v) for v in flat(variables)]
    expected = [v.copy() for v in flat(variables)]
    velocity = [np.zeros_like(v) for v in expected]
    config, state = {"learning_rate": 0.1, "momentum": 0.9}, {}
    for _ in range(4):
        gradients = grads_for(rng, variables)
        sgd_momentum(variables, gradients, config, state)
        for i, g in enumerate(flat(gradients)):
            velocity[i] = 0.9 * velocity[i] + 0.1 * g
            expected[i] = expected[i] - velocity[i]
    assert [id(v) for v in flat(variables)] == ids        # updated in place
    for v, e in zip(flat(variables), expected):
        np.testing.assert_allclose(v, e, rtol=1e-12)
    assert sorted(state["accumulated_grads"]) == [0, 1, 2]


def test_adam_formula(rng):
    variables = problem(rng)
    expected = [v.copy() for v in flat(variables)]
    m = [np.zeros_like(v) for v in expected]
    v2 = [np.zeros_like(v) for v in expected]
    config = {"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
    state = {}
    for t in range(1, 5):
        gradients = grads_for(rng, variables)
        adam_optimizer(variables, gradients, config, state)
        lr_t = 0.01 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        for i, g in enumerate(flat(gradients)):
            m[i] = 0.9 * m[i] + 0.1 * g
            v2[i] = 0.999 * v2[i] + 0.001 * g * g
            expected[i] = expected[i] - lr_t * m[i] / (np.sqrt(v2[i]) + 1e-8)
    assert state["t"] == 4
    for v, e in zip(flat(variables), expected):
        np.testing.assert_allclose(v, e, rtol=1e-12)


def test_sgd_momentum_matches_torch_sgd(rng):
    torch = pytest.importorskip("torch")
    w = rng.standard_normal(5)
    tw = torch.tensor(w.copy(), requires_grad=True)
    opt = torch.optim.SGD([tw], lr=0.05, momentum=0.9)
    state = {}
    for _ in range(5):
        g = rng.standard_normal(5)
        tw.grad = torch.tensor(g)
        opt.step()
        sgd_momentum([[w]], [[g]], {"learning_rate": 0.05, "momentum": 0.9}, state)
    np.testing.assert_allclose(w, tw.detach().numpy(), rtol=1e-12)


def test_adam_matches_torch_adam_to_epsilon(rng):
    torch = pytest.importorskip("torch")
    w = rng.standard_normal(5)
    tw = torch.tensor(w.copy(), requires_grad=True)
    # torch adds epsilon after the bias correction of v: equal when epsilon is negligible
    opt = torch.optim.Adam([tw], lr=0.01, eps=1e-12)
    config, state = {"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-12}, {}
    for _ in range(5):
        g = rng.standard_normal(5)
        tw.grad = torch.tensor(g)
        opt.step()
        adam_optimizer([w], [g], config, state)
    np.testing.assert_allclose(w, tw.detach().numpy(), rtol=1e-9)


def test_float32_parameters_stay_float32_and_in_place(rng):
    model = nn.Sequential(nn.Linear(3, 2))
    W = model[0].W
    model[0].gradW[:] = 1
    sgd_momentum(model.getParameters(), model.getGradParameters(),
                 {"learning_rate": 0.5, "momentum": 0.9}, {})
    assert model[0].W is W and W.dtype == np.float32


def test_config_and_structure_errors(rng):
    with pytest.raises(KeyError, match="momentum"):
        sgd_momentum([[np.zeros(2)]], [[np.zeros(2)]], {"learning_rate": 0.1}, {})
    with pytest.raises(ValueError, match="gradients"):
        sgd_momentum([[np.zeros(2)]], [[]], {"learning_rate": 0.1, "momentum": 0.0}, {})
    with pytest.raises(ValueError, match="shape"):
        adam_optimizer([np.zeros(2)], [np.zeros(3)],
                       {"learning_rate": 0.1, "beta1": 0.9, "beta2": 0.9, "epsilon": 1e-8}, {})


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_blocked_updates_equal_whole_array_updates(rng, monkeypatch, layout):
    # arrays larger than optim.BLOCK are updated block by block: bitwise the
    # same as the whole-array formulas, for any layout and across steps
    from cconv import optim
    monkeypatch.setattr(optim, "BLOCK", 7)
    shape = (9, 13)

    def arrays():
        a = rng.standard_normal((18, 13)).astype(np.float32)
        return {"C": a[:9].copy(), "F": np.asfortranarray(a[:9]), "strided": a[::2]}[layout]

    variable, gradients = arrays(), [arrays() for _ in range(3)]
    expected, velocity = variable.copy(), np.zeros(shape, np.float32)
    config, state = {"learning_rate": 0.1, "momentum": 0.9}, {}
    for g in gradients:
        sgd_momentum([[variable]], [[g]], config, state)
        velocity *= 0.9
        velocity += 0.1 * g
        expected -= velocity
    np.testing.assert_array_equal(variable, expected)
    np.testing.assert_array_equal(state["accumulated_grads"][0], velocity)


def test_shape_errors_leave_every_variable_untouched(rng):
    variables = [rng.standard_normal(3), rng.standard_normal(4)]
    before = [v.copy() for v in variables]
    with pytest.raises(ValueError, match="variable 1"):
        sgd_momentum(variables, [np.ones(3), np.ones(5)],
                     {"learning_rate": 0.1, "momentum": 0.9}, {})
    for v, b in zip(variables, before):
        np.testing.assert_array_equal(v, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1, 1000, 300_001])   # the last is threaded in chunks
@pytest.mark.parametrize("lr", [0.013, np.float64(0.013)])  # a NumPy scalar promotes
def test_compiled_update_is_bitwise_numpys(rng, dtype, size, lr):
    variable = rng.standard_normal(size).astype(dtype)
    gradients = [rng.standard_normal(size).astype(dtype) for _ in range(3)]
    expected, velocity = variable.copy(), np.zeros(size, dtype)
    config, state = {"learning_rate": lr, "momentum": 0.87}, {}
    for g in gradients:
        sgd_momentum([variable], [g], config, state)
        velocity *= 0.87
        velocity += lr * g
        expected -= velocity
    assert variable.dtype == dtype
    np.testing.assert_array_equal(variable, expected)
    np.testing.assert_array_equal(state["accumulated_grads"][0], velocity)
    np.testing.assert_array_equal(gradients[-1], gradients[-1].copy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_compiled_call_over_arrays_of_mixed_sizes(rng, dtype):
    # 70,003 + 65,601 + ... elements: the two threads' spans meet inside an
    # array, and a float64 and a float32 group are updated side by side
    sizes = [7, 70_003, 3, 65_601, 1]
    variables = [rng.standard_normal(n).astype(dtype) for n in sizes]
    variables.append(rng.standard_normal(5).astype(np.float32 if dtype == np.float64
                                                   else np.float64))
    gradients = [rng.standard_normal(v.size).astype(v.dtype) for v in variables]
    expected = [v.copy() for v in variables]
    velocities = [np.zeros_like(v) for v in variables]
    config, state = {"learning_rate": 0.031, "momentum": 0.9}, {}
    for _ in range(2):
        sgd_momentum(variables, gradients, config, state)
        for v, g, x in zip(velocities, gradients, expected):
            v *= 0.9
            v += 0.031 * g
            x -= v
    for index, (variable, want) in enumerate(zip(variables, expected)):
        assert variable.dtype == want.dtype
        np.testing.assert_array_equal(variable, want)
        np.testing.assert_array_equal(state["accumulated_grads"][index], velocities[index])
