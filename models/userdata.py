"""The user's own data: a train/test split from an ``.npz`` or CSV files.

A model trained elsewhere comes with its own split; calibrating and
evaluating it on another split of the same data (the bundled ones) mixes
its training rows into the test set. :func:`load_data` reads the user's
split so that conversion calibrates on the user's training rows and
evaluation scores the user's test rows.

Accepted files (every one is read through :mod:`spikeforge.models.inputs`):

- an ``.npz`` holding ``x_train, y_train, x_test, y_test`` (any letter
  case: ``X_train`` is the same key); a model ``.npz`` that carries these
  arrays beside its weights is accepted as it is;
- two CSV files, the training split and the test split, each row the
  features followed by the integer class label in the last column, with an
  optional header row (see :func:`~spikeforge.models.inputs.read_csv`).

Inputs must lie in [0, 1], as the converted network reads them. Other data
is refused unless its range is stated (``input_range=(lo, hi)``, CLI
``--input-range lo,hi``): it is then mapped by (x − lo)/(hi − lo), and
values outside [lo, hi] are clipped, counted per split and reported
(a warning line and :attr:`UserData.clipped`). Nothing is clipped silently.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

from .datasets import Dataset
from .errors import ConfigError, warn
from .inputs import read_csv, read_npz

__all__ = ["UserData", "DATA_KEYS", "load_data", "parse_input_range", "fold_keys", "is_model_key",
           "scale_inputs", "data_in_npz", "has_model_arrays", "MAX_CLASSES"]

#: The arrays of a data split, as their lower-case keys.
DATA_KEYS = ("x_train", "y_train", "x_test", "y_test")
#: The most classes a label column may name (labels are 0 .. MAX_CLASSES − 1).
MAX_CLASSES = 1 << 16

_MODEL_KEY = re.compile(r"^[wb](0|[1-9][0-9]{0,3})$")


def is_model_key(key):
    """Whether lower-case ``key`` is a model array of an ``.npz`` (``w0``, ``b3``, ``activation``)."""
    return key == "activation" or bool(_MODEL_KEY.match(key))


@dataclass(frozen=True)
class UserData(Dataset):
    """A user's train/test split, inputs mapped into [0, 1].

    Attributes
    ----------
    source : str
        The file(s) it was read from.
    input_range : tuple of float or None
        The stated range (lo, hi) the inputs were mapped from; None if they
        were already in [0, 1].
    clipped : dict
        Split name → number of input values that lay outside ``input_range``
        and were clipped to it (all zero without a stated range).
    """

    source: str = ""
    input_range: tuple | None = None
    clipped: dict = field(default_factory=dict)

    def describe(self):
        """Provenance for a design's ``meta["data"]`` and the report (JSON-ready)."""
        return {"source": self.source, "train_samples": int(len(self.y_train)),
                "test_samples": int(len(self.y_test)), "features": int(self.n_features),
                "classes": int(self.n_classes),
                "input_range": None if self.input_range is None else list(self.input_range),
                "clipped": dict(self.clipped)}


def parse_input_range(text):
    """``"lo,hi"`` (or a pair of numbers) → (lo, hi) as floats with lo < hi, both finite."""
    if text is None:
        return None
    if isinstance(text, str):
        parts = text.split(",")
        if len(parts) != 2:
            raise ConfigError(f"--input-range expects LO,HI (two numbers), not {text!r}")
        try:
            lo, hi = (float(p) for p in parts)
        except ValueError:
            raise ConfigError(f"--input-range expects LO,HI (two numbers), not {text!r}") from None
    else:
        try:
            lo, hi = (float(v) for v in text)
        except (TypeError, ValueError):
            raise ConfigError(f"input_range must be a pair of numbers (lo, hi), not {text!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
        raise ConfigError(f"--input-range: need finite LO < HI, not {lo:g},{hi:g}")
    return (lo, hi)


def fold_keys(data, path):
    """{lower-case key: key as stored} of an ``.npz``; two keys equal but for case are an error."""
    out = {}
    for k in data:
        low = k.lower()
        if low in out:
            raise ConfigError(f"{path}: keys {out[low]!r} and {k!r} differ only in letter case")
        out[low] = k
    return out


def data_in_npz(path):
    """Whether the ``.npz`` at ``path`` carries a data split (any of :data:`DATA_KEYS`)."""
    data = read_npz(path, kinds="iuf", text_keys=("activation", "ACTIVATION", "Activation"))
    return any(k in fold_keys(data, path) for k in DATA_KEYS)


def has_model_arrays(path):
    """Whether the ``.npz`` at ``path`` carries a model's weights (``w0`` or ``W0``)."""
    data = read_npz(path, kinds="iuf", text_keys=("activation", "ACTIVATION", "Activation"))
    return "w0" in fold_keys(data, path)


def scale_inputs(x, input_range, what):
    """Map ``x`` from the stated ``input_range`` into [0, 1].

    Parameters
    ----------
    x : numpy.ndarray
        Float inputs.
    input_range : tuple of float or None
        (lo, hi); None: ``x`` must already lie in [0, 1].
    what : str
        Names the array in messages (``"data.npz: x_test"``).

    Returns
    -------
    (numpy.ndarray, int)
        The mapped inputs and how many values were clipped to the range.
    """
    if input_range is None:
        lo, hi = float(x.min()), float(x.max())
        if lo < 0 or hi > 1:
            raise ConfigError(f"{what} has values in [{lo:g}, {hi:g}], outside [0, 1]; scale the data "
                              "to [0, 1] or state its range with --input-range LO,HI")
        return x, 0
    lo, hi = input_range
    outside = int(np.count_nonzero((x < lo) | (x > hi)))
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0), outside


