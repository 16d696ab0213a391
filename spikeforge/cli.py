"""The ``spikeforge`` command line.

Every error a user can cause ends as one line ``error: …`` on stderr and a
non-zero exit code (2 for bad input, 3 for a failing external tool), never
a traceback. Set ``SPIKEFORGE_DEBUG=1`` to see tracebacks.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
import warnings

import click

from .models.convert import RATE_NORMS
from .models.errors import ConfigError, Interrupted, SpikeforgeError, SpikeforgeWarning, ToolError
from .models.registry import CORES
from .synth.targets import DEFAULT_TARGET, TARGET_NAMES, get_target

EXIT_INPUT, EXIT_TOOL, EXIT_INTERNAL = 2, 3, 4


class Progress:
    """Progress on stderr: ``progress(msg)`` for a step, ``progress(msg, done, total, task=…)``
    for a long loop. On a terminal the loops are rich progress bars; otherwise (logs, CI)
    every call is one timestamped line."""

    def __init__(self, quiet=False):
        import sys
        self.quiet, self.t0 = quiet, time.perf_counter()
        self.tty = sys.stderr.isatty()
        self._bars, self._tasks = None, {}

    def __call__(self, msg, done=None, total=None, task=None):
        if self.quiet:
            return
        if total is None or not self.tty:
            self._close()
            counter = f"{task + ': ' if task else ''}[{done}/{total}] " if total is not None else ""
            click.echo(f"[{time.perf_counter() - self.t0:6.1f} s] {counter}{msg}", err=True)
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bars, TextColumn, TimeElapsedColumn
        if self._bars is None:
            self._bars = Bars(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                              TimeElapsedColumn(), transient=False)
            self._bars.start()
        key = task or msg
        if key not in self._tasks:
            self._tasks[key] = self._bars.add_task(key, total=total)
        self._bars.update(self._tasks[key], completed=done, description=f"{key}: {msg}"[:90])
        if done >= total:
            self._close()

    def _close(self):
        if self._bars is not None:
            self._bars.stop()
            self._bars, self._tasks = None, {}


def _dataset_option(default=None):
    return click.option("--dataset", type=click.Choice(["digits", "iris"]), default=default,
                        show_default=bool(default), help="Bundled data set (no downloads).")


def _data_options(f):
    """``--data`` and ``--input-range``: the user's own train/test split."""
    f = click.option("--input-range", default=None, metavar="LO,HI",
                     help="The range your inputs come in; they are mapped to [0, 1] by (x − LO)/(HI − LO) "
                          "and values outside it are clipped and counted. Without it, inputs outside "
                          "[0, 1] are an error.")(f)
    return click.option("--data", "data", multiple=True, metavar="FILE",
                        help="Your own train/test split instead of a bundled data set: an .npz with "
                             "x_train, y_train, x_test, y_test (a model .npz may carry them), or "
                             "--data TRAIN.csv --data TEST.csv (features, then the label, per row). "
                             "Calibration reads its training rows, accuracy its test rows.")(f)


def _data_arg(data):
    """The --data values as the API takes them (None, a path, or the two CSV paths)."""
    if not data:
        return None
    return data[0] if len(data) == 1 else list(data)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="spikeforge")
def cli():
    """spikeforge: temporally-coded spiking neuron cores as integer golden models,
    Verilog and FPGA reports (FS, AMOS, TTFS, shift-add LIF, rate IF, ANN MAC)."""


@cli.command()
@click.option("--params", "params_of", metavar="CORE", default=None,
              help="List the parameters of CORE (name, default, meaning) instead.")
def cores(params_of):
    """List the registered cores, or the parameters of one (--params CORE)."""
    from .api import core_parameters
    if params_of is None:
        for c in CORES.values():
            engine = "network engine" if c.engine else "no network engine yet"
            click.echo(f"{c.name:5s} {c.summary} ({engine})")
        return
    for name, default, derived, doc in core_parameters(params_of):
        shown = "derived" if derived else json.dumps(default)
        click.echo(f"{name:14s} {shown:>10s}  {doc}")


@cli.command()
@click.option("--model", default="digits", show_default=True,
              help="'digits' or 'iris' (train the bundled reference net), or a model file picked by "
                   "its extension: .npz (w0, b0, w1, b1, …, w_i of shape (n_in, n_out); upper-case keys "
                   "too), .onnx (an MLP exported from PyTorch or Keras), .nir (a spiking IF/LIF network, "
                   "into the if or lif coding). See docs/frontends.md.")
