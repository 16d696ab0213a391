"""The report commands: ``spikeforge report`` (the main job), ``sweep`` and ``reproduce``."""

from __future__ import annotations

import os

import click

from .cli_common import Progress, data_arg, data_options, dataset_option
from .synth.targets import DEFAULT_TARGET, TARGET_NAMES

__all__ = ["report", "sweep", "reproduce"]


@click.command()
@dataset_option("digits")
@data_options
@click.option("--out", "out_dir", default="spikeforge-report", show_default=True, help="Report folder.")
@click.option("--quick", is_flag=True, help="Fewer vectors, sweep points and K values.")
@click.option("--golden-only", is_flag=True, help="Skip co-simulation and synthesis (golden models only).")
@click.option("--full", is_flag=True,
              help="Synthesize and co-simulate the network circuits at three parallelisms (P = 1, a quarter "
                   "of each layer, all neurons) instead of P = 1 only: 36 synthesis runs instead of 12, "
                   "the longest of the report (see the README for measured times).")
@click.option("--network-dataset", type=click.Choice(["iris", "digits"]), default="iris", show_default=True,
              help="Data set of the synthesized whole-network comparison.")
@click.option("--force", is_flag=True,
              help="Write into a folder that holds other files too (only the report's own files "
                   "are replaced; a previous report in the folder is replaced without --force).")
def report(dataset, data, input_range, out_dir, quick, golden_only, full, network_dataset, force):
    """The main job: convert the reference net to every coding, run the golden
    models, co-simulate and synthesize every core (iCE40, ECP5, CMOS) and the
    layer cores of a small network, and write the comparison report
    (Markdown, HTML, PNG plots, JSON)."""
    from .models.io import check_output_dir
    from .report import MANIFEST, run_report
    check_output_dir(out_dir, MANIFEST, force)
    progress = Progress()
    if full and (quick or golden_only):
        raise click.UsageError("--full cannot be combined with --quick or --golden-only")
    files, data = run_report(out_dir, dataset, quick=quick, full=full, hardware=not golden_only,
                             network_dataset=network_dataset, progress=progress, force=force,
                             data=data_arg(data), input_range=input_range)
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


@click.command()
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
@click.option("--connect-timeout", type=click.FloatRange(min=0, min_open=True), default=20, show_default=True,
              metavar="SECONDS", help="With --scheduler: how long to keep trying to reach the scheduler.")
@click.option("--out", "out_csv", default="sweep.csv", show_default=True,
              help="Table to append to: X.csv or X.jsonl (the other format is written beside it).")
def sweep(core, axes, params, target, dsp, cosim, jobs, scheduler, connect_timeout, out_csv):
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
                     scheduler=scheduler, connect_timeout=connect_timeout, progress=progress)
    bad = [r for r in rows if r.get("error")]
    click.echo(f"{len(rows) - len(bad)} points done, {len(bad)} failed; table: {out_csv}")
    if bad:
        raise ConfigError(f"{len(bad)} sweep point(s) failed, first: {bad[0]['params']}: {bad[0]['error']}")



@click.command()
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
