"""TTFS integrator layer RTL: n_out neurons in parallel, one input event per cycle,
built from :class:`TTFSParams`.

Math, sources and schedule: docs/cores/ttfs.md.
"""

from __future__ import annotations

from amaranth import Array, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..models.ttfs import TTFSParams
from .common import accept_params, const_rom

__all__ = ["TTFSLayer", "TTFS_HANDSHAKE"]

TTFS_HANDSHAKE = """\
Handshake: i carries one inference as spike events {index, tick, end=0} in
non-decreasing tick order (ticks 0..T0), then one end beat (end=1, other
fields ignored); an inference may have no events. The layer keeps a tick
counter t. An event with tick <= t is accepted at once (one per cycle; it
adds W[:, index] to every slope). When the head of i is valid and is the end
beat or has tick > t (t <= T0), or unconditionally for t > T0, the layer
advances: steps 2-5 of the event order run for tick t in that one cycle
(a tick without events costs one cycle). Spiking layer: the neurons that
fire in tick t are sent on o as {index, tick=t, end=0}, ascending index,
one beat per cycle; the tick process stalls while they are sent. After the
last tick (T0 + B) o sends one end beat {0, 0, end=1}. Output layer
(out_bits None): after tick T0 o sends n_out beats {index, value =
V_i - threshold_i, end} (end=1 on the last). The end beat of i is accepted
in the cycle the last o beat transfers (or later, if i is idle then); the
next inference starts the cycle after.
Latency: the first o beat of a tick is presented the cycle after its
advance; the end beat (or first readout) the cycle after the last tick's
advance and spikes. Initiation interval: data-dependent; with o.ready high
and back-to-back inputs an inference takes ticks + input events + output
beats cycles (first offered input beat to last output beat, inclusive),
output beats = spikes + 1 (spiking) or n_out (output layer); see
TTFSParams.cycle_count."""


