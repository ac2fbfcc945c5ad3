"""Gradient checking: compare a hand-written gradient with finite differences and say what is wrong.

This module owns the checker that every graded exercise rests on.
``check_gradients(f, inputs, analytic)`` works on plain numpy code;
``gradcheck(fn, *tensors)`` does the same for minigrad ``Tensor`` graphs and
``Function`` subclasses, and also checks that ``backward`` accumulates and is
linear in the upstream gradient.

How the numerical side works
----------------------------
For an array-valued ``f`` with upstream gradient ``dout`` we differentiate the
scalar ``phi(x) = sum(dout * f(x))``; its gradient is what a backward pass returns.
Every evaluation runs in float64 on private copies of the inputs.
For one entry ``x_i`` the step is ``h = eps ** (1/3) * max(|x_i|, rms(x))``, where
``eps`` is the precision ``f`` computes in. We evaluate ``f`` at ``x_i +- h``: the
central difference ``D(h)`` and the one-sided slopes ``s+(h)``, ``s-(h)``.
An analytic value that agrees with ``D(h)`` passes: a wrong gradient does not match an
independent estimate to within the tolerance by chance. One far outside the one-sided
slopes is off (they bracket ``f'`` up to ``O(h^2)``, and a kink's jump). Where neither
holds, or where the one-sided slopes jump, we also evaluate at ``x_i +- 2h`` and form

* the Richardson extrapolation ``R = D(h) + (D(h) - D(2h)) / 3`` (fourth order);
* the error estimate ``E = |D(h) - D(2h)|``, plus a rounding bound from the size of
  the outputs that changed;
* ``K = |2 (s+(h) - s-(h)) - (s+(2h) - s-(2h))|``, which cancels curvature and is
  close to the jump in slope at a kink (ReLU at 0, a tie in a max, ``abs`` at 0).
  At a kink any analytic value between the one-sided slopes is accepted.

The tolerance of an entry is ``atol + rtol * (|R| + 0.1 * scale) + 2 E + rounding``,
where ``scale`` is the largest numerical entry of that input and ``rtol`` comes from
the lowest precision among the input, its gradient and f's output (1e-6 for float64,
1e-3 for float32, 1e-2 for float16) unless given.

Large inputs (``mode="auto"``) are checked on sampled entries (the largest analytic
entries, entries where the analytic gradient is zero, and random ones) plus a few
random directions over the whole input, one input at a time, so that a wrong bias
is never drowned by a large weight matrix.

How hints are decided
---------------------
A hint names a cause only when the evidence for it holds; otherwise it says where the
gradient is wrong and by how much, and guesses nothing. The probes below run only when
a check fails, so a passing check costs nothing extra.

* A callable ``analytic`` is called once more with ``2 * dout``. A gradient that does
  not change did not multiply by the upstream gradient; one that does not double is
  not linear in it. Without that call (a dict, or a call that fails), a gradient equal
  to the one for an upstream gradient of all ones says the same.
* ``shared={"W": g}``: ``g`` is f with one argument per use of ``W``. A ``dW`` equal to
  the numerical gradient of one use alone was overwritten instead of summed. This needs
  the caller's split: from f alone the uses cannot be told apart, since any gradient is
  the contribution of one use for some way of splitting f.
* A ratio (a wrong sign, a factor 2 or 1/2, the batch size, another constant) is named
  only when it holds, within 2%, at every entry or direction where the numerical
  gradient is clearly nonzero, and there are at least two of them (three for a factor
  with no name). For a callable ``analytic`` and an array-valued f it must also hold
  for an all-ones upstream gradient. A ratio equal to the value of a constant upstream
  gradient is not called a factor. The batch size is the first axis of the output, of
  an integer label array, of two inputs, or of the checked input when every float input
  with two or more axes has that first axis.
* Two inputs of the same shape whose gradients each match the other's numerical
  gradient are named as swapped.
* Then: a transposed square matrix, zeros in the wrong places, wrong entries confined
  to one row or column, wrong entries that sampling missed; else "recheck the formula".

Layout
------
The results (``GradCheckResult``, ``InputResult``, ``Entry``); small helpers; the numerical
side (``_Evaluator``: finite differences, refined where needed); the entry point and its
options (``check_gradients``, ``_CheckOptions``); one run (``_Checker``, with ``_Context``
for one input); the hints (``_Hints``, ``_SharedSplits``); the minigrad adapter
(``gradcheck``, ``_TensorGraph``). The module imports only numpy and the standard library,
and minigrad only when ``gradcheck`` is called, so it also works loaded from its file alone.
"""

import html
import inspect
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Entry",
    "GradCheckResult",
    "GradientCheckError",
    "InputResult",
    "check_gradients",
    "gradcheck",
]

# Mixed into the seed so the upstream gradient never equals np.random.default_rng(seed) draws.
_PRIVATE_STREAM = 0x6D696E69_67726164
_MODES = ("auto", "full", "sample", "directional")
_FLOOR = 0.1  # fraction of the input's gradient scale that sets the absolute floor
_ROUNDING_ULPS = 16.0  # rounding error assumed per output of f, in units of eps
_MATCH = 0.02  # relative closeness used when testing a hint ("is it -1 times?")
_SHOW = 3  # worst entries shown per input
_PROBE_CAP = 64  # extra evaluations allowed per hint test, in entries


class GradientCheckError(AssertionError):
    """Raised by ``assert_ok()`` when a gradient is wrong; test runners count it as a failure."""


@dataclass(frozen=True)
class Entry:
    """One checked entry: its index, both values and the size of the disagreement."""

    index: tuple[int, ...]
    analytic: float
    numerical: float
    abs_error: float

    def label(self, name: str) -> str:
        return _at(name, self.index)

    def describe(self, name: str) -> str:
        """The entry in words, as in "x[1, 2]: analytic 0.5, numerical -0.5"."""
        return (f"{self.label(name)}: analytic {_num(self.analytic)}, "
                f"numerical {_num(self.numerical)}")

    def __str__(self) -> str:
        return (
            f"[{', '.join(map(str, self.index))}]: analytic {_num(self.analytic)}, "
            f"numerical {_num(self.numerical)}"
        )


@dataclass
class InputResult:
    """The verdict for one input: how much was checked, how far off it is, and why."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    passed: bool
    entries_checked: int = 0
    entries_off: int = 0
    directions_checked: int = 0
    directions_off: int = 0
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    worst: list[Entry] = field(default_factory=list)
    kinks: list[tuple[int, ...]] = field(default_factory=list)
    kink_directions: int = 0
    full: bool = False
    hint: str = ""
    message: str = ""
    notes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    @property
    def checked(self) -> str:
        """What was checked, in words: "all 50 entries", "157 entries + 4 directions"."""
        parts = []
        if self.full and self.entries_checked > 1:
            parts.append(f"all {self.entries_checked} entries")
        elif self.entries_checked:
            parts.append(_plural(self.entries_checked, "entry", "entries"))
        if self.directions_checked:
            parts.append(_plural(self.directions_checked, "direction"))
        return " + ".join(parts) if parts else "nothing"

    def _summary(self) -> list[str]:
        if self.passed:
            lines = [
                f"gradient of {self.name} {_shape_words(self.shape)}: ok ({self.checked}, "
                f"max abs error {_num(self.max_abs_error)}, max rel error "
                f"{_num(self.max_rel_error)})"
            ]
        else:
            off = self.entries_off + self.directions_off
            what = f"{self.checked}, {off} off" if off else "see above"
            lines = [f"gradient of {self.name} {_shape_words(self.shape)}: FAILED ({what})"]
        lines += [f"  {e.describe(self.name)}" for e in self.worst if not self.passed]
        if self.kinks:
            shown = ", ".join(_at(self.name, k) for k in self.kinks[:_SHOW])
            more = ", ..." if len(self.kinks) > _SHOW else ""
            lines.append(f"  {_plural(len(self.kinks), 'kink')}: {shown}{more}")
        return lines

    def __str__(self) -> str:
        lines = [self.message] if not self.passed else []
        lines += self._summary()
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


class GradCheckResult:
    """Outcome of a gradient check: truthy iff every input passed.

    ``res["W"]`` is the ``InputResult`` for input ``W``; ``str(res)`` is a short report whose
    first line stands alone; ``res.assert_ok()`` raises ``GradientCheckError`` on failure.
    """

    def __init__(
        self,
        inputs: dict[str, InputResult],
        problems: list[str],
        notes: list[str],
        evaluations: int,
        mode: str,
        seed: int,
        name: str | None = None,
    ) -> None:
        self.name = name
        self.inputs = inputs
        self.problems = problems
        self.notes = notes
        self.evaluations = evaluations
        self.mode = mode
        self.seed = seed

    @property
    def passed(self) -> bool:
        return not self.problems and all(r.passed for r in self.inputs.values())

    def __bool__(self) -> bool:
        return self.passed

    def __getitem__(self, key: str | int) -> InputResult:
        if isinstance(key, int):
            return list(self.inputs.values())[key]
        if key not in self.inputs:
            known = ", ".join(self.inputs) or "none"
            raise KeyError(f"no checked input named {key!r} (checked inputs: {known})")
        return self.inputs[key]

    def __iter__(self):
        return iter(self.inputs.values())

    def __len__(self) -> int:
        return len(self.inputs)

    @property
    def failures(self) -> list[str]:
        """One self-contained line per problem, most important first; each starts with the
        checked function's name when one was given."""
        lines = list(self.problems) + [r.message for r in self.inputs.values() if not r.passed]
        return [self._named(line) for line in lines]

    def _named(self, line: str) -> str:
        if not self.name:
            return line
        if line.startswith("gradient of "):
            return f"{self.name}: gradient check failed for {line[len('gradient of '):]}"
        return f"{self.name}: gradient check failed: {line}"

    @property
    def message(self) -> str:
        """The first failure line, or "" when the check passed."""
        fails = self.failures
        return fails[0] if fails else ""

    def _header(self) -> str:
        what = "passed" if self.passed else "FAILED"
        named = f"{self.name}: " if self.name else ""
        return f"{named}gradient check {what} (mode {self.mode}, seed {self.seed}, " \
               f"{self.evaluations} evaluations of f)"

    def __str__(self) -> str:
        lines = self.failures
        lines.append(self._header())
        for r in self.inputs.values():
            lines += r._summary()
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        names = ", ".join(self.inputs)
        return f"<GradCheckResult {'passed' if self.passed else 'FAILED'}: {names}>"

    def _repr_html_(self) -> str:
        esc = html.escape
        color = "#1a7f37" if self.passed else "#cf222e"
        out = ['<div class="minigrad-gradcheck">']
        out.append(f'<p style="color:{color}"><b>{esc(self._header())}</b></p>')
        for line in self.failures:
            out.append(f"<p>{esc(line)}</p>")
        out.append("<table><thead><tr>")
        for head in ("input", "shape", "checked", "off", "max abs err", "max rel err",
                     "kinks", "result"):
            out.append(f"<th>{head}</th>")
        out.append("</tr></thead><tbody>")
        for r in self.inputs.values():
            off = r.entries_off + r.directions_off
            cells = (r.name, str(r.shape), r.checked, str(off), _num(r.max_abs_error),
                     _num(r.max_rel_error), str(len(r.kinks)), "ok" if r.passed else "FAILED")
            out.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
        out.append("</tbody></table>")
        for n in self.notes:
            out.append(f"<p>{esc(n)}</p>")
        out.append("</div>")
        return "\n".join(out)

    def assert_ok(self) -> "GradCheckResult":
        """Return self when the check passed; raise ``GradientCheckError`` otherwise."""
        if self.passed:
            return self
        lines = self.failures
        for r in self.inputs.values():
            if not r.passed and r.worst:
                worst = "; ".join(e.describe(r.name) for e in r.worst)
                lines.append(f"worst entries of d{r.name}: {worst}")
        raise GradientCheckError("\n".join(lines))


