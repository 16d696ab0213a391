"""Golden models and conversion (NumPy only, no Amaranth).

Importing this package registers the six cores: ``fs``, ``amos``, ``ttfs``,
``lif``, ``if`` and ``ann``.
"""

from . import amos, ann, fs, lif, rate_if, ttfs  # noqa: F401  (registration)
from .base import core_names, get_core

__all__ = ["core_names", "get_core", "registry_summary"]


def registry_summary():
    """(name, one-line summary) of every registered core, in canonical order."""
    return [(n, get_core(n).summary) for n in core_names()]
