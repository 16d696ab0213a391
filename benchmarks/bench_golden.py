"""Golden-model throughput per coding on the digits reference net (64-32-10), idle and beside a busy neighbour.

    python benchmarks/bench_golden.py [--repeat 10] [--json out.json] [--neighbours 1] [--no-busy] [--cpu]

What is timed is exactly the golden run that reports, sweeps and co-simulation
use: ``run_network`` (input checks, all layers, counts) on batch 1 (each of
200 test inputs on its own, timed in windows of 20 calls) and on batch 1,000
(the 450 test inputs tiled). After a warm-up the best of ``--repeat`` passes
is reported (the JSON also holds the median, and the best by CPU time, which
leaves out the time spent waiting for a core on a crowded machine), in
inferences per second and as a ratio to the integer ANN under the same load.

Loads: *idle* is this process alone (the machine's other processes are not
stopped: the load average is printed beside the figures); *busy* adds
``--neighbours`` CPU-bound processes that this script starts (a pure-Python
spin loop each, like a build in the background) and stops at the end. The
last column repeats batch 1,000 beside the neighbour with BLAS's own thread
count (``SPIKEFORGE_THREADS=0``), the setting before the golden run limited
it. The targets of the busy case are checked at the end; the figures are
also written as JSON with ``--json``. Takes about a minute.

Other load: on Linux the script also prints how many cores the machine's *other*
processes kept busy during each phase (all CPU time from /proc/stat less its
own and its neighbours'). Where that is well above 0, the wall-clock figures
measure the crowding as much as the code: compare the ratios to the ANN (measured
side by side) and the busy figures by CPU time (``--cpu`` prints them as a second
table), which leave out the time spent waiting for a core.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

from spikeforge.api import convert_model
from spikeforge.models.convert import quantize_inputs
from spikeforge.models.datasets import load_dataset
from spikeforge.models.network import CODINGS
from spikeforge.models.simulate import run_network

THREADS_ENV = "SPIKEFORGE_THREADS"
#: Busy-neighbour targets (inferences per second): batch 1,000 per coding, and batch 1 for all.
TARGETS_1000 = {"ann": 1_000_000, "fs": 250_000, "amos": 250_000, "ttfs": 250_000,
                "lif": 100_000, "if": 100_000}
TARGET_1 = 5_000


def rates(fn, n, units, repeat):
    """Inferences per second of ``fn(unit)`` (``n`` inferences each) over ``repeat`` passes
    through ``units``, after one warm-up pass: best and median by the wall clock, and best
    by this process's CPU time (all its threads; time spent waiting for a core not counted)."""
    for u in units:
        fn(u)
    wall, cpu = [], []
    for _ in range(repeat):
        for u in units:
            t, c = time.perf_counter(), time.process_time()
            fn(u)
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
    return n / min(wall), n / float(np.median(wall)), n / max(min(cpu), 1e-9)


def measure(nets, singles, big, repeat, batch1=True):
    """{coding: {"batch1": inf/s, "batch1000": inf/s, + medians and CPU-time figures}}."""
    windows = [singles[i:i + 20] for i in range(0, len(singles), 20)]
    out = {}
    for c in CODINGS:
        net, row = nets[c], {}
        if batch1:
            row["batch1"], row["batch1_median"], row["batch1_cpu"] = rates(
                lambda w: [run_network(net, s) for s in w], 20, windows, repeat)
        row["batch1000"], row["batch1000_median"], row["batch1000_cpu"] = rates(
            lambda b: run_network(net, b), len(big), [big], repeat)
        out[c] = row
    return out


class Neighbours:
    """``n`` CPU-bound processes (a pure-Python spin loop each), stopped on exit."""

    def __init__(self, n):
        self.n, self.procs = n, []

    def cpu_seconds(self):
        """CPU seconds the neighbours have used so far (Linux; 0 elsewhere)."""
        return sum(_proc_cpu(p.pid) for p in self.procs)

    def __enter__(self):
        for _ in range(self.n):
            self.procs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL))
        time.sleep(1.0)                     # let them take their cores
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return False


def load():
    return [round(v, 2) for v in os.getloadavg()]


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu(pid):
    """User + system CPU seconds of process ``pid`` (Linux /proc; 0 if unreadable)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def _machine_busy():
    """CPU seconds all processes have used since boot (Linux /proc/stat; None elsewhere)."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return (sum(v[:8]) - v[3] - v[4]) / _TICK          # all but idle and iowait
    except (OSError, IndexError, ValueError):
        return None


