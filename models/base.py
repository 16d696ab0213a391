"""Shared plumbing of the golden models: argument checks, bit widths,
operation counts, JSON-serialisable parameter objects and the core registry.

Everything here is integer-exact and NumPy-only (no Amaranth import).
"""

from __future__ import annotations

import dataclasses
import json
import math
from functools import cached_property
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from .errors import ConfigError, WidthError

__all__ = [
    "check_int", "check_int_seq", "check_matrix", "check_choice", "check_int_array",
    "signed_bits", "unsigned_bits", "width_range", "check_width", "derived_width", "MAX_STATE_BITS",
    "exact_matmul", "floor_shift", "round_shift",
    "DEFAULT_WEIGHTS", "Counts", "Params", "set_field", "check_weighted_layer", "weight_sums", "WeightedLayer",
]

# --------------------------------------------------------------------- checks

def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def check_int(name, value, lo=None, hi=None):
    """Return ``int(value)`` after checking type and range; raise naming ``name``."""
    if not _is_int(value):
        raise ConfigError(f"{name} must be an integer, not {value!r}")
    value = int(value)
    if lo is not None and value < lo:
        raise ConfigError(f"{name} must be >= {lo}, not {value}")
    if hi is not None and value > hi:
        raise ConfigError(f"{name} must be <= {hi}, not {value}")
    return value


def check_int_seq(name, seq, length=None, lo=None, hi=None):
    """Return a tuple of ints; check length and per-element range."""
    if not isinstance(seq, (list, tuple, range, np.ndarray)):
        raise ConfigError(f"{name} must be a sequence of integers, not {seq!r}")
    out = tuple(check_int(f"{name}[{i}]", v, lo, hi) for i, v in enumerate(seq))
    if length is not None and len(out) != length:
        raise ConfigError(f"{name} must have {length} entries, not {len(out)}")
    return out


def check_matrix(name, rows, shape=None):
    """Return a tuple of int tuples (a rectangular integer matrix)."""
    if isinstance(rows, np.ndarray):
        rows = rows.tolist()
    if isinstance(rows, (str, bytes)) or not hasattr(rows, "__iter__"):
        raise ConfigError(f"{name} must be a matrix of integers, not {rows!r}")
    out = tuple(check_int_seq(f"{name}[{i}]", r) for i, r in enumerate(rows))
    if not out or not out[0]:
        raise ConfigError(f"{name} must not be empty")
    if any(len(r) != len(out[0]) for r in out):
        raise ConfigError(f"{name} must be rectangular (rows of equal length)")
    if shape is not None and (len(out), len(out[0])) != tuple(shape):
        raise ConfigError(f"{name} must have shape {tuple(shape)}, not {(len(out), len(out[0]))}")
    return out


def check_choice(name, value, choices):
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_int_array(name, x):
    """Return ``x`` as an int64 array; reject floats with fractions, NaN/inf, objects."""
    arr = np.asarray(x)
    if arr.dtype.kind in "iu":
        if arr.dtype.kind == "u" and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
            raise ConfigError(f"{name} holds {int(arr.max())}, beyond the int64 range")  # would wrap
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "b":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ConfigError(f"{name} contains NaN or infinite values")
        if not np.all(arr == np.round(arr)):
            raise ConfigError(f"{name} must hold integers (quantize first); got fractional values")
        if arr.size and float(np.abs(arr).max()) >= 2.0 ** 63:
            raise ConfigError(f"{name} holds {float(np.abs(arr).max()):g}, beyond the int64 range")
        return arr.astype(np.int64)
    raise ConfigError(f"{name} must be an integer array, not dtype {arr.dtype}")


# --------------------------------------------------------------------- widths

def signed_bits(lo, hi):
    """Smallest two's-complement width that holds every integer in [lo, hi]."""
    lo, hi = int(lo), int(hi)
    n = 1
    while not (-(1 << (n - 1)) <= lo and hi <= (1 << (n - 1)) - 1):
        n += 1
    return n


def unsigned_bits(hi):
    """Smallest unsigned width that holds every integer in [0, hi] (at least 1)."""
    return max(1, int(hi).bit_length())


def width_range(bits, signed):
    """Inclusive integer range of a ``bits``-wide signed or unsigned value."""
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