# ---------------------------------------------------------------------------------------------
# small formatting helpers


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _num(v: float) -> str:
    v = float(v)
    if v == 0.0:
        return "0"
    return f"{v:.4g}"


def _at(name: str, index: tuple[int, ...]) -> str:
    if not index:
        return name
    return f"{name}[{', '.join(str(int(i)) for i in index)}]"


def _output_at(idx: tuple[int, ...]) -> str:
    return f" at output {_at('', idx)}" if idx else ""


def _shape_words(shape: tuple[int, ...]) -> str:
    return "(a scalar)" if shape == () else f"(shape {shape})"


def _unwrap(value: Any) -> Any:
    """Arrays inside minigrad Tensors (or anything with an ndarray ``.data``) are used directly."""
    data = getattr(value, "data", None)
    if isinstance(data, np.ndarray) and not isinstance(value, np.ndarray):
        return data
    return value


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype}"
    return f"{type(value).__name__} {value!r}"


def _first_index(mask: np.ndarray) -> tuple[int, ...]:
    return _unravel(np.flatnonzero(mask)[0], mask.shape)


def _diff_report(old: np.ndarray, new: np.ndarray) -> str:
    """Where two same-shape arrays first differ, as "[i, j] was a, now b"."""
    bad = ~((old == new) | (_isnan(old) & _isnan(new)))
    idx = _first_index(bad)
    where = f"[{', '.join(map(str, idx))}]" if idx else ""
    was, now = _num(old[idx]), _num(new[idx])
    if was == now:
        was, now = repr(float(old[idx])), repr(float(new[idx]))
    return f"{where} was {was}, now {now}"


def _unravel(i, shape) -> tuple[int, ...]:
    return tuple(int(j) for j in np.unravel_index(int(i), shape))


def _near(value: float, target: float) -> bool:
    return abs(value - target) <= _MATCH * abs(target)


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    nb = float(np.linalg.norm(b))
    return nb > 0 and float(np.linalg.norm(a - b)) <= _MATCH * nb


def _isnan(a: np.ndarray) -> np.ndarray:
    return np.isnan(a) if a.dtype.kind in "fc" else np.zeros(a.shape, dtype=bool)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


def _eps(dtype: np.dtype) -> float:
    return float(np.finfo(dtype).eps) if np.dtype(dtype).kind == "f" else float(np.finfo(float).eps)


def _default_rtol(eps: float) -> float:
    if eps > 1e-5:  # float16 and friends
        return 1e-2
    if eps > 1e-10:  # float32
        return 1e-3
    return 1e-6


class _Abort(Exception):
    """Stops a check early with one self-contained problem line."""


# ---------------------------------------------------------------------------------------------
# the numerical side


@dataclass
class _Probes:
    """Finite-difference results for a set of probes (entries or directions) of one input."""

    R: np.ndarray  # derivative: central difference, Richardson-extrapolated when refined
    R1: np.ndarray  # the same with an all-ones upstream gradient
    E: np.ndarray  # |D(h) - D(2h)| (0 for probes that were not refined)
    noise: np.ndarray  # rounding bound
    lo: np.ndarray  # smallest one-sided slope
    hi: np.ndarray  # largest one-sided slope
    K: np.ndarray  # curvature-free jump in slope (0 for probes that were not refined)
    finite: np.ndarray  # every evaluation finite
    bad: list  # for a non-finite probe: (step, value) of the first bad evaluation


class _Probe:
    """Evaluations for one entry or direction: steps +h, -h and, once refined, +2h, -2h."""

    __slots__ = ("p", "o", "steps", "mag", "bad")

    def __init__(self) -> None:
        self.p: list[float] = []  # w . (y(x + s) - y0) for s = +h, and w . (y0 - y(x - h)) ...
        self.o: list[float] = []  # the same with all-ones weights
        self.steps: list[float] = []
        self.mag = 0.0
        self.bad = None

    def record(self, eps_w: float) -> tuple:
        p, o, st = self.p, self.o, self.steps
        finite = self.bad is None
        s = [p[k] / st[k] for k in range(len(p))]
        d1 = (p[0] + p[1]) / (st[0] + st[1])
        o1 = (o[0] + o[1]) / (st[0] + st[1])
        noise = _ROUNDING_ULPS * eps_w * self.mag / (st[0] + st[1])
        if len(p) == 2:
            return (d1, o1, 0.0, noise, min(s), max(s), 0.0, finite, self.bad)
        d2 = (p[2] + p[3]) / (st[2] + st[3])
        o2 = (o[2] + o[3]) / (st[2] + st[3])
        k = abs(2.0 * (s[0] - s[1]) - (s[2] - s[3]))
        return (d1 + (d1 - d2) / 3.0, o1 + (o1 - o2) / 3.0, abs(d1 - d2), noise, min(s), max(s),
                k, finite, self.bad)


class _Evaluator:
    """Calls f on float64 copies, perturbing one input at a time, and counts the calls.

    A probe is first evaluated at +-h (a central difference). Probes whose analytic value
    disagrees are refined with +-2h: Richardson extrapolation, an error estimate and the
    one-sided slopes that reveal a kink. Agreement at the first stage is already a pass:
    a wrong gradient does not agree with an independent estimate to within rtol by chance.
    """

    def __init__(self, f, args, scalars, y0, w, eps_w):
        self.f = f
        self.args = args
        self.scalars = scalars  # positions of inputs the caller gave as Python numbers
        self.y0 = y0.reshape(-1)
        self.shape = y0.shape
        self.scalar = y0.size == 1
        self.w = w.reshape(-1)
        self.wy0 = np.abs(self.w) * np.abs(self.y0)
        self.w1 = np.stack((self.w, np.ones_like(self.w)), axis=1)  # upstream dout and all ones
        self.eps_w = eps_w
        self.h_rel = eps_w ** (1.0 / 3.0)
        self.count = 0
        self.cache: dict[int, dict[int, _Probe]] = {}

    def call(self) -> np.ndarray:
        self.count += 1
        y = np.array(_unwrap(self.f(*_as_given(self.args, self.scalars))), dtype=np.float64,
                     copy=True)
        if y.shape != self.shape:
            raise _Abort(
                f"f returned shape {y.shape} at a perturbed input but {self.shape} at the given "
                f"inputs: the output shape of f must not depend on the input values"
            )
        return y.reshape(-1)

    def scale(self, pos: int) -> float:
        x = self.args[pos]
        rms = float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0
        return rms if rms > 0 and math.isfinite(rms) else 1.0

    def _add_pair(self, probe: _Probe, y_plus, y_minus, a, b) -> None:
        """Fold the evaluations at x + a and x - b into ``probe``."""
        if self.scalar:
            y0, w = float(self.y0[0]), float(self.w[0])
            up, dn = float(y_plus[0]) - y0, y0 - float(y_minus[0])
            probe.p += [w * up, w * dn]
            probe.o += [up, dn]
            if not probe.mag and (up or dn):
                probe.mag = abs(w) * (abs(float(y_plus[0])) + abs(float(y_minus[0])))
        else:
            up = y_plus - self.y0
            dn = self.y0 - y_minus
            pu = up.dot(self.w1)
            pd = dn.dot(self.w1)
            probe.p += [float(pu[0]), float(pd[0])]
            probe.o += [float(pu[1]), float(pd[1])]
            if not probe.mag:
                # rounding comes from the outputs that the step changed
                probe.mag = 2.0 * float(self.wy0.dot(up != 0))
        probe.steps += [a, b]
        if probe.bad is None and not math.isfinite(sum(probe.p[-2:]) + sum(probe.o[-2:])):
            for step, y in ((a, y_plus), (-b, y_minus)):
                if not np.all(np.isfinite(y)):
                    probe.bad = (step, float(y[~np.isfinite(y)][0]))
                    break

    def entries(self, pos: int, flat: np.ndarray, refine: np.ndarray | None = None) -> _Probes:
        """Probe the given flat indices of input ``pos``; refine where ``refine`` is True."""
        xf = self.args[pos].reshape(-1)
        scale = self.scale(pos)
        cache = self.cache.setdefault(pos, {})
        for i in flat:
            if int(i) not in cache:
                cache[int(i)] = self._entry_pair(xf, int(i), _Probe(), 1, scale)
        if refine is not None:
            for i in flat[refine]:
                if len(cache[int(i)].p) == 2:
                    self._entry_pair(xf, int(i), cache[int(i)], 2, scale)
        return _stack([cache[int(i)].record(self.eps_w) for i in flat])

    def _entry_pair(self, xf: np.ndarray, i: int, probe: _Probe, stage: int, scale: float):
        xi = float(xf[i])
        h = self.h_rel * max(abs(xi), scale) * stage
        plus, minus = xi + h, xi - h
        try:
            xf[i] = plus
            y_plus = self.call()
            xf[i] = minus
            y_minus = self.call()
        finally:
            xf[i] = xi
        self._add_pair(probe, y_plus, y_minus, plus - xi, xi - minus)
        return probe

    def directions(self, pos: int, vs: list[np.ndarray], probes: list[_Probe],
                   refine: np.ndarray | None = None) -> _Probes:
        """Probe input ``pos`` along each direction in ``vs`` (already scaled per entry)."""
        x = self.args[pos]
        saved = x.copy()
        for j, v in enumerate(vs):
            if j == len(probes):
                probes.append(_Probe())
                stage = 1
            elif refine is not None and refine[j] and len(probes[j].p) == 2:
                stage = 2
            else:
                continue
            t = self.h_rel * stage
            try:
                x[...] = saved + t * v
                y_plus = self.call()
                x[...] = saved - t * v
                y_minus = self.call()
            finally:
                x[...] = saved
            self._add_pair(probes[j], y_plus, y_minus, t, t)
        return _stack([p.record(self.eps_w) for p in probes])


