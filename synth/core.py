"""Synthesize one core, or a whole network circuit, for a target."""

from __future__ import annotations

from ..hdl import build_core
from ..hdl.export import convert_verilog, to_verilog, top_name
from .flow import prepare
from .harness import Harness
from .targets import get_target

__all__ = ["synth_core", "synth_network", "synth_component", "harness_verilog", "component_plans",
           "network_plans", "run_plans"]


def harness_verilog(core, params, null=False):
    """Verilog of the iCE40 measurement harness around a fresh instance of the core."""
    return _harness(lambda: build_core(core, params), null)


def _harness(make, null=False):
    h = Harness(make(), null=null)
    return convert_verilog(h, "harness", h.ports())


def component_plans(make, name, params, target, *, dsp=False, harness_alone=True):
    """The synthesis plans of the component ``make()`` builds (its Verilog from
    :func:`to_verilog`, top ``spikeforge_<name>``) for ``target``: the component alone, or on
    a target that needs the harness, the component in the harness and (unless
    ``harness_alone`` is false: a caller that does not report the harness's own cost) the
    harness alone. Only the harness's Verilog is elaborated then: the synthesized file holds
    the core."""
    top = top_name(name)
    if not get_target(target).needs_harness:
        return [prepare(to_verilog(make(), name, params), top, target, dsp=dsp, label=top)]
    plans = [prepare(None, top, target, dsp=dsp, harness_verilog=_harness(make), label=f"{top} in harness")]
    if harness_alone:
        plans.append(prepare(None, top, target, dsp=dsp, harness_verilog=_harness(make, null=True),
                             label="harness alone"))
    return plans


def run_plans(plans, top, *, progress=lambda *a, **k: None, cache=True):
    """Execute the plans of :func:`component_plans`; returns the component's SynthResult (with
    the harness's figures as ``result.harness`` when the harness alone was planned too)."""
    r = plans[0].execute(progress, cache)
    if plans[0].top == "harness":
        r.top = top
    if len(plans) > 1:
        h = plans[1].execute(progress, cache)
        r.harness = {k: getattr(h, k) for k in ("luts", "ffs", "carry", "logic_cells", "fmax_mhz")}
    return r


def synth_component(make, name, params, target, *, dsp=False, progress=lambda *a, **k: None, cache=True):
    """Synthesize the component ``make()`` builds (its Verilog from :func:`to_verilog`, top
    ``spikeforge_<name>``) for ``target``; returns a SynthResult.

    On a target that needs the harness, the harness alone is synthesized as
    well and its figures are attached as ``result.harness``.
    """
    return run_plans(component_plans(make, name, params, target, dsp=dsp), top_name(name),
                     progress=progress, cache=cache)


def synth_core(core, params, target, *, dsp=False, progress=lambda *a, **k: None, cache=True):
    """Synthesize ``core`` at ``params`` for ``target`` (see :func:`synth_component`)."""
    return synth_component(lambda: build_core(core, params), core, params, target, dsp=dsp,
                           progress=progress, cache=cache)


def network_plans(cp, target, *, dsp=False, harness_alone=True):
    """The synthesis plans of the whole network circuit of ``cp`` (see :func:`component_plans`)."""
    from ..hdl.network import NetworkCircuit
    return component_plans(lambda: NetworkCircuit(cp), "network", cp, target, dsp=dsp,
                           harness_alone=harness_alone)


def synth_network(cp, target, *, dsp=False, progress=lambda *a, **k: None, cache=True):
    """Synthesize the whole network circuit of ``cp`` (a CircuitParams) for ``target``."""
    return run_plans(network_plans(cp, target, dsp=dsp), top_name("network"), progress=progress, cache=cache)
