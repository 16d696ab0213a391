"""Synthesize one core (built from its parameter object) for a target."""

from __future__ import annotations

from amaranth.back import verilog

from ..hdl import build_core, generate_verilog
from ..hdl.export import top_name
from .flow import prepare
from .harness import Harness
from .targets import get_target

__all__ = ["synth_core", "harness_verilog"]


def harness_verilog(core, params, null=False):
    """Verilog of the iCE40 measurement harness around a fresh instance of the core."""
    h = Harness(build_core(core, params), null=null)
    return verilog.convert(h, name="harness", ports=h.ports(), emit_src=False,
                           strip_internal_attrs=True)


def synth_core(core, params, target, *, dsp=False, progress=lambda *a, **k: None, cache=True):
    """Synthesize ``core`` at ``params`` for ``target``; returns a SynthResult.

    On iCE40 the harness alone is synthesized as well and its figures are
    attached as ``result.harness``.
    """
    text = generate_verilog(core, params)
    top = top_name(core)
    if not get_target(target).needs_harness:
        return prepare(text, top, target, dsp=dsp, label=top).execute(progress, cache)
    r = prepare(text, top, target, dsp=dsp, harness_verilog=harness_verilog(core, params),
                label=f"{top} in harness").execute(progress, cache)
    h = prepare(text, top, target, dsp=dsp, harness_verilog=harness_verilog(core, params, null=True),
                label="harness alone").execute(progress, cache)
    r.harness = {k: getattr(h, k) for k in ("luts", "ffs", "carry", "logic_cells", "fmax_mhz")}
    r.top = top
    return r