def _copies(args: list) -> list:
    return [a.copy() if isinstance(a, np.ndarray) else None for a in args]


def _as_given(args: list, scalars: frozenset) -> list:
    """Inputs the caller gave as numbers reach f as Python floats, not 0-d arrays."""
    if not scalars:
        return args
    return [float(a) if i in scalars else a for i, a in enumerate(args)]


def _stack(recs: list[tuple]) -> _Probes:
    if not recs:
        z = np.zeros(0)
        return _Probes(z, z, z, z, z, z, z, np.zeros(0, dtype=bool), [])
    cols = list(zip(*recs))
    arr = [np.array(c, dtype=np.float64) for c in cols[:7]]
    return _Probes(*arr, finite=np.array(cols[7], dtype=bool), bad=list(cols[8]))


# ---------------------------------------------------------------------------------------------
# the entry point and its options


def check_gradients(
    f: Callable[..., Any],
    inputs: Mapping[str, Any],
    analytic: Mapping[str, Any] | Callable[..., Any],
    *,
    upstream: str | np.ndarray = "random",
    mode: str = "auto",
    seed: int = 0,
    rtol: float | None = None,
    atol: float = 0.0,
    max_entries: int = 400,
    directions: int = 4,
    name: str | None = None,
    shared: Mapping[str, Callable[..., Any]] | None = None,
) -> GradCheckResult:
    """Compare ``analytic`` gradients of ``f`` at ``inputs`` with finite differences.

    ``f`` is called as ``f(*inputs.values())``; float inputs are checked, the others (integer
    labels, masks) are passed through as constants. ``analytic`` is a dict name -> gradient when
    ``f`` returns a scalar, or a callable ``analytic(dout)`` that returns the gradients (a tuple
    in the order of the float inputs, or a dict) for the upstream gradient ``dout``.

    ``upstream`` is "random" (Gaussian, from a private generator seeded by ``seed``), "ones", an
    array of f's output shape, or a number used for every output. A dict ``analytic`` holds the
    gradients for an upstream gradient of 1, or for ``upstream`` when it is given as a number.
    ``mode`` is "auto" (every entry of small inputs; sampled entries plus ``directions`` random
    directions for the large ones, ``max_entries`` entries in all), "full", "sample" or
    "directional". ``rtol`` defaults from the dtypes.

    ``name`` (the checked function's name, e.g. "affine_backward") starts the first line of
    every failure. ``shared`` maps an input that f uses more than once to f with one argument
    per use in that input's place (``{"W": lambda x, W1, W2: W2 @ relu(W1 @ x)}``); it is
    only used to tell, on a failure, whether the gradient holds one use's contribution.

    Returns a ``GradCheckResult``; call ``.assert_ok()`` on it in a test.
    """
    _validate_call(f, inputs, analytic)
    options = _CheckOptions.parse(inputs, upstream=upstream, mode=mode, seed=seed, rtol=rtol,
                                  atol=atol, max_entries=max_entries, directions=directions,
                                  name=name, shared=shared)
    return _run_check(f, inputs, analytic, options)


