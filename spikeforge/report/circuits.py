"""The network-circuit section of the report: whole designs as one circuit, per coding and P.

For the reference net of a data set, in every coding that has a network
engine (:mod:`spikeforge.models.circuit`), at P = 1 (with ``full`` also a middle
value and all neurons of each layer): the circuit co-simulated sample by sample against its
golden model (scores, counters and cycles), synthesized for iCE40UP5K and
ECP5-85F (whole circuit in the measurement harness, weights in block RAM),
and its golden run on the whole test split (accuracy, agreement with the
integer ANN, cycles, spikes, the energy proxy of the circuit that was built).
The co-simulations and synthesis runs are jobs of a
:class:`~spikeforge.report.pool.JobPool` (:func:`plan_circuits`), which the
report shares with its other hardware sections.
"""

from __future__ import annotations

import numpy as np

from ..models.errors import SpikeforgeError
from ..models.registry import CORES, get_core
from ..synth.targets import get_target
from .pool import BUSY, JobPool, claimed
from .records import CircuitRow, CircuitSection, wilson_interval

__all__ = ["circuit_section", "plan_circuits", "parallelisms", "CIRCUIT_TARGETS", "P_NAMES"]

CIRCUIT_TARGETS = ("ice40-up5k", "ecp5-85f")
ENERGY_MODEL = ("weights in block RAM: every weight word read (P weights, one per lane) and every re-read "
                "of an engine's input or event buffer costs a memory read of its width; adds, "
                "multiplications and neuron updates cost their widths' entries")


#: The P values a section can have: 1, a middle value (a quarter of each layer), all neurons.
P_NAMES = ("1", "middle", "all")


