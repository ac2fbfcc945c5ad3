"""Placeholder: being written."""


class Tensor:
    def backward(self, grad=None):
        raise NotImplementedError
