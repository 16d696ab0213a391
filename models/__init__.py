"""Golden models and conversion (NumPy only, no Amaranth).

The cores (``fs``, ``amos``, ``ttfs``, ``lif``, ``if``, ``ann``) and their
codings are registered in :mod:`spikeforge.models.registry`.

The names below load the registry on first use, so that importing a light
module of this package (``spikeforge.models.errors`` in a simulator's Python,
say) does not load every core and NumPy.
"""

__all__ = ["CORES", "core_names", "get_core", "registry_summary"]


def __getattr__(name):
    if name in ("CORES", "core_names", "get_core"):
        from . import registry
        return getattr(registry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


def registry_summary():
    """(name, one-line summary) of every registered core, in registry order."""
    from .registry import CORES
    return [(c.name, c.summary) for c in CORES.values()]