@_dataset_option()
@_data_options
@click.option("--coding", "codings", multiple=True, default=["all"], show_default=True,
              help=f"Coding(s) to produce: {', '.join(CORES)} or all (repeatable).")
@click.option("--input-bits", type=int, default=8, show_default=True, help="Input width.")
@click.option("--act-bits", type=int, default=8, show_default=True, help="Activation width (FS/AMOS K).")
@click.option("--w-bits", type=int, default=8, show_default=True, help="Weight width.")
@click.option("--calibration", type=click.Choice(["max", "percentile"]), default="max", show_default=True,
              help="How each hidden layer's activation range is set from the training data: its "
                   "largest float activation (max) or the --percentile of its activations (clips "
                   "outliers, finer steps for the rest).")
@click.option("--percentile", type=float, default=99.99, show_default=True,
              help="Percentile (50 to 100) of the activations that sets the range with "
                   "--calibration percentile; ignored with max.")
@click.option("--time-steps", type=int, default=None, help="T of the rate codings (default 32).")
@click.option("--rate-norm", type=click.Choice(list(RATE_NORMS)), default="max", show_default=True,
              help="Spike value of the rate codings (LIF, IF) per layer: the largest integer "
                   "activation (max), its 99.9th percentile (robust), or a threshold trained as "
                   "a Rate Norm Layer (rnl, Ding et al. 2021).")
@click.option("--ttfs-variant", type=click.Choice(["at_most_one", "exactly_one"]), default="at_most_one",
              show_default=True, help="TTFS neurons: a zero activation stays silent (at_most_one) "
                                      "or every neuron fires once, forced at the window's end "
                                      "(exactly_one).")
@click.option("--lif-readout", type=click.Choice(["count", "membrane", "vanrossum"]), default=None,
              help="LIF output readout (default count).")
@click.option("--nir-dt", type=float, default=None, metavar="SECONDS",
              help="NIR models: the time step of the discrete neuron update (default: the step at which "
                   "the input enters the membrane unscaled, τ/r for LIF, as snnTorch exports).")
@click.option("--out", "out_dir", default="designs", show_default=True, help="Output folder.")
def convert(model, dataset, data, input_range, codings, input_bits, act_bits, w_bits, calibration, percentile,
            time_steps, rate_norm, ttfs_variant, lif_readout, nir_dt, out_dir):
    """Convert a trained ReLU network into integer network JSON files, one per coding."""
    from .api import convert_model
    from .models.io import check_output_dir, output_folder
    from .models.network import save_network

    check_output_dir(out_dir)
    progress = Progress()
    nets = convert_model(model, dataset=dataset, data=_data_arg(data), input_range=input_range,
                         codings=codings, input_bits=input_bits,
                         act_bits=act_bits, w_bits=w_bits, calibration=calibration,
                         percentile=percentile, time_steps=time_steps, rate_norm=rate_norm,
                         ttfs_variant=ttfs_variant, lif_readout=lif_readout, nir_dt=nir_dt,
                         progress=progress)
    written = []
    with output_folder(out_dir) as tmp:     # every file is checked first; all appear, or none
        for c, net in nets.items():
            fname = f"{net.name}-{c}.json"
            save_network(net, os.path.join(tmp, fname))
            written.append(os.path.join(out_dir, fname))
    for w in written:
        click.echo(w)


@cli.command()
@click.argument("design", type=click.Path(dir_okay=False))
@click.option("--nir", "as_nir", is_flag=True, required=True,
              help="Write a NIR graph (the one export format; required so that the command says what it writes).")
@click.option("-o", "--output", "nir_out", required=True, metavar="FILE.nir", help="The file to write.")
@click.option("--dt", type=float, default=None, metavar="SECONDS",
              help="Time step the NIR neuron nodes' τ and r are stated for (default 0.001).")
