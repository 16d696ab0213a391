"""The rate-coded IF engine of network circuits (``if``): direct input, spike events per step.

Two kinds of dense layer, P lanes each, weights in an
:class:`amaranth.lib.memory.Memory` (one word of P weights per group and
input, laid out as :class:`~spikeforge.hdl.mac_engine.MACEngine` does):

- the first layer (direct input, spiking, soft reset): the current
  I = W·x + b of every neuron is computed once per sample, one multiplier
  per lane, group-major (group 0 as the input values arrive, groups 1 … G−1
  from an input buffer), and stored in a memory of G words of P currents.
  The membranes persist across the T steps in a second memory of G words
  of P·v_bits (both are registers when G = 1). Per step and group the two
  words are read (synchronous read, addressed one cycle ahead: in the last
  MAC's execute cycle, or in the previous group's closing cycle), m = v + I
  (v = 0 in step 1), the group's spikes (m ≥ ϑ) leave as events lowest neuron
  first, and in the group's closing cycle v = m − ϑ·s is written back; the
  closing cycle of the last group sends the end-of-step beat.
- the output layer (non-spiking integrator, read at T): linear, so it adds
  the events of all T steps as they come (v = T·b + Σ W[:, j]); it is the
  output layer of :class:`~spikeforge.hdl.digit_engine.DigitEngine` (events
  kept for groups 1 … G−1, scores out one per cycle) with d(t) = 1 for
  every step, behind a filter that takes the end-of-step beats before the
  T-th without passing them on.

Schedule, cycles and counters: :mod:`spikeforge.models.circuit_rate` and
docs/network.md ("Network circuits").
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..models.base import unsigned_bits
from ..models.circuit_rate import IFEngineParams
from .common import accept_params
from .digit_engine import DigitEngine
from .mac import counter, rom_read
from .mac_engine import weight_words

__all__ = ["IFEngine", "event_layout", "counts_layout"]


def event_layout(index_bits):
    """A spike event of one step: neuron index, or ``end`` (the end-of-step beat, no spike)."""
    return data.StructLayout({"index": unsigned(index_bits), "end": 1})


def counts_layout(p):
    """Per-sample counts on ``cnt``, each as wide as its largest value."""
    T = p.time_steps
    return data.StructLayout({"syn": unsigned_bits(p.max_syn),
                              "spikes": 1 if p.output else unsigned_bits(T * p.n_out),
                              "upd": unsigned_bits(T * p.n_out)})


class Phase(enum.Enum, shape=2):
    IN = 0          # group 0 multiplies the input values as they arrive
    MAC = 1         # groups 1..G-1 read the input buffer
    LOAD = 2        # the last MAC executes; the first group's words are read
    STEP = 3        # a group's spikes leave, then its closing cycle


def _group_words(m, name, G, P, bits, raddr, waddr, we, wdata):
    """P signed words of ``bits`` per group: a memory of G words (synchronous read of
    ``raddr``: the words appear one cycle later), or registers when G = 1. Returns the
    P read values."""
    if G == 1:
        regs = [Signal(signed(bits), name=f"{name}{l}") for l in range(P)]
        with m.If(we):
            m.d.sync += [r.eq(d) for r, d in zip(regs, wdata)]
        return regs
    m.submodules[name] = mem = Memory(shape=unsigned(P * bits), depth=G, init=[])
    wr, rd = mem.write_port(), mem.read_port()
    m.d.comb += [wr.addr.eq(waddr), wr.en.eq(we), wr.data.eq(Cat(*wdata)), rd.addr.eq(raddr)]
    return [rd.data[l * bits:(l + 1) * bits].as_signed() for l in range(P)]


class IFEngine(wiring.Component):
    """A dense layer of a rate-coded IF network: the first (direct input) or the output layer.

    Parameters
    ----------
    params : IFEngineParams

    Members
    -------
    i : In(stream.Signature(unsigned(in_bits) or event_layout(...)))
        The n_in input values of a sample (first layer), or per step the
        spike events then an end beat (output layer).
    o : Out(stream.Signature(event_layout(...) or {"value", "last"}))
        Per step the spike events then an end beat, or the scores.
    cnt : Out(stream.Signature(counts_layout(params)))
        One beat per sample once its last output beat has left.
    """

    def __init__(self, params):
        self.params = p = accept_params(self, params, IFEngineParams)
        if p.output:
            in_shape = event_layout(p.index_bits)
            out = data.StructLayout({"value": signed(p.acc_width), "last": 1})
        else:
            in_shape = unsigned(p.layer.in_bits)
            out = event_layout(p.out_index_bits)
        super().__init__({
            "i": In(stream.Signature(in_shape)),
            "o": Out(stream.Signature(out)),
            "cnt": Out(stream.Signature(counts_layout(p))),
        })

    @property
    def forward(self):
        """What the next engine receives of each beat on ``o``: the whole event."""
        return self.o.payload

    def elaborate(self, platform):
        return self._output() if self.params.output else self._direct()

    def _output(self):
        p = self.params
        m = Module()
        T = p.time_steps
        m.submodules.integrator = d = DigitEngine(p.digit)
        step = counter(T, "step")
        final = step == T - 1
        end = self.i.payload.end
        m.d.comb += [d.i.valid.eq(self.i.valid & (~end | final)),
                     d.i.payload.index.eq(self.i.payload.index),
                     d.i.payload.step.eq(step),
                     d.i.payload.end.eq(end),
                     self.i.ready.eq(d.i.ready)]
        with m.If(self.i.valid & self.i.ready & end):
            m.d.sync += step.eq(Mux(final, 0, step + 1))
        wiring.connect(m, d.o, wiring.flipped(self.o))
        m.d.comb += [self.cnt.valid.eq(d.cnt.valid), d.cnt.ready.eq(self.cnt.ready),
                     self.cnt.payload.syn.eq(d.cnt.payload.syn),
                     self.cnt.payload.spikes.eq(0),
                     self.cnt.payload.upd.eq(T * p.n_out)]     # T steps of n_out neurons, folded
        return m

    def _direct(self):
        p = self.params
        L = p.layer
        m = Module()
        P, G, n_in, T, th = p.lane_count, p.groups, p.n_in, p.time_steps, L.threshold
        wb, cb, vb = L.w_bits, L.current_bits, L.v_width
        sizes = p.group_sizes
        phase = Signal(Phase)
        g = counter(G, "g")
        j = counter(n_in, "j")
        t = counter(T, "t")
        last_group = g == G - 1
        size_now = Mux(last_group, sizes[-1], sizes[0])
        bias = L.bias_values
        biases = [[bias[gg * P + l] if gg * P + l < p.n_out else 0 for gg in range(G)] for l in range(P)]

        # ---- I = W·x + b: issue (address and operand registered), execute one cycle later
        m.submodules.weights = wmem = Memory(shape=unsigned(P * wb), depth=G * n_in, init=weight_words(p))
        rd = wmem.read_port()
        m.d.comb += self.i.ready.eq(phase == Phase.IN)
        take_in = self.i.valid & self.i.ready
        from_buf = phase == Phase.MAC
        issue = Signal()
        m.d.comb += [issue.eq(take_in | from_buf), rd.addr.eq(g * n_in + j)]
        pending, x_in_q, from_buf_q = Signal(), Signal(L.in_bits), Signal()
        first_q, last_q, g_q = Signal(), Signal(), counter(G, "g_q")
        m.d.sync += [pending.eq(issue), x_in_q.eq(self.i.payload), from_buf_q.eq(from_buf),
                     first_q.eq(j == 0), last_q.eq(j == n_in - 1), g_q.eq(g)]
        if G > 1:                               # the inputs, re-read by groups 1..G-1
            m.submodules.inputs = buf = Memory(shape=unsigned(L.in_bits), depth=n_in, init=[])
            buf_w, buf_r = buf.write_port(), buf.read_port()
            m.d.comb += [buf_w.addr.eq(j), buf_w.data.eq(self.i.payload), buf_w.en.eq(take_in),
                         buf_r.addr.eq(j)]
            x_q = Mux(from_buf_q, buf_r.data, x_in_q)
        else:
            x_q = x_in_q
        acc = [Signal(signed(cb), name=f"acc{l}") for l in range(P)]
        acc_next = [Signal(signed(cb), name=f"acc{l}_next") for l in range(P)]
        for l, (a, an) in enumerate(zip(acc, acc_next)):
            w = rd.data[l * wb:(l + 1) * wb].as_signed()
            m.d.comb += an.eq(Mux(first_q, rom_read(biases[l], g_q), a) + w * x_q)
        with m.If(pending):
            m.d.sync += [a.eq(an) for a, an in zip(acc, acc_next)]
        with m.If(issue):
            with m.If(j == n_in - 1):
                m.d.sync += j.eq(0)
                with m.If(last_group):
                    m.d.sync += [phase.eq(Phase.LOAD), g.eq(0)]
                with m.Else():
                    m.d.sync += [phase.eq(Phase.MAC), g.eq(g + 1)]
            with m.Else():
                m.d.sync += j.eq(j + 1)
        with m.If(phase == Phase.LOAD):
            m.d.sync += phase.eq(Phase.STEP)

        # ---- the steps: currents and membranes per group, read one cycle ahead
        stepping = phase == Phase.STEP
        close = Signal()                        # the group's last cycle
        raddr = Signal.like(g)
        m.d.comb += raddr.eq(Mux(stepping, Mux(close, Mux(last_group, 0, g + 1), g), 0))
        cur = _group_words(m, "currents", G, P, cb, raddr, g_q, pending & last_q, acc_next)
        v_new = [Signal(signed(vb), name=f"v{l}_new") for l in range(P)]
        v = _group_words(m, "membranes", G, P, vb, raddr, g, close, v_new)
        first_step = t == 0
        spikes = []
        for l in range(P):
            mv = Signal(signed(vb), name=f"m{l}")
            m.d.comb += mv.eq(Mux(first_step, 0, v[l]) + cur[l])
            active = ~last_group if l >= sizes[-1] else Const(1)    # lanes past n_out
            s = Signal(name=f"s{l}")
            m.d.comb += [s.eq((mv >= th) & active), v_new[l].eq(mv - Mux(s, th, 0))]
            spikes.append(s)
        sent, pend = Signal(P), Signal(P)
        m.d.comb += pend.eq(Cat(*spikes) & ~sent)
        has = pend.any()
        lane = Const(0, unsigned_bits(max(1, P - 1)))
        for b in reversed(range(P)):
            lane = Mux(pend[b], b, lane)
        out_done = self.o.valid & self.o.ready
        spike_out = Signal()
        m.d.comb += [self.o.valid.eq(stepping & (has | last_group)),
                     self.o.payload.index.eq(g * P + lane),
                     self.o.payload.end.eq(~has),
                     close.eq(stepping & ~has & (out_done | ~last_group)),
                     spike_out.eq(out_done & has)]
        with m.If(spike_out):
            m.d.sync += sent.eq(sent | (pend & (~pend + 1)))
        done = Signal()
        m.d.comb += done.eq(close & last_group & (t == T - 1))
        with m.If(close):
            m.d.sync += sent.eq(0)
            with m.If(last_group):
                m.d.sync += [g.eq(0), t.eq(Mux(t == T - 1, 0, t + 1))]
                with m.If(t == T - 1):
                    m.d.sync += phase.eq(Phase.IN)
            with m.Else():
                m.d.sync += g.eq(g + 1)

        # ---- counters of the sample in progress; reported with its last beat
        layout = counts_layout(p)
        syn, spk, upd = (Signal(layout.size, name=n) for n in ("syn", "spk", "upd"))
        syn_next, spk_next, upd_next = (Signal(layout.size, name=f"{n}_next") for n in ("syn", "spk", "upd"))
        size_q = Mux(g_q == G - 1, sizes[-1], sizes[0])
        updated = Mux(close, size_now, 0)
        m.d.comb += [syn_next.eq(syn + Mux(pending, size_q, 0) + updated),   # MACs, then v += I
                     spk_next.eq(spk + spike_out),
                     upd_next.eq(upd + updated)]
        with m.If(self.cnt.valid & self.cnt.ready):
            m.d.sync += self.cnt.valid.eq(0)
        with m.If(done):
            m.d.sync += [self.cnt.valid.eq(1), self.cnt.payload.syn.eq(syn_next),
                         self.cnt.payload.spikes.eq(spk_next), self.cnt.payload.upd.eq(upd_next),
                         syn.eq(0), spk.eq(0), upd.eq(0)]
        with m.Else():
            m.d.sync += [syn.eq(syn_next), spk.eq(spk_next), upd.eq(upd_next)]
        return m
