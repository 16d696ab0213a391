"""The figures of one synthesis run, as stored in the cache and reported."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

__all__ = ["SynthResult"]


@dataclass
class SynthResult:
    """Figures of one synthesis run (None where a target has no such figure).

    ``luts``/``ffs``/``carry``/``bram``/``dsp``: cells after synthesis;
    ``logic_cells``: placed logic cells (iCE40 LCs / ECP5 slice LUTs);
    ``fmax_mhz``: nextpnr's achieved Fmax; ``transistors``: CMOS estimate;
    ``mul_cells``: ``$mul`` cells before technology mapping; ``harness``:
    the same figures for the harness alone (iCE40).
    """

    target: str
    top: str
    luts: int | None = None
    ffs: int | None = None
    carry: int | None = None
    bram: int | None = None
    dsp: int | None = None
    logic_cells: int | None = None
    io: int | None = None
    fmax_mhz: float | None = None
    transistors: int | None = None
    mul_cells: int = 0
    cells: dict = field(default_factory=dict)
    harness: dict | None = None
    tools: dict = field(default_factory=dict)
    log_dir: str = ""
    cached: bool = False
    seconds: float = 0.0

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        """Rebuild a result stored by :meth:`to_dict`; TypeError/ValueError if it is not one."""
        if not isinstance(d, dict):
            raise TypeError("a synthesis result must be a JSON object")
        names = {f.name: f for f in fields(cls)}
        if set(d) - set(names) or not {"target", "top"} <= set(d):
            raise ValueError("unexpected or missing fields")
        for k, v in d.items():
            kind = {"target": str, "top": str, "log_dir": str, "cells": dict, "tools": dict,
                    "cached": bool, "harness": (dict, type(None))}.get(k, (int, float, type(None)))
            if not isinstance(v, kind) or (kind != bool and isinstance(v, bool)):
                raise ValueError(f"field {k} has the wrong type")
        return cls(**d)