#: Widest state the int64 golden models hold exactly (declared widths are 2..62).
MAX_STATE_BITS = 62


def derived_width(name, lo, hi):
    """The signed width proven for a state in [lo, hi], for an omitted ``name``.

    Raises :class:`ConfigError` beyond :data:`MAX_STATE_BITS`: int64 arithmetic
    could then wrap without any width check noticing. A declared width (at most
    62 bits) is always safe: overflow raises WidthError before int64 wraps.
    """
    need = max(2, signed_bits(lo, hi))
    if need > MAX_STATE_BITS:
        raise ConfigError(f"{name}: the proven range [{lo}, {hi}] needs {need} bits, more than the "
                          f"{MAX_STATE_BITS} the golden model holds; declare {name} or narrow the layer")
    return need


def check_width(name, arr, bits, signed=True):
    """Raise :class:`WidthError` if any element of ``arr`` exceeds the declared width.

    Returns ``(min, max)`` of ``arr`` as Python ints (None if it is empty), so that a
    caller can bound what follows from it without a second pass over the data.
    """
    lo, hi = width_range(bits, signed)
    a = np.asarray(arr)
    if a.size == 0:
        return None
    amin, amax = int(np.minimum.reduce(a, axis=None)), int(np.maximum.reduce(a, axis=None))
    if amin < lo:
        raise WidthError(name, amin, lo, hi)
    if amax > hi:
        raise WidthError(name, amax, lo, hi)
    return amin, amax


# ------------------------------------------------------------- exact arithmetic

_F32_EXACT = 1 << 24
_F64_EXACT = 1 << 53


