"""Tests for minigrad.expect, the checks of the notebooks' visible tests: each passes on a right
answer and returns what it checked, and each failure says the case, what must hold and what
was got."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.expect import (
    KINDS,
    AutogradDisabledError,
    autograd_off,
    calls_to,
    expect_accuracy,
    expect_close,
    expect_dtype,
    expect_finite,
    expect_shape,
    expect_unchanged,
    require,
)


def helper(x):
    """A module-level function for calls_to to count, as a notebook's function would be."""
    return 2 * x


# --- expect_close ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("got", "want"),
    [
        ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]),
        (np.float32([0.1, 0.2]), [0.1, 0.2]),
        (1.0 + 1e-9, 1.0),
        (mg.Tensor([[1.0, 2.0]]), [[1.0, 2.0]]),
        (mg.Value(3.0), 3.0),
    ],
)
def test_expect_close_passes_and_returns_the_array(got, want):
    """expect_close returns the checked value as a numpy array when it matches."""
    out = expect_close(got, want, "f(x)", rtol=1e-6)
    assert isinstance(out, np.ndarray)
    assert out.shape == np.shape(want)


@pytest.mark.parametrize(
    ("got", "want", "message"),
    [
        ([1.0, 2.0, 3.5], [1.0, 2.0, 3.0],
         "f(x): wrong values, at index [2] got 3.5, want 3"),
        ([[0.0, 0.0], [0.0, 7.0]], np.zeros((2, 2)),
         "f(x): wrong values, at index [1, 1] got 7, want 0"),
        (1.0, 2.5, "f(x): wrong values, got 1, want 2.5; every entry is 2/5 times the right value"),
        ([1.0, 2.0, 3.0], [2.0, 4.0, 6.0],
         "at index [2] got 3, want 6; every entry is 1/2 times the right value"),
        ([2.0, 4.0], [1.0, 2.0], "every entry is 2 times the right value"),
        ([1.0, 2.0], [-1.0, -2.0], "at index [1] got 2, want -2; every entry has the wrong sign"),
    ],
)
def test_expect_close_names_the_worst_entry_and_a_constant_factor(got, want, message):
    """A wrong value: the case, the worst index with got and want, and a constant factor."""
    with pytest.raises(AssertionError) as info:
        expect_close(got, want, "f(x)")
    assert message in str(info.value)
    assert str(info.value).startswith("f(x): wrong values, ")


