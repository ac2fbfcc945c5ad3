"""Plain data across the boundary between the trusted judge and the student's kernel.

Both sides import this module, the judge (:mod:`autograder.judge`) and the kernel's agent
(:mod:`autograder.kernel.agent`), so it imports only the standard library and numpy.

Everything that crosses is JSON text. Besides JSON's own values (None, booleans, numbers,
strings, lists), a value may be one of these tagged objects, each a dict with one key:

- ``{"t": [...]}`` a tuple; ``{"d": [[key, value], ...]}`` a dict (any plain keys);
- ``{"f": "nan" | "inf" | "-inf"}`` a float that JSON cannot spell; ``{"c": [re, im]}``
  a complex number;
- ``{"a": [dtype, shape, base64]}`` a numpy array of a numeric or boolean dtype
  (``dtype`` as numpy spells it, e.g. ``"<f8"``), its bytes in C order;
- ``{"s": [dtype, base64]}`` a numpy scalar of such a dtype;
- ``{"r": n}`` a reference to an object that stays in the kernel (the judge never
  receives the object, only the number);
- ``{"n": name}`` a name in the student's namespace, resolved in the kernel.

:func:`decode` rebuilds values from scratch on the receiving side and refuses anything
else, anything nested deeper than :data:`MAX_DEPTH` and text longer than
:data:`MAX_CHARS`: a value that decodes is plain data made by the receiver, whatever the
sender was.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["MAX_CHARS", "MAX_DEPTH", "CodecError", "Name", "Ref", "decode", "dumps", "encode",
           "loads", "plain_kind"]

MAX_DEPTH = 32
MAX_CHARS = 64 * 1024 * 1024
_KINDS = "biufc"  # bool, signed and unsigned integers, floats, complex


class CodecError(ValueError):
    """A value that is not plain data, or a message that does not decode."""


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference to an object that stays in the kernel: only its number crosses."""

    number: int


@dataclass(frozen=True, slots=True)
class Name:
    """A name in the student's namespace, looked up in the kernel when a call arrives."""

    name: str


def plain_kind(value) -> str:
    """A short description of a value's type for messages (``"a Tensor object"``)."""
    if type(value) is np.ndarray:
        return f"a numpy array of dtype {value.dtype}"
    name = type(value).__name__
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return f"{article} {name} object"


def encode(value, to_ref=None, depth: int = 0):
    """``value`` as JSON-ready data. ``to_ref(obj) -> int`` keeps a non-plain object and
    returns its number; without it a non-plain value raises :class:`CodecError`."""
    if depth > MAX_DEPTH:
        raise CodecError(f"nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        if math.isfinite(value):
            return value
        return {"f": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if kind is complex:
        return {"c": [encode(value.real), encode(value.imag)]}
    if kind is list:
        return [encode(v, to_ref, depth + 1) for v in value]
    if kind is tuple:
        return {"t": [encode(v, to_ref, depth + 1) for v in value]}
    if kind is dict:
        return {"d": [[encode(k, to_ref, depth + 1), encode(v, to_ref, depth + 1)]
                      for k, v in value.items()]}
    if kind is np.ndarray and value.dtype.kind in _KINDS:
        data = value if value.flags.c_contiguous else value.copy(order="C")
        return {"a": [data.dtype.str, list(value.shape),
                      base64.b64encode(data.tobytes()).decode("ascii")]}
    if isinstance(value, np.generic) and type(value).__module__ == "numpy" \
            and value.dtype.kind in _KINDS:
        return {"s": [value.dtype.str, base64.b64encode(value.tobytes()).decode("ascii")]}
    if kind is Ref:
        return {"r": value.number}
    if kind is Name:
        return {"n": value.name}
    if to_ref is not None:
        return {"r": to_ref(value)}
    raise CodecError(f"{plain_kind(value)} is not plain data")


def _dtype(text) -> np.dtype:
    if not isinstance(text, str) or len(text) > 8:
        raise CodecError("an array's dtype must be a short string")
    try:
        dtype = np.dtype(text)
    except TypeError as exc:
        raise CodecError(f"unknown dtype {text!r}") from exc
    if dtype.kind not in _KINDS or dtype.hasobject:
        raise CodecError(f"dtype {text!r} is not numeric")
    return dtype


def _bytes(text) -> bytes:
    if not isinstance(text, str):
        raise CodecError("array data must be base64 text")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise CodecError("array data is not base64") from exc


def decode(data, from_ref=None, from_name=None, depth: int = 0):
    """Rebuild a value from :func:`encode`'s output; :class:`CodecError` on anything else.

    ``from_ref(n)`` and ``from_name(name)`` turn references and names into objects; without
    them they become :class:`Ref` and :class:`Name`.
    """
    if depth > MAX_DEPTH:
        raise CodecError(f"nested deeper than {MAX_DEPTH} levels")
    kind = type(data)
    if data is None or kind in (bool, int, str):
        return data
    if kind is float:
        return data
    if kind is list:
        return [decode(v, from_ref, from_name, depth + 1) for v in data]
    if kind is not dict or len(data) != 1:
        raise CodecError(f"unexpected {kind.__name__} in a message")
    (tag, body), = data.items()
    if tag == "t" and type(body) is list:
        return tuple(decode(v, from_ref, from_name, depth + 1) for v in body)
    if tag == "d" and type(body) is list:
        out = {}
        for pair in body:
            if type(pair) is not list or len(pair) != 2:
                raise CodecError("a dict entry must be a [key, value] pair")
            key = decode(pair[0], from_ref, from_name, depth + 1)
            try:
                out[key] = decode(pair[1], from_ref, from_name, depth + 1)
            except TypeError as exc:
                raise CodecError(f"unhashable dict key {plain_kind(key)}") from exc
        return out
    if tag == "f" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "c" and type(body) is list and len(body) == 2:
        real, imag = (decode(v, depth=depth + 1) for v in body)
        if type(real) is not float or type(imag) is not float:
            raise CodecError("a complex number needs two floats")
        return complex(real, imag)
    if tag == "a" and type(body) is list and len(body) == 3:
        dtype = _dtype(body[0])
        shape = body[1]
        if type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape) \
                or len(shape) > 32:
            raise CodecError("an array's shape must be a list of non-negative integers")
        raw = _bytes(body[2])
        if math.prod(shape) * dtype.itemsize != len(raw):
            raise CodecError("an array's data does not match its shape and dtype")
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if tag == "s" and type(body) is list and len(body) == 2:
        dtype = _dtype(body[0])
        raw = _bytes(body[1])
        if len(raw) != dtype.itemsize:
            raise CodecError("a scalar's data does not match its dtype")
        return np.frombuffer(raw, dtype=dtype)[0]
    if tag == "r" and type(body) is int:
        return from_ref(body) if from_ref is not None else Ref(body)
    if tag == "n" and type(body) is str:
        return from_name(body) if from_name is not None else Name(body)
    raise CodecError(f"unexpected tag {tag!r} in a message")


def dumps(value, to_ref=None) -> str:
    """:func:`encode` then JSON text."""
    return json.dumps(encode(value, to_ref), separators=(",", ":"))


def loads(text: str, from_ref=None, from_name=None):
    """JSON text (at most :data:`MAX_CHARS` characters) then :func:`decode`."""
    if not isinstance(text, str):
        raise CodecError(f"a message must be text, got {plain_kind(text)}")
    if len(text) > MAX_CHARS:
        raise CodecError(f"a message of {len(text):,} characters is over the limit of "
                         f"{MAX_CHARS:,}")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise CodecError(f"a message is not valid JSON ({exc})") from exc
    return decode(data, from_ref, from_name)
