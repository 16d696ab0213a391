"""Integer ANN MAC layer RTL: ``lanes`` multipliers, built from :class:`MACParams`.

Math and schedule: docs/cores/ann.md.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from ..models.ann import MACParams
from .common import accept_params
from .mac import counter, lane_tables, mac_step, pick

__all__ = ["MACLayer", "MAC_HANDSHAKE"]

MAC_HANDSHAKE = """\
Handshake: an inference is n_in beats x_0..x_{n_in-1} on i, then n_out beats
{value, last} on o in neuron order (last marks neuron n_out-1). Neurons form
G = ceil(n_out/lanes) groups of lanes: group 0 multiplies each x_j as it is
accepted (and buffers it when G > 1); groups 1..G-1 re-read the buffer, one
x_j per cycle; after its n_in MAC cycles a group presents its outputs, one
per cycle while o.ready is high (o stalls otherwise), re-quantized as they
leave. The next group's first MAC, or the next inference's first input,
shares the cycle of the group's last output beat; i.ready is low while
groups 1..G-1 compute or outputs are pending. Latency (first x accepted to
last output beat) = II (first x to next first x) = G*n_in + n_out - G cycles
with input back to back and o.ready high."""


class Phase(enum.Enum, shape=2):
    IN = 0          # group 0 takes inputs from i
    MAC = 1         # groups 1..G-1 read the input buffer
    OUT = 2         # a group presents its outputs on o


class MACLayer(wiring.Component):
    """A layer of integer ANN neurons computed by multiply-accumulate (docs/cores/ann.md)::

        acc_i = b_i + Σ_j W_ij·x_j
        y_i   = clamp(acc_i >> shift, 0, 2^out_bits − 1)     (arithmetic shift)
        y_i   = acc_i                                       (out_bits None: logits)

    ``lanes`` multipliers (real ``*``, constant weight ROMs per lane) update
    ``lanes`` accumulators at once; the groups of neurons are processed one
    after another from an input buffer.

    Parameters
    ----------
    params : MACParams
        Weights, bias, shift, widths and lanes, as in effect (``bias_values``,
        ``acc_width``, ``lane_count``).

    Members
    -------
    i : In(stream.Signature(signed(in_bits) or unsigned(in_bits)))
        The n_in input values of each inference, in order.
    o : Out(stream.Signature({"value": unsigned(out_bits) or signed(acc_bits), "last": 1}))
        The n_out outputs of each inference, in neuron order; ``last`` on the last.

    Raises
    ------
    TypeError
        If ``params`` is not a :class:`MACParams`.
    ConfigError
        If the declared acc_bits cannot hold the proven accumulator range.
    """

    handshake = MAC_HANDSHAKE

    def __init__(self, params):
        self.params = p = accept_params(self, params, MACParams,
                                        [("acc_bits", getattr(params, "acc_interval", None))])
        in_shape = signed(p.in_bits) if p.in_signed else unsigned(p.in_bits)
        out_shape = signed(p.acc_width) if p.out_bits is None else unsigned(p.out_bits)
        super().__init__({
            "i": In(stream.Signature(in_shape)),
            "o": Out(stream.Signature(data.StructLayout({"value": out_shape, "last": 1}))),
        })

    def requantize(self, acc):
        """clamp(acc >> shift, 0, 2^out_bits − 1), or acc itself for logits."""
        p = self.params
        if p.out_bits is None:
            return acc
        top = p.out_max
        q = acc.shift_right(p.shift)
        return Mux(q < 0, 0, Mux(q > top, top, q))

    def elaborate(self, platform):
        p = self.params
        m = Module()
        G, n_in, lanes = p.groups, p.n_in, p.lane_count
        acc = [Signal(signed(p.acc_width), name=f"acc{l}") for l in range(lanes)]
        phase = Signal(Phase)
        g = counter(G, "g")                     # group being computed or presented
        j = counter(n_in, "j")                  # next input index
        k = counter(lanes, "k")                 # lane being presented
        buf = [Signal(self.i.payload.shape(), name=f"x{n}") for n in range(n_in)] if G > 1 else []

        sizes = p.group_sizes
        lane_done = Signal()                    # the group's last output beat
        m.d.comb += lane_done.eq(k == Mux(g == G - 1, sizes[-1] - 1, sizes[0] - 1))
        last_group = g == G - 1
        out_done = self.o.valid & self.o.ready
        m.d.comb += [
            self.o.valid.eq(phase == Phase.OUT),
            self.o.payload.value.eq(self.requantize(pick(acc, k))),
            self.o.payload.last.eq(lane_done & last_group),
            self.i.ready.eq((phase == Phase.IN) | (out_done & lane_done & last_group)),
        ]

        # one MAC per cycle: from i (group 0) or from the buffer (groups 1..G-1); the next
        # group's first MAC shares the cycle of the previous group's last output beat
        take_in = self.i.valid & self.i.ready
        next_group = out_done & lane_done & ~last_group
        from_buf = Signal()
        mac_en, mac_g, mac_j = Signal(), counter(G, "mac_g"), counter(n_in, "mac_j")
        x = Signal(self.i.payload.shape())
        m.d.comb += [
            from_buf.eq(((phase == Phase.MAC) | next_group) if G > 1 else 0),
            mac_en.eq(take_in | from_buf),
            mac_g.eq(Mux(next_group, g + 1, Mux(phase == Phase.MAC, g, 0))),
            mac_j.eq(Mux(phase == Phase.OUT, 0, j)),
            x.eq(Mux(from_buf, pick(buf, mac_j), self.i.payload) if G > 1 else self.i.payload),
        ]
        for n, reg in enumerate(buf):
            with m.If(take_in & (mac_j == n)):
                m.d.sync += reg.eq(self.i.payload)
        address = counter(G * n_in, "address")
        m.d.comb += address.eq(mac_g * n_in + mac_j)
        weights, biases = lane_tables(p.weights, p.bias_values, lanes, p.groups)
        mac_step(m, acc, x, weights, address, biases, mac_g, mac_j == 0, mac_en)

        with m.If(out_done):
            m.d.sync += k.eq(k + 1)
            with m.If(lane_done):             # back to idle, unless a MAC starts below
                m.d.sync += [k.eq(0), g.eq(0), j.eq(0), phase.eq(Phase.IN)]
        with m.If(mac_en):
            m.d.sync += g.eq(mac_g)
            with m.If(mac_j == n_in - 1):
                m.d.sync += [phase.eq(Phase.OUT), k.eq(0), j.eq(0)]
            with m.Elif(mac_g == 0):
                m.d.sync += [phase.eq(Phase.IN), j.eq(mac_j + 1)]
            with m.Else():
                m.d.sync += [phase.eq(Phase.MAC), j.eq(mac_j + 1)]
        return m