@dataclass(frozen=True)
class _CheckOptions:
    """The keyword options of one check, validated once (see ``check_gradients``)."""

    upstream: str | np.ndarray  # "random", "ones", a number or an array of f's output shape
    mode: str  # one of _MODES
    seed: int
    rtol: float | None  # None: from the dtypes
    atol: float
    max_entries: int
    directions: int
    name: str | None  # the checked function's name, which starts every failure line
    shared: Mapping[str, Callable[..., Any]]  # input used several times -> f split by use
    uses: Mapping[str, list[str]]  # shared input -> the names of its uses in the split

    @classmethod
    def parse(cls, inputs: Mapping[str, Any], *, upstream, mode, seed, rtol, atol, max_entries,
              directions, name, shared) -> "_CheckOptions":
        """The options from check_gradients' keywords; raises when one is not usable."""
        if mode not in _MODES:
            raise ValueError(f"check_gradients: mode must be one of {', '.join(_MODES)} "
                             f"(got {mode!r})")
        if isinstance(upstream, str) and upstream not in ("random", "ones"):
            raise ValueError(f"check_gradients: upstream must be 'random', 'ones' or an array "
                             f"(got {upstream!r})")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"check_gradients: seed must be a non-negative integer "
                             f"(got {seed!r})")
        if rtol is not None and not (isinstance(rtol, (int, float)) and rtol > 0):
            raise ValueError(f"check_gradients: rtol must be a positive number or None "
                             f"(got {rtol!r})")
        if not (isinstance(atol, (int, float)) and atol >= 0):
            raise ValueError(f"check_gradients: atol must be a number >= 0 (got {atol!r})")
        for label, value, least in (("max_entries", max_entries, 1),
                                    ("directions", directions, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                    or value < least:
                raise ValueError(f"check_gradients: {label} must be an integer >= {least} "
                                 f"(got {value!r})")
        if mode == "directional" and directions < 1:
            raise ValueError("check_gradients: mode='directional' needs directions >= 1 (got 0)")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"check_gradients: name must be a string or None (got "
                            f"{type(name).__name__})")
        return cls(upstream, mode, int(seed), rtol, float(atol), int(max_entries),
                   int(directions), name, shared or {}, _shared_uses(inputs, shared))


def _shared_uses(inputs: Mapping[str, Any], shared) -> dict[str, list[str]]:
    """For each shared input, the names of its uses in its split function's signature."""
    if shared is None:
        return {}
    if not isinstance(shared, Mapping):
        raise TypeError(f"check_gradients: shared must be a dict input name -> f with one "
                        f"argument per use (got {type(shared).__name__})")
    uses = {}
    for key, split in shared.items():
        if key not in inputs:
            known = ", ".join(map(str, inputs))
            raise ValueError(f"check_gradients: shared names {key!r}, which is not an input "
                             f"(inputs: {known})")
        try:
            params = list(inspect.signature(split).parameters.values())
        except (TypeError, ValueError):
            raise TypeError(f"check_gradients: shared[{key!r}] must be a Python function "
                            f"(got {type(split).__name__})") from None
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        required = [q for q in params if q.kind in positional and q.default is q.empty]
        count = len(required) - (len(inputs) - 1)
        if count < 2 or any(q.kind == inspect.Parameter.VAR_POSITIONAL for q in params):
            raise TypeError(
                f"check_gradients: shared[{key!r}] must take f's arguments in order with one "
                f"argument per use of {key} in its place, so at least {len(inputs) + 1} "
                f"arguments without defaults and no *args (got {len(required)})"
            )
        pos = list(inputs).index(key)
        uses[key] = [q.name for q in required[pos:pos + count]]
    return uses


def _run_check(f, inputs: Mapping[str, Any], analytic, options: _CheckOptions) -> GradCheckResult:
    """One check with validated options, warnings silenced (f may divide by zero at a probe)."""
    checker = _Checker(f, inputs, analytic, options)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return checker.run()


def _validate_call(f, inputs, analytic) -> None:
    """f, inputs and analytic have the types check_gradients takes (raises TypeError)."""
    if not callable(f):
        raise TypeError(f"check_gradients: f must be callable (got {type(f).__name__})")
    if not isinstance(inputs, Mapping) or not inputs:
        raise TypeError(
            "check_gradients: inputs must be a non-empty dict of name -> array, in the order f "
            f"takes them (got {type(inputs).__name__})"
        )
    for key in inputs:
        if not isinstance(key, str):
            raise TypeError(f"check_gradients: input names must be strings (got {key!r})")
    if not (callable(analytic) or isinstance(analytic, Mapping)):
        raise TypeError(
            "check_gradients: analytic must be a dict name -> gradient or a callable "
            f"analytic(dout) (got {type(analytic).__name__})"
        )


# ---------------------------------------------------------------------------------------------
# one run: the base point, the analytic side, and one input at a time


@dataclass
class _Context:
    """One input under check, filled in step by step: the probes and the analytic values there
    (``_probes``), the numerical side and the tolerances (``_estimate``), the verdicts
    (``_compare``) and, for a failing input, the parts of its message."""

    name: str
    pos: int  # position among f's arguments
    x: np.ndarray
    g: np.ndarray  # the analytic gradient in float64
    flat: np.ndarray  # the checked entries, as flat indices
    vs: list  # the checked directions
    a: np.ndarray  # g at the entries
    a_dir: np.ndarray  # g along the directions
    ent: _Probes = field(init=False)
    dirs: _Probes = field(init=False)
    tol: np.ndarray = field(init=False)
    tol_dir: np.ndarray = field(init=False)
    scale: float = field(init=False)  # the largest numerical entry: what "clearly nonzero" means
    ok: np.ndarray = field(init=False)
    kink: np.ndarray = field(init=False)
    ok_dir: np.ndarray = field(init=False)
    kink_dir: np.ndarray = field(init=False)
    err_dir: np.ndarray = field(init=False)
    prefix: str = ""
    body: str = ""
    shape_note: str = ""

    @property
    def n(self) -> np.ndarray:
        return self.ent.R

    @property
    def n1(self) -> np.ndarray:
        return self.ent.R1

    @property
    def n_dir(self) -> np.ndarray:
        return self.dirs.R

    @property
    def n1_dir(self) -> np.ndarray:
        return self.dirs.R1


class _Checker:
    """One run of check_gradients: holds the inputs, the copies and the verdicts.

    ``run`` evaluates f at the given inputs, collects the analytic gradients, plans which
    entries and directions each input gets, checks each input (``_check_input`` and its
    steps), then lets ``_Hints`` name the likely cause of each failure.
    """

    def __init__(self, f, inputs: Mapping[str, Any], analytic, options: _CheckOptions):
        self.f = f
        self.opt = options
        self.failed: dict[str, _Context] = {}  # failing inputs, for the swap hint
        self.probe_grads: dict[str, dict[str, np.ndarray]] = {}  # analytic at other upstreams
        self.analytic = analytic
        self.names = list(inputs)
        self.raw = [inputs[n] for n in self.names]
        streams = np.random.SeedSequence([options.seed, _PRIVATE_STREAM]).spawn(3)
        self.rng_dout, self.rng_pick, self.rng_dir = (np.random.default_rng(s) for s in streams)
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.results: dict[str, InputResult] = {}
        self.ev: _Evaluator | None = None
        self.base_calls = 0

        self.float_names: list[str] = []
        self.float_pos: dict[str, int] = {}
        self.x: dict[str, np.ndarray] = {}  # caller's values as arrays (original dtype)
        scalars = set()
        for pos, (name, value) in enumerate(zip(self.names, self.raw)):
            arr = np.asarray(_unwrap(value))
            if arr.dtype.kind == "c":
                raise TypeError(
                    f"check_gradients: input {name!r} is complex ({arr.dtype}); only real float "
                    f"inputs can be checked"
                )
            if arr.dtype.kind == "f":
                self.float_names.append(name)
                self.float_pos[name] = pos
                self.x[name] = arr
                if not isinstance(_unwrap(value), np.ndarray):
                    scalars.add(pos)
        self.scalars = frozenset(scalars)
        if not self.float_names:
            kinds = ", ".join(f"{n} ({np.asarray(_unwrap(v)).dtype})"
                              for n, v in zip(self.names, self.raw))
            raise ValueError(
                f"check_gradients: no float input to check (inputs: {kinds}); pass the arrays "
                f"to differentiate as floats, e.g. x.astype(float)"
            )
        # snapshots of everything the caller owns, to catch in-place changes
        self.snap = [np.array(np.asarray(_unwrap(v)), copy=True)
                     if isinstance(_unwrap(v), np.ndarray) else None for v in self.raw]

    # -- orchestration -------------------------------------------------------------------------

    def run(self) -> GradCheckResult:
        try:
            self._run()
        except _Abort as stop:
            self.problems.append(str(stop))
        count = self.ev.count if self.ev is not None else self.base_calls
        return GradCheckResult(self.results, self.problems, self.notes, count, self.opt.mode,
                               self.opt.seed, self.opt.name)

    def _args(self, as_float64: bool) -> list:
        out = []
        for pos, (name, value) in enumerate(zip(self.names, self.raw)):
            if name in self.float_pos and pos in self.scalars and not as_float64:
                out.append(value)
            elif name in self.float_pos:
                arr = self.x[name]
                out.append(np.array(arr, dtype=np.float64 if as_float64 else arr.dtype, copy=True))
            elif isinstance(_unwrap(value), np.ndarray):
                out.append(np.array(_unwrap(value), copy=True))
            else:
                out.append(value)
        return out

    def _call(self, args) -> np.ndarray:
        self.base_calls += 1
        y = _unwrap(self.f(*args))
        if isinstance(y, (tuple, list)) and y and not np.isscalar(y[0]):
            raise TypeError(
                f"check_gradients: f must return one array or a number (got a {type(y).__name__} "
                f"of {len(y)} items); check one output at a time"
            )
        arr = np.array(y, copy=True)
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"check_gradients: f must return numbers (got dtype {arr.dtype})")
        return arr

    def _run(self) -> None:
        y_orig, args64, y0, eps_w = self._base_point()
        # the upstream gradient and the analytic gradients
        dout = self._make_dout(y_orig)
        grads = self._collect_analytic(dout)
        self.dout = dout
        # the numerical side, then one input at a time
        self.ev = _Evaluator(self.f, args64, self.scalars, y0, np.asarray(dout, np.float64),
                             eps_w)
        self.ev.count = self.base_calls
        self.y_dtype = y_orig.dtype
        splits = _SharedSplits(self.opt, self.ev, self.float_pos, self.scalars, dout)
        splits.check(y0, eps_w)
        self.hints = _Hints(self.ev, dout, self._analytic_at, self._batch_sizes(y0), self.x,
                            splits)
        plan = self._plan()
        for name in self.float_names:
            self.results[name] = self._check_input(name, grads[name], plan[name])
        for name, hint in self.hints.swaps(self.failed).items():
            self.results[name].hint = hint
            self._compose(self.results[name])
        for name, r in self.results.items():
            self.notes += [f"{name}: {note}" for note in r.notes]

    def _base_point(self) -> tuple[np.ndarray, list, np.ndarray, float]:
        """f at the caller's precision (the dtype and shape dout must have), then twice in
        float64: the point the finite differences start from, and a determinism check.
        Returns f's output as given, the float64 arguments, f's float64 output and its eps."""
        args_orig = self._args(as_float64=False)
        kept = _copies(args_orig)
        y_orig = self._call(args_orig)
        self._check_f_mutation(args_orig, kept)
        args64 = self._args(as_float64=True)
        kept = _copies(args64)
        y0_raw = self._call(_as_given(args64, self.scalars))
        y0 = np.array(y0_raw, dtype=np.float64)
        y0b = np.array(self._call(_as_given(args64, self.scalars)), dtype=np.float64)
        self._check_f_mutation(args64, kept)
        if not _same(y0, y0b):
            diff = np.abs(y0 - y0b)
            diff = np.where(np.isfinite(diff) | (np.isnan(y0) & np.isnan(y0b)), diff, np.inf)
            idx = _unravel(np.argmax(diff), y0.shape)
            raise _Abort(
                f"f is not deterministic: two calls with the same inputs differ by up to "
                f"{_num(diff[idx])}{_output_at(idx)}; remove the randomness (dropout, "
                f"sampling) or fix its seed inside f"
            )
        if not np.all(np.isfinite(y0)):
            idx = _first_index(~np.isfinite(y0))
            raise _Abort(
                f"f returned {_num(y0[idx])}{_output_at(idx)} for the given inputs: "
                f"choose inputs inside the domain of f (no log of 0, no division by 0)"
            )
        eps_w = _eps(y0_raw.dtype) if y0_raw.dtype.kind == "f" else _eps(np.float64)
        return y_orig, args64, y0, eps_w

    # -- the base point and the analytic side --------------------------------------------------

    def _check_f_mutation(self, args: list, kept: list) -> None:
        for name, before, now in zip(self.names, kept, args):
            if before is not None and not _same(before, now):
                raise _Abort(
                    f"f changed its input {name} in place ({name}{_diff_report(before, now)}): "
                    f"f must not modify its arguments; work on a copy inside f"
                )

    def _make_dout(self, y_orig: np.ndarray) -> np.ndarray:
        shape = y_orig.shape
        dtype = y_orig.dtype if y_orig.dtype.kind == "f" else np.dtype(np.float64)
        if isinstance(self.analytic, Mapping):
            if y_orig.size != 1:
                raise TypeError(
                    f"check_gradients: f returns an array of shape {shape}, so analytic must be "
                    f"a callable analytic(dout) returning the gradients for an upstream gradient "
                    f"dout of that shape (got a dict, which only fits a scalar f)"
                )
            if isinstance(self.opt.upstream, str):
                return np.ones(shape, dtype=dtype)
        if isinstance(self.opt.upstream, str):
            if self.opt.upstream == "ones":
                return np.ones(shape, dtype=dtype)
            return self.rng_dout.standard_normal(shape).astype(dtype)
        given = np.asarray(_unwrap(self.opt.upstream))
        if given.ndim == 0 or given.size == 1 == int(np.prod(shape)):
            return np.full(shape, given.reshape(-1)[0], dtype=dtype)
        if given.shape != shape:
            raise ValueError(
                f"check_gradients: upstream must have the shape of f's output {shape} "
                f"(got {given.shape})"
            )
        return given.astype(dtype)

    def _collect_analytic(self, dout: np.ndarray) -> dict[str, Any]:
        if isinstance(self.analytic, Mapping):
            raw = self.analytic
        else:
            given = dout.copy()
            raw = _unwrap(self.analytic(given))
            if not _same(given, dout):
                self.problems.append(
                    f"the backward changed dout in place (dout{_diff_report(dout, given)}): "
                    f"build a new array instead, e.g. dx = dout * mask or dx = dout.copy()"
                )
        for pos, name in enumerate(self.names):
            before = self.snap[pos]
            now = _unwrap(self.raw[pos])
            if before is not None and not _same(before, np.asarray(now)):
                self.problems.append(
                    f"the backward changed the input {name} in place "
                    f"({name}{_diff_report(before, np.asarray(now))}): work on a copy, e.g. "
                    f"{name} = {name}.copy(), and leave the caller's arrays alone"
                )
        return self._by_name(raw)

    def _by_name(self, raw) -> dict[str, Any]:
        """What analytic returned, as float input name -> gradient (raises _Abort if it can't)."""
        names = self.float_names
        listing = ", ".join(names)
        if isinstance(raw, Mapping):
            extra = [k for k in raw if k not in names]
            if extra and extra[0] in self.names:
                value = _unwrap(self.raw[self.names.index(extra[0])])
                raise _Abort(
                    f"analytic returned a gradient for {extra[0]}, but {extra[0]} is not a float "
                    f"input ({_describe(value)}), so it is held constant; pass it as floats "
                    f"(e.g. 2.0 or x.astype(float)) to check its gradient"
                )
            if extra:
                raise _Abort(
                    f"analytic returned a gradient for {extra[0]!r}, which is not an input "
                    f"(float inputs: {listing})"
                )
            return {n: raw.get(n) for n in names}
        if isinstance(raw, (tuple, list)) and len(names) == 1 and len(raw) != 1:
            return {names[0]: np.asarray(raw)}  # one input: a list of numbers is its gradient
        if isinstance(raw, (tuple, list)):
            if len(raw) != len(names):
                raise _Abort(
                    f"analytic returned {len(raw)} gradients; expected {len(names)}, one per float "
                    f"input in order: {listing}"
                )
            return {n: _unwrap(g) for n, g in zip(names, raw)}
        if len(names) == 1:
            return {names[0]: raw}
        what = "None" if raw is None else "a single gradient"
        raise _Abort(
            f"analytic returned {what}; expected a tuple of {len(names)} gradients in the order "
            f"{listing} (or a dict name -> gradient)"
        )

    def _analytic_at(self, which: str) -> dict[str, np.ndarray]:
        """analytic's gradients for 2 * dout ("double") or all ones ("ones"), by input name;
        empty for a dict analytic or when the call fails (then there is no evidence)."""
        if which not in self.probe_grads:
            got: dict[str, np.ndarray] = {}
            if not isinstance(self.analytic, Mapping):
                dout = 2 * self.dout if which == "double" else np.ones_like(self.dout)
                try:
                    grads = self._by_name(_unwrap(self.analytic(dout)))
                except Exception:  # student code on a second upstream gradient: no evidence
                    grads = {}
                for name, g in grads.items():
                    fitted = self._fit(name, g)
                    if fitted is not None:
                        got[name] = fitted
            self.probe_grads[which] = got
        return self.probe_grads[which]

    def _fit(self, name: str, g) -> np.ndarray | None:
        """A probe's gradient as float64 of the input's shape (as the shape advice fixes it)."""
        x = self.x[name]
        try:
            arr = None if g is None else np.array(_unwrap(g), dtype=np.float64)
        except (TypeError, ValueError):
            arr = None
        if arr is not None and arr.shape != x.shape:
            arr = _shape_advice(f"d{name}", arr, x, name)[0]
        if arr is None or arr.shape != x.shape or not np.all(np.isfinite(arr)):
            return None
        return arr

    def _batch_sizes(self, y0: np.ndarray) -> list[int]:
        """Likely batch sizes: the output's first axis, the first axis of constant arrays
        (labels), and a first axis that several inputs share."""
        sizes = {int(y0.shape[0])} if y0.ndim >= 1 else set()
        leading: list[int] = []
        for name, value in zip(self.names, self.raw):
            arr = _unwrap(value)
            if isinstance(arr, np.ndarray) and arr.ndim >= 1:
                leading.append(int(arr.shape[0]))
                if name not in self.float_pos:
                    sizes.add(int(arr.shape[0]))
        sizes.update(n for n in leading if leading.count(n) >= 2)
        return sorted(n for n in sizes if n > 2)

    # -- which entries and directions each input gets ------------------------------------------

    def _plan(self) -> dict[str, tuple[bool, int, int]]:
        """name -> (full, number of sampled entries, number of directions)."""
        sizes = {n: self.x[n].size for n in self.float_names}
        mode, n_dirs = self.opt.mode, self.opt.directions
        if mode == "full":
            return {n: (True, sizes[n], 0) for n in self.float_names}
        if mode == "directional":
            return {n: (False, 0, n_dirs) for n in self.float_names}
        plan = {}
        budget = self.opt.max_entries
        order = sorted(self.float_names, key=lambda n: sizes[n])
        for k, name in enumerate(order):
            share = budget // (len(order) - k)
            if sizes[name] <= max(share, 1):
                plan[name] = (True, sizes[name], 0)
                budget -= sizes[name]
            else:
                take = max(share, 1)
                dirs = n_dirs if mode == "auto" else 0
                plan[name] = (False, take, dirs)
                budget -= min(take, budget)
        return plan

    def _pick(self, g: np.ndarray, k: int) -> np.ndarray:
        """k flat indices: non-finite and largest analytic entries, zeros, then random ones."""
        n = g.size
        flat = g.reshape(-1)
        chosen: list[int] = []
        seen: set[int] = set()

        def add(indices, limit):
            for i in indices:
                if len(chosen) >= limit:
                    return
                i = int(i)
                if i not in seen:
                    seen.add(i)
                    chosen.append(i)

        add(np.flatnonzero(~np.isfinite(flat)), k)
        mag = np.where(np.isfinite(flat), np.abs(flat), -1.0)
        quarter = max(1, k // 4)
        add(np.argsort(-mag, kind="stable")[:quarter], len(chosen) + quarter)
        zeros = np.flatnonzero(flat == 0)
        if zeros.size:
            add(self.rng_pick.permutation(zeros)[:quarter], len(chosen) + quarter)
        add(self.rng_pick.permutation(n), k)
        return np.array(sorted(chosen), dtype=np.int64)

    # -- one input -----------------------------------------------------------------------------

    def _check_input(self, name: str, g_raw, plan) -> InputResult:
        """One input's verdict: a usable gradient, the probes, both sides there, the hint."""
        x = self.x[name]
        res = InputResult(name=name, shape=tuple(x.shape), dtype=str(x.dtype), passed=False)
        prefix = f"gradient of {name} {_shape_words(res.shape)}"
        usable = self._usable_gradient(res, prefix, g_raw)
        if usable is None:
            return res
        gf, rtol, shape_note = usable
        c = self._probes(name, gf, plan)
        res.full = bool(plan[0])
        res.entries_checked = int(c.flat.size)
        res.directions_checked = len(c.vs)
        self._estimate(c, rtol)
        where = self._domain_failure(c)
        if where:
            res.hint = ("the input sits at the edge of f's domain (log or sqrt of 0, a division "
                        "by 0); move it inside the domain")
            res.message = f"{prefix}: f is not finite {where}. Hint: {res.hint}"
            return res
        self._compare(c, res)
        if res.passed:
            if shape_note:
                res.passed = False
                res.hint = shape_note
                res.worst = []
                res.message = (f"{prefix}: {shape_note}; with that change it matches the "
                               f"numerical gradient")
            return res
        res.hint = self.hints.diagnose(c)
        c.prefix, c.body, c.shape_note = prefix, self._failure_body(c, res), shape_note
        self.failed[name] = c
        self._compose(res)
        return res

    def _usable_gradient(self, res: InputResult, prefix: str, g_raw):
        """analytic's gradient of one input as float64 in the input's shape, the rtol the dtypes
        call for, and the shape advice if it had to be reshaped; None (with ``res.message``)
        when it cannot be used."""
        name, x = res.name, self.x[res.name]
        d = f"d{name}"
        if g_raw is None:
            res.hint = f"return an array of shape {res.shape} for {name}"
            res.message = (f"{prefix}: {d} is None; the backward returned no gradient for {name}. "
                           f"Hint: {res.hint}")
            return None
        g = np.asarray(g_raw)
        if g.dtype.kind not in "fiub":
            res.message = (f"{prefix}: {d} is not an array of numbers (got dtype {g.dtype}). "
                           f"Hint: return a float array of shape {res.shape}")
            return None
        shape_note = ""
        if g.shape != x.shape:
            fixed, advice = _shape_advice(d, g, x, name)
            if fixed is None:
                res.hint = advice
                res.message = f"{prefix}: {advice}"
                return None
            shape_note = advice
            g = fixed
        eps_a = max(_eps(x.dtype), _eps(g.dtype) if g.dtype.kind == "f" else 0.0,
                    _eps(self.y_dtype) if self.y_dtype.kind == "f" else 0.0)
        rtol = self.opt.rtol if self.opt.rtol is not None else _default_rtol(eps_a)
        gf = np.array(g, dtype=np.float64, copy=True)  # analytic may reuse its buffers
        bad = ~np.isfinite(gf)
        if bad.any():
            idx = _first_index(bad)
            res.hint = ("look for a division by zero or an overflowing exp (use a stable form, "
                        "e.g. subtract the max before exp)")
            res.message = (f"{prefix}: {d} contains {_num(gf[idx])} at {_at(name, idx)} "
                           f"({_plural(int(bad.sum()), 'non-finite entry', 'non-finite entries')})."
                           f" Hint: {res.hint}")
            return None
        return gf, rtol, shape_note

    def _probes(self, name: str, gf: np.ndarray, plan) -> _Context:
        """The entries and random directions to check for one input, and gf's values there."""
        full, k, ndir = plan
        pos = self.float_pos[name]
        x = self.x[name]
        flat = np.arange(x.size) if full else (self._pick(gf, k) if k else np.zeros(0, np.int64))
        vs = []
        if ndir:
            scale = np.maximum(np.abs(self.ev.args[pos]), self.ev.scale(pos))
            vs = [self.rng_dir.standard_normal(x.shape) * scale for _ in range(ndir)]
        return _Context(name=name, pos=pos, x=x, g=gf, flat=flat, vs=vs, a=gf.reshape(-1)[flat],
                        a_dir=np.array([float(np.sum(gf * v)) for v in vs]))

    def _estimate(self, c: _Context, rtol: float) -> None:
        """The numerical side at c's probes and each probe's tolerance: central differences
        first, refined (Richardson, one-sided slopes) where they disagree or a kink is likely."""
        ev, pos = self.ev, c.pos
        vnorm = np.array([float(np.linalg.norm(v)) for v in c.vs])
        spread = np.array([float(np.linalg.norm(c.g * v)) for v in c.vs])
        dir_probes: list[_Probe] = []
        ent = ev.entries(pos, c.flat)
        dirs = ev.directions(pos, c.vs, dir_probes)
        finite = ent.R[ent.finite]
        scale_g = float(np.max(np.abs(finite))) if finite.size else \
            float(np.max(np.abs(c.g))) if c.g.size else 0.0
        if scale_g == 0.0:
            # f does not depend on this input at all (not even by rounding): judge the analytic
            # values, which may be rounding noise, against the size of f over the input's scale
            scale_g = float(ev.wy0.sum()) / ev.scale(pos)
        floor = rtol * _FLOOR * scale_g

        def tolerances(e: _Probes, d: _Probes):
            t_e = self.opt.atol + rtol * np.abs(e.R) + floor + 2 * e.E + e.noise
            t_d = (self.opt.atol * vnorm + rtol * (np.abs(d.R) + spread) + floor * vnorm
                   + 2 * d.E + d.noise)
            return t_e, t_d

        tol_ent, tol_dir = tolerances(ent, dirs)
        # refine where the values disagree, and where the one-sided slopes jump (a kink?)
        # An entry whose analytic value lies far outside the one-sided slopes is off for sure:
        # for a smooth f the slopes bracket f' up to O(h^2), at a kink they bracket the jump.
        a_ent, a_dir = c.a, c.a_dir
        jump = ent.hi - ent.lo
        suspect = jump > 0.01 * (np.abs(ent.hi) + np.abs(ent.lo)) + tol_ent
        margin = tol_ent + jump
        gross = (a_ent < ent.lo - margin) | (a_ent > ent.hi + margin)
        refine_ent = (~(np.abs(a_ent - ent.R) <= tol_ent) | suspect) & ~gross & ent.finite
        refine_dir = ~(np.abs(a_dir - dirs.R) <= tol_dir) & dirs.finite
        if refine_ent.any():
            ent = ev.entries(pos, c.flat, refine_ent)
        if refine_dir.any():
            dirs = ev.directions(pos, c.vs, dir_probes, refine_dir)
        c.ent, c.dirs, c.scale = ent, dirs, scale_g
        c.tol, c.tol_dir = tolerances(ent, dirs)

    def _domain_failure(self, c: _Context) -> str:
        """Where f was not finite at a probe, in words; "" when every probe was finite."""
        ent, dirs = c.ent, c.dirs
        if not ent.finite.all():
            j = int(np.flatnonzero(~ent.finite)[0])
            idx = _unravel(c.flat[j], c.x.shape)
            step, val = ent.bad[j]
            where = (f"near {_at(c.name, idx)} = {_num(self.ev.args[c.pos].reshape(-1)[c.flat[j]])}"
                     f" (f is {_num(val)} after a step of {_num(step)})")
            count = int((~ent.finite).sum())
        elif not dirs.finite.all():
            where = "along a random direction"
            count = int((~dirs.finite).sum())
        else:
            return ""
        return f"{where}; {_plural(count, 'probe')} could not be evaluated"

    def _compare(self, c: _Context, res: InputResult) -> None:
        """Each probe's verdict, where a kink accepts any value between the one-sided slopes,
        and what ``res`` reports of them: counts, largest errors, worst entries, kinks."""
        ent, dirs = c.ent, c.dirs
        c.kink = ent.K > c.tol + 4 * ent.noise
        err_ent = np.abs(c.a - ent.R)
        in_band = (c.a >= ent.lo - c.tol) & (c.a <= ent.hi + c.tol)
        c.ok = (err_ent <= c.tol) | (c.kink & in_band)
        err_ent = np.where(c.kink & in_band, 0.0, err_ent)
        err_ent = np.where(c.kink & ~in_band,
                           np.minimum(np.abs(c.a - ent.lo), np.abs(c.a - ent.hi)), err_ent)
        c.kink_dir = dirs.K > c.tol_dir + 4 * dirs.noise
        c.err_dir = np.abs(c.a_dir - dirs.R)
        c.ok_dir = (c.err_dir <= c.tol_dir) | c.kink_dir  # a kinked direction proves nothing

        res.entries_off = int((~c.ok).sum())
        res.directions_off = int((~c.ok_dir).sum())
        res.passed = res.entries_off == 0 and res.directions_off == 0
        res.kink_directions = int(c.kink_dir.sum())
        res.kinks = [_unravel(c.flat[j], c.x.shape) for j in np.flatnonzero(c.kink)]
        all_err = np.concatenate([err_ent, np.where(c.kink_dir, 0.0, c.err_dir)])
        all_a = np.concatenate([c.a, c.a_dir])
        all_n = np.concatenate([ent.R, dirs.R])
        res.max_abs_error = float(all_err.max()) if all_err.size else 0.0
        denom = np.maximum(np.abs(all_a), np.abs(all_n))
        rel = np.divide(all_err, denom, out=np.zeros_like(all_err), where=denom > 0)
        res.max_rel_error = float(rel.max()) if rel.size else 0.0

        ratio = err_ent / np.maximum(c.tol, np.finfo(float).tiny)
        shown = np.argsort(-ratio, kind="stable")[:_SHOW]
        res.worst = [Entry(_unravel(c.flat[j], c.x.shape), float(c.a[j]), float(ent.R[j]),
                           float(err_ent[j])) for j in shown if res.passed or not c.ok[j]]
        probes = c.flat.size + len(c.vs)
        if probes and len(res.kinks) + res.kink_directions == probes:
            res.notes.append(
                "every checked entry sits at a kink (ReLU at 0, a tie in a max, abs at 0), where "
                "any value between the one-sided slopes is accepted, so this check is weak; move "
                "the inputs away from the kinks for a stronger test"
            )

    def _failure_body(self, c: _Context, res: InputResult) -> str:
        """How many checked entries (or directions) are off, and the worst of them."""
        if c.flat.size and res.entries_off:
            verb = "is" if res.entries_off == 1 else "are"
            noun = "entry" if c.flat.size == 1 else "entries"
            body = (f"{res.entries_off} of {c.flat.size} checked {noun} {verb} off; worst at "
                    f"{res.worst[0].describe(c.name)}")
            if res.directions_off:
                body += f" (and {res.directions_off} of {len(c.vs)} random directions)"
            return body
        j = int(np.argmax(np.where(c.ok_dir, -1.0, c.err_dir)))
        verb = "is" if res.directions_off == 1 else "are"
        return (f"{res.directions_off} of {len(c.vs)} random directions {verb} off; worst: "
                f"analytic {_num(c.a_dir[j])}, numerical {_num(c.dirs.R[j])} (directional "
                f"derivatives)")

    def _compose(self, res: InputResult) -> None:
        """A failing input's message from its parts and its hint."""
        c = self.failed[res.name]
        if c.shape_note:
            res.message = f"{c.prefix}: {c.shape_note}; even then {c.body}. Hint: {res.hint}"
        else:
            res.message = f"{c.prefix}: {c.body}. Hint: {res.hint}"

def _shape_advice(d: str, g: np.ndarray, x: np.ndarray, name: str):
    """For a gradient of the wrong shape: (fixed gradient or None, advice in words)."""
    want = x.shape
    got = g.shape
    if g.size == 1 and x.size > 1:
        return None, (f"{d} is a single number ({_num(g.reshape(-1)[0])}) but {name} has shape "
                      f"{want}: return one gradient entry per entry of {name} (did a sum or a "
                      f"mean reduce too much?)")
    if g.size == 1 and x.size == 1:
        return g.reshape(want), f"{d} has shape {got} but {name} has shape {want}; reshape it"
    if g.size == x.size and tuple(n for n in got if n != 1) == tuple(n for n in want if n != 1):
        return g.reshape(want), f"your {d} has shape {got} but {name} has shape {want}; " \
                                f"reshape it to {want}"
    if g.ndim == 2 and x.ndim == 2 and got == want[::-1]:
        return g.T, f"your {d} has shape {got} but {name} has shape {want}: return {d}.T"
    if g.ndim > x.ndim and got[g.ndim - x.ndim:] == want:
        axes = tuple(range(g.ndim - x.ndim))
        words = f"axis {axes[0]}" if len(axes) == 1 else f"axes {axes}"
        return g.sum(axis=axes), (f"your {d} has shape {got}; sum over {words} to get {want}, "
                                  f"since {name} is shared by every sample and its gradients add "
                                  f"up")
    if g.ndim == x.ndim + 1:
        for axis in range(g.ndim):
            if got[:axis] + got[axis + 1:] == want:
                return g.sum(axis=axis), f"your {d} has shape {got}; sum over axis {axis} " \
                                         f"to get {want}"
    if g.ndim == x.ndim and all(w in (1, s) for w, s in zip(want, got)):
        axes = tuple(i for i, (w, s) in enumerate(zip(want, got)) if w != s)
        words = f"axis {axes[0]}" if len(axes) == 1 else f"axes {axes}"
        return g.sum(axis=axes, keepdims=True), (f"your {d} has shape {got}; sum over {words} "
                                                 f"with keepdims=True to get {want}")
    if g.size == x.size:
        return g.reshape(want), f"your {d} has shape {got} but {name} has shape {want}; " \
                                f"reshape it to {want}"
    return None, (f"your {d} has shape {got} but {name} has shape {want}: the gradient must have "
                  f"the shape of the input it belongs to")


# ---------------------------------------------------------------------------------------------
# hints: the likely cause of a failing input, named only on evidence


class _SharedSplits:
    """f split by the uses of each shared input (``shared=``): each split must compute f, and
    one use can be varied alone to see whether a gradient holds only its contribution."""

    def __init__(self, options: _CheckOptions, ev: _Evaluator, float_pos: dict[str, int],
                 scalars: frozenset, dout: np.ndarray):
        self.shared = options.shared
        self.uses = options.uses  # shared input -> the names of its uses in the split
        self.ev = ev
        self.float_pos = float_pos
        self.scalars = scalars
        self.dout = dout
        self.y0: dict[str, np.ndarray] = {}  # shared input -> its split's value
        self.evs: dict[tuple[str, int], _Evaluator] = {}  # (input, use) -> evaluator

    def check(self, y0: np.ndarray, eps_w: float) -> None:
        """Each split in ``shared``, with every use given the input's value, must compute f."""
        for name, split in self.shared.items():
            if name not in self.float_pos:
                raise ValueError(f"check_gradients: shared names {name!r}, which is not a float "
                                 f"input (only float inputs are checked)")
            pos, given = self._args(name)
            k = len(self.uses[name])
            ys = np.array(_unwrap(split(*given[:pos], *[given[pos]] * k, *given[pos + 1:])),
                          dtype=np.float64)
            tol = math.sqrt(eps_w) * (1.0 + float(np.max(np.abs(y0))))
            if ys.shape != y0.shape or not np.all(np.abs(ys - y0) <= tol):
                got = f"shape {ys.shape}" if ys.shape != y0.shape else \
                    _num(ys.reshape(-1)[int(np.argmax(np.abs(ys - y0)))])
                want = f"shape {y0.shape}" if ys.shape != y0.shape else \
                    _num(y0.reshape(-1)[int(np.argmax(np.abs(ys - y0)))])
                raise ValueError(
                    f"check_gradients: shared[{name!r}] with all {k} uses set to {name} must "
                    f"compute f, but it gives {got} where f gives {want}"
                )
            self.y0[name] = ys

    def evaluator(self, name: str, k: int) -> _Evaluator:
        """An evaluator of the split of f that varies use k of the shared input only."""
        if (name, k) not in self.evs:
            pos, given = self._args(name)
            split, uses = self.shared[name], len(self.uses[name])

            def one_use(xk):
                return split(*given[:pos], *[xk if j == k else given[pos] for j in range(uses)],
                             *given[pos + 1:])

            x0 = np.array(self.ev.args[pos], dtype=np.float64, copy=True)
            scalars = frozenset({0}) if pos in self.scalars else frozenset()
            self.evs[name, k] = _Evaluator(one_use, [x0], scalars, self.y0[name],
                                           np.asarray(self.dout, np.float64), self.ev.eps_w)
        return self.evs[name, k]

    def _args(self, name: str) -> tuple[int, list]:
        """The position of a shared input and f's arguments (float64 copies, as given)."""
        pos = self.float_pos[name]
        given = [float(v) if i in self.scalars else
                 np.array(v, copy=True) if isinstance(v, np.ndarray) else v
                 for i, v in enumerate(self.ev.args)]
        return pos, given


class _Hints:
    """Names the likely cause of a failing input, only where the evidence for it holds."""

    def __init__(self, ev: _Evaluator, dout: np.ndarray, analytic_at, batch_sizes: list[int],
                 x: dict[str, np.ndarray], splits: _SharedSplits):
        self.ev = ev
        self.dout = dout
        self.dout_is_ones = bool(np.all(dout == 1))
        first = dout.reshape(-1)[0] if dout.size else 0.0
        self.dout_value = float(first) if dout.size and np.all(dout == first) else None
        self.analytic_at = analytic_at  # "double" or "ones" -> analytic's gradients there
        self.batch_sizes = batch_sizes
        self.x = x  # every float input, for the shapes that tell the batch axis
        self.splits = splits

    def diagnose(self, c: _Context) -> str:
        """The hint for one failing input: the first cause with evidence, else where it is off."""
        d = f"d{c.name}"
        use, use_dir = ~c.kink, ~c.kink_dir
        a = np.concatenate([c.a[use], c.a_dir[use_dir]])
        n = np.concatenate([c.n[use], c.n_dir[use_dir]])
        n1 = np.concatenate([c.n1[use], c.n1_dir[use_dir]])
        tol = np.concatenate([c.tol[use], c.tol_dir[use_dir]])
        hint = (self._upstream(c, d, a, n, n1) or self._shared(c, d, a, n, use, use_dir)
                or self._ratio(c, d, a, n, n1, tol, use, use_dir))
        # transposed (square matrices; other shapes are caught by the shape check)
        if not hint and c.x.ndim == 2 and c.x.shape[0] == c.x.shape[1] and c.flat.size > 1:
            hint = self._transposed(c)
        if hint:
            return hint
        if c.x.size == 1:
            return f"recheck the formula for {d}"
        off = ~c.ok & ~c.kink
        if off.any():
            hint = _misplaced_zeros(c, d, off) or _one_row(c, d, off)
            if hint:
                return hint
        elif (~c.ok_dir).any():
            return (f"the {c.flat.size} sampled entries agree, but {int((~c.ok_dir).sum())} of "
                    f"{c.ok_dir.size} random directions do not: some entries that were not "
                    f"sampled are wrong; run with mode='full' to find them")
        return (f"the error varies from entry to entry (it is not a constant factor): recheck "
                f"the formula for {d}")

    def swaps(self, failed: dict[str, _Context]) -> dict[str, str]:
        """Hints for pairs of failing inputs of one shape whose gradients match each other's
        numerical ones, by input name."""
        names = list(failed)
        hints: dict[str, str] = {}
        for i, one in enumerate(names):
            for other in names[i + 1:]:
                c1, c2 = failed[one], failed[other]
                if one in hints or other in hints or c1.x.shape != c2.x.shape:
                    continue
                if self._matches(c1, c2.pos) and self._matches(c2, c1.pos):
                    for me, it in ((one, other), (other, one)):
                        hints[me] = (f"d{me} and d{it} look swapped: d{me} matches the numerical "
                                     f"gradient of {it}, and d{it} that of {me}; return each "
                                     f"gradient in the place of its own input")
        return hints

    def _matches(self, c: _Context, pos: int) -> bool:
        """Does c's analytic gradient match the numerical gradient of input ``pos`` instead?"""
        other = np.concatenate([self.ev.entries(pos, c.flat).R,
                                self.ev.directions(pos, c.vs, []).R])
        return _close(np.concatenate([c.a, c.a_dir]), other) and \
            not _close(np.concatenate([c.n, c.n_dir]), other)

    def _upstream(self, c: _Context, d: str, a, n, n1) -> str:
        """Does the gradient follow the upstream gradient? Asks analytic(2 * dout) if it can."""
        doubled = self.analytic_at("double").get(c.name)
        if doubled is not None and np.any(self.dout != 0):
            g, g2 = c.g.reshape(-1), doubled.reshape(-1)
            if _close(g2, g):
                return (f"the gradient does not change when the upstream gradient does: multiply "
                        f"by dout / out.grad ({d} came out the same for dout and 2 * dout; the "
                        f"chain rule needs the upstream gradient)")
            if float(g @ g) > 0 and not _close(g2, 2.0 * g):
                k = float(g2 @ g) / float(g @ g)
                how = f"multiplied {d} by {_num(k)}" if _close(g2, k * g) else f"did not double {d}"
                return (f"{d} is not linear in the upstream gradient (doubling dout {how}): "
                        f"multiply every term of {d} by dout, once")
        if not self.dout_is_ones and a.size and float(n1 @ n1) > 0:
            if _close(a, n1) and not _close(n, n1):
                u = self.dout_value
                given = (f"is the gradient for an upstream gradient of 1, but the upstream "
                         f"gradient is {_num(u)}" if u is not None else
                         "matches the gradient for an upstream gradient of all ones")
                return (f"{d} {given}: the upstream gradient was not multiplied in; multiply by "
                        f"dout / out.grad (the chain rule needs the upstream gradient)")
        return ""

    def _shared(self, c: _Context, d: str, a, n, use, use_dir) -> str:
        """For an input the caller split into its uses: is the gradient one use's alone?"""
        uses = self.splits.uses.get(c.name, [])
        for k, use_name in enumerate(uses):
            ev = self.splits.evaluator(c.name, k)
            part = np.concatenate([ev.entries(0, c.flat).R[use], ev.directions(0, c.vs, []).R[
                use_dir]])
            if _close(a, part) and not _close(a, n):
                return (f"{d} is the contribution of one use of {c.name} alone ({use_name}, use "
                        f"{k + 1} of {len(uses)}): the gradient of an input used {len(uses)} "
                        f"times is the sum of every use's contribution, and here it was "
                        f"overwritten instead of summed ({d} += ..., not {d} = ...)")
        return ""

    def _ratio(self, c: _Context, d: str, a, n, n1, tol, use, use_dir) -> str:
        """A constant ratio analytic / numerical, named only when the evidence holds."""
        nn = float(n @ n)
        if nn == 0 or not a.size:
            return ""
        factor = float(a @ n) / nn
        resid = float(np.linalg.norm(a - factor * n)) / math.sqrt(nn)
        if factor == 0 or resid >= min(_MATCH, 0.1 * abs(factor - 1.0)):
            return ""
        # the probes where the numerical gradient is clearly nonzero must each show the ratio
        sig = (np.abs(n) > tol) & (np.abs(n) >= 1e-3 * float(np.max(np.abs(n))))
        agree = np.abs(a - factor * n) <= _MATCH * np.abs(factor * n) + tol
        count = int(sig.sum())
        if not count or not agree[sig].all():
            return ""
        if count < 2 or c.x.size < 2:
            j = int(np.argmax(np.where(sig, np.abs(n), -1.0)))
            return (f"{d} is {_num(factor)} times the numerical gradient (off by "
                    f"{_num(abs(a[j] - n[j]))}); a single value cannot tell a wrong factor from "
                    f"a wrong formula, so no cause is named: recheck the formula for {d}")
        u = self.dout_value
        if u not in (None, 0.0, 1.0) and (_near(factor, u) or _near(factor, 1.0 / u)):
            return (f"{d} is {_num(factor)} times the numerical gradient, and the upstream "
                    f"gradient is {_num(u)} everywhere: check that {d} is multiplied by dout "
                    f"exactly once")
        ones = None if self.ev.scalar or self.dout_is_ones else \
            self.analytic_at("ones").get(c.name)
        if ones is not None and np.any(np.abs(n1) > tol):
            if not _close(_at_probes(c, ones, use, use_dir), factor * n1):
                return ""  # the ratio changes with the upstream gradient: not a constant factor
        sizes = set(self.batch_sizes)
        rows = {int(x.shape[0]) for x in self.x.values() if x.ndim >= 2}
        if c.x.ndim >= 2 and rows == {c.x.shape[0]} and c.x.shape[0] > 2:
            sizes.add(int(c.x.shape[0]))  # the inputs with rows agree: the first axis is the batch
        return _factor_hint(d, factor, count, sorted(sizes)) or (
            f"{d} is {_num(factor)} times the numerical gradient at only {count} entries, too "
            f"few to call it a constant factor: recheck the formula for {d}")

    def _transposed(self, c: _Context) -> str:
        """Does a square input's gradient match the transpose of the numerical one?"""
        rows, cols = c.x.shape
        picks = c.flat[:_PROBE_CAP]
        r, q = np.divmod(picks, cols)
        swapped = q * cols + r
        n_t = self.ev.entries(c.pos, swapped).R
        a = c.g.reshape(-1)[picks]
        if np.any(swapped != picks) and _close(a, n_t) and not _close(a, c.n[:picks.size]):
            return (f"d{c.name} matches the transpose of the numerical gradient: return "
                    f"d{c.name}.T (the gradient has the layout of {c.name})")
        return ""


def _at_probes(c: _Context, g: np.ndarray, use, use_dir) -> np.ndarray:
    """A full gradient array read at c's entries and directions (kinks left out)."""
    dirs = np.array([float(np.sum(g * v)) for v in c.vs], dtype=np.float64)
    return np.concatenate([g.reshape(-1)[c.flat][use], dirs[use_dir]])


def _factor_hint(d: str, factor: float, count: int, sizes: list[int]) -> str:
    """The name of a constant factor (a sign, the batch size, 2 or 1/2), or ""."""
    sign = "" if factor > 0 else " and has the wrong sign"
    mag = abs(factor)
    if factor < 0 and _near(mag, 1.0):
        return (f"the sign of {d} is wrong everywhere ({d} = -numerical): look for a missing "
                f"minus or a subtraction in the wrong order")
    for size in sizes:
        if _near(mag, 1.0 / size):
            return (f"{d} is {size} times too small{sign}, and {size} is the batch size: it "
                    f"looks averaged over the batch where the loss sums, or divided by "
                    f"{size} twice")
        if _near(mag, float(size)):
            return (f"{d} is {size} times too large{sign}, and {size} is the batch size: "
                    f"the loss is a mean over the batch, so its gradient carries a factor "
                    f"1/{size}")
    if _near(mag, 2.0):
        return (f"{d} is twice the numerical gradient{sign}: a factor 2 counted twice "
                f"(for example from a square)?")
    if _near(mag, 0.5):
        return (f"{d} is half the numerical gradient{sign}: a factor 2 is missing (the "
                f"derivative of x**2 is 2*x)")
    if count >= 3:
        return f"{d} is {_num(factor)} times the numerical gradient everywhere: a constant " \
               f"factor is wrong"
    return ""


def _misplaced_zeros(c: _Context, d: str, off: np.ndarray) -> str:
    """Zeros where the numerical gradient is not, or the other way round: a mask's fault."""
    sig = 1e-3 * c.scale
    a_zero = off & (np.abs(c.a) <= sig * 1e-3) & (np.abs(c.n) > sig)
    n_zero = off & (np.abs(c.n) <= sig) & (np.abs(c.a) > sig)
    k_off = int(off.sum())
    za, zn = int(a_zero.sum()), int(n_zero.sum())
    if za + zn >= 0.9 * k_off and za and zn:
        return (f"{d} agrees where both are nonzero, but its zeros are in the wrong places "
                f"({za} entries zero that should not be, {zn} nonzero that should be "
                f"zero): build the mask from the forward input, not from dout or the "
                f"output")
    if za >= 0.9 * k_off:
        j = int(np.flatnonzero(a_zero)[0])
        idx = _unravel(c.flat[j], c.x.shape)
        return (f"{d} is zero at {za} of the {k_off} entries that are off (e.g. "
                f"{_at(c.name, idx)}, where the numerical value is {_num(c.n[j])}): part "
                f"of the gradient is missing, e.g. a loop that skips part of the batch or "
                f"a mask that is too strict")
    if zn >= 0.9 * k_off:
        j = int(np.flatnonzero(n_zero)[0])
        idx = _unravel(c.flat[j], c.x.shape)
        return (f"{d} is nonzero at {zn} entries where the numerical gradient is zero "
                f"(e.g. {_at(c.name, idx)}): a mask is missing or lets through entries "
                f"it should block")
    return ""


def _one_row(c: _Context, d: str, off: np.ndarray) -> str:
    """All the wrong entries share one row (or one index along some axis)."""
    k_off = int(off.sum())
    if k_off < 2 or c.x.ndim < 1:
        return ""
    idx_off = np.array([_unravel(i, c.x.shape) for i in c.flat[off]])
    idx_all = np.array([_unravel(i, c.x.shape) for i in c.flat])
    for axis in range(c.x.ndim):
        vals = np.unique(idx_off[:, axis])
        if vals.size == 1 and np.unique(idx_all[:, axis]).size > 1:
            v = int(vals[0])
            what = {0: "row", 1: "column"}.get(axis, f"index along axis {axis}")
            place = f"{what} {v}" if axis < 2 else f"{what} = {v}"
            extra = f" (index {v} along axis {axis})" if axis < 2 else ""
            return (f"all {k_off} entries that are off are in {place} of "
                    f"{d}{extra}: look at how that part is computed")
    return ""


# ---------------------------------------------------------------------------------------------
# minigrad adapter


def gradcheck(
    fn: Any,
    *tensors: Any,
    upstream: str | np.ndarray = "random",
    mode: str = "auto",
    seed: int = 0,
    rtol: float | None = None,
    atol: float = 0.0,
    max_entries: int = 400,
    directions: int = 4,
    name: str | None = None,
) -> GradCheckResult:
    """Check minigrad's backward for ``fn(*tensors)`` against finite differences.

    ``fn`` takes Tensors and returns a Tensor, or is an ``mg.Function`` subclass (its ``apply``
    is used). Tensors with ``requires_grad=True`` are checked; they are named by their ``name``
    when they have one, else ``arg0``, ``arg1``, ... by position. Other arguments are constants.
    Besides the values, it checks that a second ``backward()`` on the same graph adds the same
    gradient again, and that backward is linear in the upstream gradient. The caller's tensors
    are never touched. Keywords as in ``check_gradients``; ``name`` starts the first line of
    every failure.
    """
    graph = _TensorGraph(fn, tensors)
    options = _CheckOptions.parse(graph.inputs, upstream=upstream, mode=mode, seed=seed,
                                  rtol=rtol, atol=atol, max_entries=max_entries,
                                  directions=directions, name=name, shared=None)
    res = _run_check(graph.f, graph.inputs, graph.analytic, options)
    if not res.passed:
        return res
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        _engine_checks(res, graph, options.seed)
    return res


class _TensorGraph:
    """``fn`` over minigrad Tensors as check_gradients sees it: ``f`` and ``analytic`` take
    and give arrays for the tensors to check; every other argument stays bound."""

    def __init__(self, fn: Any, tensors: tuple) -> None:
        import minigrad as mg  # at call time: the module itself needs only numpy

        self.mg = mg
        self.call = fn.apply if isinstance(fn, type) and issubclass(fn, mg.Function) else fn
        if not callable(self.call):
            raise TypeError(f"gradcheck: fn must be callable or an mg.Function subclass "
                            f"(got {type(fn).__name__})")
        names: list[str] = []
        for i, t in enumerate(tensors):
            label = getattr(t, "name", None) if isinstance(t, mg.Tensor) else None
            names.append(label if isinstance(label, str) and label and label not in names
                         else f"arg{i}")
        self.tensors = tensors
        self.checked = [bool(isinstance(t, mg.Tensor) and t.requires_grad
                             and np.asarray(t.data).dtype.kind == "f") for t in tensors]
        if not any(self.checked):
            raise ValueError(
                "gradcheck: no argument requires grad; create the tensors to check with "
                "mg.Tensor(array, requires_grad=True)"
            )
        self.inputs = {n: np.asarray(t.data)
                       for n, t, chk in zip(names, tensors, self.checked) if chk}
        self.base = list(self.inputs.values())

    def _build(self, arrays, grad_leaves: bool) -> tuple[list, list]:
        """fn's arguments with fresh leaves holding ``arrays``, and those leaves."""
        args, leaves = [], []
        values = iter(arrays)
        for t, chk in zip(self.tensors, self.checked):
            if chk:
                leaf = self.mg.Tensor(np.array(next(values), copy=True), requires_grad=grad_leaves)
                args.append(leaf)
                leaves.append(leaf)
            else:
                args.append(t)
        return args, leaves

    def _run(self, args):
        out = self.call(*args)
        if not isinstance(out, self.mg.Tensor):
            raise TypeError(f"gradcheck: fn must return a Tensor (got {type(out).__name__})")
        return out

    def f(self, *arrays) -> np.ndarray:
        with self.mg.no_grad():
            return self._run(self._build(arrays, grad_leaves=False)[0]).data

    def backward_once(self, dout, twice: bool = False):
        """The leaves' gradients after backward(dout) on a new graph (and after a second one)."""
        args, leaves = self._build(self.base, grad_leaves=True)
        out = self._run(args)
        grad = np.asarray(dout, dtype=out.data.dtype).reshape(out.data.shape)
        out.backward(grad)
        first = [None if leaf.grad is None else np.array(leaf.grad, copy=True) for leaf in leaves]
        if not twice:
            return first
        out.backward(grad)
        return first, [None if leaf.grad is None else np.array(leaf.grad) for leaf in leaves]

    def analytic(self, dout) -> tuple:
        return tuple(self.backward_once(dout))


def _engine_checks(res: GradCheckResult, graph: _TensorGraph, seed: int) -> None:
    """Append problems when a second backward does not accumulate or backward is not linear."""
    y = np.asarray(graph.f(*graph.base))
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _PRIVATE_STREAM, 1]))
    d1 = rng.standard_normal(y.shape)
    d2 = rng.standard_normal(y.shape)
    first, second = graph.backward_once(d1, twice=True)
    g2 = graph.backward_once(d2)
    g12 = graph.backward_once(d1 + 2.0 * d2)
    # every gradient is an array here: a None would have failed the value check already
    for name, a, b, c2, c12 in zip(graph.inputs, first, second, g2, g12):
        tol = max(_default_rtol(_eps(a.dtype)) * 10, 1e-9)
        if not _allclose(b, 2.0 * a, tol):
            ratio = float(np.sum(b * a) / max(float(np.sum(a * a)), 1e-300))
            res.problems.append(
                f"a second backward() on the same graph gave {name}.grad = {_num(ratio)} x the "
                f"first gradient instead of 2 x: leaf gradients must accumulate (grad += ...), "
                f"and interior nodes must not be counted twice"
            )
        elif not _allclose(c12, a + 2.0 * c2, tol):
            res.problems.append(
                f"backward is not linear in the upstream gradient for {name}: "
                f"grad(d1 + 2 d2) != grad(d1) + 2 grad(d2); the backward must multiply by "
                f"grad_output instead of ignoring or transforming it"
            )


def _allclose(a: np.ndarray, b: np.ndarray, tol: float) -> bool:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    scale = max(float(np.max(np.abs(b))) if b.size else 0.0, 1e-300)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= tol * scale))