def exact_matmul(a, b, a_max=None, b_max=None):
    """Integer matrix product ``a @ b`` computed exactly through floating-point BLAS.

    Every partial sum is bounded by ``max|a| * max|b| * inner``. Below 2**24 the
    float32 product is exact, below 2**53 the float64 one; either is returned as
    int64. Otherwise the (slow) int64 product is used, and a bound of 2**62 or more
    raises :class:`WidthError`. Either way the result is exact.

    ``a_max``, ``b_max``: known bounds on max|a| and max|b| (1 for spikes, the
    declared weight width's bound for weights); they save a pass over the data and
    must be true bounds. A stack ``a`` (..., m, k) times a matrix ``b`` (k, n) is
    computed as one (... · m, k) product, not one product per matrix of the stack.
    How many threads BLAS uses is set around the golden run
    (:func:`spikeforge.models.simulate.blas_threads`).
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.size == 0 or b.size == 0:
        return np.asarray(a, dtype=np.int64) @ np.asarray(b, dtype=np.int64)
    given = a_max is not None or b_max is not None
    if a_max is None:
        a_max = max(-int(np.minimum.reduce(a, axis=None)), int(np.maximum.reduce(a, axis=None)))
    if b_max is None:
        b_max = max(-int(np.minimum.reduce(b, axis=None)), int(np.maximum.reduce(b, axis=None)))
    bound = int(a_max) * int(b_max) * a.shape[-1]
    if bound >= 1 << 62 and given:      # a given bound too loose: the data decide
        return exact_matmul(a, b)
    if bound < _F32_EXACT:
        dtype = np.float32
    elif bound < _F64_EXACT:
        dtype = np.float64
    elif bound >= 1 << 62:
        raise WidthError("matmul accumulator", bound, -(1 << 62), (1 << 62) - 1)
    else:
        dtype = np.int64
    if a.ndim > 2 and b.ndim == 2:
        flat = a.reshape(-1, a.shape[-1]).astype(dtype, copy=False) @ b.astype(dtype, copy=False)
        return flat.astype(np.int64, copy=False).reshape(a.shape[:-1] + (b.shape[1],))
    return (a.astype(dtype, copy=False) @ b.astype(dtype, copy=False)).astype(np.int64, copy=False)


def round_shift(x, s):
    """Divide by 2^s rounding half up, in integers: (x + 2^(s−1)) >> s (x itself for s = 0)."""
    x = np.asarray(x, dtype=np.int64)
    return x if s == 0 else np.right_shift(x + (1 << (s - 1)), s)


def floor_shift(x, s):
    """Arithmetic right shift (floor toward -inf) of an int array by ``s >= 0``."""
    return np.right_shift(np.asarray(x, dtype=np.int64), s)


# --------------------------------------------------------------------- counts

@dataclass(frozen=True)
class Counts:
    """Operation counts of a golden run, summed over all inferences of a batch.

    Members
    -------
    inferences : number of inputs processed.
    spikes : spikes emitted.
    synaptic_adds : additions caused by incoming spikes or activations (SOPs).
    state_updates : neuron state updates (membrane/slope/residual updates, compares).
    multiplications : general multiplications (only the ANN baseline and
        non-power-of-two AMOS input gains have them).
    memory_reads : weight/table words read.
    cycles : clock cycles under the core's documented schedule.
    """

    inferences: int = 0
    spikes: int = 0
    synaptic_adds: int = 0
    state_updates: int = 0
    multiplications: int = 0
    memory_reads: int = 0
    cycles: int = 0

    def __add__(self, other):
        if not isinstance(other, Counts):
            return NotImplemented
        return Counts(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def per_inference(self):
        n = max(1, self.inferences)
        return {f.name: getattr(self, f.name) / n for f in fields(self) if f.name != "inferences"}

    def to_dict(self):
        return dataclasses.asdict(self)


# --------------------------------------------------------------- parameters

def _to_json(v, effective=False):
    if isinstance(v, tuple):
        return [_to_json(x, effective) for x in v]
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, Params):                      # a nested parameter object (the encoder's LFSR)
        return v.effective_dict() if effective else v.to_dict()
    return v


def _unset(f, value):
    """True for a field left unset: None where None is the default (derived, or absent)."""
    return value is None and f.default is None


class Params:
    """Mixin for the frozen parameter dataclasses of the cores.

    Subclasses are ``@dataclass(frozen=True)`` with a class attribute ``core``
    (the registry name) and validate in ``__post_init__`` (raising
    :class:`ConfigError` that names the field).

    Declared and derived values are kept apart. The fields hold what was
    declared, as given (only its type normalised: lists become tuples); a field
    whose default is None and that was not given stays None: *unset*. The value
    in effect of such a field is derived from the declared ones and read through
    the property that :attr:`DERIVED` names (``FSParams``: ``v_bits`` →
    ``v_width``); golden models and RTL generators read those properties, so a
    changed field (``replace``, ``--param``) re-derives everything that follows
    from it. Equality and hashing see the declared fields only.

    ``to_dict`` writes ``"type"`` and the declared fields (unset ones omitted);
    with ``derived=True`` a ``"derived"`` block documents the derived values,
    which ``from_dict`` drops: it is never read back as a declaration.
    ``from_dict`` rejects unknown keys.
    """

    core: ClassVar[str] = ""
    #: field that is derived when unset → the property holding its value in effect
    DERIVED: ClassVar[dict] = {}

    def declared(self):
        """The declared fields, ``{name: value}``: every field but the unset ones."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if not _unset(f, value):
                out[f.name] = value
        return out

    def effective(self, name):
        """The value in effect of field ``name``: as declared, or derived when unset."""
        prop = self.DERIVED.get(name)
        return getattr(self, prop if prop is not None else name)

    def derived(self):
        """``{field: value in effect}`` of the fields :attr:`DERIVED` lists (documentation)."""
        return {name: getattr(self, prop) for name, prop in self.DERIVED.items()}

    def effective_dict(self):
        """Every field with its value in effect, JSON-ready, plus ``"type"``: what the
        circuit is built from (the generated Verilog's header records it). Not meant to
        be read back: derived values would come back as declarations (use ``to_dict``)."""
        d = {"type": self.core}
        for f in fields(self):
            d[f.name] = _to_json(self.effective(f.name), effective=True)
        return d

    def to_dict(self, derived=False):
        """``"type"`` and the declared fields, JSON-ready; ``derived=True`` adds a
        ``"derived"`` block of the derived values (ignored by ``from_dict``)."""
        d = {"type": self.core}
        for name, value in self.declared().items():
            d[name] = _to_json(value)
        if derived and self.DERIVED:
            d["derived"] = {name: _to_json(value) for name, value in self.derived().items()}
        return d

    @classmethod
    def from_dict(cls, d):
        if not isinstance(d, dict):
            raise ConfigError(f"{cls.__name__}: expected a JSON object, not {type(d).__name__}")
        d = dict(d)
        typ = d.pop("type", cls.core)
        if typ != cls.core:
            raise ConfigError(f"{cls.__name__}: 'type' must be {cls.core!r}, not {typ!r}")
        d.pop("derived", None)          # documentation written by to_dict(derived=True), never declared
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"{cls.__name__}: unknown field(s) {', '.join(unknown)}")
        try:
            return cls(**d)
        except TypeError as e:  # missing required field
            raise ConfigError(f"{cls.__name__}: {e}") from None

    @classmethod
    def field_docs(cls):
        """{field: first sentence of its entry in the class's numpydoc ``Parameters`` section}."""
        import re
        doc = cls.__doc__ or ""
        section = doc.split("Parameters\n", 1)[-1].split("\n\n    Raises", 1)[0]
        out, current = {}, []
        for line in section.splitlines():
            m = re.match(r"^    (\w+(?:, \w+)*) :", line)
            if m:
                current = [n.strip() for n in m.group(1).split(",")]
                continue
            text = line.strip()
            if current and text and not set(text) <= {"-"}:
                for n in current:
                    out[n] = (out.get(n, "") + " " + text).strip()
        return {k: v.split(". ")[0].rstrip(".") for k, v in out.items()}

    def to_json(self):
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text):
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{cls.__name__}: invalid JSON ({e})") from None
        return cls.from_dict(d)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def set_field(obj, name, value):
    """Set a field of a frozen dataclass during ``__post_init__`` normalisation of a
    declared value (its type); derived values are properties, never stored in fields."""
    object.__setattr__(obj, name, value)