class TTFSLayer(wiring.Component):
    """A layer of TTFS integrate-and-fire neurons (docs/cores/ttfs.md; Stanojevic 2023,
    eqs. 3.2, 3.9–3.10), multiplication-free.

    For every neuron i, in tick t (the event order of :mod:`spikeforge.models.ttfs`)::

        1. slope_i += W_ij           for each input spike j at tick t (one per cycle)
        2. t = T0:  slope_i := 2^F   (at-most-one)  or  slope_i += α_i (exactly-one)
        3. V_i += slope_i
        4. T0 ≤ t ≤ T0 + k_max, not fired, V_i ≥ ϑ_i:  i fires at t
        5. exactly-one, t = T0 + B: every neuron that has not fired fires

    Steps 2–5 take one cycle per tick for all neurons in parallel. The weights
    are constants: one ROM column W[i, ·] per neuron, indexed by the event's
    input index (indices ≥ n_in add 0); ϑ_i and α_i are constants too.

    Parameters
    ----------
    params : TTFSParams
        Weights, thresholds, slope shift F, windows (T0, B, k_max, last_tick),
        variant and the widths, as in effect (``theta``, ``slope_width``, ``v_width``).

    Members
    -------
    i : In(stream.Signature({"index", "tick", "end"}))
        Input spike events of one inference, then an end beat.
    o : Out(stream.Signature({"index", "tick", "end"}))
        Spiking layer: output spikes (layer-local tick) in tick order, then an end beat.
        Output layer: Out(stream.Signature({"index", "value", "end"})), n_out readouts.

    Raises
    ------
    TypeError
        If ``params`` is not a :class:`TTFSParams`.
    ConfigError
        If the declared slope_bits or v_bits cannot hold the proven range.
    """

    handshake = TTFS_HANDSHAKE

    def __init__(self, params):
        self.params = p = accept_params(self, params, TTFSParams, [
            ("slope_bits", getattr(params, "slope_interval", None)),
            ("v_bits", getattr(params, "v_interval", None))])
        i_layout = data.StructLayout({"index": unsigned(p.in_index_bits),
                                      "tick": unsigned(p.in_tick_bits), "end": 1})
        if p.spiking:
            o_layout = data.StructLayout({"index": unsigned(p.out_index_bits),
                                          "tick": unsigned(p.out_tick_bits), "end": 1})
        else:
            o_layout = data.StructLayout({"index": unsigned(p.out_index_bits),
                                          "value": signed(p.readout_bits), "end": 1})
        super().__init__({"i": In(stream.Signature(i_layout)), "o": Out(stream.Signature(o_layout))})

    def elaborate(self, platform):
        p = self.params
        m = Module()
        n, f = p.n_out, p.slope
        slope = [Signal(signed(p.slope_width), name=f"slope{k}") for k in range(n)]
        V = [Signal(signed(p.v_width), name=f"v{k}") for k in range(n)]
        t = Signal(range(p.last_tick + 1))
        done = Signal()             # all ticks advanced: send the rest of o, then take the end beat
        sent = Signal()             # the last o beat of the inference has been sent
        head = self.i.payload

        # -- input events (step 1) and the tick advance (steps 2-5) --
        later = Signal()            # the head of i belongs to a later tick (or ends the inference)
        inputs_open = Signal()      # t ≤ T0: input events may still arrive
        stall = Signal()            # spikes of the previous tick still to be sent
        event_ready, take_event, advance = Signal(), Signal(), Signal()
        m.d.comb += [
            later.eq(head.end | (head.tick > t)),
            inputs_open.eq((t <= p.T0) if p.last_tick > p.T0 else 1),
            event_ready.eq(~done & inputs_open & ~later),
            take_event.eq(event_ready & self.i.valid),
            advance.eq(~done & ~stall & Mux(inputs_open, self.i.valid & later, 1)),
        ]
        is_T0 = Signal()
        m.d.comb += is_T0.eq(t == p.T0)
        v_next = []
        for k in range(n):
            column = const_rom(list(p.weights[k]) + [0] * ((1 << p.in_index_bits) - p.n_in))
            with m.If(take_event):
                m.d.sync += slope[k].eq(slope[k] + column[head.index])
            s_next = Signal(signed(p.slope_width), name=f"slope_next{k}")
            m.d.comb += s_next.eq(slope[k])
            with m.If(is_T0):
                if p.variant == "at_most_one":
                    m.d.comb += s_next.eq(f)
                else:
                    m.d.comb += s_next.eq(slope[k] + int(p.alpha[k]))
            vn = Signal(signed(p.v_width), name=f"v_next{k}")
            m.d.comb += vn.eq(V[k] + s_next)
            v_next.append(vn)
            with m.If(advance):
                m.d.sync += [slope[k].eq(s_next), V[k].eq(vn)]
        with m.If(advance):
            with m.If(t == p.last_tick):
                m.d.sync += done.eq(1)
            with m.Else():
                m.d.sync += t.eq(t + 1)

        if p.spiking:
            last_out, state = self._spikes(m, p, t, v_next, advance, done, sent, stall)
        else:
            last_out, state = self._readout(m, p, V, done, sent)

        # -- the end beat of i: taken with (or after) the last o beat, then start over --
        take_end = Signal()
        m.d.comb += [
            self.i.ready.eq(Mux(done, sent | last_out, event_ready)),
            take_end.eq(done & self.i.ready & self.i.valid),
        ]
        with m.If(last_out):
            m.d.sync += sent.eq(1)
        with m.If(take_end):
            m.d.sync += [x.eq(0) for x in (t, done, sent, *slope, *V, *state)]
        return m

    def _spikes(self, m, p, t, v_next, advance, done, sent, stall):
        """Steps 4-5 and the spike/end beats on o.

        Returns the signal 'the end beat transfers now' and the registers to clear per inference."""
        n = p.n_out
        fired = Signal(n)
        pending = Signal(n)         # neurons that fired in tick t_spk, not yet sent
        t_spk = Signal(unsigned(p.out_tick_bits))
        fire = Signal(n)
        window = Signal()           # T0 ≤ t ≤ T0 + k_max (step 4)
        hi = (t <= p.T0 + p.k_max) if p.T0 + p.k_max < p.last_tick else 1
        m.d.comb += window.eq((t >= p.T0) & hi)
        forced = (t == p.T0 + p.B) if p.variant == "exactly_one" else Const(0)     # step 5
        for k in range(n):
            m.d.comb += fire[k].eq(window & ~fired[k] & ((v_next[k] >= int(p.theta[k])) | forced))
        with m.If(advance):
            m.d.sync += [pending.eq(fire), fired.eq(fired | fire), t_spk.eq(t)]
        m.d.comb += stall.eq(pending.any())

        lowest = Signal(unsigned(p.out_index_bits))
        for k in reversed(range(n)):
            with m.If(pending[k]):
                m.d.comb += lowest.eq(k)
        end_beat = Signal()
        m.d.comb += [
            end_beat.eq(done & ~pending.any() & ~sent),
            self.o.valid.eq(pending.any() | end_beat),
            self.o.payload.end.eq(~pending.any()),
        ]
        with m.If(pending.any()):
            m.d.comb += [self.o.payload.index.eq(lowest), self.o.payload.tick.eq(t_spk)]
        with m.If(self.o.ready & pending.any()):
            m.d.sync += pending.eq(pending & (pending - 1))         # clear the lowest set bit
        last_out = Signal()
        m.d.comb += last_out.eq(end_beat & self.o.ready)
        return last_out, [fired]

    def _readout(self, m, p, V, done, sent):
        """Non-spiking output layer: n_out beats V_i − ϑ_i after tick T0 (returns as _spikes)."""
        n = p.n_out
        r = Signal(unsigned(p.out_index_bits))
        # one constant subtraction per neuron, then the mux: no constant-only ROM, whose
        # case block Icarus would never evaluate while r stays at its initial value
        diff = []
        for k in range(n):
            d = Signal(signed(p.readout_bits), name=f"readout{k}")
            m.d.comb += d.eq(V[k] - int(p.theta[k]))
            diff.append(d)
        pad = (1 << p.out_index_bits) - n                    # full mux: no incomplete case
        value = Signal(signed(p.readout_bits))
        m.d.comb += value.eq(Array(diff + [Const(0, signed(p.readout_bits))] * pad)[r])
        active = Signal()
        m.d.comb += [
            active.eq(done & ~sent),
            self.o.valid.eq(active),
            self.o.payload.index.eq(r),
            self.o.payload.value.eq(value),
            self.o.payload.end.eq(r == n - 1),
        ]
        last_out = Signal()
        m.d.comb += last_out.eq(active & self.o.ready & (r == n - 1))
        with m.If(active & self.o.ready):
            m.d.sync += r.eq(r + 1)
            with m.If(r == n - 1):
                m.d.sync += r.eq(0)
        return last_out, []
