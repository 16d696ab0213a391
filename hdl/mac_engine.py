"""The MAC layer engine of network circuits: ``lanes`` multipliers, weights in a memory.

Like :class:`~spikeforge.hdl.ann.MACLayer` (the same groups of ``lanes``
neurons, the same input buffer, the same re-quantization), but the weights
are read from an :class:`amaranth.lib.memory.Memory` with a synchronous
read port — one word of ``lanes`` weights per address g·n_in + j — so that
synthesis maps them to block RAM (iCE40 EBR, ECP5 DP16KD) instead of
logic. The read takes a cycle: the operand is registered with the address
and the product is added one cycle after the issue. Each engine also
counts, per inference, its synaptic operations (one per active lane and
MAC) and its state updates (one per neuron output), and reports them on
``cnt`` when the inference's last output has left.

Schedule and counters: docs/network.md ("Network circuits").
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..models.ann import MACParams
from ..models.base import unsigned_bits
from .common import accept_params
from .mac import counter, pick, rom_read

__all__ = ["MACEngine", "counts_layout"]

def counts_layout(p):
    """The per-inference counts a MAC engine reports on ``cnt``, each as wide as its largest
    value: synaptic operations ≤ n_in·n_out, state updates ≤ n_out, no spikes."""
    return data.StructLayout({"syn": unsigned_bits(p.n_in * p.n_out), "spikes": 1,
                              "upd": unsigned_bits(p.n_out)})


class Phase(enum.Enum, shape=2):
    IN = 0          # group 0 takes inputs from i
    MAC = 1         # groups 1..G-1 read the input buffer
    OUT = 2         # a group presents its outputs on o


def weight_words(p):
    """Memory words: address g·n_in + j holds the weights of group g's lanes for input j,
    lane l in bits [l·w_bits, (l+1)·w_bits) (two's complement; 0 for lanes past n_out)."""
    lanes, wb, mask = p.lane_count, p.w_bits, (1 << p.w_bits) - 1
    words = []
    for g in range(p.groups):
        for j in range(p.n_in):
            word = 0
            for l in range(lanes):
                i = g * lanes + l
                if i < p.n_out:
                    word |= (p.weights[i][j] & mask) << (l * wb)
            words.append(word)
    return words


class MACEngine(wiring.Component):
    """A dense layer of integer ANN neurons, ``lanes`` at a time, weights in a memory.

    Parameters
    ----------
    params : MACParams
        The layer (weights, bias, shift, widths) and ``lanes`` = P.

    Members
    -------
    i : In(stream.Signature(unsigned(in_bits)))
        The n_in input values of each inference, in order.
    o : Out(stream.Signature({"value": …, "last": 1}))
        The n_out outputs of each inference (activations, or signed scores
        for the output layer), ``last`` on the last.
    cnt : Out(stream.Signature(counts_layout(params)))
        One beat per inference once its last output has left: synaptic
        operations, spikes (0) and state updates.
    """

    def __init__(self, params):
        self.params = p = accept_params(self, params, MACParams,
                                        [("acc_bits", getattr(params, "acc_interval", None))])
        in_shape = signed(p.in_bits) if p.in_signed else unsigned(p.in_bits)
        out_shape = signed(p.acc_width) if p.out_bits is None else unsigned(p.out_bits)
        super().__init__({
            "i": In(stream.Signature(in_shape)),
            "o": Out(stream.Signature(data.StructLayout({"value": out_shape, "last": 1}))),
            "cnt": Out(stream.Signature(counts_layout(p))),
        })

    @property
    def forward(self):
        """What the next engine receives of each beat on ``o``: the value."""
        return self.o.payload.value

    def requantize(self, acc):
        p = self.params
        if p.out_bits is None:
            return acc
        q = acc.shift_right(p.shift)
        return Mux(q < 0, 0, Mux(q > p.out_max, p.out_max, q))

    def elaborate(self, platform):
        p = self.params
        m = Module()
        G, n_in, lanes, wb = p.groups, p.n_in, p.lane_count, p.w_bits
        acc = [Signal(signed(p.acc_width), name=f"acc{l}") for l in range(lanes)]
        phase = Signal(Phase)
        g = counter(G, "g")
        j = counter(n_in, "j")
        k = counter(lanes, "k")

        m.submodules.weights = mem = Memory(shape=unsigned(lanes * wb), depth=G * n_in,
                                            init=weight_words(p))
        rd = mem.read_port()
        if G > 1:                               # the inputs, re-read by groups 1..G-1
            m.submodules.inputs = buf = Memory(shape=self.i.payload.shape(), depth=n_in, init=[])
            buf_w, buf_r = buf.write_port(), buf.read_port()

        sizes = p.group_sizes
        lane_done = Signal()
        m.d.comb += lane_done.eq(k == Mux(g == G - 1, sizes[-1] - 1, sizes[0] - 1))
        last_group = g == G - 1
        pending = Signal()                      # the last issued MAC executes this cycle
        out_done = self.o.valid & self.o.ready
        m.d.comb += [
            self.o.valid.eq((phase == Phase.OUT) & ~pending),
            self.o.payload.value.eq(self.requantize(pick(acc, k))),
            self.o.payload.last.eq(lane_done & last_group),
            self.i.ready.eq((phase == Phase.IN) | (out_done & lane_done & last_group)),
        ]

        # issue: address and operand registered; execute: acc += w·x one cycle later
        take_in = self.i.valid & self.i.ready
        next_group = out_done & lane_done & ~last_group
        from_buf = Signal()
        issue, mac_g, mac_j = Signal(), counter(G, "mac_g"), counter(n_in, "mac_j")
        m.d.comb += [
            from_buf.eq(((phase == Phase.MAC) | next_group) if G > 1 else 0),
            issue.eq(take_in | from_buf),
            mac_g.eq(Mux(next_group, g + 1, Mux(phase == Phase.MAC, g, 0))),
            mac_j.eq(Mux(phase == Phase.OUT, 0, j)),
            rd.addr.eq(mac_g * n_in + mac_j),
        ]
        # the operand: the input beat (group 0, registered with the issue) or the buffer word
        # read at the issue (groups 1..G-1), both ready for the execute one cycle later
        x_in_q, from_buf_q = Signal(self.i.payload.shape()), Signal()
        first_q, g_q = Signal(), counter(G, "g_q")
        m.d.sync += [pending.eq(issue), x_in_q.eq(self.i.payload), from_buf_q.eq(from_buf),
                     first_q.eq(mac_j == 0), g_q.eq(mac_g)]
        if G > 1:
            m.d.comb += [buf_w.addr.eq(mac_j), buf_w.data.eq(self.i.payload), buf_w.en.eq(take_in),
                         buf_r.addr.eq(mac_j)]
            x_q = Mux(from_buf_q, buf_r.data, x_in_q)
        else:
            x_q = x_in_q
        biases = [[p.bias_values[gg * lanes + l] if gg * lanes + l < p.n_out else 0 for gg in range(G)]
                  for l in range(lanes)]
        with m.If(pending):
            for l, a in enumerate(acc):
                w = rd.data[l * wb:(l + 1) * wb].as_signed()
                m.d.sync += a.eq(Mux(first_q, rom_read(biases[l], g_q), a) + w * x_q)

        with m.If(out_done):
            m.d.sync += k.eq(k + 1)
            with m.If(lane_done):
                m.d.sync += [k.eq(0), g.eq(0), j.eq(0), phase.eq(Phase.IN)]
        with m.If(issue):
            m.d.sync += g.eq(mac_g)
            with m.If(mac_j == n_in - 1):
                m.d.sync += [phase.eq(Phase.OUT), k.eq(0), j.eq(0)]
            with m.Elif(mac_g == 0):
                m.d.sync += [phase.eq(Phase.IN), j.eq(mac_j + 1)]
            with m.Else():
                m.d.sync += [phase.eq(Phase.MAC), j.eq(mac_j + 1)]

        # counters of the inference in progress; reported once its last output has left
        layout = counts_layout(p)
        syn, upd = Signal(layout.size), Signal(layout.size)
        active = Signal(range(lanes + 1))
        m.d.comb += active.eq(Mux(g_q == G - 1, sizes[-1], sizes[0]))
        syn_next, upd_next = Signal(layout.size), Signal(layout.size)
        m.d.comb += [syn_next.eq(syn + Mux(pending, active, 0)),
                     upd_next.eq(upd + out_done)]
        report = Signal()
        m.d.comb += report.eq(out_done & lane_done & last_group)
        with m.If(self.cnt.valid & self.cnt.ready):
            m.d.sync += self.cnt.valid.eq(0)
        with m.If(report):
            m.d.sync += [self.cnt.valid.eq(1), self.cnt.payload.syn.eq(syn_next),
                         self.cnt.payload.upd.eq(upd_next), self.cnt.payload.spikes.eq(0),
                         syn.eq(0), upd.eq(0)]
        with m.Else():
            m.d.sync += [syn.eq(syn_next), upd.eq(upd_next)]
        return m
