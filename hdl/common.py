"""Checks shared by the RTL generators.

The generators read every width and constant from the core's parameter
object (``spikeforge.models``); these helpers only refuse parameter objects
whose declared widths could let the circuit wrap silently.
"""

from __future__ import annotations

from amaranth.hdl import Array, Const, signed, unsigned

from ..models.base import signed_bits
from ..models.errors import ConfigError

__all__ = ["accept_params", "require_width", "const_rom"]


def accept_params(component, params, cls, widths=()):
    """Check a component's parameter object before anything is built.

    Refuses anything but a ``cls`` (TypeError) and declared widths narrower
    than their proven ranges (``widths``: (name, interval) pairs, ConfigError).
    A refused component is marked so Amaranth does not warn that it was never
    elaborated.
    """
    try:
        if not isinstance(params, cls):
            raise TypeError(f"expected a {cls.__name__} parameter object, not {params!r}")
        for name, interval in widths:
            require_width(name, getattr(params, name), interval)
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


def const_rom(values):
    """A combinational ROM (constant mux) of integers, signed if any is negative."""
    lo, hi = min(values), max(values)
    shape = signed(signed_bits(lo, hi)) if lo < 0 else unsigned(max(1, hi.bit_length()))
    return Array(Const(v, shape) for v in values)
