"""The comparison report behind ``spikeforge report``.

Golden part (this module): train the reference ReLU MLP on a bundled data
set, quantize it to the integer ANN, convert it to every coding, run the
golden models on the test split and collect accuracy, agreement with the
integer ANN, spikes, operation counts, the energy proxy and predicted
cycles; sweep the time steps of the rate codings. Written as Markdown, JSON
and one PNG into a folder that appears atomically.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from importlib import metadata

from ..models.convert import quantize, quantize_inputs, to_coding
from ..models.datasets import load_dataset, train_reference
from ..models.energy import ENERGY_SOURCE, ENERGY_TABLE
from ..models.evaluate import evaluate
from ..models.io import output_folder
from ..models.network import CODINGS, DEFAULT_OPTIONS, save_network
from .document import render_html, render_markdown

__all__ = ["golden_section", "environment", "write_report", "run_report", "MANIFEST"]

#: The report folder's manifest: the files a report wrote (only these are ever replaced).
MANIFEST = ".spikeforge-report.json"

RATE_STEPS = (8, 16, 32, 64, 128, 256)
RATE_STEPS_QUICK = (8, 32, 128)


def environment():
    """Tool versions and machine, recorded with every report."""
    def ver(pkg):
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return None
    return {"python": platform.python_version(), "platform": platform.platform(),
            "machine": platform.machine(), "cpus": os.cpu_count(),
            "packages": {p: ver(p) for p in ("spikeforge", "numpy", "scikit-learn", "amaranth",
                                             "matplotlib")},
            "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:])}


def golden_section(dataset="digits", *, quick=False, progress=lambda *a, **k: None):
    """Golden-model figures of every coding on ``dataset`` (dict, JSON-ready)."""
    progress(f"training the reference ReLU MLP on {dataset}")
    ds = load_dataset(dataset)
    mlp = train_reference(dataset)
    sizes = [ds.n_features, *mlp.hidden_layer_sizes, ds.n_classes]
    name = f"{dataset}-" + "-".join(map(str, sizes))
    progress("quantizing to the integer ANN (8-bit inputs, activations and weights)")
    ann = quantize(mlp, ds.x_train, name=name)
    ann = type(ann)(ann.coding, ann.input_bits, ann.layers, ann.w_bits, ann.options, ann.name,
                    {**ann.meta, "dataset": dataset})
    xtr = quantize_inputs(ds.x_train, ann.input_bits)
    xte = quantize_inputs(ds.x_test, ann.input_bits)
    nets, evals = {}, {}
    for c in CODINGS:
        progress(f"converting to {c} and running its golden model on {len(xte)} test inputs")
        nets[c] = to_coding(ann, c, xtr)
        evals[c] = evaluate(nets[c], xte, ds.y_test).to_dict()
        evals[c]["options"] = nets[c].options
    sweep = []
    for c in ("if", "lif"):
        for norm in ("max", "robust"):
            progress(f"sweeping time steps of {c} ({norm} norm)")
            for T in (RATE_STEPS_QUICK if quick else RATE_STEPS):
                e = evaluate(to_coding(ann, c, xtr, time_steps=T, rate_norm=norm), xte, ds.y_test)
                sweep.append({"coding": c, "norm": norm, "time_steps": T, "accuracy": e.accuracy,
                              "agreement": e.agreement, "spikes_per_neuron": e.spikes_per_neuron,
                              "energy_pj": e.energy_pj["total"], "cycles": e.cycles})
    return {
        "dataset": dataset, "network": name, "layer_sizes": sizes,
        "train_samples": int(len(xtr)), "test_samples": int(len(xte)),
        "float_accuracy": float(mlp.score(ds.x_test, ds.y_test)),
        "quantization": ann.meta, "codings": evals, "rate_sweep": sweep,
        "rate_defaults": {c: DEFAULT_OPTIONS[c] for c in ("if", "lif")},
        "energy_table": {"source": ENERGY_SOURCE, **ENERGY_TABLE},
        "_networks": nets,
    }


def write_report(data, out_dir, force=False):
    """Write report.md, report.html, report.json, the figures and the network designs.

    Everything is written to a temporary folder first and then moved into
    ``out_dir`` file by file (see :func:`~spikeforge.models.io.output_folder`):
    a folder holding files other than a previous report's is refused unless
    ``force``, and then only the report's own files are replaced.
    """
    from . import plots

    nets = data.get("_networks", {})
    public = {k: v for k, v in data.items() if not k.startswith("_")}
    figures = [("report.png", "golden models: spikes, energy proxy, rate codings against T", plots.golden_figure),
               ("pareto.png", "energy proxy against accuracy", plots.pareto_figure),
               ("spikes_per_layer.png", "spikes per neuron per stage", plots.layer_spikes_figure)]
    if "k_sweep" in public:
        figures.append(("area_vs_k.png", "area against K", plots.area_k_figure))
    public["figures"] = [(name, alt) for name, alt, _ in figures]
    with output_folder(out_dir, manifest=MANIFEST, force=force) as tmp:
        for name, _alt, draw in figures:
            draw(public, os.path.join(tmp, name))
        with open(os.path.join(tmp, "report.json"), "w") as f:
            json.dump(public, f, indent=1, sort_keys=True, default=float)
        with open(os.path.join(tmp, "report.md"), "w") as f:
            f.write(render_markdown(public))
        with open(os.path.join(tmp, "report.html"), "w") as f:
            f.write(render_html(public))
        if nets:
            os.makedirs(os.path.join(tmp, "designs"))
            for c, net in nets.items():
                save_network(net, os.path.join(tmp, "designs", f"{net.name}-{c}.json"))
    return [os.path.join(out_dir, n) for n in ("report.md", "report.html", "report.json")]


def run_report(out_dir, dataset="digits", *, quick=False, hardware=True, network_dataset="iris",
               progress=lambda *a, **k: None, force=False):
    """The main job: compute every section and write the report folder.

    ``hardware=False`` skips co-simulation and synthesis (golden models only).
    """
    t0 = time.perf_counter()
    data = {"environment": environment()}
    data["golden"] = golden_section(dataset, quick=quick, progress=progress)
    data["_networks"] = data["golden"].pop("_networks")
    if hardware:
        from ..synth.flow import tool_versions
        from .hardware import cores_section, k_sweep, network_section
        progress("checking the tools (the first call of each YoWASP tool compiles it, ~30 s each)")
        data["environment"]["tools"] = tool_versions(["yosys", "nextpnr-ice40", "nextpnr-ecp5"])
        data["cores"] = cores_section(quick=quick, progress=progress)
        data["k_sweep"] = k_sweep(quick=quick, progress=progress)
        data["network"] = network_section(network_dataset, progress=progress)
    data["wall_time_s"] = round(time.perf_counter() - t0, 2)
    progress(f"writing the report to {out_dir}")
    return write_report(data, out_dir, force), data
