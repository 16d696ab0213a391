"""Shift-and-add LIF layer RTL: n_out neurons in parallel, one input event per cycle,
built from :class:`LIFParams`.

Math, sources and schedule: docs/cores/lif.md.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..models.errors import ConfigError
from ..models.lif import LIFParams
from .common import accept_params, const_rom

__all__ = ["LIFLayer", "EncoderLIF", "LIF_HANDSHAKE"]

LIF_HANDSHAKE = """\
Handshake: i carries spike events, one beat per cycle: the spikes of step t
({index: j, end: 0}, ascending j, possibly none), then one end-of-step beat
({end: 1}); T such groups per inference. A spike beat adds weight column j to
every neuron's current; the end beat updates all n_out states at once.
Spiking layer: after each end beat, o presents the step's spikes
({index: i, end: 0}, ascending i) then an end-of-step beat ({end: 1}), one
beat per cycle while o.ready is high; i is not ready while they are presented,
except in the cycle of the end beat, which may take the next input beat.
Non-spiking layer: after the T-th end beat, o presents n_out beats
{index: i, value: s_T,i, end: i = n_out-1}; i is ready again in the cycle of
the last one. Data-dependent timing, no fixed latency or II: with inputs back
to back and o.ready high, first input beat to last output beat of an inference
takes spikes_in + spikes_out + T cycles (spiking) or spikes_in + T + n_out - 1
cycles (non-spiking), see LIFParams.cycles. Indices >= n_in (out of protocol) add 0."""


class LIFLayer(wiring.Component):
    """A layer of shift-and-add LIF neurons (docs/cores/lif.md; Stanojevic 2023, §A.2, eqs. A.11–A.19)::

        s_t,i = b_i + Σ_{j: spike j at t} W_ij + (1 − χ_{t−1,i})·Σ_{ι∈I} (s_{t−1,i} >> ι)
        χ_t,i = Θ(s_t,i − β)                     (s_0 = 0, χ_0 = 0, t = 1..T)

    Multiplication-free: each input spike j adds the constant ROM entry W_ij to
    the current accumulator of every neuron i (the accumulator starts each step
    at b_i); the end-of-step beat adds the leak, one arithmetic shift per ι (each
    floors on its own, as in the golden model), masked by the reset factor, and
    compares with β. A non-spiking layer never resets and reads out s_T.

    Parameters
    ----------
    params : LIFParams
        Weights, bias, threshold β, leak shifts I, T, spiking and the widths
        (v_width, acc_bits, index widths), as in effect (``bias_values``, ``v_width``).

    Members
    -------
    i : In(stream.Signature({"index": unsigned(in_index_bits), "end": 1}))
        Input spike events of each step, then an end-of-step beat.
    o : Out(stream.Signature(...))
        Spiking: ``{"index": unsigned(out_index_bits), "end": 1}``, the same event
        format. Non-spiking: ``{"index", "value": signed(v_bits), "end"}``,
        n_out beats per inference with the final states s_T.

    Raises
    ------
    TypeError
        If ``params`` is not a :class:`LIFParams`.
    ConfigError
        If the declared v_bits cannot hold the proven range of s.
    """

    handshake = LIF_HANDSHAKE

    def __init__(self, params):
        self.params = p = accept_params(self, params, LIFParams,
                                        [("v_bits", getattr(params, "v_interval", None))])
        out = {"index": unsigned(p.out_index_bits), "end": 1}
        if not p.spiking:
            out = {"index": unsigned(p.out_index_bits), "value": signed(p.v_width), "end": 1}
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({"index": unsigned(p.in_index_bits), "end": 1}))),
            "o": Out(stream.Signature(data.StructLayout(out))),
        })

    def elaborate(self, platform):
        p = self.params
        m = Module()
        n = p.n_out
        acc = [Signal(signed(p.acc_bits), name=f"acc{k}", init=p.bias_values[k]) for k in range(n)]
        s = [Signal(signed(p.v_width), name=f"s{k}") for k in range(n)]
        t = Signal(range(p.time_steps), name="t")
        last_step = Signal()
        m.d.comb += last_step.eq(t == p.time_steps - 1)
        emitting = Signal()                                  # o is presenting beats
        out_last = Signal()                                  # ... and this is the group's last one
        take = Signal()
        m.d.comb += [self.i.ready.eq(~emitting | (self.o.ready & out_last)),
                     take.eq(self.i.valid & self.i.ready)]
        # reset factor (1 − χ_{t−1}); at t = 0 the state s_0 = 0 has no leak either
        hold = [Signal(name=f"hold{k}") for k in range(n)]
        chi = [Signal(name=f"chi{k}") for k in range(n)] if p.spiking else []
        s_new = []
        for k in range(n):
            leak = sum((s[k].shift_right(sh) for sh in p.leak_shifts), Const(0, signed(2)))
            nxt = Signal(signed(p.v_width), name=f"s_next{k}")
            m.d.comb += [hold[k].eq((t == 0) | (chi[k] if p.spiking else 0)),
                         nxt.eq(acc[k] + Mux(hold[k], 0, leak))]
            s_new.append(nxt)
        with m.If(take & ~self.i.payload.end):               # const_rom pads with zeros:
            for k in range(n):                               # indices >= n_in add 0
                rom = const_rom(p.weights[k])
                m.d.sync += acc[k].eq(acc[k] + rom[self.i.payload.index])
        if p.spiking:
            pending = Signal(n, name="pending")             # spikes of the step still to present
            index = Signal(unsigned(p.out_index_bits), name="first_spike")
            lowest = Const(0, unsigned(p.out_index_bits))
            for k in reversed(range(n)):
                lowest = Mux(pending[k], k, lowest)
            m.d.comb += [index.eq(lowest), out_last.eq(pending == 0),
                         self.o.valid.eq(emitting),
                         self.o.payload.index.eq(Mux(out_last, 0, index)),
                         self.o.payload.end.eq(out_last)]
            with m.If(emitting & self.o.ready):
                m.d.sync += pending.eq(pending & (pending - 1))   # clear the lowest set bit
                with m.If(out_last):
                    m.d.sync += emitting.eq(0)
        else:
            r = Signal(range(max(n, 2)), name="readout")
            m.d.comb += [out_last.eq(r == n - 1), self.o.valid.eq(emitting),
                         self.o.payload.index.eq(r),
                         self.o.payload.value.eq(Cat(*s).word_select(r, p.v_width).as_signed()
                                                 if n > 1 else s[0]),
                         self.o.payload.end.eq(out_last)]
            with m.If(emitting & self.o.ready):
                m.d.sync += r.eq(r + 1)
                with m.If(out_last):
                    m.d.sync += [emitting.eq(0), r.eq(0)]
        with m.If(take & self.i.payload.end):                # end of step t: update every neuron
            m.d.sync += t.eq(Mux(last_step, 0, t + 1))
            for k in range(n):
                m.d.sync += [s[k].eq(s_new[k]), acc[k].eq(p.bias_values[k])]
            if p.spiking:
                spikes = [s_new[k] >= p.threshold for k in range(n)]
                m.d.sync += [*(chi[k].eq(spikes[k]) for k in range(n)),
                             pending.eq(Cat(*spikes)), emitting.eq(1)]
            else:
                with m.If(last_step):
                    m.d.sync += emitting.eq(1)
        return m


class EncoderLIF(wiring.Component):
    """The LFSR rate encoder (:class:`~spikeforge.hdl.lfsr.LFSREncoder`) feeding a
    :class:`LIFLayer`: x values in, the layer's output out (the input stage of a
    LIF network).

    Members
    -------
    i : the encoder's input (x values).
    o : the LIF layer's output.

    Raises
    ------
    ConfigError
        If the encoder's n_in or T differ from the layer's.
    """

    class Params:
        """Header record of the chained circuit (the two parameter objects)."""

        def __init__(self, ep, p):
            self.ep, self.p = ep, p

        def to_dict(self):
            return {"type": "rate_lif", "encoder": self.ep.to_dict(), "lif": self.p.to_dict()}

        def effective_dict(self):
            return {"type": "rate_lif", "encoder": self.ep.effective_dict(), "lif": self.p.effective_dict()}

    def __init__(self, ep, p):
        from .lfsr import LFSREncoder
        if ep.n_in != p.n_in or ep.time_steps != p.time_steps:
            self._MustUse__silence = True
            raise ConfigError(f"encoder (n_in={ep.n_in}, T={ep.time_steps}) does not match the LIF "
                              f"layer (n_in={p.n_in}, T={p.time_steps})")
        self.enc, self.lif = LFSREncoder(ep), LIFLayer(p)
        super().__init__({"i": self.enc.signature.members["i"], "o": self.lif.signature.members["o"]})

    def elaborate(self, platform):
        m = Module()
        m.submodules.enc, m.submodules.lif = self.enc, self.lif
        wiring.connect(m, self.enc.o, self.lif.i)
        wiring.connect(m, wiring.flipped(self.i), self.enc.i)
        wiring.connect(m, self.lif.o, wiring.flipped(self.o))
        return m
