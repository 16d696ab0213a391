"""LFSR rate encoder RTL: leap-forward Fibonacci LFSR, one draw per cycle, built from
:class:`RateEncoderParams`. Bit-exact with :func:`spikeforge.models.lfsr.rate_encode`.

Specification and schedule: docs/cores/lif.md (the LFSR rate encoder).
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..models.lfsr import RateEncoderParams
from .common import accept_params

__all__ = ["LFSREncoder", "ENCODER_HANDSHAKE"]

ENCODER_HANDSHAKE = """\
Handshake: i takes n_in beats x_0 .. x_{n_in-1} (unsigned in_bits) per
inference, one per cycle. Then, for each step t = 0..T-1 and input j =
0..n_in-1, one LFSR draw r per cycle: if x_j > r, o presents {index: j,
end: 0} in that cycle (the draw waits while o.ready is low); after j = n_in-1
o presents {end: 1}. The LFSR is re-seeded after the last end beat. i is not
ready while o is busy, except in the cycle of the last end beat, which may
take the next x_0. Latency (first x accepted to last end beat) = initiation
interval = n_in + T*(n_in + 1) - 1 cycles with o.ready high and inputs back
to back. The output is the spike-event format of the LIF layer's input."""


class LFSREncoder(wiring.Component):
    """Bernoulli rate encoder with a leap-forward Fibonacci LFSR (docs/cores/lif.md)::

        state ← M·state  (over GF(2); M = leap single steps, LFSRParams.leap_masks)
        r = state >> (width − in_bits);   spike (t, j) iff x_j > r

    Draw number t·n_in + j (raster order) belongs to step t, input j, exactly as
    :func:`~spikeforge.models.lfsr.rate_encode`. Each new state bit is the XOR of
    the state bits named by one row of the leap matrix: one cycle per draw. The
    stored inputs form a ring that rotates by one per draw, so the comparator
    always reads x_j from the same register.

    Parameters
    ----------
    params : RateEncoderParams
        LFSR (width, taps, seed, leap), in_bits, n_in and T, read as they are.

    Members
    -------
    i : In(stream.Signature(unsigned(in_bits)))
        The n_in input values of an inference, in order.
    o : Out(stream.Signature({"index": unsigned(index_bits), "end": 1}))
        Spike events of each step (ascending j), then an end-of-step beat.

    Raises
    ------
    TypeError
        If ``params`` is not a :class:`RateEncoderParams`.
    """

    handshake = ENCODER_HANDSHAKE

    def __init__(self, params):
        self.params = p = accept_params(self, params, RateEncoderParams)
        super().__init__({
            "i": In(stream.Signature(unsigned(p.in_bits))),
            "o": Out(stream.Signature(data.StructLayout({"index": unsigned(p.index_bits), "end": 1}))),
        })

    def elaborate(self, platform):
        p = self.params
        lf = p.lfsr
        m = Module()
        state = Signal(lf.width, init=lf.seed)
        nxt = Signal(lf.width)
        m.d.comb += [nxt[k].eq((state & mask).xor()) for k, mask in enumerate(lf.leap_masks)]
        r = nxt[lf.width - p.in_bits:]
        # x_0 .. x_{n_in-1} in a ring: loaded by shifting in at the tail, rotated by one
        # per draw, so x[0] is always the value of the current draw (no multiplexer)
        x = [Signal(p.in_bits, name=f"x{k}") for k in range(p.n_in)]
        load = Signal(range(max(p.n_in, 2)), name="load")   # inputs stored so far
        j = Signal(range(p.n_in + 1), name="j")             # draw j, or n_in: the end beat
        t = Signal(range(p.time_steps), name="t")
        busy = Signal()
        spike = Signal()
        at_end = Signal()
        final = Signal()
        m.d.comb += [at_end.eq(j == p.n_in), final.eq(at_end & (t == p.time_steps - 1)),
                     spike.eq(~at_end & (x[0] > r)),
                     self.o.valid.eq(busy & (spike | at_end)),
                     self.o.payload.index.eq(Mux(at_end, 0, j)),
                     self.o.payload.end.eq(at_end),
                     self.i.ready.eq(~busy | (final & self.o.ready))]
        with m.If(busy & ~at_end & (~spike | self.o.ready)):   # draw j done
            m.d.sync += [state.eq(nxt), j.eq(j + 1),
                         *(x[k].eq(x[(k + 1) % p.n_in]) for k in range(p.n_in))]
        with m.If(busy & at_end & self.o.ready):               # end of step t
            m.d.sync += [j.eq(0), t.eq(t + 1)]
            with m.If(final):
                m.d.sync += [t.eq(0), busy.eq(0), state.eq(lf.seed)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [*(x[k].eq(x[k + 1]) for k in range(p.n_in - 1)), x[-1].eq(self.i.payload),
                         load.eq(load + 1)]
            with m.If(load == p.n_in - 1):
                m.d.sync += [load.eq(0), busy.eq(1)]
        return m
