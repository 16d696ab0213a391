"""Golden models and conversion (NumPy only, no Amaranth).

The cores (``fs``, ``amos``, ``ttfs``, ``lif``, ``if``, ``ann``) and their
codings are registered in :mod:`spikeforge.models.registry`.

The names below load the registry on first use, so that importing a light
module of this package (``spikeforge.models.errors`` in a simulator's Python,
say) does not load every core and NumPy.
"""

__all__ = ["CORES", "core_names", "get_core", "registry_summary"]


def submodule(package, name):
    """``package.name`` imported on first use (a package's ``__getattr__``), or AttributeError."""
    import importlib
    try:
        return importlib.import_module(f"{package}.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"{package}.{name}":
            raise
        raise AttributeError(f"module {package!r} has no attribute {name!r}") from None


def __getattr__(name):
    if name in ("CORES", "core_names", "get_core"):
        from . import registry
        return getattr(registry, name)
    return submodule(__name__, name)


def __dir__():
    return sorted(set(globals()) | set(__all__))


def registry_summary():
    """(name, one-line summary) of every registered core, in registry order."""
    from .registry import CORES
    return [(c.name, c.summary) for c in CORES.values()]
