"""The TTFS engine of network circuits (``ttfs``): spike events in time order, crossing ticks in closed form.

One dense layer, P lanes of accumulators, the weights in an
:class:`amaranth.lib.memory.Memory` (one word of P weights per group and
input, laid out as :class:`~spikeforge.hdl.mac_engine.MACEngine` does).
No potential is updated tick by tick: from the window's start the slope is
2^F for every neuron, so an event (j, t) adds W_ij·(T0 − t) to neuron i's
accumulator (started at its bias), and the neuron's crossing follows from
the sum by a shift, a clamp and a subtraction: y = clamp(acc >> F, 0, B),
spike at local tick B − y (at-most-one: only if y ≥ 1). Group 0 adds as the
events arrive and keeps them in a buffer; groups 1 … G−1 replay it right
behind, without a bubble. Each group's results go to one register per
neuron (tick and pending flag, or the score); a hidden layer then sends its
spikes in time order — the pending neuron of the earliest tick, lowest index
on a tie, by a tree of comparisons — and the end beat; the output layer
sends its scores in neuron order as soon as their group is evaluated. The
first engine turns the circuit's input values into their spike events itself.

Closed form, schedule, cycles and counters: :mod:`spikeforge.models.circuit_ttfs`.
"""

from __future__ import annotations

from amaranth import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..models.base import unsigned_bits
from ..models.circuit_ttfs import TTFSEngineParams
from .common import accept_params
from .mac import counter, pick, rom_read
from .mac_engine import weight_words

__all__ = ["TTFSEngine", "event_layout", "counts_layout"]


def event_layout(index_bits, tick_bits):
    """A spike event: neuron index, its local tick, and ``end`` (the sample's last beat, no spike)."""
    return data.StructLayout({"index": unsigned(index_bits), "tick": unsigned(tick_bits), "end": 1})


def counts_layout(p):
    """Per-sample counts on ``cnt``: synaptic operations ≤ n_in·n_out, spikes (the layer's,
    and the input's in the first engine), neuron evaluations = n_out."""
    spikes = (p.n_out if p.spiking else 0) + (p.n_in if p.encode else 0)
    return data.StructLayout({"syn": unsigned_bits(p.max_events * p.n_out), "spikes": unsigned_bits(max(1, spikes)),
                              "upd": unsigned_bits(p.n_out)})


class Phase(enum.Enum, shape=2):
    IN = 0          # group 0: the events (or input values) as they arrive
    REPLAY = 1      # groups 1..G-1 re-read the buffered events
    WAIT = 2        # the last group is evaluated; the results leave


