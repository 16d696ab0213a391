"""FS neuron RTL: time-multiplexed, one step per cycle, built from :class:`FSParams`.

Math, sources and schedule: docs/cores/fs.md.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..models.fs import FSParams
from .common import accept_params, const_rom

__all__ = ["FSNeuron", "FS_HANDSHAKE"]

FS_HANDSHAKE = """\
Handshake: a beat on i (x, signed) is accepted when the neuron is idle or is
presenting its last step. It then presents K beats on o, one per cycle
while o.ready is high (o stalls otherwise): o.spike = z(t), t = 1..K (MSB
first for the ReLU tables), o.last marks t = K. Latency: the first spike
beat is presented the cycle after x is accepted, the last one K cycles after;
with o.ready held high a new x is accepted every K cycles (II = K)."""


class FSNeuron(wiring.Component):
    """One FS neuron (docs/cores/fs.md; Stöckl & Maass 2021, eqs. 1–2)::

        v(1) = x;  z(t) = Θ(v(t) − T(t));  v(t+1) = v(t) − h(t)·z(t)

    The ReLU tables (T = h = 2^(K−t)) use one threshold register shifted
    right each step, T(t+1) = T(t) >> 1: no table, no multiplier. Other
    tables become K-entry constant ROMs; h(t)·z(t) is a multiplexer.

    Parameters
    ----------
    params : FSParams
        Widths (x_bits, v_width) and tables (T_table, h_table), as in effect.

    Members
    -------
    i : In(stream.Signature(signed(x_bits)))
        Input x.
    o : Out(stream.Signature({"spike": 1, "last": 1}))
        K spike beats per input.

    Raises
    ------
    TypeError
        If ``params`` is not an :class:`FSParams`.
    ConfigError
        If the declared v_bits cannot hold the proven range of v.
    """

    handshake = FS_HANDSHAKE

    def __init__(self, params):
        self.params = p = accept_params(self, params, FSParams,
                                        [("v_bits", getattr(params, "v_interval", None))])
        super().__init__({
            "i": In(stream.Signature(signed(p.x_bits))),
            "o": Out(stream.Signature(data.StructLayout({"spike": 1, "last": 1}))),
        })

    def elaborate(self, platform):
        p = self.params
        m = Module()
        v = Signal(signed(p.v_width))
        t = Signal(range(p.K))
        busy = Signal()
        last = Signal()
        z = Signal()
        step = self.o.valid & self.o.ready
        m.d.comb += last.eq(t == p.K - 1)
        if p.is_relu:
            thr = Signal(unsigned(p.K))                       # T(t) = 2^(K−t)
            diff = Signal(signed(max(p.v_width, p.K + 1) + 1))  # one subtractor: z is its sign,
            m.d.comb += [diff.eq(v - thr), z.eq(diff >= 0)]   # and it is the next residual
            with m.If(step):
                m.d.sync += [v.eq(Mux(z, diff, v)), thr.eq(thr >> 1)]
            start = [thr.eq(p.T_table[0])]                    # T(1) = 2^(K−1)
        else:
            T, h = const_rom(p.T_table), const_rom(p.h_table)
            m.d.comb += z.eq(v >= T[t])
            with m.If(step):
                m.d.sync += v.eq(v - Mux(z, h[t], 0))
            start = []
        m.d.comb += [
            self.o.valid.eq(busy),
            self.o.payload.spike.eq(z),
            self.o.payload.last.eq(last),
            self.i.ready.eq(~busy | (self.o.ready & last)),
        ]
        with m.If(step):
            m.d.sync += t.eq(t + 1)
            with m.If(last):
                m.d.sync += [busy.eq(0), t.eq(0)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [v.eq(self.i.payload), t.eq(0), busy.eq(1), *start]
        return m
