"""Golden models and conversion (NumPy only, no Amaranth).

The cores (``fs``, ``amos``, ``ttfs``, ``lif``, ``if``, ``ann``) and their
codings are registered in :mod:`spikeforge.models.registry`.
"""

from .registry import CORES, core_names, get_core

__all__ = ["CORES", "core_names", "get_core", "registry_summary"]


def registry_summary():
    """(name, one-line summary) of every registered core, in registry order."""
    return [(c.name, c.summary) for c in CORES.values()]