class TTFSEngine(wiring.Component):
    """A dense layer of TTFS neurons (or the output integrator), P lanes, weights in memory.

    Parameters
    ----------
    params : TTFSEngineParams

    Members
    -------
    i : In(stream.Signature(event_layout(...) or unsigned(in_bits)))
        Spike events in time order then an end beat, or in the first engine the n_in input values.
    o : Out(stream.Signature(event_layout(...) or {"value", "last"}))
        The layer's spike events in time order then an end beat, or the output layer's scores.
    cnt : Out(stream.Signature(counts_layout(params)))
        One beat per sample once its last output beat has left.
    """

    def __init__(self, params):
        self.params = p = accept_params(self, params, TTFSEngineParams)
        in_shape = unsigned(p.in_bits) if p.encode else event_layout(p.index_bits, p.tick_bits)
        if p.spiking:
            out = event_layout(p.out_index_bits, p.out_tick_bits)
        else:
            out = data.StructLayout({"value": signed(p.acc_width), "last": 1})
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
        p = self.params
        m = Module()
        P, G, n_in, n_out, wb = p.lane_count, p.groups, p.n_in, p.n_out, p.w_bits
        sizes = p.group_sizes
        xb = p.in_bits

        def size_of(g):
            return Mux(g == G - 1, sizes[-1], sizes[0])

        phase = Signal(Phase)
        g = counter(G, "g")                     # the group of the items in stage 1
        r = Signal(range(max(2, p.max_events)))  # replay position
        n_ev = Signal(range(p.max_events + 1))  # events of the sample in the buffer
        fresh = Signal(init=1)                  # the next group-0 item is the sample's first

        # ---- stage 1: an item (an event, or a null item closing a group) addresses its weights
        s1_valid, s1_null, s1_first, s1_last = Signal(), Signal(), Signal(), Signal()
        s1_index, s1_x, s1_g = Signal(p.index_bits), Signal(xb), Signal.like(g)
        m.d.comb += self.i.ready.eq(phase == Phase.IN)
        take = self.i.valid & self.i.ready
        in_index, in_x, in_null, in_last = Signal(p.index_bits), Signal(xb), Signal(), Signal()
        if p.encode:                            # value x_j: the event (j, B_in − x_j), which adds W·x_j
            j = counter(n_in, "j")
            m.d.comb += [in_index.eq(j), in_x.eq(self.i.payload), in_last.eq(j == n_in - 1),
                         in_null.eq(0 if p.fires_at_zero else self.i.payload == 0)]
            with m.If(take):
                m.d.sync += j.eq(Mux(j == n_in - 1, 0, j + 1))
        else:                                   # event (j, t): adds W·(T0 − t); the end beat: null
            ev = self.i.payload
            m.d.comb += [in_index.eq(ev.index), in_x.eq(p.T0 - ev.tick), in_null.eq(ev.end),
                         in_last.eq(ev.end)]
        take_ev = take & ~in_null

        replay_last = Signal()
        if G > 1:
            entry = data.StructLayout({"index": unsigned(p.index_bits), "x": unsigned(xb)})
            m.submodules.events = buf = Memory(shape=entry, depth=p.max_events, init=[])
            buf_w = buf.write_port()
            buf_r = buf.read_port(transparent_for=(buf_w,))
            m.d.comb += [buf_w.addr.eq(n_ev), buf_w.data.index.eq(in_index), buf_w.data.x.eq(in_x),
                         buf_w.en.eq(take_ev),
                         replay_last.eq(r == Mux(n_ev == 0, 0, n_ev - 1)),
                         # the next item's entry, read one cycle ahead (entry 0 outside a replay)
                         buf_r.addr.eq(Mux((phase == Phase.REPLAY) & ~replay_last, r + 1, 0))]
            replaying = phase == Phase.REPLAY
            with m.If(replaying):
                m.d.comb += [s1_valid.eq(1), s1_index.eq(buf_r.data.index), s1_x.eq(buf_r.data.x),
                             s1_null.eq(n_ev == 0), s1_first.eq(r == 0), s1_last.eq(replay_last),
                             s1_g.eq(g)]
            with m.Else():
                m.d.comb += [s1_valid.eq(take), s1_index.eq(in_index), s1_x.eq(in_x), s1_null.eq(in_null),
                             s1_first.eq(fresh), s1_last.eq(in_last), s1_g.eq(0)]
            with m.If(replaying):
                m.d.sync += r.eq(Mux(replay_last, 0, r + 1))
                with m.If(replay_last):
                    with m.If(g == G - 1):
                        m.d.sync += phase.eq(Phase.WAIT)
                    with m.Else():
                        m.d.sync += g.eq(g + 1)
        else:
            m.d.comb += [s1_valid.eq(take), s1_index.eq(in_index), s1_x.eq(in_x), s1_null.eq(in_null),
                         s1_first.eq(fresh), s1_last.eq(in_last), s1_g.eq(0)]
        with m.If(take):
            m.d.sync += fresh.eq(0)
        with m.If(take_ev):
            m.d.sync += n_ev.eq(n_ev + 1)
        with m.If(take & in_last):
            if G > 1:
                m.d.sync += [phase.eq(Phase.REPLAY), g.eq(1), r.eq(0)]
            else:
                m.d.sync += phase.eq(Phase.WAIT)

        m.submodules.weights = mem = Memory(shape=unsigned(P * wb), depth=G * n_in, init=weight_words(p))
        rd = mem.read_port()
        m.d.comb += [rd.addr.eq(s1_g * n_in + s1_index), rd.en.eq(s1_valid & ~s1_null)]

        # ---- stage 2: acc = (first ? bias : acc) + w·x per lane
        v2, null2, first2, last2 = Signal(), Signal(), Signal(), Signal()
        x2, g2 = Signal(xb), Signal.like(g)
        m.d.sync += [v2.eq(s1_valid), null2.eq(s1_null), first2.eq(s1_first), last2.eq(s1_last),
                     x2.eq(s1_x), g2.eq(s1_g)]
        biases = [[p.bias[gg * P + l] if gg * P + l < n_out else 0 for gg in range(G)] for l in range(P)]
        acc = [Signal(signed(p.acc_width), name=f"acc{l}") for l in range(P)]
        with m.If(v2):
            for l, a in enumerate(acc):
                w = rd.data[l * wb:(l + 1) * wb].as_signed()
                base = Mux(first2, rom_read(biases[l], g2), a)
                m.d.sync += a.eq(base + Mux(null2, 0, w * x2))

        # ---- stage 3 (eval): the group's sums are complete; its results into the neurons' registers
        ev3, g3 = Signal(), Signal.like(g)
        m.d.sync += [ev3.eq(v2 & last2), g3.eq(g2)]
        out_done = self.o.valid & self.o.ready
        spike_out, sample_done = Signal(), Signal()
        if p.spiking:
            tb = p.out_tick_bits
            ticks = [Signal(tb, name=f"tick{i}") for i in range(n_out)]
            pend = [Signal(name=f"pend{i}") for i in range(n_out)]
            all_done = Signal()
            lane_tick, lane_fire = [], []
            for l, a in enumerate(acc):
                s = Signal(signed(max(2, p.acc_width - p.slope_shift + 1)), name=f"s{l}")
                m.d.comb += s.eq(a.shift_right(p.slope_shift))
                y = Signal(tb, name=f"y{l}")
                m.d.comb += y.eq(Mux(s < 0, 0, Mux(s > p.B, p.B, s)))     # truncated: 0 ≤ value ≤ B
                lane_tick.append(p.B - y)
                lane_fire.append(Const(1) if p.fires_at_zero else y != 0)
            for i in range(n_out):
                with m.If(ev3 & (g3 == i // P)):
                    m.d.sync += [ticks[i].eq(lane_tick[i % P]), pend[i].eq(lane_fire[i % P])]
            with m.If(ev3 & (g3 == G - 1)):
                m.d.sync += all_done.eq(1)
            # the pending neuron of the earliest tick, lowest index on a tie
            nodes = [(pend[i], ticks[i], Const(i, p.out_index_bits)) for i in range(n_out)]
            level = 0
            while len(nodes) > 1:
                nxt = []
                for k, (a, b) in enumerate(zip(nodes[::2], nodes[1::2])):
                    # every node is a signal: each comparison is built once, not once per use
                    node = (Signal(name=f"am{level}_{k}_pend"), Signal(tb, name=f"am{level}_{k}_tick"),
                            Signal(p.out_index_bits, name=f"am{level}_{k}_index"))
                    pick_b = b[0] & (~a[0] | (b[1] < a[1]))
                    m.d.comb += [node[0].eq(a[0] | b[0]), node[1].eq(Mux(pick_b, b[1], a[1])),
                                 node[2].eq(Mux(pick_b, b[2], a[2]))]
                    nxt.append(node)
                level += 1
                if len(nodes) % 2:
                    nxt.append(nodes[-1])
                nodes = nxt
            has, first_tick, first_index = nodes[0]
            m.d.comb += [self.o.valid.eq(all_done), self.o.payload.index.eq(Mux(has, first_index, 0)),
                         self.o.payload.tick.eq(Mux(has, first_tick, 0)), self.o.payload.end.eq(~has),
                         spike_out.eq(out_done & has), sample_done.eq(out_done & ~has)]
            for i in range(n_out):
                with m.If(spike_out & (first_index == i)):
                    m.d.sync += pend[i].eq(0)
            with m.If(sample_done):
                m.d.sync += all_done.eq(0)
        else:
            scores = [Signal(signed(p.acc_width), name=f"score{i}") for i in range(n_out)]
            for i in range(n_out):
                with m.If(ev3 & (g3 == i // P)):
                    m.d.sync += scores[i].eq(acc[i % P])
            avail = Signal(range(n_out + 1))    # neurons whose score is in its register
            q = counter(n_out, "q")
            with m.If(ev3):
                m.d.sync += avail.eq(avail + size_of(g3))
            last = q == n_out - 1
            m.d.comb += [self.o.valid.eq(q < avail), self.o.payload.value.eq(pick(scores, q)),
                         self.o.payload.last.eq(last), sample_done.eq(out_done & last)]
            with m.If(out_done):
                m.d.sync += q.eq(Mux(last, 0, q + 1))
            with m.If(sample_done):
                m.d.sync += avail.eq(0)
        with m.If(sample_done):
            m.d.sync += [phase.eq(Phase.IN), g.eq(0), n_ev.eq(0), fresh.eq(1)]

        # ---- counters of the sample in progress; reported with its last beat
        layout = counts_layout(p)
        syn, spk, upd = (Signal(layout.size, name=n) for n in ("syn", "spk", "upd"))
        syn_next, spk_next, upd_next = (Signal(layout.size, name=f"{n}_next") for n in ("syn", "spk", "upd"))
        enc_spike = take_ev if p.encode else Const(0)
        m.d.comb += [syn_next.eq(syn + Mux(v2 & ~null2, size_of(g2), 0)),
                     spk_next.eq(spk + spike_out + enc_spike),
                     upd_next.eq(upd + Mux(ev3, size_of(g3), 0))]
        with m.If(self.cnt.valid & self.cnt.ready):
            m.d.sync += self.cnt.valid.eq(0)
        with m.If(sample_done):
            m.d.sync += [self.cnt.valid.eq(1), self.cnt.payload.syn.eq(syn_next),
                         self.cnt.payload.spikes.eq(spk_next), self.cnt.payload.upd.eq(upd_next),
                         syn.eq(0), spk.eq(0), upd.eq(0)]
        with m.Else():
            m.d.sync += [syn.eq(syn_next), spk.eq(spk_next), upd.eq(upd_next)]
        return m
