"""Hardware sections of the comparison report.

- :func:`cores_section`: every core at matched precision (8-bit data, K = 8),
  co-simulated bit-exact against its golden model with a waveform (cycles,
  toggles), synthesized for iCE40UP5K (in the harness; the ANN also with
  DSPs), ECP5-85F (out of context) and the CMOS estimate; latency,
  throughput, energy proxy and energy × area derived from those. FS and
  AMOS are activation units (no synapses), the others layer cores with 8
  synapses: each row says which, and only rows of one kind are compared.
- :func:`k_sweep`: area against K (iCE40 logic cells).
- :func:`network_section`: the reference net of a data set in the codings whose
  layers are cores (TTFS, LIF, IF, ANN): every layer synthesized, areas
  summed, energy proxy and accuracy from the golden run; energy × area is the
  cost function of Widmer et al. (2023), who found TTFS better than an ANN on
  Iris in 7 nm.

Each builds a record of :mod:`spikeforge.report.records`. Their jobs
(co-simulations, synthesis runs) can share one :class:`~spikeforge.report.pool.JobPool`
with the other sections: ``plan_cores``, ``plan_k_sweep`` and
``plan_network`` add their jobs to a pool and return a function that builds
the record once the pool has run; ``cores_section``, ``k_sweep`` and
``network_section`` do all three steps with a pool of their own.
"""

from __future__ import annotations

from ..models.base import Counts
from ..models.energy import energy_breakdown
from ..models.simulate import LayerStats
from ..models.registry import CORES, REFERENCE, get_core
from ..synth.targets import get_target
from .pool import JobPool, claimed
from .records import (Area, CoreRow, CoresSection, KPoint, KSweep, LayerArea, NetworkRow,
                      NetworkSection, wilson_interval)

__all__ = ["matched_params", "cores_section", "k_sweep", "network_section", "LAYER_CODINGS",
           "ACTIVATION_UNITS", "synth_many", "plan_cores", "plan_k_sweep", "plan_network", "synth_cost"]

TARGETS = ("ice40-up5k", "ecp5-85f", "cmos")        # the report's columns, in this order
LAYER_CODINGS = tuple(c.name for c in CORES.values() if c.layer_core)
ACTIVATION_UNITS = tuple(c.name for c in CORES.values() if not c.layer_core)   # neurons without synapses
NETWORK_NOTE = ("FS and AMOS have neuron cores, not layer cores, so they are not in this table; "
                "they are in the network-circuit section, where every coding with a network engine "
                "is built as one circuit with its weights in block RAM.")


def matched_params(K=8, bits=8):
    """One instance of every core at matched precision (each core's ``matched`` in the registry).

    K-step / K-neuron units with (bits + 4)-bit signed inputs; one neuron with
    8 synapses (the documented default weights) and bits-wide data for the
    layer cores; rate cores keep their default T.

    Returns
    -------
    dict
        core name → parameter object.
    """
    return {c.name: c.matched(K, bits) for c in CORES.values()}


def synth_cost(target, size=0):
    """Estimated CPU-seconds of a synthesis run (only their order matters to the pool): a core,
    or a design of ``size`` lanes more."""
    return {"ice40-up5k": 6.0, "ecp5-85f": 4.0}.get(target, 1.5) + size


def _synth_job(core, params, target, dsp, harness_alone=True, *, may_defer=False):
    from ..hdl import build_core
    from ..hdl.export import top_name
    from ..synth.core import component_plans, run_plans
    plans = component_plans(lambda: build_core(core, params), core, params, target, dsp=dsp,
                            harness_alone=harness_alone)
    return claimed(plans, may_defer, lambda: run_plans(plans, top_name(core)).to_dict())


def _job_label(job):
    core, _p, target, dsp = job
    return f"{core} on {target}{' with DSPs' if dsp else ''}"


def _add_synth(pool, jobs, label, names=None, harness_alone=True):
    """Synthesis jobs (core, params, target, dsp); ``harness_alone=False`` for a section that does
    not report the iCE40 harness's own cost (its extra run is left out)."""
    names = names or [_job_label(j) for j in jobs]
    return [pool.add(_synth_job, (*j, harness_alone), task=label, name=n, cost=synth_cost(j[2]))
            for j, n in zip(jobs, names)]