def test_expect_close_names_no_factor_when_there_is_none():
    """Entries off by different factors (or by nothing like one) get no factor sentence."""
    with pytest.raises(AssertionError) as info:
        expect_close([1.0, 5.0], [2.0, 4.0], "f(x)")
    assert "times the right value" not in str(info.value)
    with pytest.raises(AssertionError) as info:
        expect_close([0.0, 0.0], [1.0, 2.0], "zero answer")
    assert "times" not in str(info.value) and "wrong sign" not in str(info.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_expect_close_reports_nan_and_inf_as_the_worst_entry(bad):
    """A nan or inf in the answer is the entry reported, with no factor, not a crash."""
    with pytest.raises(AssertionError) as info:
        expect_close([1.0, bad, 3.0], [1.0, 2.0, 3.0], "softmax(x)")
    text = str(info.value)
    assert f"at index [1] got {bad:.10g}, want 2" in text
    assert "times" not in text


def test_expect_close_with_nan_at_the_largest_wanted_entry_fails_cleanly():
    """A nan where the right answer is largest gives the assertion, not a ValueError."""
    with pytest.raises(AssertionError, match=r"at index \[1\] got nan, want 5"):
        expect_close([1.0, np.nan], [1.0, 5.0], "g(x)")


def test_expect_close_hint_ends_the_message():
    """The hint follows the values (and the factor) after a full stop."""
    with pytest.raises(AssertionError, match=r"want 2; every entry is 1/2 times the right "
                                             r"value\. subtract the max first$"):
        expect_close(1.0, 2.0, "f(x)", hint="subtract the max first")


def test_expect_close_checks_the_shape_first():
    """A wrong shape is reported as a shape, and a transpose is named."""
    with pytest.raises(AssertionError, match=r"^f\(x\) must have shape \(2, 3\), got \(3, 2\) "
                                             r"\(the transpose\)$"):
        expect_close(np.ones((3, 2)), np.ones((2, 3)), "f(x)")


def test_expect_close_refuses_values_that_are_not_numbers():
    """Strings where numbers are wanted: 'must hold numbers' and what was got."""
    with pytest.raises(AssertionError, match=r"^f\(x\) must hold numbers, got \['a', 'b'\]$"):
        expect_close(["a", "b"], [1.0, 2.0], "f(x)")
    with pytest.raises(AssertionError) as info:  # a long value is clipped
        expect_close(["word"] * 100, np.zeros(100), "f(x)")
    assert str(info.value).endswith("...") and len(str(info.value)) < 160


def test_expect_close_respects_its_tolerances():
    """rtol and atol widen what counts as close."""
    expect_close([1.01], [1.0], "f(x)", rtol=0.02)
    expect_close([1e-5], [0.0], "f(x)", atol=1e-4)
    with pytest.raises(AssertionError):
        expect_close([1.01], [1.0], "f(x)")


# --- expect_shape, expect_dtype ---------------------------------------------------------------


def test_expect_shape():
    """expect_shape passes on the shape and says want and got otherwise."""
    assert expect_shape(mg.Tensor(np.zeros((4, 3))), [4, 3], "h").shape == (4, 3)
    with pytest.raises(AssertionError, match=r"^h must have shape \(4, 3\), got \(4,\)$"):
        expect_shape(np.zeros(4), (4, 3), "h")
    with pytest.raises(AssertionError, match=r"got \(1, 2, 3\)$"):  # no transpose in 3-d
        expect_shape(np.zeros((1, 2, 3)), (3, 2, 1), "h")


def test_expect_shape_refuses_something_that_is_no_array():
    """A ragged list is not an array: the message names its type."""
    with pytest.raises(AssertionError, match=r"^h must be an array, got list$"):
        expect_shape([[1, 2], [3]], (2, 2), "h")


def test_expect_dtype():
    """expect_dtype passes on the dtype and names want, got and the usual cause otherwise."""
    assert expect_dtype(np.zeros(2, np.float32), "float32", "relu(x32)").dtype == np.float32
    assert expect_dtype(mg.Tensor(np.zeros(2, np.float32)), np.float32, "t").dtype == np.float32
    with pytest.raises(AssertionError) as info:
        expect_dtype(np.zeros(2), np.float32, "relu(x32)")
    assert str(info.value) == (
        "relu(x32) must be a float32 array like its inputs, got float64: keep the inputs' "
        "dtype (no float64 constants or accumulators)")


# --- expect_finite --------------------------------------------------------------------------


def test_expect_finite_passes_on_finite_and_integer_arrays():
    """Finite floats and integers pass; the array is returned."""
    assert expect_finite([1.0, -2.0], "f").tolist() == [1.0, -2.0]
    assert expect_finite(np.arange(3), "f").tolist() == [0, 1, 2]
    assert float(expect_finite(1.5, "f")) == 1.5


@pytest.mark.parametrize(
    ("got", "message"),
    [
        ([1.0, np.inf], "f must be finite, got inf at index [1]"),
        ([[1.0, 2.0], [np.nan, -np.inf]], "f must be finite, got nan at index [1, 0]"),
        (np.float32(np.nan), "f must be finite, got nan"),
    ],
)
def test_expect_finite_names_the_first_bad_entry(got, message):
    """The first nan or inf is named with its index (none for a scalar)."""
    with pytest.raises(AssertionError) as info:
        expect_finite(got, "f")
    assert str(info.value) == message


def test_expect_finite_adds_the_hint():
    """The hint follows a colon."""
    with pytest.raises(AssertionError, match=r"got inf at index \[0\]: use logsumexp$"):
        expect_finite([np.inf], "log_softmax(big)", hint="use logsumexp")


# --- expect_accuracy, expect_unchanged, require -------------------------------------------------


def test_expect_accuracy():
    """An accuracy at or over the target is returned; under it (or nan) fails with both."""
    assert expect_accuracy(np.float64(0.9), 0.9, "MLP") == 0.9
    with pytest.raises(AssertionError) as info:
        expect_accuracy(0.5, 0.9, "MLP on spirals", hint="train longer")
    assert str(info.value) == ("MLP on spirals must reach an accuracy of at least 90%, "
                               "got 50.0%: train longer")
    with pytest.raises(AssertionError, match="got nan%$"):
        expect_accuracy(float("nan"), 0.5, "MLP")


def test_expect_unchanged():
    """Equal arrays (nan included) pass; a changed entry or shape fails."""
    expect_unchanged([1.0, np.nan], np.array([1.0, np.nan]), "relu(x)")
    for after in ([1.0, 3.0], [1.0, 2.0, 0.0]):
        with pytest.raises(AssertionError, match=r"^relu\(x\) changed its input in place: "
                                                 "build new arrays"):
            expect_unchanged([1.0, 2.0], after, "relu(x)")


def test_require_every_kind():
    """require passes on a true condition and raises the message on a false one, per kind."""
    for kind in KINDS:
        require(kind, True, "never shown")
        with pytest.raises(AssertionError, match=f"^{kind} broke$"):
            require(kind, 0, f"{kind} broke")


def test_require_refuses_an_unknown_kind():
    """An unknown kind is a ValueError naming the kinds, even when the condition holds."""
    with pytest.raises(ValueError, match=r"^require: kind must be one of value, shape, .*"
                                         r"iterative, got 'speed'$"):
        require("speed", True, "fast")


# --- autograd_off -----------------------------------------------------------------------------


def _tensor_loss():
    x = mg.Tensor([1.0, 2.0], requires_grad=True)
    return x, (x * x).sum()


def test_autograd_off_blocks_backward_and_restores_it():
    """Inside the block both backward methods raise; after it they work again."""
    tensor_backward, value_backward = mg.Tensor.backward, mg.Value.backward
    with autograd_off():
        x, loss = _tensor_loss()
        with pytest.raises(AutogradDisabledError, match="compute the gradient by hand"):
            loss.backward()
        with pytest.raises(AutogradDisabledError):
            (mg.Value(2.0) * 3).backward()
    assert mg.Tensor.backward is tensor_backward and mg.Value.backward is value_backward
    x, loss = _tensor_loss()
    loss.backward()
    assert x.grad.tolist() == [2.0, 4.0]
    v = mg.Value(2.0)
    (v * 3).backward()
    assert v.grad == 3.0


def test_autograd_off_restores_backward_after_an_exception():
    """An exception leaving the block still puts backward back."""
    tensor_backward = mg.Tensor.backward
    with pytest.raises(KeyError), autograd_off():
        raise KeyError("boom")
    assert mg.Tensor.backward is tensor_backward
    assert issubclass(AutogradDisabledError, RuntimeError)


# --- calls_to ---------------------------------------------------------------------------------


def test_calls_to_counts_a_function_of_the_calling_module():
    """A bare name is looked up in the caller's globals, counted, and put back."""
    original = helper
    with calls_to("helper") as seen:
        assert helper(3) == 6 and helper(1) == 2
    assert seen.count == 2
    assert repr(seen) == "<2 call(s) to helper>"
    assert globals()["helper"] is original


def test_calls_to_counts_in_a_given_namespace():
    """An explicit namespace dict is patched and restored, even after an exception."""
    def square(x):
        return x * x

    ns = {"square": square}
    with pytest.raises(ZeroDivisionError), calls_to("square", namespace=ns) as seen:
        assert ns["square"](3) == 9
        raise ZeroDivisionError("leaves the block")
    assert seen.count == 1
    assert ns["square"] is square


def test_calls_to_counts_a_dotted_path():
    """minigrad.Tensor.backward counted through its dotted path, then restored."""
    original = mg.Tensor.backward
    with calls_to("minigrad.Tensor.backward", namespace={}) as seen:
        for _ in range(3):
            x, loss = _tensor_loss()
            loss.backward()
    assert seen.count == 3
    assert x.grad.tolist() == [2.0, 4.0]
    assert mg.Tensor.backward is original


def test_calls_to_follows_a_name_of_the_namespace():
    """A dotted path may start at a name of the namespace (np.linalg.norm)."""
    norm = np.linalg.norm
    with calls_to("np.linalg.norm", namespace={"np": np}) as seen:
        np.linalg.norm([3.0, 4.0])
    assert seen.count == 1 and np.linalg.norm is norm


@pytest.mark.parametrize("name", ["no_such_function", "numpy", "no_such_module.f"])
def test_calls_to_refuses_an_unknown_name(name):
    """A name that is neither the notebook's nor a dotted path from a module: ValueError."""
    with pytest.raises(ValueError, match=f"calls_to: '{name}' is neither a name of the notebook "
                                         "nor a dotted path"):
        with calls_to(name, namespace={}):
            pass
