"""Amaranth RTL generators, one per core, each built from the core's parameter object.

``build_core(name, params)`` returns the ``wiring.Component`` of a core;
``generate_verilog(name, params)`` its deterministic Verilog. Which class
builds which core is recorded in the registry (:mod:`spikeforge.models.registry`).
"""

from ..models.registry import get_core

__all__ = ["build_core", "generate_verilog", "component_class"]


def component_class(name):
    """The component class of core ``name`` (ConfigError for unknown names)."""
    return get_core(name).resolve("component")


def build_core(name, params):
    """Elaborate-ready component of core ``name`` from its parameter object."""
    return component_class(name)(params)


def generate_verilog(name, params):
    """Deterministic Verilog text of core ``name`` at ``params``."""
    from .export import to_verilog
    return to_verilog(build_core(name, params), name, params)
