"""The board commands (docs/board.md):

- ``spikeforge build``: a design's circuit behind the host link, as a bitstream for a
  board, with its build summary;
- ``spikeforge program``: load a bitstream with openFPGALoader;
- ``spikeforge run``: check the board's design hash, stream a test set through the
  board (``--port``) or the virtual board (``--sim``) and compare every sample with the
  golden model (class, scores, counters); a mismatch is listed per sample and makes the
  exit code 1.
"""

from __future__ import annotations

import click

from .synth.boards import BOARD_NAMES

__all__ = ["build", "program", "run"]

_P_HELP = "The parallelism per dense layer (P=4 or P=[16,4]; default 1)."


@click.command()
@click.option("--board", type=click.Choice(BOARD_NAMES), required=True, help="The board to build for.")
@click.option("--design", "design", required=True, type=click.Path(dir_okay=False), metavar="DESIGN.json",
              help="A network design (spikeforge convert writes them).")
@click.option("--param", "params", multiple=True, metavar="P=…", help=_P_HELP)
@click.option("--baud", type=int, default=115_200, show_default=True,
              help="UART baud rate of the host link (spikeforge run --baud must match).")
@click.option("--constraints", "pins", type=click.Path(dir_okay=False), default=None, metavar="FILE.toml",
              help="A pin file instead of the board's own in constraints/ (other UART pins, LEDs).")
@click.option("-o", "--out", "out_dir", default="spikeforge-build", show_default=True, metavar="DIR",
              help="Folder for the bitstream and its build summary (text and JSON).")
@click.option("--json", "as_json", is_flag=True, help="Print the build summary as JSON.")
def build(board, design, params, baud, pins, out_dir, as_json):
    """Build the bitstream of a design for a board: the network circuit behind the UART host
    link. Fails, naming the figure, if the design does not fit or misses the board clock."""
    import dataclasses
    import json
    import shutil
    from pathlib import Path
    from .api import circuit_params
    from .models.io import check_output_dir, output_folder
    from .synth.bitstream import prepare_bitstream
    from .cli_common import Progress

    check_output_dir(out_dir)
    cp = circuit_params(design, params)
    progress = Progress()
    bit = prepare_bitstream(cp, board, baud=baud, pins=pins).execute(progress=progress).check()
    stem = f"{Path(design).stem}-{board}"
    shown = dataclasses.replace(bit.summary, bitstream=f"{stem}{bit.path.suffix}")
    summary = {**shown.to_dict(), "design": str(design), "log_dir": str(bit.log_dir)}
    lines = shown.lines()
    with output_folder(out_dir) as tmp:
        shutil.copyfile(bit.path, Path(tmp) / summary["bitstream"])
        (Path(tmp) / f"{stem}-build.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
        (Path(tmp) / f"{stem}-build.txt").write_text("\n".join(lines) + "\n")
    if as_json:
        click.echo(json.dumps(summary, indent=1, sort_keys=True))
    else:
        for line in lines:
            click.echo(line)
    click.echo(f"written: {Path(out_dir) / summary['bitstream']} and its build summary "
               f"({stem}-build.txt, .json){' (cached build)' if bit.summary.cached else ''}", err=as_json)


@click.command()
@click.option("--board", type=click.Choice(BOARD_NAMES), required=True, help="The board to load.")
@click.option("--flash", is_flag=True,
              help="Write the configuration flash (kept at power-off) where the board's loader offers a "
                   "choice; the iCEBreaker's always writes the flash.")
@click.argument("bitstream", type=click.Path(dir_okay=False))
def program(board, flash, bitstream):
    """Load BITSTREAM (from spikeforge build) onto a board over USB with openFPGALoader."""
    from .synth.program import program_board
    from .cli_common import Progress
    program_board(board, bitstream, flash=flash, progress=Progress())
    click.echo(f"loaded {bitstream} into the {board}")


@click.command()
@click.option("--design", "design", required=True, metavar="DESIGN.json",
              help="The network design the board was built from (its hash must match the board's).")
@click.option("--param", "params", multiple=True, metavar="P=…",
              help="The parallelism the board was built with (P=4 or P=[16,4]; default 1).")
@click.option("--sim", is_flag=True, help="Run on the virtual board: the board top in simulation.")
@click.option("--port", default=None, metavar="PORT", help="Serial port of the board (e.g. /dev/ttyUSB1).")
@click.option("--baud", type=int, default=115_200, show_default=True, help="UART baud rate.")
@click.option("--dataset", default=None, help="Bundled data set to stream (default: the one the design names).")
@click.option("--samples", type=int, default=None, help="Only the first N test samples.")
def run(design, params, sim, port, baud, dataset, samples):
    """Stream a test set through a board (--port) or the virtual board (--sim) and compare
    every sample with the golden model."""
    from .api import parallelism
    from .cli_common import Progress
    from .host import run_design, summary_lines
    from .models.errors import ConfigError

    if sim == (port is not None):
        raise ConfigError("give either --sim (the virtual board) or --port PORT (a board)")
    summary = run_design(design, P=parallelism(params), dataset=dataset, port=port, baud=baud, sim=sim, samples=samples,
                         progress=Progress())
    for line in summary_lines(summary):
        click.echo(line)
    if not summary["exact"]:
        raise SystemExit(1)
