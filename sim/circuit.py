"""Co-simulation of a whole network circuit against its golden model.

``verify_circuit(cp, x)`` streams samples through
:class:`~spikeforge.hdl.network.NetworkCircuit` and checks, sample by
sample, every score and every hardware counter against
:func:`~spikeforge.models.circuit.circuit_golden`; the first difference
raises :class:`SimulationMismatch` with its cycle, signal and values.

Two ways of driving it:

- ``isolated=True``: each sample enters an idle circuit (the input waits
  until the previous sample has left): the ``cycles`` counter must equal the
  predicted latency, and so must the latency the testbench measures itself
  (first input beat accepted to last score beat);
- ``isolated=False``: samples back to back, so layers work on different
  samples at once: scores and the other counters are checked (``cycles``
  then includes waiting), and the measured cycles per sample are returned.
"""

from __future__ import annotations

import numpy as np

from ..hdl.network import NetworkCircuit
from ..models.base import check_int_array
from ..models.circuit import CircuitParams, circuit_golden
from ..models.errors import ConfigError, SimulationMismatch
from .runner import cosim

__all__ = ["transactions", "verify_circuit"]

COUNTERS = ("synaptic_ops", "spikes", "state_updates")


def transactions(cp, x, isolated=True):
    """(stimuli, expected, golden result) for the samples ``x`` (n, n_inputs)."""
    g = circuit_golden(cp, x)
    stimuli = {"i": [int(v) for v in np.asarray(x).ravel()]}
    n_out = cp.n_outputs
    o = [{"value": int(s), "last": int(k == n_out - 1)} for row in g.scores for k, s in enumerate(row)]
    names = COUNTERS + (("cycles",) if isolated else ())
    c = [{name: int(g.counters[name][n]) for name in names} for n in range(len(g.scores))]
    return stimuli, {"o": o, "c": c}, g


def verify_circuit(cp, x, *, simulator="verilator", isolated=True, ready=None, golden=None, skip_quiet=True,
                   verilog=None):
    """Co-simulate the circuit of ``cp`` on integer inputs ``x``; returns measured figures.

    ``golden`` may replace :func:`transactions` (tests use it to show that a
    wrong expectation makes the comparison fail). ``skip_quiet=False`` makes
    the testbench step every cycle (see :func:`~spikeforge.sim.runner.cosim`). ``verilog``:
    the circuit's Verilog if it was made already (:func:`~spikeforge.hdl.network.network_verilog`).
    """
    if not isinstance(cp, CircuitParams):
        raise ConfigError(f"expected a CircuitParams, not {cp!r}")
    x = check_int_array("x", x)
    if x.ndim != 2 or x.shape[1] != cp.n_inputs or x.shape[0] == 0:
        raise ConfigError(f"x must have shape (n ≥ 1, {cp.n_inputs}), not {x.shape}")
    stimuli, expected, g = (golden or transactions)(cp, x, isolated)
    lat = [int(c) for c in g.counters["cycles"]]
    n, n_in = x.shape
    idle = [b for c in lat for b in [1] * n_in + [0] * (c + 4)] if isolated else None
    # isolated, a sample takes its input time (part of its latency; an encoder may take more
    # than a cycle per value) plus the gap of lat + 4 cycles after its last input: ≤ 2·lat + 4
    budget = (2 * sum(lat) + n * (n_in + 8)) * (4 if ready else 1) + 10 * max(lat) + 1000
    res = cosim("network", cp, NetworkCircuit(cp), stimuli, expected, simulator=simulator,
                idle={"i": idle} if idle else None, ready={"o": ready, "c": ready} if ready else None,
                max_cycles=budget, drain=8, skip_quiet=skip_quiet, verilog=verilog)
    accepted = res.accepted["i"]
    score_cycles = [c for c, _ in res.beats["o"]]
    firsts = accepted[::n_in]
    lasts = score_cycles[cp.n_outputs - 1::cp.n_outputs]
    measured = [b - a for a, b in zip(firsts, lasts)]
    if isolated and not ready:
        for k, m in enumerate(measured):
            if m != lat[k]:
                raise SimulationMismatch(lasts[k], "latency", lat[k], m,
                                         f"{simulator}, network, sample {k}: measured by the testbench")
    return {"simulator": simulator, "samples": n, "latency": lat, "measured_latency": measured,
            "cycles_total": lasts[-1] - firsts[0] + 1, "cycles_per_sample": (lasts[-1] - firsts[0] + 1) / n,
            "golden": g.counts.to_dict(), "sim_cycles": res.cycles, "skipped_cycles": res.skipped}
