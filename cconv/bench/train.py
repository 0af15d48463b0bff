"""Training-step benchmark (issue 4): one SGD-with-momentum step of an MNIST net,
cconv.nn against the same net in torch.nn.

The nets are the ones `cconv train` trains (cconv.models); the torch twin is
built by translating that Sequential layer by layer, with its weights copied,
so there is one definition of each net. A step is what a training loop does:
zero the gradients, forward, loss, backward, optimizer update; the module
layer's Python overhead is part of what is measured.
"""
import numpy as np

__all__ = ["cconv_step", "torch_step", "NET_NAMES"]

# TrainCase.net -> cconv.models name
NET_NAMES = {"lenet5": "lenet5", "mnist_net": "mnist-cnn"}
LEARNING_RATE, MOMENTUM = 0.01, 0.9


def _cconv_model(case, dtype):
    try:
        from cconv import models, nn
    except ImportError as error:
        raise _unsupported(f"cconv.nn / cconv.models are not importable ({error})") from error
    np.random.seed(0)  # the initial weights, and Dropout's generators
    return models.MODELS[NET_NAMES[case.net]](dtype=dtype), nn


def _unsupported(message):
    from .peers import Unsupported
    return Unsupported(message)


def _params(model):
    out = []
    for group in model.getParameters():
        out.extend(group if isinstance(group, list) else [group])
    return out


def cconv_step(case, data, dtype):
    """Prepared step of the cconv.nn net; the first call is in evaluate mode
    (no dropout) so that it can be checked against torch, later calls train."""
    from .peers import Prepared
    model, nn = _cconv_model(case, dtype)
    criterion = nn.CrossEntropyCriterion()
    config, state = {"learning_rate": LEARNING_RATE, "momentum": MOMENTUM}, {}
    x, labels = data["x"], data["labels"]
    calls = [0]

    def step():
        if calls[0] == 1:
            model.train()
        calls[0] += 1
        model.zeroGradParameters()
        scores = model.forward(x)
        loss = criterion.forward(scores, labels)
        model.backward(x, criterion.backward(scores, labels))
        nn.sgd_momentum(model.getParameters(), model.getGradParameters(), config, state)
        return loss

    model.evaluate()

    def outputs(loss):
        return (np.array([loss]), *(np.array(p) for p in _params(model)))
    return Prepared(step, outputs)


def _torch_twin(torch, model):
    """The torch.nn.Sequential doing what cconv Sequential `model` does, same weights."""
    tnn, layers = torch.nn, []
    for module in model.modules:
        kind = type(module).__name__
        if kind == "Conv2d":
            layer = tnn.Conv2d(module.in_channels, module.out_channels, module.kernel_size,
                               stride=module.stride, padding=module.padding,
                               dilation=module.dilation, groups=module.groups, bias=module.bias)
        elif kind == "Linear":
            layer = tnn.Linear(module.n_in, module.n_out, bias="b" in module.parameter_names)
        elif kind == "MaxPool2d":
            layer = tnn.MaxPool2d(module.kernel_size, module.stride, module.padding,
                                  module.dilation, ceil_mode=module.ceil_mode)
        elif kind == "ReLU":
            layer = tnn.ReLU()
        elif kind == "Dropout":
            layer = tnn.Dropout(module.p)
        elif kind == "Flatten":
            layer = tnn.Flatten()
        else:
            raise _unsupported(f"no torch twin for cconv.nn.{kind}")
        with torch.no_grad():
            for param, value in zip(layer.parameters(), module.getParameters()):
                param.copy_(torch.from_numpy(np.array(value)))
        layers.append(layer)
    return tnn.Sequential(*layers)


def torch_step(case, data, dtype):
    """Prepared step of the torch twin of the cconv net (same seed, same weights)."""
    import torch

    from .peers import Prepared
    net = _torch_twin(torch, _cconv_model(case, dtype)[0]).to(torch.from_numpy(data["x"]).dtype)
    optimizer = torch.optim.SGD(net.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    x, labels = torch.from_numpy(data["x"]), torch.from_numpy(data["labels"])
    loss_fn = torch.nn.functional.cross_entropy
    calls = [0]

    def step():
        if calls[0] == 1:
            net.train()
        calls[0] += 1
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), labels)
        loss.backward()
        optimizer.step()
        return loss

    net.eval()

    def outputs(loss):
        return (np.array([loss.item()]), *(p.detach().numpy().copy() for p in net.parameters()))
    return Prepared(step, outputs)
