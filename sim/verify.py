"""Verify one core's RTL against its golden model, bit for bit and cycle for cycle.

``verify(core, params)`` elaborates the core from its parameter object,
drives corner-case and random inputs through the generic cocotb testbench,
compares every output beat with the golden model (first difference raises
:class:`SimulationMismatch`), then checks the measured latency, initiation
interval, spike count and cycle count against the formulas and counts of
the parameter object and the golden model.
"""

from __future__ import annotations

import time

import numpy as np

from ..hdl import build_core
from ..models.errors import SimulationMismatch
from ..models.registry import get_core
from .runner import cosim

__all__ = ["verify", "core_module"]


def core_module(core):
    """The co-simulation vector module of a core (its ``driver`` in the registry)."""
    return get_core(core).resolve("driver")


def verify(core, params, *, simulator="verilator", n_random=40, seed=0, inputs=None,
           idle=None, ready=None, golden=None, waves=False):
    """Co-simulate ``core`` at ``params``; return the measured figures.

    ``golden`` may replace the module's ``transactions`` (tests use it to show
    that a wrong golden model makes the comparison fail). With ``waves`` the
    result also holds the circuit's bit toggles (see :mod:`spikeforge.sim.activity`).
    """
    mod = core_module(core)
    if inputs is None:
        rng = np.random.default_rng(seed)
        inputs = mod.corner_inputs(params) + mod.random_inputs(params, rng, n_random)
    tx = (golden or mod.transactions)(params, inputs)
    t0 = time.perf_counter()
    res = cosim(core, params, build_core(core, params), tx.stimuli, tx.expected,
                simulator=simulator, idle=idle, ready=ready, waves=waves)
    wall = time.perf_counter() - t0
    measured = mod.timing(params, res)
    stalls = bool(idle or ready)
    checks = {"spikes": tx.counts.spikes, "synaptic_adds": tx.counts.synaptic_adds}
    if not stalls:
        checks["cycles"] = tx.counts.cycles
    for key, want in checks.items():
        if key in measured and measured[key] != want:
            raise SimulationMismatch("end", key, want, measured[key],
                                     f"{simulator}, core {core}: circuit count differs from the golden model")
    if not stalls:
        for key, attr in (("latency", "latency"), ("interval", "initiation_interval")):
            if key not in measured:          # data-dependent cores: cycles are checked instead
                continue
            want = getattr(params, attr)
            bad = [k for k, v in enumerate(measured[key]) if v != want]
            if bad:
                k = bad[0]
                raise SimulationMismatch(res.accepted[next(iter(res.accepted))][k], key, want,
                                         measured[key][k], f"{simulator}, core {core}, input {k}: "
                                         f"documented {key} formula not met")
    return {"core": core, "simulator": simulator, "inputs": len(inputs), "wall_s": round(wall, 2),
            "sim_cycles": res.cycles, "toggles": res.toggles, "golden": tx.counts.to_dict(),
            **{k: v for k, v in measured.items() if not isinstance(v, list)},
            "latency": sorted(set(measured.get("latency", []))),
            "interval": sorted(set(measured.get("interval", [])))}
