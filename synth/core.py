"""Synthesize one core, or a whole network circuit, for a target."""

from __future__ import annotations

from ..hdl import build_core
from ..hdl.export import convert_verilog, to_verilog, top_name
from .flow import prepare
from .harness import Harness
from .targets import get_target

__all__ = ["synth_core", "synth_network", "synth_component", "harness_verilog"]


def harness_verilog(core, params, null=False):
    """Verilog of the iCE40 measurement harness around a fresh instance of the core."""
    return _harness(lambda: build_core(core, params), null)


def _harness(make, null=False):
    h = Harness(make(), null=null)
    return convert_verilog(h, "harness", h.ports())


def synth_component(make, name, params, target, *, dsp=False, progress=lambda *a, **k: None, cache=True):
    """Synthesize the component ``make()`` builds (its Verilog from :func:`to_verilog`, top
    ``spikeforge_<name>``) for ``target``; returns a SynthResult.

    On a target that needs the harness, the harness alone is synthesized as
    well and its figures are attached as ``result.harness``.
    """
    text = to_verilog(make(), name, params)
    top = top_name(name)
    if not get_target(target).needs_harness:
        return prepare(text, top, target, dsp=dsp, label=top).execute(progress, cache)
    r = prepare(text, top, target, dsp=dsp, harness_verilog=_harness(make),
                label=f"{top} in harness").execute(progress, cache)
    h = prepare(text, top, target, dsp=dsp, harness_verilog=_harness(make, null=True),
                label="harness alone").execute(progress, cache)
    r.harness = {k: getattr(h, k) for k in ("luts", "ffs", "carry", "logic_cells", "fmax_mhz")}
    r.top = top
    return r


def synth_core(core, params, target, *, dsp=False, progress=lambda *a, **k: None, cache=True):
    """Synthesize ``core`` at ``params`` for ``target`` (see :func:`synth_component`)."""
    return synth_component(lambda: build_core(core, params), core, params, target, dsp=dsp,
                           progress=progress, cache=cache)


def synth_network(cp, target, *, dsp=False, progress=lambda *a, **k: None, cache=True):
    """Synthesize the whole network circuit of ``cp`` (a CircuitParams) for ``target``."""
    from ..hdl.network import NetworkCircuit
    return synth_component(lambda: NetworkCircuit(cp), "network", cp, target, dsp=dsp,
                           progress=progress, cache=cache)
