"""A pin-frugal harness for measuring a core on a small FPGA package.

nextpnr-ice40 has no out-of-context mode, and a bare core usually has more
ports than the UP5K's sg48 package has pins. The harness gives the core
registered inputs and outputs through four pins:

- every core input bit (payloads and valids of input streams, readys of
  output streams) is a bit of one shift register loaded serially from ``sin``;
- every core output bit is XOR-reduced into one register driving ``sout``.

Everything the core computes stays observable (no logic is optimised away)
and every path is register to register. ``null=True`` builds the same
harness without the core, which measures the harness's own cost: the whole shift register and
an XOR tree over its bits.
"""

from __future__ import annotations

from functools import reduce
from operator import xor

from amaranth import Cat, Elaboratable, Module, Signal, Value
from amaranth.lib import wiring

__all__ = ["Harness", "core_port_bits"]


def core_port_bits(core):
    """(input signals, output signals) of a component, from its signature."""
    ins, outs = [], []
    for _path, member, value in core.signature.flatten(core):
        (ins if member.flow == wiring.In else outs).append(Value.cast(value))
    return ins, outs


class Harness(Elaboratable):
    """Serial-in, XOR-out wrapper; ports ``sin``, ``sout`` (plus clk, rst)."""

    def __init__(self, core, null=False):
        self.core, self.null = core, null
        if null:
            core._MustUse__silence = True      # measured without the core on purpose
        self.sin = Signal()
        self.sout = Signal()
        ins, outs = core_port_bits(core)
        self.in_bits = sum(len(s) for s in ins)
        self.out_bits = sum(len(s) for s in outs)

    def ports(self):
        return [self.sin, self.sout]

    def elaborate(self, platform):
        m = Module()
        ins, outs = core_port_bits(self.core)
        sr = Signal(max(1, self.in_bits))
        m.d.sync += sr.eq(Cat(self.sin, sr[:-1]) if len(sr) > 1 else self.sin)
        if self.null:                   # every register bit feeds the XOR, so none is optimised away
            flat = [sr[k] for k in range(len(sr))]
        else:
            m.submodules.core = self.core
            offset = 0
            for s in ins:
                m.d.comb += s.eq(sr[offset:offset + len(s)])
                offset += len(s)
            flat = [o[k] for o in outs for k in range(len(o))]
        m.d.sync += self.sout.eq(reduce(xor, flat) if flat else 0)
        return m
