"""A whole network as one circuit: layer engines chained by streams, and counters.

Built from a :class:`~spikeforge.models.circuit.CircuitParams` (the design
and the parallelism P of each dense layer). Each dense layer becomes the
network engine its coding names in the registry; engines are chained by
ready/valid streams, so a layer works on one sample while the layer before
it starts the next. Ports are laid out for a host (the board top adds a
UART in front of them):

- ``i``: the n_inputs input values of a sample, in order (unsigned input_bits);
- ``o``: the n_outputs scores of a sample, ``last`` on the last;
- ``c``: one beat per sample once its last score has left: ``cycles`` from
  its first input beat to its last score beat, and the sum over the layers
  of its synaptic operations, spikes and state updates.

Counters and schedule: docs/network.md ("Network circuits").
"""

from __future__ import annotations

from amaranth import Module, Signal, signed, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..models.circuit import COUNTER_BITS, CircuitParams
from ..models.errors import ConfigError
from ..models.registry import get_core
from .skid import SkidBuffer

__all__ = ["NetworkCircuit", "CIRCUIT_HANDSHAKE", "COUNTERS_LAYOUT", "network_verilog"]


def network_verilog(cp):
    """Deterministic Verilog of the circuit of ``cp`` (top module ``spikeforge_network``)."""
    from .export import to_verilog
    return to_verilog(NetworkCircuit(cp), "network", cp)

#: the per-sample record on port ``c``
COUNTERS_LAYOUT = data.StructLayout({"cycles": COUNTER_BITS, "synaptic_ops": COUNTER_BITS,
                                     "spikes": COUNTER_BITS, "state_updates": COUNTER_BITS})

CIRCUIT_HANDSHAKE = """\
Handshake: a sample is n_inputs beats on i (input values, in order); its
n_outputs scores leave on o in order (last on the last), then one beat on c
with its counters: cycles from its first input beat accepted to its last
score beat, synaptic operations, spikes and state updates summed over the
layers. Samples may follow each other back to back: the layers work on
different samples at once; the counters stay in sample order."""


class NetworkCircuit(wiring.Component):
    """The circuit of a whole network (see the module docstring).

    Parameters
    ----------
    params : CircuitParams

    Members
    -------
    i : In(stream.Signature(unsigned(input_bits)))
    o : Out(stream.Signature({"value": signed(score_bits), "last": 1}))
    c : Out(stream.Signature(COUNTERS_LAYOUT))
    """

    handshake = CIRCUIT_HANDSHAKE

    def __init__(self, params):
        if not isinstance(params, CircuitParams):
            self._MustUse__silence = True
            raise TypeError(f"expected a CircuitParams object, not {params!r}")
        self.params = cp = params
        core = get_core(cp.network.coding)
        engine = core.resolve("engine")
        try:
            self.engines = [engine(p) for p in cp.engines]
            for e in self.engines:              # elaborated with the circuit, if it is
                e._MustUse__silence = True
        except ConfigError:
            self._MustUse__silence = True
            raise
        super().__init__({
            "i": In(stream.Signature(unsigned(cp.input_bits))),
            "o": Out(stream.Signature(data.StructLayout({"value": signed(cp.score_bits), "last": 1}))),
            "c": Out(stream.Signature(COUNTERS_LAYOUT)),
        })

    def elaborate(self, platform):
        cp = self.params
        m = Module()
        L = len(self.engines)
        depth = 2 * L + 2                   # samples between a layer's report and the join
        for n, e in enumerate(self.engines):
            m.submodules[f"layer{n}"] = e

        # the chain: i → engine 0 → slice → … → engine L−1 → slice → o; the register slices cut
        # the ready/valid paths between engines (values only between layers)
        first = self.engines[0]
        m.d.comb += [first.i.valid.eq(self.i.valid), first.i.payload.eq(self.i.payload),
                     self.i.ready.eq(first.i.ready)]
        for n, (a, b) in enumerate(zip(self.engines, self.engines[1:] + [None])):
            beat = a.o.payload if b is None else a.forward
            m.submodules[f"slice{n}"] = s = SkidBuffer(beat.shape())
            m.d.comb += [s.i.valid.eq(a.o.valid), a.o.ready.eq(s.i.ready), s.i.payload.eq(beat)]
            if b is not None:
                wiring.connect(m, s.o, b.i)
            else:
                wiring.connect(m, s.o, wiring.flipped(self.o))
        # cycles: the time of each sample's first input beat, subtracted at its last score beat
        now = Signal(COUNTER_BITS)
        m.d.sync += now.eq(now + 1)
        beat = Signal(range(max(cp.n_inputs, 2)))
        took = self.i.valid & self.i.ready
        with m.If(took):
            with m.If(beat == cp.n_inputs - 1):
                m.d.sync += beat.eq(0)
            with m.Else():
                m.d.sync += beat.eq(beat + 1)
        m.submodules.starts = starts = fifo.SyncFIFOBuffered(width=COUNTER_BITS, depth=depth)
        m.d.comb += [starts.w_data.eq(now), starts.w_en.eq(took & (beat == 0))]
        m.submodules.done = done = fifo.SyncFIFOBuffered(width=COUNTER_BITS, depth=depth)
        finished = self.o.valid & self.o.ready & self.o.payload.last
        m.d.comb += [done.w_data.eq(now - starts.r_data), done.w_en.eq(finished),
                     starts.r_en.eq(finished)]

        # per-layer counts, joined in sample order with the cycles
        counts = []
        for n, e in enumerate(self.engines):
            q = fifo.SyncFIFOBuffered(width=e.cnt.payload.shape().size, depth=depth)
            m.submodules[f"counts{n}"] = q
            m.d.comb += [q.w_data.eq(e.cnt.payload.as_value()), q.w_en.eq(e.cnt.valid),
                         e.cnt.ready.eq(q.w_rdy)]
            counts.append(q)
        ready_all = done.r_rdy
        for q in counts:
            ready_all = ready_all & q.r_rdy
        views = [data.View(e.cnt.payload.shape(), q.r_data) for e, q in zip(self.engines, counts)]
        syn = spikes = upd = 0
        for v in views:
            syn, spikes, upd = syn + v.syn, spikes + v.spikes, upd + v.upd
        # the joined record is registered (the sums stay off the port's path)
        c = self.c
        load = ready_all & (~c.valid | c.ready)
        with m.If(c.valid & c.ready):
            m.d.sync += c.valid.eq(0)
        with m.If(load):
            m.d.sync += [c.valid.eq(1), c.payload.cycles.eq(done.r_data), c.payload.synaptic_ops.eq(syn),
                         c.payload.spikes.eq(spikes), c.payload.state_updates.eq(upd)]
        m.d.comb += done.r_en.eq(load)
        for q in counts:
            m.d.comb += q.r_en.eq(load)
        return m
