"""The digit-coding engine of network circuits (fs, amos): spike events in, shift-and-add.

One dense layer: P lanes of accumulators, the weights in an
:class:`amaranth.lib.memory.Memory` (one word of P weights per group and
input, as :class:`~spikeforge.hdl.mac_engine.MACEngine` lays them out), the
incoming events of a sample in a buffer memory for the groups after the
first. An event (j, t) adds w·d(t) to every lane: ``w << log2 d(t)`` when
every d(t) is a power of two (the ReLU tables: no multiplier), else one
constant-table multiplication per lane. The layer's neurons turn u = acc >>
shift into their spikes combinationally (FS: the K steps unrolled; AMOS: the
K gates), and the spikes leave as events, lowest neuron and step first; the
output layer sends its scores instead. The first engine also encodes the
circuit's input values into their ReLU digits.

Schedule and counters: :mod:`spikeforge.models.circuit_digits` and
docs/network.md ("Network circuits").
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..models.amos import AMOSParams
from ..models.base import unsigned_bits
from ..models.circuit_digits import DigitEngineParams
from ..models.fs import FSParams
from .common import accept_params
from .mac import counter, pick, rom_read
from .mac_engine import weight_words

__all__ = ["DigitEngine", "event_layout", "spike_mask"]


def event_layout(index_bits, step_bits):
    """An event beat: neuron index, step, and ``end`` (the sample's last beat, no spike)."""
    return data.StructLayout({"index": unsigned(index_bits), "step": unsigned(step_bits), "end": 1})


def counts_layout(p):
    """Per-inference counts on ``cnt``: synaptic operations ≤ events·n_out, spikes (the
    layer's, and the input's in the first engine), neuron updates ≤ n_out."""
    spikes = p.n_out * p.K_out + (p.n_in * p.K_in if p.encode_bits else 0)
    return data.StructLayout({"syn": unsigned_bits(p.max_events * p.n_out), "spikes": unsigned_bits(max(1, spikes)),
                              "upd": unsigned_bits(p.n_out)})


def spike_mask(m, neuron, u, name):
    """The spikes z(t) (bit t) of ``neuron`` for the input ``u``, as a comb signal; exact
    (every step's value is a signal as wide as its expression: nothing is truncated).
    The ReLU tables give the binary digits of clamp(u, 0, 2^K − 1), MSB first: two
    comparisons instead of K chained subtractions."""
    K = neuron.K
    bits = Signal(K, name=f"{name}_z")
    if neuron.is_relu:                          # the bit-shift ReLU tables: the digits of clamp(u)
        top = (1 << K) - 1
        y = Mux(u < 0, 0, Mux(u > top, top, u[:K]))
        m.d.comb += bits.eq(Cat(y[K - 1 - t] for t in range(K)))
    elif isinstance(neuron, FSParams):          # v ≥ T(t): spike, v −= h(t)
        v = u
        for t in range(K):
            m.d.comb += bits[t].eq(v >= neuron.T_table[t])
            nxt = Mux(bits[t], v - neuron.h_table[t], v)
            v_t = Signal(nxt.shape(), name=f"{name}_v{t + 1}")
            m.d.comb += v_t.eq(nxt)
            v = v_t
    elif isinstance(neuron, AMOSParams):        # c_i·u − Σ_{j<i} h_ij·z_j − T_i ≥ 0
        h = neuron.h_table
        for i in range(K):
            s = neuron.c_table[i] * u - neuron.T_table[i]
            for j in range(i):
                if h[i][j]:
                    s = s - Mux(bits[j], h[i][j], 0)
            m.d.comb += bits[i].eq(s >= 0)
    else:
        raise TypeError(f"no spike function for a {type(neuron).__name__}")
    return bits


def lowest_set(bits):
    """Index of the lowest set bit of ``bits`` (meaningless if none is set), by a tree of 2-way
    choices: log2(n) levels instead of a chain of n multiplexers."""
    n = 1 << max(1, (len(bits) - 1).bit_length())
    found = [bits[b] if b < len(bits) else Const(0, 1) for b in range(n)]
    level = [(lo | hi, ~lo) for lo, hi in zip(found[::2], found[1::2])]     # (found, index)
    while len(level) > 1:
        level = [(lo[0] | hi[0], Cat(Mux(lo[0], lo[1], hi[1]), ~lo[0]))
                 for lo, hi in zip(level[::2], level[1::2])]
    return level[0][1]


class Phase(enum.Enum, shape=3):
    IN = 0          # events of group 0 (and the buffer) from the input
    OUT = 1         # the output layer: a group's scores leave
    REPLAY = 2      # groups 1..G-1 re-read the buffered events
    EVAL = 3        # hidden layers: the group's neurons turn u into spikes (registered)
    DRAIN = 4       # hidden layers: the last group's spikes leave, then the end beat


class DigitEngine(wiring.Component):
    """A dense layer of FS or AMOS neurons (or the output layer), P lanes, weights in memory.

    Parameters
    ----------
    params : DigitEngineParams

    Members
    -------
    i : In(stream.Signature(event_layout(...)) or unsigned(encode_bits))
        Spike events, or in the first engine the n_in input values.
    o : Out(stream.Signature(event_layout(...) or {"value", "last"}))
        Spike events of the layer's neurons, or the output layer's scores.
    cnt : Out(stream.Signature(counts_layout(params)))
        One beat per inference once its last output beat has left.
    """

    def __init__(self, params):
        self.params = p = accept_params(self, params, DigitEngineParams)
        if p.encode_bits:
            in_shape = unsigned(p.encode_bits)
        else:
            in_shape = event_layout(p.index_bits, p.step_bits)
        if p.neuron is None:
            out = data.StructLayout({"value": signed(p.acc_width), "last": 1})
        else:
            out = event_layout(p.out_index_bits, p.out_step_bits)
        super().__init__({
            "i": In(stream.Signature(in_shape)),
            "o": Out(stream.Signature(out)),
            "cnt": Out(stream.Signature(counts_layout(p))),
        })

    @property
    def forward(self):
        """What the next engine receives of each beat on ``o``: the whole event."""
        return self.o.payload

    def _encoder(self, m):
        """Input values → their ReLU digits as events (step t = bit K−1−t), one per cycle.
        Returns (valid, payload fields, ready signal to drive, spike-transfer signal)."""
        p = self.params
        K, n_in = p.encode_bits, p.n_in
        rem = Signal(K)                         # rem[t]: the spike of step t still to send
        idx = counter(n_in, "enc_idx")
        j = counter(n_in, "enc_j")
        end_pending = Signal()
        ready = Signal()
        lowest = Const(0, p.step_bits)
        for t in reversed(range(K)):
            lowest = Mux(rem[t], t, lowest)
        left = Signal(range(K + 1))             # spikes in rem (a register: i.ready stays short)
        has = left != 0
        valid = has | end_pending
        transfer = valid & ready
        m.d.comb += self.i.ready.eq(~end_pending & (~has | ((left == 1) & ready)))
        with m.If(transfer & has):
            m.d.sync += [rem.eq(rem & (rem - 1)), left.eq(left - 1)]
        with m.If(transfer & ~has):
            m.d.sync += end_pending.eq(0)
        with m.If(self.i.valid & self.i.ready):
            x = self.i.payload
            m.d.sync += [rem.eq(Cat(x[K - 1 - t] for t in range(K))), left.eq(sum(x[t] for t in range(K))),
                         idx.eq(j), j.eq(Mux(j == n_in - 1, 0, j + 1))]
            with m.If(j == n_in - 1):
                m.d.sync += end_pending.eq(1)
        return valid, (idx, lowest, ~has), ready, transfer & has

    def elaborate(self, platform):
        p = self.params
        m = Module()
        P, G, n_in, wb = p.lane_count, p.groups, p.n_in, p.w_bits
        sizes = p.group_sizes
        phase = Signal(Phase)
        g = counter(G, "g")
        last_group = g == G - 1
        biases = [[p.bias[gg * P + l] if gg * P + l < p.n_out else 0 for gg in range(G)] for l in range(P)]
        acc = [Signal(signed(p.acc_width), name=f"acc{l}", init=biases[l][0]) for l in range(P)]

        # ---- the event input (the encoder's, in the first engine)
        if p.encode_bits:
            ev_valid, (ev_index, ev_step, ev_end), ev_ready, enc_spike = self._encoder(m)
        else:
            ev = self.i
            ev_valid, ev_index, ev_step, ev_end = ev.valid, ev.payload.index, ev.payload.step, ev.payload.end
            ev_ready, enc_spike = ev.ready, Const(0)
        m.d.comb += ev_ready.eq(phase == Phase.IN)
        take = ev_valid & ev_ready
        take_ev, take_end = take & ~ev_end, take & ev_end

        # ---- weights, and the buffer of the sample's events for groups 1..G-1
        m.submodules.weights = mem = Memory(shape=unsigned(P * wb), depth=G * n_in, init=weight_words(p))
        rd = mem.read_port()
        n_ev = Signal(range(p.max_events + 1))
        r = Signal(range(p.max_events + 2))    # the buffer address being read
        rr = Signal(range(p.max_events + 1))    # events still to issue in this replay
        live = Signal()                         # rr ≠ 0 in REPLAY (a register: short issue path)
        base = Signal(range(G * n_in))          # g·n_in, the group's first weight address
        issue, iss_index, iss_step = Signal(), Signal(p.index_bits), Signal(p.step_bits)
        if G > 1:
            entry = data.StructLayout({"index": unsigned(p.index_bits), "step": unsigned(p.step_bits)})
            m.submodules.events = buf = Memory(shape=entry, depth=p.max_events, init=[])
            buf_w, buf_r = buf.write_port(), buf.read_port()
            m.d.comb += [buf_w.addr.eq(n_ev), buf_w.data.index.eq(ev_index), buf_w.data.step.eq(ev_step),
                         buf_w.en.eq(take_ev), buf_r.addr.eq(Mux(phase == Phase.REPLAY, r, 0))]
            replaying = live
            m.d.comb += [issue.eq(take_ev | replaying),
                         iss_index.eq(Mux(replaying, buf_r.data.index, ev_index)),
                         iss_step.eq(Mux(replaying, buf_r.data.step, ev_step))]
        else:
            m.d.comb += [issue.eq(take_ev), iss_index.eq(ev_index), iss_step.eq(ev_step)]
        # a sender's events are consecutive: its weight word is read once per pass
        prev, fresh = Signal(p.index_bits), Signal(init=1)
        m.d.comb += [rd.addr.eq(base + iss_index),
                     rd.en.eq(issue & (fresh | (iss_index != prev)))]
        with m.If(issue):
            m.d.sync += [prev.eq(iss_index), fresh.eq(0)]
        with m.If(take_ev):
            m.d.sync += n_ev.eq(n_ev + 1)

        # ---- execute one cycle after the issue: acc += w·d(t)
        pending, step_q = Signal(), Signal(p.step_bits)
        m.d.sync += [pending.eq(issue), step_q.eq(iss_step)]
        if p.in_shifts is not None:             # a barrel shift by log2 d(t), shared by the lanes
            shifts = [max(s, 0) for s in p.in_shifts]
            amount = Signal(range(max(shifts) + 1)) if max(shifts) else 0      # d(t) ≤ 1: no shift
            nonzero = Signal()                  # d(t) ≠ 0
            if max(shifts):
                m.d.comb += amount.eq(rom_read(shifts, step_q))
            m.d.comb += nonzero.eq(rom_read([int(s >= 0) for s in p.in_shifts], step_q))
        with m.If(pending):
            for l, a in enumerate(acc):
                w = rd.data[l * wb:(l + 1) * wb].as_signed()
                if p.in_shifts is not None:
                    term = Mux(nonzero, w << amount, 0)
                else:
                    term = w * rom_read(p.in_d, step_q)
                m.d.sync += a.eq(a + term)

        summed = Phase.OUT if p.neuron is None else Phase.EVAL      # a group's sums are complete
        with m.If(take_end):
            m.d.sync += phase.eq(summed)
        with m.If(phase == Phase.REPLAY):
            m.d.sync += [r.eq(r + 1), rr.eq(rr - 1), live.eq(rr > 1)]
            with m.If(rr == 0):                 # the last event executes in this cycle
                m.d.sync += phase.eq(summed)

        # ---- the output side
        out_done = self.o.valid & self.o.ready
        size_now = Mux(last_group, sizes[-1], sizes[0])
        spike_out, upd_add = Signal(), Signal(range(P + 1))
        next_group, sample_done = Signal(), Signal()     # the sums of a group are used up
        if p.neuron is None:
            k = counter(P, "k")
            lane_done = k == size_now - 1
            m.d.comb += [self.o.valid.eq(phase == Phase.OUT),
                         self.o.payload.value.eq(pick(acc, k)),
                         self.o.payload.last.eq(lane_done & last_group),
                         next_group.eq(out_done & lane_done & ~last_group),
                         sample_done.eq(out_done & lane_done & last_group),
                         upd_add.eq(out_done)]
            with m.If(out_done):
                m.d.sync += k.eq(Mux(lane_done, 0, k + 1))
        else:
            K = p.K_out
            masks = []
            for l, a in enumerate(acc):
                u = Signal(signed(max(2, p.acc_width - p.shift)), name=f"u{l}")
                m.d.comb += u.eq(a.shift_right(p.shift))
                z = spike_mask(m, p.neuron, u, f"lane{l}")
                active = ~last_group if l >= sizes[-1] else Const(1)   # lanes past n_out
                masks.append(Mux(active, z, 0))
            # the emitter sends a group's registered spikes while the next group replays; lane l's
            # step t is bit l·Kp + t (Kp = K rounded up to a power of two: the lowest set bit's
            # index splits into lane and step without division)
            Kp = 1 << (K - 1).bit_length()
            masks = [Cat(z, Const(0, Kp - K)) if Kp > K else z for z in masks]
            spikes, sent, pend = Signal(P * Kp), Signal(P * Kp), Signal(P * Kp)
            em_g = counter(G, "em_g")
            m.d.comb += pend.eq(spikes & ~sent)
            has = pend.any()
            # the control reads `empty`, a register (no path from the spike registers to the
            # accumulators' enables): the emitter counts as empty one cycle after its last beat
            empty = Signal(init=1)              # ~has one cycle late; busy right after a load
            evaluate = (phase == Phase.EVAL) & empty        # waits for the emitter to be empty
            m.d.sync += empty.eq(~has & ~evaluate)
            first = lowest_set(pend)
            kb = Kp.bit_length() - 1
            lane = first[kb:] if P > 1 else Const(0, 1)
            step = first[:kb] if kb else Const(0, 1)
            m.d.comb += [self.o.valid.eq(has | ((phase == Phase.DRAIN) & empty)),
                         self.o.payload.index.eq(em_g * P + lane),
                         self.o.payload.step.eq(step),
                         self.o.payload.end.eq(~has),
                         next_group.eq(evaluate & ~last_group),
                         sample_done.eq((phase == Phase.DRAIN) & empty & self.o.ready),
                         spike_out.eq(out_done & has),
                         upd_add.eq(Mux(evaluate, size_now, 0))]
            with m.If(spike_out):                  # mark the sent bit: a decode of its index
                m.d.sync += sent.eq(sent | (Const(1, P * Kp) << first))
            with m.If(evaluate):
                m.d.sync += [spikes.eq(Cat(*masks)), sent.eq(0), em_g.eq(g)]
                with m.If(last_group):
                    m.d.sync += phase.eq(Phase.DRAIN)
        with m.If(sample_done):
            m.d.sync += [phase.eq(Phase.IN), g.eq(0), base.eq(0), n_ev.eq(0), fresh.eq(1)]
            m.d.sync += [a.eq(b[0]) for a, b in zip(acc, biases)]
        with m.If(next_group):
            m.d.sync += [phase.eq(Phase.REPLAY), g.eq(g + 1), base.eq(base + n_in), r.eq(1), rr.eq(n_ev),
                         live.eq(n_ev != 0), fresh.eq(1)]
            m.d.sync += [a.eq(rom_read(b, g + 1)) for a, b in zip(acc, biases)]

        # ---- counters of the inference in progress; reported with its last beat
        layout = counts_layout(p)
        syn, spk, upd = (Signal(layout.size, name=n) for n in ("syn", "spk", "upd"))
        syn_next, spk_next, upd_next = (Signal(layout.size, name=f"{n}_next") for n in ("syn", "spk", "upd"))
        m.d.comb += [syn_next.eq(syn + Mux(pending, size_now, 0)),
                     spk_next.eq(spk + spike_out + enc_spike),
                     upd_next.eq(upd + upd_add)]
        report = sample_done
        with m.If(self.cnt.valid & self.cnt.ready):
            m.d.sync += self.cnt.valid.eq(0)
        with m.If(report):
            m.d.sync += [self.cnt.valid.eq(1), self.cnt.payload.syn.eq(syn_next),
                         self.cnt.payload.spikes.eq(spk_next), self.cnt.payload.upd.eq(upd_next),
                         syn.eq(0), spk.eq(0), upd.eq(0)]
        with m.Else():
            m.d.sync += [syn.eq(syn_next), spk.eq(spk_next), upd.eq(upd_next)]
        return m
