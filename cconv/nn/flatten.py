"""Flatten: (N, ...) -> (N, prod(...)), a view whenever NumPy can make one."""
from .module import Module

__all__ = ["Flatten"]


class Flatten(Module):
    def updateOutput(self, input):
        self.output = input.reshape(len(input), -1)
        return self.output

    def updateGradInput(self, input, gradOutput):
        self.gradInput = gradOutput.reshape(input.shape)
        return self.gradInput
