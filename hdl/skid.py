"""A register slice for ready/valid streams (a two-entry skid buffer).

Payload and valid leave from registers and ``i.ready`` is a register too,
so neither direction of the handshake has a combinational path through the
slice: chained engines then have no long ready chain between them. With
``o.ready`` high every beat passes in one cycle, one beat per cycle; when
``o`` stalls, one beat more is held in the skid register.
"""

from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SkidBuffer"]


class SkidBuffer(wiring.Component):
    """Parameters: ``shape`` of the payload. Members: ``i`` (in), ``o`` (out)."""

    def __init__(self, shape):
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        skid, full = Signal.like(self.i.payload), Signal()
        m.d.comb += self.i.ready.eq(~full)
        with m.If(self.o.ready | ~self.o.valid):          # the output register can load
            with m.If(full):
                m.d.sync += [self.o.payload.eq(skid), self.o.valid.eq(1), full.eq(0)]
            with m.Else():
                m.d.sync += [self.o.payload.eq(self.i.payload), self.o.valid.eq(self.i.valid)]
        with m.Elif(self.i.valid & ~full):
            m.d.sync += [skid.eq(self.i.payload), full.eq(1)]
        return m