class OtherLoad:
    """Cores the machine's other processes kept busy while the block ran: all CPU time
    less this process's (all threads) and its neighbours'. ``cores`` is None where
    /proc/stat is unavailable."""

    def __init__(self, neighbours=None):
        self.neighbours, self.cores = neighbours, None

    def __enter__(self):
        self.t, self.busy, self.own = time.perf_counter(), _machine_busy(), self._own()
        return self

    def _own(self):
        t = os.times()
        return t.user + t.system + (self.neighbours.cpu_seconds() if self.neighbours else 0.0)

    def __exit__(self, *exc):
        busy = _machine_busy()
        if busy is not None and self.busy is not None:
            wall = time.perf_counter() - self.t
            other = (busy - self.busy) - (self._own() - self.own)
            self.cores = round(max(0.0, other) / max(wall, 1e-9), 2)
        return False


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [{k: d.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for d in threadpool_info() if d.get("user_api") == "blas"]


def machine():
    cpus = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    return {"processor": platform.processor() or platform.machine(), "system": platform.system(),
            "cpus": cpus, "usable_cpus": usable, "python": platform.python_version(),
            "numpy": np.__version__, "blas": blas_info(), "threads_env": os.environ.get(THREADS_ENV)}


def fmt(v):
    return "-" if v is None else f"{v:,.0f}"


def print_table(rows, suffix=""):
    """Inferences per second and ratio to the ANN, idle and busy, batch 1 and 1,000
    (``suffix`` "_cpu": the figures by CPU time)."""
    print(f"{'':6s}   {'batch 1 (inf/s)':^33s}   {'batch 1000 (inf/s)':^37s}   {'busy, BLAS':>11s}")
    head = (f"{'coding':6s}   {'idle':>8s} {'vs ann':>6s} {'busy':>8s} {'vs ann':>6s}   "
            f"{'idle':>10s} {'vs ann':>6s} {'busy':>10s} {'vs ann':>6s}   {'own threads':>11s}")
    print(head)
    print("-" * len(head))
    for c in CODINGS:
        line = f"{c:6s}"
        for batch, w in (("batch1", 8), ("batch1000", 10)):
            line += "  "
            for cond in ("idle", "busy"):
                v = rows[c].get(cond, {}).get(batch + suffix)
                a = rows["ann"].get(cond, {}).get(batch + suffix)
                line += f" {fmt(v):>{w}s} {('-' if v is None else f'{v / a:.2f}'):>6s}"
        line += f"   {fmt(rows[c].get('busy_blas_own', {}).get('batch1000' + suffix)):>11s}"
        print(line)


def check_targets(rows):
    """The busy-neighbour targets: (name, figure, target, met) each."""
    out = []
    for c in CODINGS:
        busy = rows[c].get("busy")
        if not busy:
            continue
        out.append((f"{c} batch 1000", busy["batch1000"], TARGETS_1000[c], busy["batch1000"] >= TARGETS_1000[c]))
        out.append((f"{c} batch 1", busy["batch1"], TARGET_1, busy["batch1"] >= TARGET_1))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=10, help="timed passes per figure (the best is kept)")
    ap.add_argument("--json", default=None, help="also write the results as JSON to this file")
    ap.add_argument("--neighbours", type=int, default=1, help="CPU-bound processes of the busy case")
    ap.add_argument("--no-busy", action="store_true", help="idle figures only")
    ap.add_argument("--cpu", action="store_true", help="also print the figures by CPU time")
    args = ap.parse_args()

    t_start = time.perf_counter()
    nets = convert_model("digits", codings=CODINGS)
    x = quantize_inputs(load_dataset("digits").x_test, 8)
    big = np.resize(x, (1000, x.shape[1]))
    singles = [x[i:i + 1] for i in range(200)]
    result = {"machine": machine(), "load": {"start": load()}, "repeat": args.repeat,
              "neighbours": 0 if args.no_busy else args.neighbours, "rows": {c: {} for c in CODINGS}}
    with OtherLoad() as other:
        for c, row in measure(nets, singles, big, args.repeat).items():
            result["rows"][c]["idle"] = row
    result["other_cores"] = {"idle": other.cores}
    result["load"]["after_idle"] = load()
    if not args.no_busy:
        with Neighbours(args.neighbours) as nb:
            result["load"]["busy_start"] = load()
            with OtherLoad(nb) as other:
                for c, row in measure(nets, singles, big, args.repeat).items():
                    result["rows"][c]["busy"] = row
            result["other_cores"]["busy"] = other.cores
            saved = os.environ.get(THREADS_ENV)
            os.environ[THREADS_ENV] = "0"
            try:
                for c, row in measure(nets, singles, big, args.repeat, batch1=False).items():
                    result["rows"][c]["busy_blas_own"] = row
            finally:
                if saved is None:
                    del os.environ[THREADS_ENV]
                else:
                    os.environ[THREADS_ENV] = saved
            result["load"]["busy_end"] = load()
    result["seconds"] = round(time.perf_counter() - t_start, 1)

    m = result["machine"]
    blas = ", ".join(f"{b['internal_api']} {b['version']} ({b['num_threads']} threads)" for b in m["blas"])
    print(f"golden-model throughput, digits 64-32-10: {m['processor']}, {m['cpus']} CPUs "
          f"({m['usable_cpus']} usable), Python {m['python']}, NumPy {m['numpy']}, BLAS {blas or '?'}; "
          f"{THREADS_ENV}={m['threads_env'] or 'unset'}")
    ld = result["load"]
    print(f"load average (1, 5, 15 min): start {ld['start']}, after idle {ld['after_idle']}"
          + ("" if args.no_busy else f", busy {ld['busy_start']} → {ld['busy_end']} "
             f"({args.neighbours} spinning neighbour{'s' if args.neighbours != 1 else ''})"))
    oc = result["other_cores"]
    if oc.get("idle") is not None:
        print(f"other processes kept {oc['idle']:.2f} cores busy during the idle figures"
              + ("" if oc.get("busy") is None else f", {oc['busy']:.2f} during the busy ones")
              + f" (of {m['usable_cpus']})")
    print(f"best of {args.repeat} passes; vs ann: ratio to the integer ANN under the same load\n")
    print_table(result["rows"])
    if args.cpu:
        print("\nby CPU time (time spent waiting for a core left out):\n")
        print_table(result["rows"], "_cpu")
    targets = check_targets(result["rows"])
    if targets:
        print("\nbusy-neighbour targets: " + "; ".join(
            f"{name} {fmt(v)} {'≥' if ok else '<'} {fmt(t)}{'' if ok else ' MISSED'}" for name, v, t, ok in targets))
        result["targets"] = [{"name": n, "inf_per_s": v, "target": t, "met": ok} for n, v, t, ok in targets]
    print(f"\n{result['seconds']} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
