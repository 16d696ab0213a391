"""Parameter sweeps: synthesize (and optionally co-simulate) a grid of core
parameters in parallel, appending one row per point to a CSV and a JSON-lines table."""

from __future__ import annotations

import csv
import itertools
import json
import os
from concurrent.futures import ProcessPoolExecutor, as_completed

from ..models.errors import ConfigError, SpikeforgeError

__all__ = ["grid", "run_point", "run_sweep", "COLUMNS"]

COLUMNS = ["core", "target", "params", "luts", "ffs", "carry", "dsp", "logic_cells", "fmax_mhz",
           "transistors", "mul_cells", "cycles_per_inference", "inferences_per_s", "error"]


def grid(axes):
    """Cartesian product of {name: [values]} as a list of {name: value} (in axis order)."""
    names = list(axes)
    return [dict(zip(names, combo)) for combo in itertools.product(*(axes[n] for n in names))]


def run_point(core, base, point, target, dsp=False, cosim=False):
    """One sweep point → a row (errors are recorded in the row, not raised)."""
    from ..api import core_params
    from .core import synth_core

    row = {"core": core, "target": target, "params": json.dumps(point, sort_keys=True)}
    try:
        overrides = [f"{k}={json.dumps(v)}" for k, v in {**base, **point}.items()]
        p = core_params(core, overrides=overrides)
        r = synth_core(core, p, target, dsp=dsp)
        row.update({k: getattr(r, k) for k in ("luts", "ffs", "carry", "dsp", "logic_cells",
                                               "fmax_mhz", "transistors", "mul_cells")})
        if cosim:
            from ..sim.verify import verify
            v = verify(core, p, n_random=16)
            cpi = v["cycles"] / v["inputs"]
            row["cycles_per_inference"] = round(cpi, 3)
            if r.fmax_mhz:
                row["inferences_per_s"] = round(r.fmax_mhz * 1e6 / cpi, 1)
    except SpikeforgeError as e:
        row["error"] = str(e).splitlines()[0]
    return row


def run_sweep(core, axes, target, out_csv, *, base=None, dsp=False, cosim=False, jobs=None,
              progress=lambda *a, **k: None):
    """Run every grid point (in ``jobs`` processes) and append the rows to ``out_csv``
    and ``out_csv`` with the suffix ``.jsonl``. Returns the rows."""
    points = grid(axes)
    if not points:
        raise ConfigError("the sweep has no points")
    jobs = jobs or os.cpu_count() or 1
    jsonl = os.path.splitext(out_csv)[0] + ".jsonl"
    from ..models.io import check_writable
    check_writable(os.path.dirname(os.path.abspath(out_csv)))
    rows = []
    new_csv = not os.path.exists(out_csv)
    with open(out_csv, "a", newline="") as fc, open(jsonl, "a") as fj:
        w = csv.DictWriter(fc, fieldnames=COLUMNS, extrasaction="ignore")
        if new_csv:
            w.writeheader()
        with ProcessPoolExecutor(max_workers=jobs) as ex:
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
    return rows
