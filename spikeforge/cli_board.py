"""``spikeforge run``: a design's circuit on a board over the UART link, or on the virtual board.

The host side of docs/board.md: check the board's design hash, stream a test
set through it, and compare every sample with the golden model (class,
scores, counters); a mismatch is listed per sample and makes the exit code 1.
"""

from __future__ import annotations

import click

__all__ = ["run"]


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
    from .cli import Progress
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
