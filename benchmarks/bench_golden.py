"""Golden-model throughput per coding on the digits reference net (64-32-10).

    python benchmarks/bench_golden.py [--repeat 5] [--json out.json]

For each coding: the network is converted once, then ``run_network`` is
timed on batch 1 (each of 200 test inputs on its own) and on batch 1,000
(the 450 test inputs tiled to 1,000); after one warm-up run, the best of
``--repeat`` runs is reported as inferences per second, with the ratio to
the integer ANN beside it. What is timed is exactly the golden run that
reports and co-simulation use (input checks, all layers, counts).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from spikeforge.api import convert_model
from spikeforge.models.convert import quantize_inputs
from spikeforge.models.datasets import load_dataset
from spikeforge.models.network import CODINGS
from spikeforge.models.simulate import run_network


def best_time(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", default=None, help="also write the results as JSON")
    args = ap.parse_args()

    nets = convert_model("digits", codings=CODINGS)
    ds = load_dataset("digits")
    x = quantize_inputs(ds.x_test, 8)
    big = np.resize(x, (1000, x.shape[1]))
    singles = [x[i:i + 1] for i in range(200)]
    rows = []
    for c in CODINGS:
        net = nets[c]
        t1 = best_time(lambda: [run_network(net, s) for s in singles], args.repeat) / len(singles)
        t1000 = best_time(lambda: run_network(net, big), args.repeat) / len(big)
        rows.append({"coding": c, "batch1_inf_per_s": 1 / t1, "batch1000_inf_per_s": 1 / t1000})
    ann = next(r for r in rows if r["coding"] == "ann")
    print(f"golden-model throughput, digits 64-32-10, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, NumPy {np.__version__}")
    print(f"{'coding':6s} {'batch 1 (inf/s)':>16s} {'vs ann':>7s} {'batch 1000 (inf/s)':>19s} {'vs ann':>7s}")
    for r in rows:
        print(f"{r['coding']:6s} {r['batch1_inf_per_s']:16,.0f} {r['batch1_inf_per_s'] / ann['batch1_inf_per_s']:7.2f}"
              f" {r['batch1000_inf_per_s']:19,.0f} {r['batch1000_inf_per_s'] / ann['batch1000_inf_per_s']:7.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "python": platform.python_version(), "numpy": np.__version__,
                       "cpus": os.cpu_count()}, f, indent=1)


if __name__ == "__main__":
    main()
