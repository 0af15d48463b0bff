"""The module protocol of Torch7 nn, as the homework uses it: `Module` and `Sequential`.

A module keeps the result of its last call in `output` / `gradInput`, so a
container can feed each module the input it saw in the forward pass.
`accGradParameters` ADDS to the gradients (Torch7 semantics: several backward
passes accumulate until `zeroGradParameters`).

Subclasses with parameters name them in `parameter_names` and their gradients in
`grad_names` (same order); buffers that are state but not trained (BatchNorm's
moving statistics) go in `buffer_names`. The base class then provides
`getParameters`, `getGradParameters`, `zeroGradParameters`, `float()` and
`double()`.
"""
import numpy as np

__all__ = ["Module", "Sequential", "compute_dtype"]


_COMPUTE_DTYPES = {}


def compute_dtype(*dtypes):
    """The floating dtype a layer computes in: NumPy promotion of its input and
    parameters, with float32 as the floor (uint8 images give float32, int64
    gives float64 as NumPy would). Remembered per combination of dtypes:
    np.result_type costs microseconds, and each layer asks on every call."""
    result = _COMPUTE_DTYPES.get(dtypes)
    if result is None:
        result = np.result_type(np.float32, *dtypes)
        if len(_COMPUTE_DTYPES) < 64:
            _COMPUTE_DTYPES[dtypes] = result
    return result


class Module:
    parameter_names = ()
    grad_names = ()
    buffer_names = ()

    def __init__(self):
        self.output = None
        self.gradInput = None
        self.training = True
        # Torch7 lets a user skip the input gradient of a first layer (whose
        # input is the data): layers where it costs a real kernel honour this.
        self.needs_gradInput = True

    # -- the protocol ------------------------------------------------------
    def forward(self, input):
        return self.updateOutput(input)

    def backward(self, input, gradOutput):
        self.updateGradInput(input, gradOutput)
        self.accGradParameters(input, gradOutput)
        return self.gradInput

    def updateOutput(self, input):
        raise NotImplementedError(f"{type(self).__name__}.updateOutput")

    def updateGradInput(self, input, gradOutput):
        raise NotImplementedError(f"{type(self).__name__}.updateGradInput")

    def accGradParameters(self, input, gradOutput):
        pass

    def zeroGradParameters(self):
        for name in self.grad_names:    # () for parameterless layers: nothing to build
            getattr(self, name).fill(0)

    # -- parameters: lists of the arrays themselves, updated in place --------
    def getParameters(self):
        return [getattr(self, name) for name in self.parameter_names]

    def getGradParameters(self):
        return [getattr(self, name) for name in self.grad_names]

    def getBuffers(self):
        return [getattr(self, name) for name in self.buffer_names]

    def state_names(self):
        """The names `state()` gives and `load_state()` takes."""
        return self.parameter_names + self.buffer_names

    def state(self):
        """{name: array} of everything a saved model needs (parameters and buffers)."""
        return {name: getattr(self, name) for name in self.state_names()}

    def load_state(self, state):
        for name, value in state.items():
            old = getattr(self, name)
            if old.shape != value.shape:
                raise ValueError(f"{self!r}: {name} has shape {old.shape}, "
                                 f"the saved one {value.shape}")
            setattr(self, name, np.array(value, dtype=old.dtype))

    def astype(self, dtype):
        """Convert parameters, gradients and buffers to `dtype` (returns self)."""
        for name in self.parameter_names + self.grad_names + self.buffer_names:
            setattr(self, name, getattr(self, name).astype(dtype, copy=False))
        return self

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    # -- mode ------------------------------------------------------------
    def train(self):
        self.training = True
        return self

    def evaluate(self):
        self.training = False
        return self

    def __repr__(self):
        return type(self).__name__


class Sequential(Module):
    def __init__(self, *modules):
        super().__init__()
        self.modules = []
        for module in modules:
            self.add(module)

    def add(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.add expects a Module, got {type(module).__name__}")
        self.modules.append(module)
        return self

    def updateOutput(self, input):
        for module in self.modules:
            input = module.forward(input)
        self.output = input
        return self.output

    def _inputs(self, input):
        # the input each module saw in the last forward pass
        return [input] + [module.output for module in self.modules[:-1]]

    def backward(self, input, gradOutput):
        inputs = self._inputs(input)
        for module, module_input in zip(reversed(self.modules), reversed(inputs)):
            gradOutput = module.backward(module_input, gradOutput)
        self.gradInput = gradOutput
        return self.gradInput

    def updateGradInput(self, input, gradOutput):
        inputs = self._inputs(input)
        for module, module_input in zip(reversed(self.modules), reversed(inputs)):
            gradOutput = module.updateGradInput(module_input, gradOutput)
        self.gradInput = gradOutput
        return self.gradInput

    def accGradParameters(self, input, gradOutput):
        # needs every module's gradInput from updateGradInput, as in Torch7
        inputs = self._inputs(input)
        grads = [module.gradInput for module in self.modules[1:]] + [gradOutput]
        for module, module_input, grad in zip(self.modules, inputs, grads):
            module.accGradParameters(module_input, grad)

    def zeroGradParameters(self):
        for module in self.modules:
            module.zeroGradParameters()

    def getParameters(self):
        return [module.getParameters() for module in self.modules]

    def getGradParameters(self):
        return [module.getGradParameters() for module in self.modules]

    def state_names(self):
        return tuple(f"{i}.{name}" for i, module in enumerate(self.modules)
                     for name in module.state_names())

    def state(self):
        return {f"{i}.{name}": value
                for i, module in enumerate(self.modules)
                for name, value in module.state().items()}

    def load_state(self, state):
        own = self.state_names()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(f"saved weights do not fit this model: missing {missing}, "
                             f"unexpected {unexpected}")
        for i, module in enumerate(self.modules):
            prefix = f"{i}."
            module.load_state({key[len(prefix):]: value for key, value in state.items()
                               if key.startswith(prefix)})

    def astype(self, dtype):
        for module in self.modules:
            module.astype(dtype)
        return self

    def train(self):
        self.training = True
        for module in self.modules:
            module.train()
        return self

    def evaluate(self):
        self.training = False
        for module in self.modules:
            module.evaluate()
        return self

    def __getitem__(self, index):
        return self.modules[index]

    def __len__(self):
        return len(self.modules)

    def __iter__(self):
        return iter(self.modules)

    def __repr__(self):
        lines = [f"  ({i}): " + repr(module).replace("\n", "\n  ")
                 for i, module in enumerate(self.modules)]
        return "Sequential(\n" + "\n".join(lines) + "\n)"
