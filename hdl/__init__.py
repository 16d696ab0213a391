"""Amaranth RTL generators, one per core, each built from the core's parameter object.

``build_core(name, params)`` returns the ``wiring.Component`` of a core;
``generate_verilog(name, params)`` its deterministic Verilog.
"""

import importlib

from ..models.base import get_core
from ..models.errors import ConfigError

__all__ = ["HDL_CORES", "build_core", "generate_verilog", "component_class"]

#: core name -> (module, component class name)
HDL_CORES = {"fs": ("fs", "FSNeuron"), "amos": ("amos", "AMOSUnit"), "ttfs": ("ttfs", "TTFSLayer"),
             "lif": ("lif", "LIFLayer"), "if": ("rate_if", "IFLayer"), "ann": ("ann", "MACLayer")}


def component_class(name):
    """The component class of core ``name`` (ConfigError if it has no RTL yet)."""
    get_core(name)                               # unknown names: the registry's message
    if name not in HDL_CORES:
        raise ConfigError(f"core {name!r} has no RTL generator yet; available: {', '.join(HDL_CORES)}")
    mod, cls = HDL_CORES[name]
    return getattr(importlib.import_module(f"{__name__}.{mod}"), cls)


def build_core(name, params):
    """Elaborate-ready component of core ``name`` from its parameter object."""
    return component_class(name)(params)


def generate_verilog(name, params):
    """Deterministic Verilog text of core ``name`` at ``params``."""
    from .export import to_verilog
    comp = build_core(name, params)
    return to_verilog(comp, name, params)