def synth_many(jobs, progress=lambda *a, **k: None, label="synthesis", workers=2, names=None):
    """Run (core, params, target, dsp) jobs in parallel processes.

    Each Yosys/nextpnr run is single-threaded, so two processes keep two cores busy.

    Parameters
    ----------
    jobs : list of (str, params, str, bool)
    progress : callable
        Called as ``progress(name, done, total, task=label)`` after each job.
    label : str
        The task the progress lines belong to.
    workers : int
        Parallel processes.
    names : list of str, optional
        What each job is, for the progress lines (default: core and target).

    Returns
    -------
    list of dict
        ``SynthResult.to_dict()`` of every job, in job order.
    """
    pool = JobPool(workers, progress)
    added = _add_synth(pool, jobs, label, names)
    pool.run()
    return [j.result for j in added]


def _energy_pj(p, golden):
    return energy_breakdown([LayerStats("core", 0, Counts(**golden), p.op_widths)])["total"]


def _synapses(p):
    w = getattr(p, "weights", None)
    return sum(len(row) for row in w) if w is not None else 0


def _cosim_core_job(core, params, n_random, *, may_defer=False):
    from ..sim.verify import verify
    return verify(core, params, n_random=n_random, waves=True)


def plan_cores(pool, *, quick=False, K=8, bits=8):
    """Add the jobs of :func:`cores_section` to ``pool``; returns the function that builds
    the section once the pool has run."""
    params = matched_params(K, bits)
    sims = {core: pool.add(_cosim_core_job, (core, p, 12 if quick else 40),
                           task="co-simulating the cores (Verilator, waveforms recorded)",
                           name=f"{core} against its golden model", cost=6)
            for core, p in params.items()}
    jobs = [(c, p, t, False) for c, p in params.items() for t in TARGETS]
    jobs.append((REFERENCE, params[REFERENCE], "ice40-up5k", True))      # the MAC with DSP blocks
    added = dict(zip([(c, t, d) for c, _p, t, d in jobs], _add_synth(pool, jobs, "synthesizing cores")))

    def finish():
        res = {key: job.result for key, job in added.items()}
        rows = []
        for core, p in params.items():
            v = sims[core].result
            n = v["inputs"]
            ice, ecp, cmos = (res[(core, t, False)] for t in TARGETS)
            cpi = v["cycles"] / n
            latency_cycles = getattr(p, "latency", None) or cpi
            energy = _energy_pj(p, v["golden"])
            fmax = ice["fmax_mhz"]
            rows.append(CoreRow(
                core=core, kind="activation unit" if core in ACTIVATION_UNITS else "layer core",
                synapses=_synapses(p), params=p.to_dict(derived=True), vectors=n, simulator=v["simulator"],
                cycles_per_inference=round(cpi, 3), latency_cycles=round(latency_cycles, 3),
                initiation_interval=getattr(p, "initiation_interval", None),
                spikes_per_inference=round(v["spikes"] / n, 3),
                toggles_per_inference=round(v["toggles"] / n, 1),
                energy_pj=round(energy, 3),
                ice40=Area.of(ice), ice40_harness=Area.of(ice["harness"]), ecp5=Area.of(ecp),
                transistors=cmos["transistors"], mul_cells=cmos["mul_cells"],
                latency_ns=round(latency_cycles * 1e3 / fmax, 1),
                inferences_per_s=round(fmax * 1e6 / cpi),
                energy_x_area_pj_lc=round(energy * ice["logic_cells"], 1),
                energy_x_area_pj_transistors=round(energy * cmos["transistors"]),
                ice40_dsp=Area.of(res[(REFERENCE, "ice40-up5k", True)]) if get_core(core).is_reference else None,
            ))
        ann = next(r for r in rows if get_core(r.core).is_reference)
        for r in rows:
            if r.kind == ann.kind:
                r.energy_x_area_vs_ann = round(r.energy_x_area_pj_transistors / ann.energy_x_area_pj_transistors, 3)
        return CoresSection(K=K, bits=bits, rows=rows)
    return finish


def _run_alone(plan, progress, **kw):
    pool = JobPool(progress=progress)
    finish = plan(pool, **kw)
    pool.run()
    return finish()


def cores_section(*, quick=False, progress=lambda *a, **k: None, K=8, bits=8):
    """Every core at matched precision, measured on RTL and on three targets.

    Returns
    -------
    CoresSection
    """
    return _run_alone(plan_cores, progress, quick=quick, K=K, bits=bits)


def plan_k_sweep(pool, *, quick=False):
    """Add the jobs of :func:`k_sweep` to ``pool``; returns the function that builds the
    section once the pool has run."""
    Ks = (4, 8, 12) if quick else (4, 6, 8, 10, 12, 16)
    make = {c.name: c.k_sweep for c in CORES.values() if c.k_sweep is not None}
    points = [(c, K) for c in make for K in Ks]
    jobs = [(c, make[c](K), "ice40-up5k", False) for c, K in points]
    added = _add_synth(pool, jobs, "area against K", names=[f"{c} at K = {K} on ice40-up5k" for c, K in points],
                       harness_alone=False)

    def finish():
        return KSweep(K=list(Ks), points=[
            KPoint(core=c, K=K, logic_cells=r["logic_cells"], luts=r["luts"], ffs=r["ffs"], fmax_mhz=r["fmax_mhz"])
            for (c, K), r in zip(points, (j.result for j in added))])
    return finish


