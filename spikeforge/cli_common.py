"""What the command-line modules share: progress output and the data-set options."""

from __future__ import annotations

import time

import click

__all__ = ["Progress", "dataset_option", "data_options", "data_arg"]


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


def dataset_option(default=None):
    return click.option("--dataset", type=click.Choice(["digits", "iris"]), default=default,
                        show_default=bool(default), help="Bundled data set (no downloads).")


def data_options(f):
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


def data_arg(data):
    """The --data values as the API takes them (None, a path, or the two CSV paths)."""
    if not data:
        return None
    return data[0] if len(data) == 1 else list(data)
