"""Bundled data sets (scikit-learn Iris and 8×8 digits, no downloads) and the
reference ReLU networks trained reproducibly on them.

Inputs are scaled to [0, 1] (digits: pixel/16; Iris: min–max of the training
split, test values clipped) and split 75/25, stratified, ``random_state=0``.
Reference nets: Iris 4-16-3 and digits 64-32-10, ``MLPClassifier`` with ReLU,
Adam, fixed ``random_state=0``.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .errors import ConfigError

__all__ = ["Dataset", "load_dataset", "train_reference", "fit_mlp", "DATASETS"]

DATASETS = ("digits", "iris")
_HIDDEN = {"digits": (32,), "iris": (16,)}
_MAX_ITER = {"digits": 400, "iris": 2000}


@dataclass(frozen=True)
class Dataset:
    """A bundled data set with inputs in [0, 1]."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_features(self):
        return self.x_train.shape[1]

    @property
    def n_classes(self):
        return int(max(self.y_train.max(), self.y_test.max())) + 1


@lru_cache(maxsize=None)
def load_dataset(name) -> Dataset:
    """Load ``digits`` or ``iris`` from scikit-learn's bundled files."""
    from sklearn.datasets import load_digits, load_iris
    from sklearn.model_selection import train_test_split

    if name not in DATASETS:
        raise ConfigError(f"unknown data set {name!r}; bundled: {', '.join(DATASETS)}")
    raw = load_digits() if name == "digits" else load_iris()
    x, y = raw.data.astype(np.float64), raw.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    if name == "digits":
        xtr, xte = xtr / 16.0, xte / 16.0
    else:
        lo, hi = xtr.min(axis=0), xtr.max(axis=0)
        xtr = (xtr - lo) / (hi - lo)
        xte = np.clip((xte - lo) / (hi - lo), 0.0, 1.0)
    for a in (xtr, xte, ytr, yte):
        a.setflags(write=False)
    return Dataset(name, xtr, ytr, xte, yte)


@lru_cache(maxsize=None)
def train_reference(name):
    """The reference ReLU MLP for data set ``name`` (deterministic for fixed library versions)."""
    from sklearn.neural_network import MLPClassifier

    ds = load_dataset(name)
    mlp = MLPClassifier(hidden_layer_sizes=_HIDDEN[name], activation="relu", solver="adam",
                        max_iter=_MAX_ITER[name], random_state=0)
    return fit_mlp(mlp, ds.x_train, ds.y_train)


def fit_mlp(mlp, x, y):
    """``mlp.fit(x, y)`` without scikit-learn's convergence and interruption warnings, and
    with Ctrl-C raised again after ``fit`` (scikit-learn would stop early and return a
    half-trained net as if finished)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(), _interrupts_kept():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="Training interrupted by user")
        mlp.fit(x, y)
    return mlp


@contextlib.contextmanager
def _interrupts_kept():
    """scikit-learn's MLP catches KeyboardInterrupt and stops training early as if
    finished; an interrupt during training is raised again once ``fit`` returns (and the
    half-trained net is not cached). A process that ignores SIGINT (started in the
    background by a shell, or under nohup) keeps ignoring it."""
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield
        return
    seen = []
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        seen.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if seen:
        raise KeyboardInterrupt