def k_sweep(*, quick=False, progress=lambda *a, **k: None):
    """iCE40 logic cells against K for the cores whose size follows K.

    Returns
    -------
    KSweep
    """
    return _run_alone(plan_k_sweep, progress, quick=quick)


def _cosim_network_job(net, x, *, may_defer=False):
    from ..sim.network import verify_network
    return verify_network(net, x)


def plan_network(pool, dataset="iris"):
    """Add the jobs of :func:`network_section` to ``pool``; returns the function that builds
    the section once the pool has run."""
    from ..api import convert_model
    from ..models.convert import quantize_inputs
    from ..models.datasets import load_dataset
    from ..models.network import layer_params

    nets = convert_model(dataset, codings=LAYER_CODINGS)
    ds = load_dataset(dataset)
    x = quantize_inputs(ds.x_test, 8)
    proven = {c: pool.add(_cosim_network_job, (net, x), task=f"co-simulating the {dataset} networks layer by layer",
                          name=f"{c} on {len(x)} test inputs", cost=10)
              for c, net in nets.items()}
    jobs, owners = [], []
    for c, net in nets.items():
        for i in net.dense_indices:
            for t in ("ice40-up5k", "cmos"):
                jobs.append((c, layer_params(net, i), t, False))
                owners.append((c, i, t))
    added = _add_synth(pool, jobs, f"synthesizing the {dataset} layers",
                       names=[f"{c} layer {i} on {t}" for c, i, t in owners], harness_alone=False)

    def finish():
        from ..models.evaluate import evaluate
        res = [j.result for j in added]
        rows = []
        for c, net in nets.items():
            e = evaluate(net, x, ds.y_test)
            mine = [(o, r) for o, r in zip(owners, res) if o[0] == c]
            ice = [r for (o, r) in mine if o[2] == "ice40-up5k"]
            cmos = [r for (o, r) in mine if o[2] == "cmos"]
            lcs = sum(r["logic_cells"] for r in ice)
            trans = sum(r["transistors"] for r in cmos)
            fmax = min(r["fmax_mhz"] for r in ice)
            energy = e.energy_pj["total"]
            rtl_cycles = sum(v["cycles"] for v in proven[c].result) / len(x)
            rows.append(NetworkRow(
                coding=c, accuracy=e.accuracy, accuracy_ci95=list(wilson_interval(e.accuracy, len(x))),
                agreement=e.agreement, rtl_bit_exact_inputs=len(x), rtl_cycles=rtl_cycles,
                layers=[LayerArea(layer=o[1], **Area.of(r).to_dict()) for (o, r) in mine if o[2] == "ice40-up5k"],
                logic_cells=lcs, luts=sum(r["luts"] for r in ice), ffs=sum(r["ffs"] for r in ice),
                dsp=sum(r["dsp"] for r in ice), fits_up5k=lcs <= get_target("ice40-up5k").capacity["logic_cells"],
                transistors=trans, fmax_mhz=fmax, cycles=round(e.cycles, 1),
                latency_us=round(rtl_cycles / fmax, 2),
                energy_pj=round(energy, 1),
                energy_parts_pj={k: round(v, 1) for k, v in e.energy_pj.items() if k != "total"},
                spikes_per_neuron=round(e.spikes_per_neuron, 3),
                energy_x_area_pj_lc=round(energy * lcs), energy_x_area_pj_transistors=round(energy * trans),
            ))
        ann = next(r for r in rows if get_core(r.coding).is_reference)
        for r in rows:
            r.energy_x_area_vs_ann = round(r.energy_x_area_pj_transistors / ann.energy_x_area_pj_transistors, 3)
        ttfs = layer_params(nets["ttfs"], nets["ttfs"].dense_indices[0]) if "ttfs" in nets else None
        return NetworkSection(dataset=dataset, test_samples=len(x), rows=rows, note=NETWORK_NOTE,
                              ttfs_windows=[ttfs.B_in, ttfs.B] if ttfs else None,
                              ttfs_slope_shift=ttfs.slope_shift if ttfs else None)
    return finish


def network_section(dataset="iris", *, progress=lambda *a, **k: None):
    """The reference net in every layer-core coding: summed layer areas and golden figures.

    Returns
    -------
    NetworkSection
    """
    return _run_alone(plan_network, progress, dataset=dataset)
