"""Parameter sweeps behind ``spikeforge sweep``: synthesize (and optionally
co-simulate) a grid of core parameters in parallel, appending one row per
point to a CSV and a JSON-lines table.

Beside the report, not in it: a command of its own with its own output
(tables appended to, not a report folder), at the same layer as
``spikeforge.report`` (above ``synth`` and ``sim``, using ``spikeforge.api``
for the parameters).
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import os
from concurrent.futures import ProcessPoolExecutor, as_completed

from .models.errors import ConfigError, SpikeforgeError

__all__ = ["grid", "run_point", "run_sweep", "COLUMNS", "table_paths", "check_tables"]

COLUMNS = ["core", "target", "params", "luts", "ffs", "carry", "dsp", "logic_cells", "fmax_mhz",
           "transistors", "mul_cells", "cycles_per_inference", "inferences_per_s", "error"]


def grid(axes):
    """Cartesian product of {name: [values]} as a list of {name: value} (in axis order)."""
    names = list(axes)
    return [dict(zip(names, combo)) for combo in itertools.product(*(axes[n] for n in names))]


def run_point(core, base, point, target, dsp=False, cosim=False):
    """One sweep point → a row (errors are recorded in the row, not raised)."""
    from .api import core_params
    from .synth.core import synth_core

    row = {"core": core, "target": target, "params": json.dumps(point, sort_keys=True)}
    try:
        overrides = [f"{k}={json.dumps(v)}" for k, v in {**base, **point}.items()]
        p = core_params(core, overrides=overrides)
        r = synth_core(core, p, target, dsp=dsp)
        row.update({k: getattr(r, k) for k in ("luts", "ffs", "carry", "dsp", "logic_cells",
                                               "fmax_mhz", "transistors", "mul_cells")})
        if cosim:
            from .sim.verify import verify
            v = verify(core, p, n_random=16)
            cpi = v["cycles"] / v["inputs"]
            row["cycles_per_inference"] = round(cpi, 3)
            if r.fmax_mhz:
                row["inferences_per_s"] = round(r.fmax_mhz * 1e6 / cpi, 1)
    except SpikeforgeError as e:
        row["error"] = str(e).splitlines()[0]
    return row


def table_paths(out):
    """(csv, jsonl) paths of a sweep table given as ``X.csv`` or ``X.jsonl`` (the other is its twin)."""
    base, ext = os.path.splitext(os.fspath(out))
    if ext not in (".csv", ".jsonl"):
        raise ConfigError(f"--out {out}: the table must end in .csv or .jsonl (the other format "
                          "is written beside it)")
    return base + ".csv", base + ".jsonl"


def check_tables(out):
    """Check, before any work, that both tables of ``out`` can be appended to."""
    from .models.io import check_output_file
    csv_path, jsonl = table_paths(out)
    for p in (csv_path, jsonl):
        check_output_file(p)
    if os.path.exists(csv_path) and os.path.getsize(csv_path):
        with open(csv_path, newline="") as f:
            header = next(csv.reader(f), [])
        if header != COLUMNS:
            raise ConfigError(f"{csv_path} is not a sweep table of this version (its header differs); "
                              "choose another --out")
    return csv_path, jsonl


def _stop_workers(ex):
    """Terminate the pool's worker processes (each kills its running tool on SIGTERM)."""
    for proc in list(getattr(ex, "_processes", {}).values()):
        with contextlib.suppress(Exception):
            proc.terminate()
    ex.shutdown(wait=False, cancel_futures=True)


def run_sweep(core, axes, target, out, *, base=None, dsp=False, cosim=False, jobs=None,
              progress=lambda *a, **k: None):
    """Run every grid point (in ``jobs`` processes) and append the rows to the CSV and
    JSON-lines tables of ``out`` (``X.csv`` or ``X.jsonl``; see :func:`table_paths`).
    Returns the rows."""
    points = grid(axes)
    if not points:
        raise ConfigError("the sweep has no points")
    jobs = jobs or os.cpu_count() or 1
    csv_path, jsonl = check_tables(out)
    rows = []
    new_csv = not os.path.exists(csv_path) or os.path.getsize(csv_path) == 0
    with open(csv_path, "a", newline="") as fc, open(jsonl, "a") as fj:
        w = csv.DictWriter(fc, fieldnames=COLUMNS, extrasaction="ignore")
        if new_csv:
            w.writeheader()
        ex = ProcessPoolExecutor(max_workers=jobs)
        try:
            futs = {ex.submit(run_point, core, base or {}, pt, target, dsp, cosim): pt for pt in points}
            for k, fut in enumerate(as_completed(futs), 1):
                row = fut.result()
                rows.append(row)
                w.writerow(row)
                fj.write(json.dumps(row) + "\n")
                fc.flush()
                fj.flush()
                progress(f"{core} {row['params']}: "
                         + (f"error: {row['error']}" if row.get("error") else
                            f"{row.get('luts')} LUT, {row.get('ffs')} FF, {row.get('fmax_mhz')} MHz"),
                         k, len(points), task="sweep")
        except BaseException:
            _stop_workers(ex)
            raise
        ex.shutdown(wait=True)
    return rows