def parallelisms(net, names=("1",)):
    """The P values of the section, as (name, P per layer), for the ``names`` of :data:`P_NAMES`
    (a P that equals an earlier one, e.g. the middle of a small net, appears once)."""
    outs = [net.layers[i].n_out for i in net.dense_indices]
    values = {"1": 1, "middle": tuple(max(1, n // 4) for n in outs), "all": tuple(outs)}
    seen, out = set(), []
    for name, P in ((n, values[n]) for n in names):
        key = P if isinstance(P, tuple) else tuple(P for _ in outs)
        if key not in seen:
            seen.add(key)
            out.append((name, key))
    return out


def _use_dsp(cp, target):
    """DSP blocks on the iCE40 when every lane of every layer can have one (the engines
    with multipliers have one per lane; the others have none, and the flag changes nothing)."""
    return get_target(target).use_dsp(sum(cp.parallelism))


def _synth_job(cp, target, dsp, *, may_defer=False):
    from ..synth.core import network_plans, run_plans
    from ..synth.flow import DoesNotFit
    try:
        plans = network_plans(cp, target, dsp=dsp, harness_alone=False)   # its cost is not reported
        return claimed(plans, may_defer, lambda: run_plans(plans, "spikeforge_network").to_dict())
    except DoesNotFit as e:
        return {"error": str(e).splitlines()[0][:300], "over": e.resources()}
    except SpikeforgeError as e:
        return {"error": str(e).splitlines()[0][:300]}


def _cosim_job(cp, x, *, may_defer=False):
    from ..hdl.network import network_verilog
    from ..sim.circuit import verify_circuit
    from ..sim.runner import claim_build
    verilog = network_verilog(cp)
    with claim_build(verilog, "spikeforge_network") as mine:
        if may_defer and not mine:
            return BUSY
        return verify_circuit(cp, x, verilog=verilog)


def _synth_cost(cp, target):
    """Estimated CPU-seconds of a circuit's synthesis (their order is what matters): the
    longest runs of a report, longer with more lanes, on the ECP5 (placed and routed even
    when it would not fit the UP5K) the longest."""
    return 60 + sum(cp.parallelism) + (20 if target == "ecp5-85f" else 0)


def plan_circuits(pool, dataset="digits", *, quick=False, full=False, samples=50, nets=None):
    """Add the section's jobs to ``pool``; returns the function that builds the section's
    record once the pool has run (see :func:`circuit_section`).

    P = 1 by default; ``full`` adds the middle P and P = all (twice as many synthesis runs,
    and the longest ones of a report).

    ``nets``: the data set's networks converted already (coding → Network, the defaults of
    :func:`~spikeforge.api.convert_model`), e.g. the golden section's.
    """
    from ..api import convert_model
    from ..models.circuit import CircuitParams, circuit_golden
    from ..models.convert import quantize_inputs
    from ..models.datasets import load_dataset
    from ..models.simulate import run_network

    codings = [c.name for c in CORES.values() if c.engine is not None]
    if nets is None or not set(codings) <= set(nets):
        nets = convert_model(dataset, codings=codings)
    nets = {c: nets[c] for c in codings}
    ds = load_dataset(dataset)
    x = quantize_inputs(ds.x_test, 8)
    n_sim = min(len(x), 10 if quick else samples)
    circuits = [(c, name, CircuitParams(net, P)) for c, net in nets.items()
                for name, P in parallelisms(net, P_NAMES if full and not quick else ("1",))]
    sims, synth = [], []
    for c, _name, cp in circuits:
        # the cycles of the co-simulated samples (cheap: the golden model) set the job's cost
        cycles = int(circuit_golden(cp, x[:n_sim]).counters["cycles"].sum())
        sims.append(pool.add(_cosim_job, (cp, x[:n_sim]), task=f"co-simulating the {dataset} circuits",
                             name=f"the {dataset} {c} circuit at P={cp.parallelism} on {n_sim} test samples",
                             cost=10 + cycles / 1e5))
        for t in CIRCUIT_TARGETS:
            synth.append(pool.add(_synth_job, (cp, t, _use_dsp(cp, t)), task=f"synthesizing the {dataset} circuits",
                                  name=f"{c} P={','.join(map(str, cp.parallelism))} on {t}",
                                  cost=_synth_cost(cp, t)))

    def finish():
        ref = next(n for c, n in nets.items() if get_core(c).is_reference) if any(
            get_core(c).is_reference for c in nets) else None
        ref_pred = run_network(ref if ref is not None else next(iter(nets.values())).reference(), x).predictions
        rows = []
        for k, (c, name, cp) in enumerate(circuits):
            g = circuit_golden(cp, x)
            ice, ecp = synth[2 * k].result, synth[2 * k + 1].result
            rows.append(_row(c, name, cp, g, sims[k].result, ice, ecp, ds.y_test, ref_pred))
        return CircuitSection(dataset=dataset, test_samples=len(x), cosim_samples=n_sim, rows=rows,
                              energy_model=ENERGY_MODEL, targets=list(CIRCUIT_TARGETS))
    return finish


def circuit_section(dataset="digits", *, quick=False, full=False, samples=50, progress=lambda *a, **k: None,
                    nets=None):
    """The section's record: one row per (coding, P).

    Parameters
    ----------
    dataset : str
        Bundled data set of the reference net.
    quick : bool
        10 co-simulated samples (and P = 1 only).
    full : bool
        P = 1, a quarter of each layer and all neurons (without it: P = 1).
    samples : int
        Test samples co-simulated per circuit (their cycles measured; the golden
        figures use the whole test split).
    nets : dict, optional
        The data set's networks converted already (see :func:`plan_circuits`).
    """
    pool = JobPool(progress=progress)
    finish = plan_circuits(pool, dataset, quick=quick, full=full, samples=samples, nets=nets)
    pool.run()
    return finish()


def _row(coding, name, cp, g, sim, ice, ecp, y, ref_pred):
    n_sim = sim["samples"]
    cap = get_target("ice40-up5k").capacity
    acc = float(np.mean(g.predictions == y))
    cycles = float(g.counters["cycles"].mean())
    lc = ice.get("logic_cells")
    fits = "error" not in ice and lc is not None and lc <= cap["logic_cells"] \
        and (ice.get("bram") or 0) <= cap.get("bram", 1 << 30) and (ice.get("dsp") or 0) <= cap.get("dsp", 1 << 30)
    fmax = ice.get("fmax_mhz")
    energy = g.energy_pj["total"]
    return CircuitRow(
        coding=coding, p_name=name, parallelism=list(cp.parallelism),
        accuracy=acc, accuracy_ci95=list(wilson_interval(acc, len(y))),
        agreement=float(np.mean(g.predictions == ref_pred)),
        cycles=round(cycles, 1), cycles_measured=round(float(np.mean(sim["measured_latency"])), 1),
        lower_bound=round(float(g.lower_bound[:n_sim].mean()), 1),
        cycles_vs_bound=round(float((g.counters["cycles"] / g.lower_bound).max()), 3),
        spikes=round(float(g.counters["spikes"].mean()), 1),
        synaptic_ops=round(float(g.counters["synaptic_ops"].mean()), 1),
        energy_pj=round(energy, 1), energy_parts_pj={k: round(v, 1) for k, v in g.energy_pj.items() if k != "total"},
        ice40={k: ice.get(k) for k in ("logic_cells", "luts", "ffs", "bram", "dsp", "fmax_mhz", "error", "over")
               if ice.get(k) is not None},
        ecp5={k: ecp.get(k) for k in ("luts", "ffs", "bram", "dsp", "fmax_mhz", "error", "over")
              if ecp.get(k) is not None},
        fits_up5k=bool(fits),
        latency_us=round(cycles / fmax, 2) if fmax else None,
        inferences_per_s=round(fmax * 1e6 / cycles) if fmax else None,
        energy_x_area_pj_lc=round(energy * lc) if lc else None)
