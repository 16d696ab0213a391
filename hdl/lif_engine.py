"""The shift-and-add LIF engine of network circuits (``lif``): rate-coded input, spike events per step.

One dense layer of LIF neurons (leak by shifts and adds, reset to zero after
a spike), P lanes, the weights in an :class:`amaranth.lib.memory.Memory` (one
word of P weights per group and input, laid out as
:class:`~spikeforge.hdl.mac_engine.MACEngine` does), the states of the
neurons in a memory of G words of P states (registers when G = 1):

- *step masks*: the first engine takes the n_in input values of a sample and
  compares them, a step at a time, with the LFSR draws of that step (the
  LFSR of :mod:`spikeforge.models.lfsr`, re-seeded per sample, so its draws
  are the same for every sample: a memory of T words of n_in draws): input
  j spikes at step t iff x_j > r_{t,j}. A later engine gathers the events of
  a step into a mask of n_in bits and writes it, at the end-of-step beat, into
  a ring of T masks, so that it never stalls the engine before it.
- *issue*: the events of a step's mask, lowest input first (a tree priority
  encoder), one per cycle, for each group in turn (a step without events
  issues one empty item); each reads its group's weight word; the first
  item of a group also reads the group's states.
- *execute*, one cycle later: acc += w; the first item starts from the leaked
  state b + (1 − χ)·Σ_ι (v >> ι) (0 in the first step; χ = v ≥ ϑ). After the
  group's last item acc is the new state v_t (the *finalize*): it is written
  back, and the group's spikes v_t ≥ ϑ go to the emitter (hidden layer) or
  add to the neurons' spike counts (output layer). A finalize waits until
  the emitter sends its last beat (or the scores have left).
- *emitter*: a group's spikes leave one per cycle, lowest neuron first; after
  the last group of a step, the end-of-step beat.
- *scores* (output layer): after the last finalize of step T − 1, the n_out
  scores one per cycle: count·C + rank of the final membrane among the C
  outputs (comparisons of the final membranes: rank_i = #{j: v_j < v_i} +
  #{j < i: v_j = v_i}), or the final membrane (readout "membrane").

Schedule, cycles and counters: :mod:`spikeforge.models.circuit_lif` and
docs/network.md ("Network circuits").
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..models.base import unsigned_bits
from ..models.circuit_lif import LIFEngineParams
from .common import accept_params
from .digit_engine import lowest_set
from .mac import counter, pick, rom_read
from .mac_engine import weight_words
from .rate_engine import event_layout

__all__ = ["LIFEngine", "counts_layout"]


def counts_layout(p):
    """Per-sample counts on ``cnt``, each as wide as its largest value."""
    return data.StructLayout({"syn": unsigned_bits(p.max_syn), "spikes": unsigned_bits(max(1, p.max_spikes)),
                              "upd": unsigned_bits(p.time_steps * p.n_out)})


def _wrap(c, n):
    """``c + 1`` modulo ``n`` (a counter of 0..n−1)."""
    return Mux(c == n - 1, 0, c + 1)


def _group_words(m, name, G, P, shape, raddr, ren, waddr, we, wdata):
    """P words of ``shape`` per group: a memory of G words (synchronous read of ``raddr``
    when ``ren``: the words appear one cycle later and hold while ``ren`` is low), or
    registers when G = 1. Returns the P read values."""
    bits = shape.width
    if G == 1:
        regs = [Signal(shape, name=f"{name}{l}") for l in range(P)]
        with m.If(we):
            m.d.sync += [r.eq(d) for r, d in zip(regs, wdata)]
        return regs
    m.submodules[name] = mem = Memory(shape=unsigned(P * bits), depth=G, init=[])
    wr, rd = mem.write_port(), mem.read_port()
    m.d.comb += [wr.addr.eq(waddr), wr.en.eq(we), wr.data.eq(Cat(*wdata)), rd.addr.eq(raddr), rd.en.eq(ren)]
    words = [rd.data[l * bits:(l + 1) * bits] for l in range(P)]
    return [w.as_signed() for w in words] if shape.signed else words


class LIFEngine(wiring.Component):
    """A dense layer of a shift-and-add LIF network (see the module docstring).

    Parameters
    ----------
    params : LIFEngineParams

    Members
    -------
    i : In(stream.Signature(unsigned(in_bits) or event_layout(...)))
        The n_in input values of a sample (first engine), or per step the spike
        events then an end beat.
    o : Out(stream.Signature(event_layout(...) or {"value", "last"}))
        Per step the spike events then an end beat, or the n_out scores.
    cnt : Out(stream.Signature(counts_layout(params)))
        One beat per sample once its last state is final.
    """

    def __init__(self, params):
        self.params = p = accept_params(self, params, LIFEngineParams)
        in_shape = unsigned(p.in_bits) if p.encode else event_layout(p.index_bits)
        if p.output:
            out = data.StructLayout({"value": signed(p.acc_width), "last": 1})
        else:
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

    # ---- the masks of the steps: (available, mask) of the oldest step not yet taken
    def _encoder_masks(self, m, load):
        """The first engine: the input values in registers, compared with the step's draws."""
        p = self.params
        n_in, T, ib = p.n_in, p.time_steps, p.in_bits
        x = [Signal(ib, name=f"x{j}") for j in range(n_in)]
        loaded = counter(n_in, "loaded")
        full = Signal()                          # all n_in values of the sample are in
        m.d.comb += self.i.ready.eq(~full)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [*(x[j].eq(x[j + 1]) for j in range(n_in - 1)), x[-1].eq(self.i.payload)]
            m.d.sync += loaded.eq(_wrap(loaded, n_in))
            with m.If(loaded == n_in - 1):
                m.d.sync += full.eq(1)
        words = [sum(r << (j * ib) for j, r in enumerate(row)) for row in p.draws]
        m.submodules.draws = rom = Memory(shape=unsigned(n_in * ib), depth=T, init=words)
        rd = rom.read_port()
        t = counter(T, "t_src")
        m.d.comb += rd.addr.eq(Mux(load, _wrap(t, T), t))
        with m.If(load):
            m.d.sync += t.eq(_wrap(t, T))
            with m.If(t == T - 1):
                m.d.sync += full.eq(0)
        mask = Cat(x[j] > rd.data[j * ib:(j + 1) * ib] for j in range(n_in))
        return full, mask

    def _ring_masks(self, m, load):
        """A later engine: the events of a step gathered into a mask, a ring of T masks."""
        p = self.params
        n_in, T = p.n_in, p.time_steps
        gather = Signal(n_in)
        avail = Signal(range(T + 1))
        m.d.comb += self.i.ready.eq(avail != T)
        take = self.i.valid & self.i.ready
        end = take & self.i.payload.end
        with m.If(take & ~self.i.payload.end):
            m.d.sync += gather.eq(gather | (Const(1, n_in) << self.i.payload.index)[:n_in])
        with m.If(end):
            m.d.sync += gather.eq(0)
        m.d.sync += avail.eq(avail + end - load)
        wt, rt = counter(T, "t_write"), counter(T, "t_read")
        with m.If(end):
            m.d.sync += wt.eq(_wrap(wt, T))
        with m.If(load):
            m.d.sync += rt.eq(_wrap(rt, T))
        if T == 1:
            ring = Signal(n_in, name="ring")
            with m.If(end):
                m.d.sync += ring.eq(gather)
            return avail != 0, ring
        m.submodules.ring = mem = Memory(shape=unsigned(n_in), depth=T, init=[])
        wr = mem.write_port()
        rd = mem.read_port(transparent_for=(wr,))
        m.d.comb += [wr.addr.eq(wt), wr.data.eq(gather), wr.en.eq(end),
                     rd.addr.eq(Mux(load, _wrap(rt, T), rt))]
        return avail != 0, rd.data

    def elaborate(self, platform):
        p = self.params
        L = p.layer
        m = Module()
        P, G, n_in, T = p.lane_count, p.groups, p.n_in, p.time_steps
        wb, vb, sb = p.w_bits, p.v_bits, p.sum_bits
        th = L.threshold
        sizes = p.group_sizes
        bias = L.bias_values
        biases = [[bias[gg * P + l] if gg * P + l < p.n_out else 0 for gg in range(G)] for l in range(P)]

        load = Signal()
        if p.encode:
            avail, src_mask = self._encoder_masks(m, load)
        else:
            avail, src_mask = self._ring_masks(m, load)

        # ---- issue: the events of the step's mask, group by group
        mask, sent, have = Signal(n_in), Signal(n_in), Signal()
        g, t = counter(G, "g"), counter(T, "t")
        stall, advance = Signal(), Signal()
        pend = Signal(n_in)
        m.d.comb += pend.eq(mask & ~sent)
        idx = lowest_set(pend)
        null = ~pend.any()
        last_item = (pend & (pend - 1)) == 0
        last_group = g == G - 1
        m.d.comb += [advance.eq(have & ~stall),
                     load.eq(avail & (~have | (advance & last_item & last_group)))]
        with m.If(advance):
            with m.If(last_item):
                m.d.sync += sent.eq(0)
                with m.If(last_group):
                    m.d.sync += [g.eq(0), t.eq(_wrap(t, T)), have.eq(0)]
                with m.Else():
                    m.d.sync += g.eq(g + 1)
            with m.Else():
                m.d.sync += sent.eq(sent | (pend & (~pend + 1)))
        with m.If(load):
            m.d.sync += [mask.eq(src_mask), have.eq(1)]

        m.submodules.weights = wmem = Memory(shape=unsigned(P * wb), depth=G * n_in, init=weight_words(p))
        rd = wmem.read_port()
        m.d.comb += [rd.addr.eq(g * n_in + idx), rd.en.eq(~stall)]

        # ---- execute: one cycle after the issue
        xv, x_first, x_last, x_null = Signal(), Signal(), Signal(), Signal()
        x_g, x_t = counter(G, "x_g"), counter(T, "x_t")
        with m.If(~stall):
            m.d.sync += [xv.eq(advance), x_first.eq(sent == 0), x_last.eq(last_item), x_null.eq(null),
                         x_g.eq(g), x_t.eq(t)]
        execute = xv & ~stall
        final = execute & x_last                 # the group's states are final
        first_step, last_step = x_t == 0, x_t == T - 1
        x_last_group = x_g == G - 1

        v_new = [Signal(signed(vb), name=f"v{l}_new") for l in range(P)]
        v = _group_words(m, "states", G, P, signed(vb), g, ~stall, x_g, final, v_new)
        acc = [Signal(signed(sb), name=f"acc{l}") for l in range(P)]
        spikes = []
        for l in range(P):
            leak = Signal(signed(sb), name=f"leak{l}")
            m.d.comb += leak.eq(sum(v[l] >> s for s in L.leak_shifts))
            reset = first_step | (v[l] >= th) if L.spiking else first_step
            base = rom_read(biases[l], x_g) + Mux(reset, 0, leak)
            w = rd.data[l * wb:(l + 1) * wb].as_signed()
            nxt = Signal(signed(sb), name=f"acc{l}_next")
            m.d.comb += [nxt.eq(Mux(x_first, base, acc[l]) + Mux(x_null, 0, w)), v_new[l].eq(nxt)]
            with m.If(execute):
                m.d.sync += acc[l].eq(nxt)
            active = ~x_last_group if l >= sizes[-1] else Const(1)     # lanes past n_out
            s = Signal(name=f"s{l}")
            m.d.comb += s.eq((v_new[l] >= th) & active if L.spiking else 0)
            spikes.append(s)
        size_x = Mux(x_last_group, sizes[-1], sizes[0])
        sample_done = final & last_step & x_last_group

        # ---- the output side
        out_done = self.o.valid & self.o.ready
        if p.output:
            busy = self._scores(m, final, last_step, x_g, v_new, spikes, first_step, out_done, g, ~stall)
            m.d.comb += stall.eq(xv & x_last & busy)
        else:
            em, em_sent, em_end = Signal(P), Signal(P), Signal()
            em_g = counter(G, "em_g")
            em_pend = Signal(P)
            m.d.comb += em_pend.eq(em & ~em_sent)
            has = em_pend.any()
            lane = lowest_set(em_pend)
            m.d.comb += [self.o.valid.eq(has | em_end),
                         self.o.payload.index.eq(em_g * P + lane),
                         self.o.payload.end.eq(~has)]
            single = (em_pend & (em_pend - 1)) == 0
            free = Signal()
            m.d.comb += [free.eq(~self.o.valid | (out_done & Mux(has, single & ~em_end, 1))),
                         stall.eq(xv & x_last & ~free)]
            with m.If(out_done):
                with m.If(has):
                    m.d.sync += em_sent.eq(em_sent | (em_pend & (~em_pend + 1)))
                with m.Else():
                    m.d.sync += em_end.eq(0)
            with m.If(final):
                m.d.sync += [em.eq(Cat(*spikes)), em_sent.eq(0), em_g.eq(x_g), em_end.eq(x_last_group)]

        # ---- counters of the sample in progress; reported with its last finalize
        layout = counts_layout(p)
        syn, spk, upd = (Signal(layout.size, name=n) for n in ("syn", "spk", "upd"))
        syn_next, spk_next, upd_next = (Signal(layout.size, name=f"{n}_next") for n in ("syn", "spk", "upd"))
        event = execute & ~x_null
        in_spike = event & (x_g == 0) if p.encode else Const(0)
        m.d.comb += [syn_next.eq(syn + Mux(event, size_x, 0)),
                     spk_next.eq(spk + in_spike + Mux(final, sum(spikes), 0)),
                     upd_next.eq(upd + Mux(final, size_x, 0))]
        with m.If(self.cnt.valid & self.cnt.ready):
            m.d.sync += self.cnt.valid.eq(0)
        with m.If(sample_done):
            m.d.sync += [self.cnt.valid.eq(1), self.cnt.payload.syn.eq(syn_next),
                         self.cnt.payload.spikes.eq(spk_next), self.cnt.payload.upd.eq(upd_next),
                         syn.eq(0), spk.eq(0), upd.eq(0)]
        with m.Else():
            m.d.sync += [syn.eq(syn_next), spk.eq(spk_next), upd.eq(upd_next)]
        return m

    def _scores(self, m, final, last_step, x_g, v_new, spikes, first_step, out_done, raddr, ren):
        """The output layer: spike counts kept with the states, the final membranes and counts
        in registers, then the scores one per cycle. Returns the busy signal (scores leaving)."""
        p = self.params
        P, G, C, vb = p.lane_count, p.groups, p.n_out, p.v_bits
        final_v = [Signal(signed(vb), name=f"final_v{i}") for i in range(C)]
        counting = p.readout == "count"
        if counting:
            cb = p.count_bits
            c_new = [Signal(cb, name=f"c{l}_new") for l in range(P)]
            c = _group_words(m, "counts", G, P, unsigned(cb), raddr, ren, x_g, final, c_new)
            final_c = [Signal(cb, name=f"final_c{i}") for i in range(C)]
        busy = Signal()
        k = counter(C, "k")
        with m.If(final & last_step):
            for i in range(C):
                gi, l = divmod(i, P)
                with m.If(x_g == gi):
                    m.d.sync += final_v[i].eq(v_new[l])
                    if counting:
                        m.d.sync += final_c[i].eq(c_new[l])
            with m.If(x_g == G - 1):
                m.d.sync += busy.eq(1)
        vk = pick(final_v, k)
        if counting:
            for l in range(P):
                m.d.comb += c_new[l].eq(Mux(first_step, 0, c[l]) + spikes[l])
            rank = sum(Mux((final_v[j] < vk) | ((j < k) & (final_v[j] == vk)), 1, 0) for j in range(C))
            value = pick(final_c, k) * C + rank
        else:
            value = vk
        m.d.comb += [self.o.valid.eq(busy), self.o.payload.value.eq(value),
                     self.o.payload.last.eq(k == C - 1)]
        with m.If(out_done):
            m.d.sync += k.eq(_wrap(k, C))
            with m.If(k == C - 1):
                m.d.sync += busy.eq(0)
        return busy
