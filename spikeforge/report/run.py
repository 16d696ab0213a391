"""Run the report: compute every section, then write the report folder.

The folder holds ``report.md``, ``report.html``, ``report.json``, the PNG
figures and ``designs/`` (the converted networks); it appears atomically
and follows the output policy of :func:`spikeforge.models.io.output_folder`
with the manifest :data:`MANIFEST`.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from importlib import metadata

from ..models.io import output_folder
from ..models.network import save_network
from . import plots
from .document import render_html, render_json, render_markdown
from .golden import golden_section
from .records import Environment, Figure, ReportData

__all__ = ["environment", "figures_of", "files_of", "write_report", "run_report", "MANIFEST"]

#: The report folder's manifest: the files a report wrote (only these are ever replaced).
MANIFEST = ".spikeforge-report.json"

#: Text files of every report, in this order.
DOCUMENTS = ("report.md", "report.html", "report.json")


def environment():
    """Tool versions and machine, recorded with every report.

    Returns
    -------
    Environment
    """
    def ver(pkg):
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return None
    return Environment(
        python=platform.python_version(), platform=platform.platform(), machine=platform.machine(),
        cpus=os.cpu_count(),
        packages={p: ver(p) for p in ("spikeforge", "numpy", "scikit-learn", "amaranth", "matplotlib")},
        command=" ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]))


def figures_of(data):
    """The figures a report draws: (Figure, drawing function) pairs.

    Parameters
    ----------
    data : ReportData
    """
    out = [(Figure("report.png", "golden models: spikes, energy proxy, rate codings against T"),
            plots.golden_figure),
           (Figure("pareto.png", "energy proxy against accuracy"), plots.pareto_figure),
           (Figure("spikes_per_layer.png", "spikes per neuron per stage"), plots.layer_spikes_figure)]
    if data.k_sweep is not None:
        out.append((Figure("area_vs_k.png", "area against K"), plots.area_k_figure))
    if data.circuits is not None:
        out.append((Figure("circuits.png", "network circuits: area against latency"),
                    plots.circuit_pareto_figure))
    return out


def files_of(data):
    """Every file (relative path) a report of ``data`` writes, figures and designs included.

    Parameters
    ----------
    data : ReportData
    """
    nets = data.golden.networks
    return (list(DOCUMENTS) + [f.file for f, _draw in figures_of(data)]
            + [os.path.join("designs", f"{net.name}-{c}.json") for c, net in nets.items()])


def write_report(data, out_dir, force=False):
    """Write report.md, report.html, report.json, the figures and the network designs.

    Everything is written to a temporary folder first and then moved into
    ``out_dir`` file by file (see :func:`~spikeforge.models.io.output_folder`):
    a folder holding files other than a previous report's is refused unless
    ``force``, and then only the report's own files are replaced.

    Parameters
    ----------
    data : ReportData
    out_dir : str
    force : bool

    Returns
    -------
    list of str
        Paths of report.md, report.html and report.json.
    """
    figures = figures_of(data)
    data.figures = [f for f, _draw in figures]
    with output_folder(out_dir, manifest=MANIFEST, force=force) as tmp:
        for fig, draw in figures:
            draw(data, os.path.join(tmp, fig.file))
        for name, render in zip(DOCUMENTS, (render_markdown, render_html, render_json)):
            with open(os.path.join(tmp, name), "w") as f:
                f.write(render(data))
        nets = data.golden.networks
        if nets:
            os.makedirs(os.path.join(tmp, "designs"))
            for c, net in nets.items():
                save_network(net, os.path.join(tmp, "designs", f"{net.name}-{c}.json"))
    return [os.path.join(out_dir, n) for n in DOCUMENTS]


def run_report(out_dir, dataset="digits", *, quick=False, full=False, hardware=True, network_dataset="iris",
               progress=lambda *a, **k: None, force=False, data=None, input_range=None):
    """The main job: compute every section and write the report folder.

    Parameters
    ----------
    out_dir : str
        Report folder.
    dataset : str
        Data set of the golden section.
    quick : bool
        Fewer vectors, sweep points and K values.
    full : bool
        The network circuits at three P (1, a quarter of each layer, all neurons) instead of
        P = 1: the report's longest synthesis runs (see the README for the measured times).
    hardware : bool
        ``False`` skips co-simulation and synthesis (golden models only).
    network_dataset : str
        Data set of the layer-by-layer network comparison (and of the network circuits with
        ``quick`` or the user's own data; else those use ``dataset``).
    progress : callable
        Called as ``progress(msg)`` or ``progress(msg, done, total, task=…)``.
    force : bool
        See :func:`write_report`.
    data, input_range : optional
        The user's own split and the range of its inputs (see
        :func:`~spikeforge.report.golden.golden_section`).

    Returns
    -------
    (list of str, ReportData)
        The written documents and the report's records.
    """
    t0 = time.perf_counter()
    own = data is not None                  # the user's own split: circuits use a bundled set
    data = ReportData(environment=environment(),
                      golden=golden_section(dataset, data=data, input_range=input_range, quick=quick,
                                            progress=progress))
    if hardware:
        from ..synth.flow import tool_versions
        from .circuits import plan_circuits
        from .hardware import plan_cores, plan_k_sweep, plan_network
        from .pool import JobPool
        progress("checking the tools (the first call of each YoWASP tool compiles it, ~30 s each)")
        data.environment.tools = tool_versions(["yosys", "nextpnr-ice40", "nextpnr-ecp5"])
        # every co-simulation and synthesis run of the hardware sections in one pool, longest first
        pool = JobPool(progress=progress)
        cores = plan_cores(pool, quick=quick)
        k_points = plan_k_sweep(pool, quick=quick)
        network = plan_network(pool, network_dataset)
        # quick: the small net (Iris); else the golden section's data set (at three P with full)
        circuit_dataset = network_dataset if own or quick else dataset
        circuits = plan_circuits(pool, circuit_dataset, quick=quick, full=full,
                                 nets=data.golden.networks if circuit_dataset == dataset and not own else None)
        progress(f"{len(pool.jobs)} co-simulations and synthesis runs on {pool.workers} worker processes, "
                 "longest first")
        pool.run()
        data.cores, data.k_sweep, data.network, data.circuits = cores(), k_points(), network(), circuits()
    data.wall_time_s = round(time.perf_counter() - t0, 2)
    progress(f"writing the report to {out_dir}")
    return write_report(data, out_dir, force), data
