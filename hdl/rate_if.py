"""Rate-coded IF layer RTL (soft reset, Ding et al. eq. 3), built from :class:`IFParams`.

Math, sources and schedule: docs/cores/if.md.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from ..models.rate_if import IFParams
from .common import accept_params
from .mac import counter, lane_tables, mac_step, pick, rom_read

__all__ = ["IFLayer", "IF_HANDSHAKE"]

IF_HANDSHAKE = """\
Handshake: spike input (direct_input false): per time step the events
{index, end=0} of the input spikes (ascending index, possibly none), then
one {end=1} beat; T steps per inference; one event per cycle adds W[:, index]
to every neuron's step current (indices >= n_in add 0). Direct input: n_in
beats x_j per inference, multiplied into the current W*x + b once (n_out
multipliers), then T steps follow without input. Spiking output: after the
input of step t, the spikes of step t as {index, end=0} in ascending neuron
index, then {end=1}, one beat per cycle while o.ready is high (o stalls
otherwise). Non-spiking output: after step T, n_out beats {index, value=v,
end} in neuron order, end on the last. i.ready is high while the core takes
input and in the cycle of the last output beat of a step (spike input) or
of an inference (direct input, non-spiking output), whose beat the next
input shares. Cycles from the first input beat to the last output beat,
input back to back and o.ready high (IFParams.cycles_per_inference):
spike/spiking in_spikes + out_spikes + T; spike/non-spiking in_spikes + T +
n_out - 1; direct/spiking n_in + out_spikes + T - 1; direct/non-spiking
n_in + T + n_out - 2 (steps 1..T-1 take one silent cycle each)."""


class Phase(enum.Enum, shape=2):
    IN = 0          # taking input beats
    OUT = 1         # presenting output beats
    STEP = 2        # direct input, non-spiking: a silent step


class IFLayer(wiring.Component):
    """A layer of n_out rate-coded IF neurons with soft reset (docs/cores/if.md; Ding et al. 2021, eq. 3)::

        m = v + W·s(t) + b;   s_out = Θ(m − ϑ);   v = m − ϑ·s_out      (t = 1..T, v(0) = 0)

    All neurons update in parallel. Spike input adds one constant ROM column
    W[:, index] per event to the step current (which starts each step at b);
    direct input computes the current W·x + b once with n_out multipliers
    (the MAC datapath of :mod:`spikeforge.hdl.mac`) and adds it every step.
    m = v + current is combinational; the step's spikes leave serialized,
    lowest index first, and v takes m − ϑ·s_out with the end-of-step beat.

    Parameters
    ----------
    params : IFParams
        Weights, bias, threshold, T, input mode, output mode and widths, as in effect
        (``bias_values``, ``v_width``).

    Members
    -------
    i : In(stream.Signature({"index": unsigned(in_index_bits), "end": 1}) or unsigned(in_bits))
        Input spike events, or with ``direct_input`` the n_in input values.
    o : Out(stream.Signature({"index": unsigned(out_index_bits), "end": 1}))
        Output spike events; non-spiking: ``{"index", "value": signed(v_bits), "end"}``.

    Raises
    ------
    TypeError
        If ``params`` is not an :class:`IFParams`.
    ConfigError
        If the declared v_bits cannot hold the proven range of m and v.
    """

    handshake = IF_HANDSHAKE

    def __init__(self, params):
        self.params = p = accept_params(self, params, IFParams,
                                        [("v_bits", getattr(params, "v_interval", None))])
        if p.direct_input:
            in_shape = unsigned(p.in_bits)
        else:
            in_shape = data.StructLayout({"index": unsigned(p.in_index_bits), "end": 1})
        out = {"index": unsigned(p.out_index_bits), "end": 1}
        if not p.spiking:
            out = {"index": unsigned(p.out_index_bits), "value": signed(p.v_width), "end": 1}
        super().__init__({
            "i": In(stream.Signature(in_shape)),
            "o": Out(stream.Signature(data.StructLayout(out))),
        })

    def elaborate(self, platform):
        p = self.params
        m = Module()
        n, T, th = p.n_out, p.time_steps, p.threshold
        v = [Signal(signed(p.v_width), name=f"v{i}") for i in range(n)]
        cur = [Signal(signed(p.current_bits), name=f"cur{i}", init=p.bias_values[i]) for i in range(n)]
        phase = Signal(Phase)
        t = counter(T, "t")
        first_step = t == 0
        last_step = t == T - 1
        t_after = Mux(last_step, 0, t + 1)

        # m = v + current (v counts as 0 in the first step of an inference)
        mem = [Signal(signed(p.v_width), name=f"m{i}") for i in range(n)]
        m.d.comb += [mi.eq(Mux(first_step, 0, vi) + ci) for mi, vi, ci in zip(mem, v, cur)]

        # ---- output side
        out_done = self.o.valid & self.o.ready
        m.d.comb += self.o.valid.eq(phase == Phase.OUT)
        if p.spiking:
            spike = Cat(mi >= th for mi in mem)
            sent = Signal(n)
            pending = spike & ~sent
            lowest = Const(0, p.out_index_bits)
            for i in reversed(range(n)):
                lowest = Mux(pending[i], i, lowest)
            end = Signal()
            m.d.comb += [end.eq(~pending.any()), self.o.payload.index.eq(lowest),
                         self.o.payload.end.eq(end)]
            final = end if not p.direct_input else end & last_step
            with m.If(out_done):
                with m.If(end):                 # end of step: soft reset, next step
                    m.d.sync += [sent.eq(0), t.eq(t_after)]
                    m.d.sync += [vi.eq(mi - Mux(spike[i], th, 0)) for i, (vi, mi) in enumerate(zip(v, mem))]
                    if not p.direct_input:
                        m.d.sync += [ci.eq(b) for ci, b in zip(cur, p.bias_values)]
                    with m.If(final):
                        m.d.sync += phase.eq(Phase.IN)
                with m.Else():
                    for i in range(n):
                        with m.If(lowest == i):
                            m.d.sync += sent[i].eq(1)
        else:
            k = counter(n, "k")
            final = k == n - 1
            m.d.comb += [self.o.payload.index.eq(k), self.o.payload.value.eq(pick(mem, k)),
                         self.o.payload.end.eq(final)]
            with m.If(out_done):
                m.d.sync += k.eq(k + 1)
                with m.If(final):               # end of inference
                    m.d.sync += [k.eq(0), t.eq(0), phase.eq(Phase.IN)]
                    if not p.direct_input:
                        m.d.sync += [ci.eq(b) for ci, b in zip(cur, p.bias_values)]
        handover = out_done & final             # the next input may share this cycle
        m.d.comb += self.i.ready.eq((phase == Phase.IN) | handover)
        take = self.i.valid & self.i.ready
        t_in = Mux(handover, t_after, t)        # the step the input belongs to

        # ---- input side (its assignments come last: they win in a shared cycle)
        if p.direct_input:
            j = counter(p.n_in, "j")
            weights, biases = lane_tables(p.weights, p.bias_values, n, 1)   # one lane per neuron
            mac_step(m, cur, self.i.payload, weights, j, biases, 0, j == 0, take)
            with m.If(take):
                m.d.sync += j.eq(j + 1)
                with m.If(j == p.n_in - 1):
                    m.d.sync += j.eq(0)
                    if p.spiking or T == 1:
                        m.d.sync += phase.eq(Phase.OUT)
                    else:
                        m.d.sync += phase.eq(Phase.STEP)
            if not p.spiking and T > 1:
                with m.If(phase == Phase.STEP):  # silent steps 1..T−1
                    m.d.sync += [vi.eq(mi) for vi, mi in zip(v, mem)]
                    m.d.sync += t.eq(t + 1)
                    with m.If(t == T - 2):
                        m.d.sync += phase.eq(Phase.OUT)
        else:
            evt = self.i.payload
            cur_in = [Mux(handover, b, ci) for ci, b in zip(cur, p.bias_values)]
            with m.If(take & ~evt.end):
                m.d.sync += [ci.eq(c + rom_read(row, evt.index))
                             for ci, c, row in zip(cur, cur_in, p.weights)]
            with m.If(take & evt.end):
                if p.spiking:
                    m.d.sync += phase.eq(Phase.OUT)
                else:
                    with m.If(t_in == T - 1):
                        m.d.sync += phase.eq(Phase.OUT)
                    with m.Else():              # a step without output: v = m, next step
                        m.d.sync += [vi.eq(Mux(handover, c, mi)) for vi, mi, c in zip(v, mem, cur_in)]
                        m.d.sync += [ci.eq(b) for ci, b in zip(cur, p.bias_values)]
                        m.d.sync += t.eq(t_in + 1)
        return m
