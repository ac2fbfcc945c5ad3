"""Placeholder: being written."""
import contextlib


class Function:
    pass


def is_grad_enabled():
    return True


@contextlib.contextmanager
def no_grad():
    yield
