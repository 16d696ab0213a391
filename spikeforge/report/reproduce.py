"""``spikeforge reproduce``: the papers' claims this package can test, side by side with
what it measures.

Each section of :data:`SECTIONS` measures a group of claims
(:mod:`.reproduce_measure`) and returns rows of :class:`~.reproduce_measure.Claim`:
the source (paper, section, figure or table), the claim, the paper's figure,
ours, the command that made the row and the reason for any difference; and
detail tables (error against K and Q, accuracy against T, robustness curves).
:func:`write_reproduction` writes ``reproduce.md`` and ``reproduce.json`` into a
folder, following the output policy of
:func:`~spikeforge.models.io.output_folder` with the manifest :data:`MANIFEST`.

Sections (``--only``): ``fs_fit`` (FS tables against K and Q), ``spikes``
(FS spikes per neuron), ``amos_units`` (Table 3, the multiplication unit),
``nets`` (exact ReLU conversions; Swish/sigmoid/GELU networks), ``ttfs``
(the general exact mapping and Fig. 2.5), ``rate`` (IF/LIF against T with max,
robust and Rate Norm Layer spike values; held-out nets), ``cosim`` (the fitted
tables in the RTL). ``--quick`` shortens the sweeps (fewer K, Q, T, trials;
the K = 40 unit is not co-simulated).
"""

from __future__ import annotations

import json
import os
import platform
import time

import numpy as np

from ..models.errors import ConfigError
from ..models.io import output_folder
from . import reproduce_measure as rm

__all__ = ["SECTIONS", "MANIFEST", "run_reproduction", "render_markdown", "render_json", "write_reproduction"]

MANIFEST = ".spikeforge-reproduce.json"
#: section name → (title, measuring function)
SECTIONS = {
    "fs_fit": ("FS neurons beyond ReLU: fitted tables (Stöckl & Maass 2021)", rm.fs_fit),
    "spikes": ("FS spikes per neuron (Stöckl & Maass 2021)", rm.spikes),
    "amos_units": ("AMOS units (Stöckl & Maass 2020)", rm.amos_units),
    "nets": ("Networks: exact ReLU conversion, Swish/sigmoid/GELU networks", rm.nets),
    "ttfs": ("TTFS exact mapping, general form (Stanojevic 2023, ch. 2)", rm.ttfs),
    "rate": ("Rate codings: max norm, robust norm, Rate Norm Layer (Ding et al. 2021)", rm.rate),
    "cosim": ("Fitted tables in the RTL", rm.cosim),
}


def _check_only(only):
    names = list(only or SECTIONS)
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise ConfigError(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    return names


def run_reproduction(only=None, *, quick=False, cosim=True, progress=lambda *a, **k: None):
    """Measure the chosen sections; returns a dict (sections with claims and details)."""
    names = _check_only(only)
    if not cosim:
        names = [n for n in names if n != "cosim"]
    out = {"schema": "spikeforge.reproduce/1", "quick": quick, "sections": [],
           "environment": {"python": platform.python_version(), "numpy": np.__version__,
                           "machine": platform.machine()}}
    t0 = time.perf_counter()
    for name in names:
        title, fn = SECTIONS[name]
        progress(f"section {name}")
        t = time.perf_counter()
        claims, details = fn(quick=quick, progress=progress)
        out["sections"].append({"name": name, "title": title, "claims": [c.to_dict() for c in claims],
                                "details": details, "wall_s": round(time.perf_counter() - t, 1)})
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    return out


def _cell(v):
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e-2 or abs(v) >= 1e4 else f"{v:.4f}".rstrip("0").rstrip(".")
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v))
    return str(v).replace("|", "\\|")


def _table(rows):
    if not rows:
        return []
    keys = [k for k in rows[0] if not isinstance(rows[0][k], dict)]
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(_cell(r.get(k, "")) for k in keys) + " |" for r in rows]
    return lines


def render_markdown(data):
    """The reproduction as Markdown: one claims table per section, then its detail tables."""
    lines = ["# Reproduction: the papers' claims and what spikeforge measures", "",
             "Each row: the paper's figure, ours (measured when this file was made), why they differ, "
             "and the command that made the row. Papers: Stöckl & Maass 2021 (FS), Stöckl & Maass 2020 "
             "(AMOS), Stanojevic 2023 (TTFS thesis, ch. 2), Ding et al. 2021 (rate conversion, RNL)."
             + (" Made with --quick (short sweeps)." if data["quick"] else ""), ""]
    for sec in data["sections"]:
        lines += [f"## {sec['title']}", "", "| claim | source | paper | ours | why they differ | command |",
                  "|---|---|---|---|---|---|"]
        for c in sec["claims"]:
            lines.append("| " + " | ".join(_cell(c[k]) for k in ("claim", "source", "paper", "ours", "why"))
                         + f" | `{c['command']}` |")
        lines.append("")
        for name, rows in sec["details"].items():
            if isinstance(rows, list) and rows and isinstance(rows[0], dict):
                lines += [f"**{name}**", ""] + _table(rows) + [""]
            elif not isinstance(rows, (list, dict)):
                lines += [f"**{name}**: {_cell(rows)}", ""]
        lines += [f"_{sec['wall_s']} s_", ""]
    env = data["environment"]
    lines += [f"Python {env['python']}, NumPy {env['numpy']}, {env['machine']}; {data['wall_s']} s in all.", ""]
    return "\n".join(lines)


def render_json(data):
    return json.dumps(data, indent=1, default=float) + "\n"


def write_reproduction(out_dir, only=None, *, quick=False, cosim=True, force=False,
                       progress=lambda *a, **k: None):
    """Measure and write ``reproduce.md`` and ``reproduce.json`` into ``out_dir``; returns the paths."""
    _check_only(only)
    data = run_reproduction(only, quick=quick, cosim=cosim, progress=progress)
    with output_folder(out_dir, manifest=MANIFEST, force=force) as tmp:
        for name, render in (("reproduce.md", render_markdown), ("reproduce.json", render_json)):
            with open(os.path.join(tmp, name), "w") as f:
                f.write(render(data))
    return [os.path.join(out_dir, n) for n in ("reproduce.md", "reproduce.json")], data