def _features(x, what):
    x = np.asarray(x)
    if x.dtype.kind not in "iuf":
        raise ConfigError(f"{what} must hold real numbers, not dtype {x.dtype}")
    x = x.astype(np.float64)
    if x.ndim != 2:
        raise ConfigError(f"{what} must be a 2-D array (samples, features), not shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ConfigError(f"{what} is empty (shape {x.shape})")
    if not np.all(np.isfinite(x)):
        raise ConfigError(f"{what} contains NaN or infinite values")
    return x


def _labels(y, n, what):
    y = np.asarray(y)
    if y.dtype.kind not in "iuf":
        raise ConfigError(f"{what} must hold integer class labels, not dtype {y.dtype}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ConfigError(f"{what} must be a 1-D array of class labels, not shape {y.shape}")
    if y.shape[0] != n:
        raise ConfigError(f"{what} has {y.shape[0]} labels but the inputs have {n} rows")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)):
            raise ConfigError(f"{what} contains NaN or infinite values")
        bad = np.flatnonzero(y != np.round(y))
        if bad.size:
            raise ConfigError(f"{what}: label {y[bad[0]]:g} (row {bad[0]}) is not an integer class")
    if y.size and (y.min() < 0 or y.max() >= MAX_CLASSES):
        k = int(np.flatnonzero((y < 0) | (y >= MAX_CLASSES))[0])
        raise ConfigError(f"{what}: label {y[k]:g} (row {k}) is out of range (classes are 0 .. "
                          f"{MAX_CLASSES - 1})")
    return y.astype(np.int64)


def _from_npz(path):
    data = read_npz(path, kinds="iuf", text_keys=("activation", "ACTIVATION", "Activation"))
    keys = fold_keys(data, path)
    missing = [k for k in DATA_KEYS if k not in keys]
    if len(missing) == len(DATA_KEYS):
        raise ConfigError(f"{path}: no data arrays; a data .npz holds {', '.join(DATA_KEYS)} "
                          f"(keys found: {sorted(data)})")
    if missing:
        raise ConfigError(f"{path}: data arrays {', '.join(missing)} are missing (a data .npz holds "
                          f"{', '.join(DATA_KEYS)})")
    extra = sorted(k for low, k in keys.items() if low not in DATA_KEYS and not is_model_key(low))
    if extra:
        raise ConfigError(f"{path}: unexpected array(s) {extra}; a data .npz holds "
                          f"{', '.join(DATA_KEYS)} (and a model's w0, b0, …)")
    return {k: data[keys[k]] for k in DATA_KEYS}, {k: f"{path}: {keys[k]}" for k in DATA_KEYS}


def _from_csv(train, test):
    arrays, names = {}, {}
    width = None
    for split, path in (("train", train), ("test", test)):
        path = os.fspath(path)
        _header, table = read_csv(path)
        if table.shape[1] < 2:
            raise ConfigError(f"{path}: a data CSV needs at least two columns (features, then the label)")
        if width is not None and table.shape[1] != width:
            raise ConfigError(f"{path}: {table.shape[1]} columns, but the training CSV has {width}")
        width = table.shape[1]
        arrays[f"x_{split}"], arrays[f"y_{split}"] = table[:, :-1], table[:, -1]
        names[f"x_{split}"] = f"{path}: the features"
        names[f"y_{split}"] = f"{path}: the label column"
    return arrays, names


def load_data(data, input_range=None) -> UserData:
    """Read a user's train/test split.

    Parameters
    ----------
    data : str, os.PathLike or sequence of two of them
        An ``.npz`` (data keys, possibly beside a model's weights), or the
        training and the test CSV file.
    input_range : tuple of float or str, optional
        The range (lo, hi) the inputs come in (``"lo,hi"`` as on the command
        line); without it, inputs must lie in [0, 1].

    Returns
    -------
    UserData

    Raises
    ------
    ConfigError
        One line naming the file and the array or row at fault.
    """
    input_range = parse_input_range(input_range)
    paths = [data] if isinstance(data, (str, os.PathLike)) else list(data or ())
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ConfigError("no data file given")
    exts = [os.path.splitext(p)[1].lower() for p in paths]
    if exts == [".npz"]:
        arrays, names = _from_npz(paths[0])
    elif exts == [".csv", ".csv"]:
        arrays, names = _from_csv(*paths)
    elif all(e == ".csv" for e in exts):
        raise ConfigError(f"CSV data needs two files, the training split and the test split "
                          f"(--data TRAIN.csv --data TEST.csv), not {len(paths)}")
    else:
        raise ConfigError(f"--data takes one .npz file or two .csv files (train, test), not "
                          f"{', '.join(paths)}")
    xs, ys, clipped = {}, {}, {}
    for split in ("train", "test"):
        x = _features(arrays[f"x_{split}"], names[f"x_{split}"])
        ys[split] = _labels(arrays[f"y_{split}"], x.shape[0], names[f"y_{split}"])
        xs[split], clipped[split] = scale_inputs(x, input_range, names[f"x_{split}"])
    if xs["train"].shape[1] != xs["test"].shape[1]:
        raise ConfigError(f"{names['x_test']} has {xs['test'].shape[1]} features, "
                          f"{names['x_train']} has {xs['train'].shape[1]}")
    for split, n in clipped.items():
        if n:
            warn(f"{n:,} of {xs[split].size:,} input values of the {split} split lie outside "
                 f"--input-range [{input_range[0]:g}, {input_range[1]:g}] and were clipped to it")
    name = os.path.splitext(os.path.basename(paths[0]))[0] or "data"
    for a in (*xs.values(), *ys.values()):
        a.setflags(write=False)
    return UserData(name, xs["train"], ys["train"], xs["test"], ys["test"], source=", ".join(paths),
                    input_range=input_range, clipped=clipped)
