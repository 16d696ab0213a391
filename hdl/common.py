"""Checks shared by the RTL generators.

The generators read every width and constant from the core's parameter
object (``spikeforge.models``); these helpers only refuse parameter objects
whose declared widths could let the circuit wrap silently.
"""

from __future__ import annotations

from amaranth.hdl import Const, Value, signed, unsigned

from ..models.base import signed_bits
from ..models.errors import ConfigError

__all__ = ["accept_params", "require_width", "const_rom", "ConstRom"]


def accept_params(component, params, cls, widths=()):
    """Check a component's parameter object before anything is built.

    Refuses anything but a ``cls`` (TypeError) and widths in effect narrower
    than their proven ranges (``widths``: (field name, interval) pairs, ConfigError;
    only a declared width can be).
    A refused component is marked so Amaranth does not warn that it was never
    elaborated.
    """
    try:
        if not isinstance(params, cls):
            raise TypeError(f"expected a {cls.__name__} parameter object, not {params!r}")
        for name, interval in widths:
            require_width(name, params.effective(name), interval)
    except (TypeError, ConfigError):
        component._MustUse__silence = True
        raise
    return params


def require_width(name, declared, interval):
    """ConfigError if the declared signed width cannot hold the proven range ``interval``."""
    need = signed_bits(*interval)
    if declared < need:
        lo, hi = interval
        raise ConfigError(f"{name}={declared} is too narrow for the circuit: the parameters allow values "
                          f"in [{lo}, {hi}], which need {need} bits")


class ConstRom:
    """A combinational ROM of integer constants, signed if any is negative.

    ``rom[i]`` with a Python int is a :class:`Const`; with a signal it selects
    a word of one packed constant (words at a power-of-two stride, so the
    offset is the index shifted, no multiplication), which Verilog expresses
    as a continuous shift of a constant: every simulator evaluates it from
    time 0 (Icarus leaves ``always @*`` case-ROMs at X until their index
    changes). The word count is padded with zeros to a power of two, so no
    index of the selecting signal's width reads outside the ROM.
    """

    def __init__(self, values):
        values = [int(v) for v in values]
        if not values:
            raise ValueError("a ROM needs at least one value")
        lo, hi = min(values), max(values)
        self.shape = signed(signed_bits(lo, hi)) if lo < 0 else unsigned(max(1, hi.bit_length()))
        self.values = values
        width = self.shape.width
        words = 1 << max(0, (len(values) - 1).bit_length())
        self._log_stride = max(0, (width - 1).bit_length())
        strided = 0
        for k, v in enumerate(values):
            strided |= (v & ((1 << width) - 1)) << (k << self._log_stride)
        self._strided = Const(strided, words << self._log_stride)

    def __len__(self):
        return len(self.values)

    def __iter__(self):
        return (Const(v, self.shape) for v in self.values)

    def __getitem__(self, index):
        if isinstance(index, int):
            return Const(self.values[index], self.shape)
        # words sit at a power-of-two stride, so the bit offset is the index shifted (word_select
        # would multiply the index by the width: a `$mul` cell in a circuit without multiplier)
        word = self._strided.bit_select(Value.cast(index).as_unsigned() << self._log_stride,
                                        self.shape.width)
        return word.as_signed() if self.shape.signed else word


def const_rom(values):
    """A :class:`ConstRom` of ``values``."""
    return ConstRom(values)