#: The documented default weights of a lone weighted core: one neuron, 8 synapses.
DEFAULT_WEIGHTS = ((3, -2, 5, 1, -4, 2, 7, -1),)


def check_weighted_layer(p):
    """Validate and normalise ``weights`` and ``w_bits`` of a weighted core, and
    ``bias`` if the core has one and it is declared (omitted, it stays unset:
    :attr:`WeightedLayer.bias_values` reads zeros).

    Returns ``(n_out, n_in)``. Weights must fit the declared signed ``w_bits``.
    """
    W = check_matrix("weights", p.weights)
    set_field(p, "weights", W)
    n_out = len(W)
    if getattr(p, "bias", None) is not None:
        set_field(p, "bias", check_int_seq("bias", p.bias, n_out, -(1 << 60), 1 << 60))
    check_int("w_bits", p.w_bits, 2, 32)
    lo, hi = width_range(p.w_bits, True)
    for i, row in enumerate(W):
        for j, v in enumerate(row):
            if not lo <= v <= hi:
                raise ConfigError(f"weights[{i}][{j}] = {v} does not fit w_bits={p.w_bits} "
                                  f"(range [{lo}, {hi}])")
    return n_out, len(W[0])


class WeightedLayer:
    """Shape and array views shared by the weighted layer cores (``weights`` is n_out × n_in)."""

    @property
    def n_in(self):
        return len(self.weights[0])

    @property
    def n_out(self):
        return len(self.weights)

    @cached_property
    def W(self):
        """Weights as an int64 array (n_out, n_in)."""
        return np.array(self.weights, dtype=np.int64)

    @property
    def bias_values(self):
        """The bias in effect (cores with a bias): as declared, or zeros when omitted."""
        return (0,) * self.n_out if self.bias is None else self.bias

    @cached_property
    def b(self):
        """Bias in effect as an int64 array (cores with a bias)."""
        return np.array(self.bias_values, dtype=np.int64)

    @property
    def in_index_bits(self):
        """Width of an input event's index field (0 … n_in − 1, at least 1 bit)."""
        return unsigned_bits(self.n_in - 1)

    @property
    def out_index_bits(self):
        """Width of an output beat's index field (0 … n_out − 1, at least 1 bit)."""
        return unsigned_bits(self.n_out - 1)


def weight_sums(weights):
    """Per-row sums of the positive and of the negative weights (Python ints)."""
    pos = tuple(sum(v for v in row if v > 0) for row in weights)
    neg = tuple(sum(v for v in row if v < 0) for row in weights)
    return pos, neg


def ceil_log2(n):
    return 0 if n <= 1 else math.ceil(math.log2(n))
