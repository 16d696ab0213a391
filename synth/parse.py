"""Parsers for the tools' machine-readable outputs (Yosys ``stat -json``, nextpnr ``--report``)."""

from __future__ import annotations

import json
from pathlib import Path

from ..models.errors import ToolError
from .result import SynthResult
from .targets import get_target

__all__ = ["parse_result", "cells_by_type", "count_cells"]

def _load(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ToolError(f"cannot read tool output {path}: {e}") from None


def cells_by_type(stat):
    """Cell counts of a Yosys ``stat -json`` document (whole design)."""
    d = stat.get("design") or {}
    cells = d.get("num_cells_by_type")
    if cells is None:                       # older Yosys: per module only
        cells = {}
        for m in stat.get("modules", {}).values():
            for k, v in m.get("num_cells_by_type", {}).items():
                cells[k] = cells.get(k, 0) + v
    return {k: int(v) for k, v in cells.items()}


def count_cells(cells, prefixes):
    return sum(v for k, v in cells.items() if any(k.startswith(p) for p in prefixes))


def parse_result(kind, work, target, top):
    work = Path(work)
    stat = _load(work / "stat.json")
    cells = cells_by_type(stat)
    coarse = cells_by_type(_load(work / "coarse.json"))
    r = SynthResult(target=target, top=top, cells=cells, mul_cells=coarse.get("$mul", 0))
    t = get_target(target)
    for attr, prefixes in t.cells.items():
        setattr(r, attr, count_cells(cells, prefixes))
    if not t.pnr:                        # the CMOS estimate: no place and route
        est = (stat.get("design") or {}).get("estimated_num_transistors")
        if est is None:
            raise ToolError(f"yosys stat -tech cmos gave no transistor estimate ({work / 'stat.json'})")
        est = str(est)
        if est.endswith("+"):
            raise ToolError(f"yosys could not cost every cell for the CMOS estimate ({est}); see {work}")
        r.transistors = int(est)
        return r
    rep = _load(work / "report.json")
    fmax = [v["achieved"] for v in rep.get("fmax", {}).values()]
    r.fmax_mhz = round(min(fmax), 2) if fmax else None
    util = rep.get("utilization", {})
    lc, io = t.placed
    r.logic_cells = util.get(lc, {}).get("used")
    r.io = util.get(io, {}).get("used") if io else None
    return r