def export(design, as_nir, nir_out, dt):
    """Export a network design JSON: `spikeforge export --nir DESIGN.json -o net.nir` writes a
    NIR graph (Affine nodes with the integer weights, IF/LIF nodes for the rate codings, the
    spikeforge facts under the metadata key 'spikeforge'; see docs/frontends.md)."""
    from .api import export_nir
    from .models.errors import ConfigError
    from .models.io import check_output_file

    if not as_nir:
        raise ConfigError("say which format to write: --nir")
    check_output_file(nir_out)
    if dt is not None and not (dt > 0 and dt < float("inf")):
        raise ConfigError(f"--dt must be a positive number of seconds, not {dt}")
    net = export_nir(design, nir_out, dt)
    click.echo(f"wrote {nir_out}: {net.name} ({net.coding}, {len(net.dense_indices)} dense layers)", err=True)


@cli.command()
@click.argument("design", type=click.Path(dir_okay=False))
@_dataset_option()
@_data_options
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True,
              help="Data split to evaluate on.")
@click.option("--limit", type=int, default=None, help="Evaluate only the first N samples.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def evaluate(design, dataset, data, input_range, split, limit, as_json):
    """Golden run of a network JSON file: accuracy, agreement with the integer ANN,
    spikes per neuron, energy proxy and predicted cycles."""
    from .api import evaluate_design
    e = evaluate_design(design, dataset=dataset, data=_data_arg(data), input_range=input_range, split=split,
                        limit=limit)
    if as_json:
        click.echo(json.dumps(e.to_dict(), indent=1, default=float))
        return
    rows = [("coding", e.coding), ("samples", e.samples),
            ("accuracy", "—" if e.accuracy is None else f"{100 * e.accuracy:.2f} %"),
            ("agreement with integer ANN", f"{100 * e.agreement:.2f} %"),
            ("spikes per neuron", f"{e.spikes_per_neuron:.3f}"),
            ("synaptic ops / inference", f"{e.synaptic_ops:.1f}"),
            ("multiplications / inference", f"{e.multiplications:.1f}"),
            ("memory reads / inference", f"{e.memory_reads:.1f}"),
            ("energy proxy / inference", f"{e.energy_pj['total']:.2f} pJ"),
            ("predicted cycles / inference", f"{e.cycles:.1f}")]
    for k, v in rows:
        click.echo(f"{k:30s} {v}")


@cli.command()
@_dataset_option("digits")
@_data_options
@click.option("--out", "out_dir", default="spikeforge-report", show_default=True, help="Report folder.")
@click.option("--quick", is_flag=True, help="Fewer vectors, sweep points and K values.")
@click.option("--golden-only", is_flag=True, help="Skip co-simulation and synthesis (golden models only).")
@click.option("--network-dataset", type=click.Choice(["iris", "digits"]), default="iris", show_default=True,
              help="Data set of the synthesized whole-network comparison.")
@click.option("--force", is_flag=True,
              help="Write into a folder that holds other files too (only the report's own files "
                   "are replaced; a previous report in the folder is replaced without --force).")
def report(dataset, data, input_range, out_dir, quick, golden_only, network_dataset, force):
    """The main job: convert the reference net to every coding, run the golden
    models, co-simulate and synthesize every core (iCE40, ECP5, CMOS) and the
    layer cores of a small network, and write the comparison report
    (Markdown, HTML, PNG plots, JSON)."""
    from .models.io import check_output_dir
    from .report import MANIFEST, run_report
    check_output_dir(out_dir, MANIFEST, force)
    progress = Progress()
    files, data = run_report(out_dir, dataset, quick=quick, hardware=not golden_only,
                             network_dataset=network_dataset, progress=progress, force=force,
                             data=_data_arg(data), input_range=input_range)
    g = data.golden
    click.echo(f"{g.network}: float accuracy {100 * g.float_accuracy:.2f} %")
    click.echo(f"{'coding':6s} {'accuracy':>9s} {'agreement':>10s} {'spikes/neuron':>14s} {'energy pJ':>10s}")
    for c, e in g.codings.items():
        click.echo(f"{c:6s} {100 * e.accuracy:8.2f}% {100 * e.agreement:9.2f}% "
                   f"{e.spikes_per_neuron:14.3f} {e.total_pj:10.1f}")
    if data.cores is not None:
        click.echo(f"cores at K={data.cores.K} / {data.cores.bits}-bit on iCE40UP5K (harness included); "
                   "compare within a kind only:")
        click.echo(f"{'core':6s} {'kind':16s} {'LUT4':>6s} {'FF':>5s} {'LC':>5s} {'Fmax MHz':>9s} "
                   f"{'cycles/inf':>11s} {'inf/s':>12s} {'pJ/inf':>9s}")
        for r in data.cores.rows:
            i = r.ice40
            click.echo(f"{r.core:6s} {r.kind:16s} {i.luts:6d} {i.ffs:5d} {i.logic_cells:5d} {i.fmax_mhz:9.1f} "
                       f"{r.cycles_per_inference:11.2f} {r.inferences_per_s:12,d} {r.energy_pj:9.2f}")
    click.echo(f"report written to {os.path.join(out_dir, 'report.md')} (and .html) in {data.wall_time_s} s")


@cli.command()
@click.argument("core")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Override one parameter (repeatable); VALUE is JSON (8, [1,2], null) or a word.")
@click.option("--from", "source", type=click.Path(dir_okay=False), default=None,
              help="Take the parameters from a network design JSON (see --layer) or a core "
                   "parameter JSON ({\"type\": CORE, …}).")
@click.option("--layer", type=int, default=None, help="Layer index in a design (default: first dense layer).")
@click.option("-o", "--output", default="-", show_default=True,
              help="Verilog file ('-': standard output). An existing regular file is replaced "
                   "(keeping its mode); links and special files are refused.")
def generate(core, params, source, layer, output):
    """Generate the Verilog of CORE (see `spikeforge cores`; its parameters: `cores --params CORE`),
    or of a whole network: `generate network --from DESIGN.json [--param P=4]`.

    Every parameter has a documented default (see the core's parameter class),
    so `spikeforge generate fs -o fs.v` works as is. The output is
    deterministic; the top module is spikeforge_CORE (spikeforge_network).
    """
    from .api import NETWORK, circuit_params, core_params
    from .hdl import generate_verilog
    from .models.io import atomic_write_text, check_output_file

    if output != "-":
        check_output_file(output)
    if core == NETWORK:
        from .hdl.network import network_verilog
        if layer is not None:
            raise ConfigError("--layer applies to one layer core, not to a network circuit")
        text = network_verilog(circuit_params(source, params))
    else:
        text = generate_verilog(core, core_params(core, overrides=params, source=source, layer=layer))
    if output == "-":
        click.echo(text, nl=False)
    else:
        atomic_write_text(output, text)
        click.echo(f"wrote {output}: module spikeforge_{core}", err=True)


@cli.command()
@click.argument("core")
@click.option("--target", type=click.Choice(TARGET_NAMES), default=DEFAULT_TARGET, show_default=True,
              help="Synthesis target (see the README's table of targets).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Override one parameter.")
@click.option("--from", "source", type=click.Path(dir_okay=False), default=None,
              help="Parameters from a network design JSON (see --layer) or a core parameter JSON.")
@click.option("--layer", type=int, default=None, help="Layer index in a design (default: first dense layer).")
@click.option("--dsp", is_flag=True, help="iCE40: map multipliers to SB_MAC16 DSPs (synth_ice40 -dsp).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def synth(core, target, params, source, layer, dsp, as_json):
    """Synthesize CORE, a core parameter JSON file, or a network design: `synth DESIGN.json`
    is the whole network as one circuit (`--param P=4` sets its parallelism; `--layer N`
    synthesizes one layer core instead). Prints area and Fmax.

    iCE40: the core sits in a 4-pin harness (serial inputs, XOR-reduced
    outputs), measured alone as well. ECP5: out of context. cmos: Yosys's
    transistor estimate. The first call of each YoWASP tool compiles it
    (~30 s); results are cached by the hash of the Verilog and tool versions.
    """
    from .api import NETWORK, circuit_params, core_of_file, core_params, has_engine, is_design
    from .synth.core import synth_core, synth_network

    progress = Progress(quiet=as_json)
    if core.endswith(".json"):                  # spikeforge synth design.json
        if source is not None:
            raise ConfigError("give the JSON file either as CORE or with --from, not both")
        source, core = core, core_of_file(core)
        design = is_design(source)
        if design and layer is None and has_engine(core):
            core = NETWORK
        elif design and layer is None:
            progress(f"coding {core!r} has no network engine yet: synthesizing its first layer core "
                     "(--layer N picks another)")
    if core == NETWORK:
        if layer is not None:
            raise ConfigError("--layer applies to one layer core, not to a network circuit")
        r = synth_network(circuit_params(source, params), target, dsp=dsp, progress=progress)
    else:
        p = core_params(core, overrides=params, source=source, layer=layer)
        r = synth_core(core, p, target, dsp=dsp, progress=progress)
    if as_json:
        click.echo(json.dumps(r.to_dict(), indent=1))
        return
    rows = [("target", r.target), ("top", r.top)]
    if not get_target(target).pnr:
        rows += [("transistors (estimate)", r.transistors), ("flip-flops", r.ffs)]
    else:
        rows += [("LUT4", r.luts), ("flip-flops", r.ffs), ("carry cells", r.carry), ("BRAM", r.bram),
                 ("DSP", r.dsp), ("placed logic cells", r.logic_cells), ("Fmax (MHz)", r.fmax_mhz)]
    rows.append(("$mul cells before mapping", r.mul_cells))
    if r.harness:
        h = r.harness
        rows.append(("harness alone", f"{h['luts']} LUT4, {h['ffs']} FF, {h['logic_cells']} LC "
                                      f"(included in the figures above)"))
        rows.append(("core alone (above − harness)", f"{r.luts - h['luts']} LUT4, {r.ffs - h['ffs']} FF, "
                                                     f"{r.logic_cells - h['logic_cells']} LC"))
    rows.append(("logs", r.log_dir + (" (cached)" if r.cached else "")))
    for k, v in rows:
        click.echo(f"{k:28s} {v}")


@cli.command()
@click.argument("core")
@click.option("--axis", "axes", multiple=True, metavar="NAME=V1,V2,…", required=True,
              help="A swept parameter and its values (repeatable; the grid is their product), "
                   "e.g. --axis K=4,8,16 --axis x_bits=10,12. P (parallelism) is the 'lanes' "
                   "parameter of a core; of a network design (DESIGN.json) it is P: --axis P=1,4,8.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="A fixed parameter.")
@click.option("--target", type=click.Choice(TARGET_NAMES), default=DEFAULT_TARGET, show_default=True,
              help="Synthesis target.")
@click.option("--dsp", is_flag=True, help="iCE40: map multipliers to DSPs.")
@click.option("--cosim", is_flag=True, help="Also co-simulate each point: cycles and inferences/s.")
@click.option("--jobs", type=int, default=None, help="Parallel points (default: all CPUs).")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Run the points on this existing Dask distributed cluster instead of local processes "
                   "(pip install spikeforge[dask]; every worker needs the same spikeforge version). "
                   "The table is the same either way.")
@click.option("--out", "out_csv", default="sweep.csv", show_default=True,
              help="Table to append to: X.csv or X.jsonl (the other format is written beside it).")
def sweep(core, axes, params, target, dsp, cosim, jobs, scheduler, out_csv):
    """Sweep CORE's parameters in parallel (local processes or a Dask cluster); append one row
    per point, in grid order, to a table. CORE may be a network design (DESIGN.json): its axis
    is P, and each point is the whole circuit (`--axis P=1,2,4`)."""
    from .api import parse_param
    from .models.errors import ConfigError
    from .sweep import check_scheduler, check_tables, grid, point_params, run_sweep

    grid_axes = {}
    for a in axes:
        name, value = parse_param(a)
        if isinstance(value, str) and "," in value:        # K=4,8,16
            value = [parse_param(f"{name}={v}")[1] for v in value.split(",")]
        values = value if isinstance(value, list) else [value]
        if not values:
            raise ConfigError(f"--axis {name}: no values")
        grid_axes[name] = values
    base = dict(parse_param(p) for p in params)
    check_tables(out_csv)
    if scheduler is not None:
        check_scheduler(scheduler)
    if jobs is not None and jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, not {jobs}")
    for pt in grid(grid_axes):            # validate every point before any tool runs
        point_params(core, base, pt)
    progress = Progress()
    progress(f"{len(grid(grid_axes))} points on {target}; appending to {out_csv}")
    rows = run_sweep(core, grid_axes, target, out_csv, base=base, dsp=dsp, cosim=cosim, jobs=jobs,
                     scheduler=scheduler, progress=progress)
    bad = [r for r in rows if r.get("error")]
    click.echo(f"{len(rows) - len(bad)} points done, {len(bad)} failed; table: {out_csv}")
    if bad:
        raise ConfigError(f"{len(bad)} sweep point(s) failed, first: {bad[0]['params']}: {bad[0]['error']}")



@cli.command()
@click.option("--out", "out_dir", default="spikeforge-reproduce", show_default=True,
              help="Folder for reproduce.md and reproduce.json.")
@click.option("--only", "only", multiple=True, metavar="SECTION",
              help="Measure only these sections (repeatable or comma-separated): fs_fit, spikes, "
                   "amos_units, nets, ttfs, rate, cosim.")
@click.option("--quick", is_flag=True, help="Short sweeps (fewer K, Q, T and trials; no K = 40 co-simulation).")
@click.option("--no-cosim", is_flag=True, help="Skip the co-simulation of the fitted tables.")
@click.option("--force", is_flag=True, help="Replace a previous reproduction's files in a folder holding "
                                            "other files too.")
def reproduce(out_dir, only, quick, no_cosim, force):
    """Measure the papers' claims this package can test and write them side by side with the
    papers' figures, each with its command and the reason for any difference."""
    from .models.io import check_output_dir
    from .report.reproduce import MANIFEST, write_reproduction
    sections = [p.strip() for o in only for p in o.split(",") if p.strip()] or None
    check_output_dir(out_dir, MANIFEST, force)
    paths, data = write_reproduction(out_dir, sections, quick=quick, cosim=not no_cosim, force=force,
                                     progress=Progress())
    for sec in data["sections"]:
        for c in sec["claims"]:
            click.echo(f"{c['id']:18s} paper: {c['paper'][:50]:50s} ours: {c['ours'][:70]}")
    click.echo(f"written: {', '.join(paths)} in {data['wall_s']} s")

def _on_signal(signum, frame):
    raise Interrupted(signum)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, SpikeforgeWarning):
        click.echo(f"warning: {message}", err=True)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def _run(argv):
    """Parse and run one command; returns its exit code (expected errors propagate)."""
    try:
        with cli.make_context("spikeforge", list(sys.argv[1:] if argv is None else argv)) as ctx:
            cli.invoke(ctx)
    except click.exceptions.Exit as e:          # --help, --version
        return e.exit_code
    return 0


from .cli_board import build, program, run  # noqa: E402  (the board commands live in their own module)

for _command in (build, program, run):
    cli.add_command(_command)


def main(argv=None):
    """Entry point: run the CLI and turn every error into one line and an exit code.

    2: bad input; 3: an external tool failed; 4: an internal error (a bug);
    130/143: interrupted by SIGINT/SIGTERM (temporary files are removed first).
    """
    debug = os.environ.get("SPIKEFORGE_DEBUG") == "1"
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            handlers[sig] = signal.signal(sig, _on_signal)
    warnings.showwarning = _show_warning
    try:
        return _run(argv)
    except click.ClickException as e:        # usage errors, bad option values
        click.echo(f"error: {e.format_message()}", err=True)
        return EXIT_INPUT
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        return 130
    except ToolError as e:
        if debug:
            raise
        click.echo(f"error: {e}", err=True)
        return EXIT_TOOL
    except SpikeforgeError as e:
        if debug:
            raise
        click.echo(f"error: {e}", err=True)
        return EXIT_INPUT
    except BrokenPipeError:                  # e.g. `spikeforge generate fs | head`
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as e:
        if debug:
            raise
        click.echo(f"error: {e.strerror or e}" + (f": {e.filename}" if e.filename else ""), err=True)
        return EXIT_INPUT
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        return 130
    except Interrupted as e:
        click.echo("error: interrupted", err=True)
        return 128 + e.signum
    except MemoryError:
        if debug:
            raise
        click.echo("error: out of memory (the input is too large for this machine; see the limits "
                   "in the README)", err=True)
        return EXIT_INPUT
    except Exception as e:                   # a bug: still one line, but say so
        if debug:
            raise
        msg = str(e).splitlines()[0][:200] if str(e) else ""
        click.echo(f"error: internal error ({type(e).__name__}{': ' + msg if msg else ''}); "
                   "please report it with the output of SPIKEFORGE_DEBUG=1", err=True)
        return EXIT_INTERNAL
    finally:
        warnings.showwarning = _default_showwarning
        for sig, h in handlers.items():
            signal.signal(sig, h)
