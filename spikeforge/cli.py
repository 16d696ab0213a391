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
import warnings

import click

from .models.convert import RATE_NORMS
from .models.errors import ConfigError, Interrupted, SpikeforgeError, SpikeforgeWarning, ToolError
from .models.registry import CORES
from .cli_common import Progress, data_arg, data_options, dataset_option
from .synth.targets import DEFAULT_TARGET, TARGET_NAMES, get_target

EXIT_INPUT, EXIT_TOOL, EXIT_INTERNAL = 2, 3, 4


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
@dataset_option()
@data_options
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
    nets = convert_model(model, dataset=dataset, data=data_arg(data), input_range=input_range,
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
@dataset_option()
@data_options
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True,
              help="Data split to evaluate on.")
@click.option("--limit", type=int, default=None, help="Evaluate only the first N samples.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def evaluate(design, dataset, data, input_range, split, limit, as_json):
    """Golden run of a network JSON file: accuracy, agreement with the integer ANN,
    spikes per neuron, energy proxy and predicted cycles."""
    from .api import evaluate_design
    e = evaluate_design(design, dataset=dataset, data=data_arg(data), input_range=input_range, split=split,
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


# the board and report commands live in their own modules
from .cli_board import build, program, run  # noqa: E402
from .cli_report import report, reproduce, sweep  # noqa: E402

for _command in (build, program, run, report, reproduce, sweep):
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
