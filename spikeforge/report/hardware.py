"""Hardware sections of the comparison report.

- ``cores_section``: every core at matched precision (8-bit data, K = 8),
  co-simulated bit-exact against its golden model with a waveform (cycles,
  toggles), synthesized for iCE40UP5K (in the harness; the ANN also with
  DSPs), ECP5-85F (out of context) and the CMOS estimate; latency,
  throughput, energy proxy and energy × area derived from those.
- ``k_sweep``: area against K (iCE40 logic cells).
- ``network_section``: the reference net of a data set in the codings whose
  layers are cores (TTFS, LIF, IF, ANN): every layer synthesized, areas
  summed, energy proxy and accuracy from the golden run; energy × area is the
  cost function of Widmer et al. (2023), who found TTFS better than an ANN on
  Iris in 7 nm.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

from ..models.amos import AMOSParams
from ..models.ann import MACParams
from ..models.base import Counts
from ..models.energy import energy_breakdown
from ..models.fs import FSParams
from ..models.lif import LIFParams
from ..models.rate_if import IFParams
from ..models.simulate import LayerStats
from ..models.ttfs import TTFSParams
from ..synth.targets import get_target

__all__ = ["matched_params", "cores_section", "k_sweep", "network_section", "LAYER_CODINGS",
           "synth_many"]

TARGETS = ("ice40-up5k", "ecp5-85f", "cmos")        # the report's columns, in this order
LAYER_CODINGS = ("ttfs", "lif", "if", "ann")
AREA_FIELDS = ("luts", "ffs", "carry", "dsp", "bram", "logic_cells", "fmax_mhz")


def matched_params(K=8, bits=8):
    """One instance of every core at matched precision: K-step / K-neuron units with
    (bits + 4)-bit signed inputs; one neuron with 8 synapses (the documented default
    weights) and bits-wide data for the layer cores; rate cores keep their default T."""
    return {
        "fs": FSParams.relu(K, bits + 4),
        "amos": AMOSParams.relu(K, bits + 4),
        "ttfs": TTFSParams(in_bits=bits, out_bits=bits),
        "lif": LIFParams(),
        "if": IFParams(),
        "ann": MACParams(in_bits=bits, out_bits=bits),
    }


def _synth_job(job):
    core, params, target, dsp = job
    from ..synth.core import synth_core
    return synth_core(core, params, target, dsp=dsp).to_dict()


def synth_many(jobs, progress=lambda *a, **k: None, label="synthesis", workers=2):
    """Run (core, params, target, dsp) jobs in parallel processes; results in job order.

    Each Yosys/nextpnr run is single-threaded, so two processes keep two cores busy.
    """
    out = []
    with ProcessPoolExecutor(max_workers=workers) as ex:
        for k, res in enumerate(ex.map(_synth_job, jobs), 1):
            core, _p, target, dsp = jobs[k - 1]
            progress(f"{core} on {target}{' with DSPs' if dsp else ''}", k, len(jobs), task=label)
            out.append(res)
    return out


def _area(r):
    return {k: r[k] for k in AREA_FIELDS}


def _energy_pj(p, golden):
    return energy_breakdown([LayerStats("core", 0, Counts(**golden), p.op_widths)])["total"]


def cores_section(*, quick=False, progress=lambda *a, **k: None, K=8, bits=8):
    """Every core at matched precision: measured on RTL and on three targets."""
    from ..sim.verify import verify

    params = matched_params(K, bits)
    sims = {}
    for core, p in params.items():
        progress(f"co-simulating {core} against its golden model (Verilator, waveform recorded)")
        sims[core] = verify(core, p, n_random=12 if quick else 40, waves=True)
    jobs = [(c, p, t, False) for c, p in params.items() for t in TARGETS]
    jobs.append(("ann", params["ann"], "ice40-up5k", True))
    res = dict(zip([(c, t, d) for c, _p, t, d in jobs], synth_many(jobs, progress, "synthesizing cores")))
    rows = []
    for core, p in params.items():
        v = sims[core]
        n = v["inputs"]
        ice, ecp, cmos = (res[(core, t, False)] for t in TARGETS)
        cpi = v["cycles"] / n
        latency_cycles = getattr(p, "latency", None) or cpi
        energy = _energy_pj(p, v["golden"])
        fmax = ice["fmax_mhz"]
        row = {
            "core": core, "params": p.to_dict(derived=True), "vectors": n, "simulator": v["simulator"],
            "cycles_per_inference": round(cpi, 3), "latency_cycles": round(latency_cycles, 3),
            "initiation_interval": getattr(p, "initiation_interval", None),
            "spikes_per_inference": round(v["spikes"] / n, 3),
            "toggles_per_inference": round(v["toggles"] / n, 1),
            "energy_pj": round(energy, 3),
            "ice40": _area(ice), "ice40_harness": ice["harness"], "ecp5": _area(ecp),
            "transistors": cmos["transistors"], "mul_cells": cmos["mul_cells"],
            "latency_ns": round(latency_cycles * 1e3 / fmax, 1),
            "inferences_per_s": round(fmax * 1e6 / cpi),
            "energy_x_area_pj_lc": round(energy * ice["logic_cells"], 1),
            "energy_x_area_pj_transistors": round(energy * cmos["transistors"]),
        }
        if core == "ann":
            row["ice40_dsp"] = _area(res[("ann", "ice40-up5k", True)])
        rows.append(row)
    return {"K": K, "bits": bits, "rows": rows}


def k_sweep(*, quick=False, progress=lambda *a, **k: None):
    """iCE40 logic cells against K for the cores whose size follows K."""
    Ks = (4, 8, 12) if quick else (4, 6, 8, 10, 12, 16)
    make = {"fs": lambda K: FSParams.relu(K, K + 4), "amos": lambda K: AMOSParams.relu(K, K + 4),
            "ttfs": lambda K: TTFSParams(in_bits=K, out_bits=K),
            "ann": lambda K: MACParams(in_bits=K, out_bits=K)}
    jobs = [(c, f(K), "ice40-up5k", False) for c, f in make.items() for K in Ks]
    res = synth_many(jobs, progress, "area against K")
    points = [{"core": c, "K": K, "logic_cells": r["logic_cells"], "luts": r["luts"], "ffs": r["ffs"],
               "fmax_mhz": r["fmax_mhz"]}
              for (c, _p, _t, _d), K, r in zip(jobs, [K for _c in make for K in Ks], res)]
    return {"K": list(Ks), "points": points}


def network_section(dataset="iris", *, progress=lambda *a, **k: None):
    """The reference net in every layer-core coding: summed layer areas and golden figures."""
    from ..api import convert_model
    from ..models.convert import quantize_inputs
    from ..models.datasets import load_dataset
    from ..models.evaluate import evaluate
    from ..models.network import layer_params

    from ..sim.network import verify_network

    nets = convert_model(dataset, codings=LAYER_CODINGS)
    ds = load_dataset(dataset)
    x = quantize_inputs(ds.x_test, 8)
    proven = {}
    for c, net in nets.items():
        progress(f"co-simulating the {dataset} {c} network layer by layer on {len(x)} test inputs")
        proven[c] = verify_network(net, x)
    jobs, owners = [], []
    for c, net in nets.items():
        for i in net.dense_indices:
            for t in ("ice40-up5k", "cmos"):
                jobs.append((c, layer_params(net, i), t, False))
                owners.append((c, i, t))
    res = synth_many(jobs, progress, f"synthesizing the {dataset} layers")
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
        rows.append({
            "coding": c, "accuracy": e.accuracy, "agreement": e.agreement,
            "rtl_bit_exact_inputs": len(x), "rtl_cycles": sum(v["cycles"] for v in proven[c]) / len(x),
            "layers": [{"layer": o[1], **_area(r)} for (o, r) in mine if o[2] == "ice40-up5k"],
            "logic_cells": lcs, "luts": sum(r["luts"] for r in ice), "ffs": sum(r["ffs"] for r in ice),
            "dsp": sum(r["dsp"] for r in ice), "fits_up5k": lcs <= get_target("ice40-up5k").capacity["logic_cells"],
            "transistors": trans, "fmax_mhz": fmax, "cycles": round(e.cycles, 1),
            "latency_us": round(sum(v["cycles"] for v in proven[c]) / len(x) / fmax, 2),
            "energy_pj": round(energy, 1),
            "spikes_per_neuron": round(e.spikes_per_neuron, 3),
            "energy_x_area_pj_lc": round(energy * lcs), "energy_x_area_pj_transistors": round(energy * trans),
        })
    ann = next(r for r in rows if r["coding"] == "ann")
    for r in rows:
        r["energy_x_area_vs_ann"] = round(r["energy_x_area_pj_transistors"] / ann["energy_x_area_pj_transistors"], 3)
    return {"dataset": dataset, "rows": rows,
            "note": "FS and AMOS have neuron cores only; their layer engines (neurons plus "
                    "Horner receivers) are not built yet, so they are not in this table."}
