"""Shipped fitted tables: FS neurons and AMOS units beyond ReLU, as package data.

The tables live in ``models/tables/*.json`` (installed with the package) and
are made by the fitting front-ends :mod:`~spikeforge.models.fit_fs` and
:mod:`~spikeforge.models.fit_amos` with a fixed seed. Regenerate them with::

    python -m spikeforge.models.fitted                 # all, into models/tables/
    python -m spikeforge.models.fitted --only fs-swish-K16-Q8 --out DIR

A table file (schema ``spikeforge.fitted/1``) holds the integer parameter
object of the unit (``params``, readable by the core's ``from_dict``), the
input and output steps (x_int = ⌊x / x_step⌋, f̂ = y·y_step), the fitting
domain, the real parameters before quantization, the errors of the integer
unit (measured by the golden model), of the real unit and of the naive
uniform-threshold baseline, the fitting spec and the command that made it.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .amos import AMOSParams
from .errors import ConfigError
from .fit_amos import AMOSFitSpec, fit_amos
from .fit_fs import FSFitSpec, fit_fs
from .fs import FSParams
from .io import atomic_write_text, read_json
from .registry import get_core

__all__ = ["FittedTable", "SHIPPED", "TABLES_DIR", "SCHEMA", "table_names", "load_table", "find_table",
           "table_dict", "regenerate", "main"]

SCHEMA = "spikeforge.fitted/1"
#: the folder of the shipped tables (package data)
TABLES_DIR = Path(__file__).resolve().parent / "tables"

#: The shipped tables: (fitting function, spec). File names follow from the fits.
SHIPPED = (
    (fit_fs, FSFitSpec(activation="swish", K=16, Q=8)),
    (fit_fs, FSFitSpec(activation="sigmoid", K=12, Q=8)),
    (fit_fs, FSFitSpec(activation="gelu", K=16, Q=8)),
    (fit_amos, AMOSFitSpec(target="sigmoid", K=8, Q=8)),
    (fit_amos, AMOSFitSpec(target="swish", K=12, Q=8)),
    (fit_amos, AMOSFitSpec(target="gelu", K=12, Q=8)),
    (fit_amos, AMOSFitSpec(target="mult", K=16, Q=8)),
    (fit_amos, AMOSFitSpec(target="mult", K=40, Q=8)),
)


def _spec_name(fit_fn, spec):
    if fit_fn is fit_fs:
        return f"{FSParams.core}-{spec.activation}-K{spec.K}-Q{spec.Q}"
    return f"{AMOSParams.core}-{spec.target}-K{spec.K}-Q{spec.Q}"


def table_names():
    """Names of the shipped tables (file stems), in :data:`SHIPPED` order."""
    return [_spec_name(f, s) for f, s in SHIPPED]


@dataclass(frozen=True)
class FittedTable:
    """A loaded table (see the module docstring); ``data`` is the JSON object."""

    name: str
    data: dict

    @property
    def core(self):
        return self.data["core"]

    @property
    def target(self):
        return self.data["target"]

    @property
    def K(self):
        return self.data["params"]["K"]

    @property
    def x_step(self):
        return self.data["x_step"]

    @property
    def y_step(self):
        return self.data["y_step"]

    @property
    def error(self):
        return self.data["error"]

    def params(self, x_bits=None):
        """The integer unit (FSParams / AMOSParams), with another input width if given."""
        d = dict(self.data["params"])
        if x_bits is not None:
            d["x_bits"] = x_bits
            if "c2" in d:
                d["x2_bits"] = x_bits
        return get_core(self.core).params.from_dict(d)

    def tables(self):
        """The table fields (T, h, d, c, …) as a dict, for a network layer's ``core``."""
        return {k: v for k, v in self.params().to_dict().items()
                if k not in ("type", "K", "x_bits", "x2_bits", "u_bits", "v_bits")}


def table_dict(fit, fit_fn, command):
    """The JSON object of a fit (see the module docstring)."""
    p = fit.params()
    two = getattr(fit, "two_inputs", False)
    spec = fit.spec
    intervals = [list(fit.interval)] if fit_fn is fit_fs else [list(iv) for iv in fit.intervals]
    return {
        "schema": SCHEMA, "core": type(p).core,
        "target": spec.activation if fit_fn is fit_fs else spec.target,
        "inputs": 2 if two else 1, "intervals": intervals,
        "main": list(fit.main) if getattr(fit, "main", None) else None,
        "x_step": fit.step if fit_fn is fit_fs else fit.x_step,
        "y_step": fit.step if fit_fn is fit_fs else fit.y_step,
        "params": p.to_dict(), "param_count": p.param_count,
        "error": fit.error, "error_real": fit.error_real, "error_naive": fit.error_naive,
        "naive": "uniform thresholds, no reset/inhibition, least-squares d (real, unquantized)",
        "real": fit.real, "start": fit.start, "history": fit.history,
        "spec": spec.to_dict(), "command": command, "numpy": np.__version__,
    }


def _read(path):
    d = read_json(path)
    if not isinstance(d, dict) or d.get("schema") != SCHEMA:
        raise ConfigError(f"{path}: not a fitted table (schema {SCHEMA!r})")
    get_core(d.get("core"))
    return d


def load_table(name_or_path) -> FittedTable:
    """A shipped table by name (``fs-swish-K16-Q8``) or a table file by path."""
    p = Path(name_or_path)
    if p.suffix == ".json" or p.exists():
        return FittedTable(p.stem, _read(p))
    path = TABLES_DIR / f"{name_or_path}.json"
    if not path.is_file():
        raise ConfigError(f"no fitted table {name_or_path!r}; shipped: {', '.join(table_names())}")
    return FittedTable(str(name_or_path), _read(path))


def find_table(core, target, K=None) -> FittedTable:
    """The shipped table of ``core`` (a registry name) fitted to ``target`` (first match,
    or the one with K neurons)."""
    core = get_core(core).name
    for name in table_names():
        c, t, k = name.split("-")[:3]
        if c == core and t == target and (K is None or k == f"K{K}"):
            return load_table(name)
    have = ", ".join(table_names())
    raise ConfigError(f"no shipped {core} table for {target!r}{f' with K={K}' if K else ''}; shipped: {have}")


def regenerate(out_dir=TABLES_DIR, only=None, progress=print):
    """Fit every shipped table (or those named in ``only``) and write it into ``out_dir``."""
    names = table_names()
    unknown = sorted(set(only or ()) - set(names))
    if unknown:
        raise ConfigError(f"unknown table(s) {', '.join(unknown)}; shipped: {', '.join(names)}")
    out = Path(out_dir)
    written = []
    for (fn, spec), name in zip(SHIPPED, names):
        if only and name not in only:
            continue
        progress(f"fitting {name}")
        fit = fn(spec)
        command = f"python -m spikeforge.models.fitted --only {name}"
        path = out / f"{name}.json"
        atomic_write_text(path, json.dumps(table_dict(fit, fn, command), indent=1) + "\n")
        written.append(path)
    return written


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m spikeforge.models.fitted",
                                 description="Regenerate the shipped fitted FS/AMOS tables (fixed seeds).")
    ap.add_argument("--out", default=str(TABLES_DIR), help="output folder (default: the package's tables)")
    ap.add_argument("--only", action="append", help="a table name (repeatable); default: all")
    args = ap.parse_args(argv)
    try:
        for path in regenerate(args.out, args.only, progress=lambda m: print(m, file=sys.stderr)):
            print(path)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
