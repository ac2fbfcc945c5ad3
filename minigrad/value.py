"""Placeholder: being written."""


class Value:
    def backward(self):
        raise NotImplementedError
