"""AMOS unit RTL: K threshold neurons in space, one pipeline stage per neuron, built from :class:`AMOSParams`.

Math, sources and schedule: docs/cores/amos.md.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..models.amos import AMOSParams, gain_form
from .common import accept_params

__all__ = ["AMOSUnit", "AMOS_HANDSHAKE"]

AMOS_HANDSHAKE = """\
Handshake: a K-stage pipeline, one stage per neuron. A beat on i (x, or
{x, x2} for the two-input form) is accepted whenever the pipeline advances:
i.ready = ~o.valid | o.ready (combinational in o.ready). While o holds a
beat that is not taken the whole pipeline stalls. Each x yields one beat on
o: o.z, bit i-1 = z_i (neuron 1 in bit 0). Latency: the beat of an x is
presented K cycles after x is accepted (transfers then if o.ready is high);
a new x can be accepted every cycle (II = 1); idle input cycles travel as
bubbles. n back-to-back inputs take n + K - 1 cycles from the first accept
to the last output beat."""


def _gain(x, g):
    """g·x for a constant gain: nothing, a shift (±2^k) or a constant multiplication."""
    form = gain_form(g)
    if form[0] == "zero":
        return None
    if form[0] == "mult":
        return x * g
    _, k, negative = form
    t = x << k if k else x
    return -t if negative else t


def _tree_sum(terms):
    """Balanced adder tree of ``terms`` (None for an empty list)."""
    terms = list(terms)
    if not terms:
        return None
    while len(terms) > 1:
        terms = [terms[k] + terms[k + 1] if k + 1 < len(terms) else terms[k]
                 for k in range(0, len(terms), 2)]
    return terms[0]


class AMOSUnit(wiring.Component):
    """One AMOS unit, K threshold neurons in space (docs/cores/amos.md;
    Stöckl & Maass 2020, eqs. 2–4, 7)::

        z_i = Θ(c_i·x (+ c'_i·x') − Σ_{j<i} h_ij·z_j − T_i),   Θ(u) = [u ≥ 0]

    Stage i of the pipeline computes z_i from what stage i−1 registered and
    registers z_1..z_i. All datapath arithmetic is modulo 2^u_bits: two's
    complement add, subtract and multiply commute with truncation, and every
    gate potential u_i lies in the signed u_bits range (``u_interval``, checked
    against the declared ``u_bits``), so Θ(u_i) is the sign bit of a u_bits
    wide sum. Three forms, chosen by the parameters:

    - shared inhibition, uniform gains (``folded_gains``; ReLU): stage 1 forms
      v = c·x (+ c'·x') − T_1; each stage carries the residual as the next gate
      potential, z_i = Θ(v), v ← v + step_i[z_i] (``residual_steps``: a mux of
      two constants and one adder). ReLU (c = 1) has no multiplier at all.
    - shared inhibition, different gains: stages carry x (x'), and the
      residual v = −T_(i+1) − Σ_(j≤i) h_j·z_j; u_i = c_i·x (+ c'_i·x') + v.
    - otherwise: stages carry x (x') and the earlier spikes; u_i subtracts
      an adder tree of constant muxes z_j ? h_ij : 0.

    Gains 0, ±1 and ±2^k are wiring and shifts; other gains are constant
    multiplications (``gain_multiplications`` counts them).

    Parameters
    ----------
    params : AMOSParams
        Widths (x_bits, x2_bits, u_width) and parameters (c_table, c2, T_table, h_table), as in effect.

    Members
    -------
    i : In(stream.Signature(signed(x_bits)))
        Input x; for the two-input form the payload is
        ``StructLayout({"x": signed(x_bits), "x2": signed(x2_bits)})``.
    o : Out(stream.Signature(StructLayout({"z": unsigned(K)})))
        One beat per input: the spikes, bit i−1 = z_i.

    Raises
    ------
    TypeError
        If ``params`` is not an :class:`AMOSParams`.
    ConfigError
        If the declared u_bits cannot hold the proven range of the gate potentials.
    """

    handshake = AMOS_HANDSHAKE

    def __init__(self, params):
        self.params = p = accept_params(self, params, AMOSParams,
                                        [("u_bits", getattr(params, "u_interval", None))])
        if p.two_inputs:
            x_shape = data.StructLayout({"x": signed(p.x_bits), "x2": signed(p.x2_bits)})
        else:
            x_shape = signed(p.x_bits)
        super().__init__({
            "i": In(stream.Signature(x_shape)),
            "o": Out(stream.Signature(data.StructLayout({"z": unsigned(p.K)}))),
        })

    def elaborate(self, platform):
        p = self.params
        m = Module()
        n, K = p.u_width, p.K

        def const(v):                      # a constant of the datapath, modulo 2^u_bits
            return Const(v, signed(n))

        def gains(i, x, x2):
            terms = [_gain(x, p.c_table[i])] + ([_gain(x2, p.c2[i])] if p.two_inputs else [])
            return [t for t in terms if t is not None]

        advance = Signal()
        valid = [Signal(name=f"valid{i + 1}") for i in range(K)]
        m.d.comb += [
            advance.eq(~valid[-1] | self.o.ready),
            self.i.ready.eq(advance),
            self.o.valid.eq(valid[-1]),
        ]
        if p.two_inputs:
            x, x2 = self.i.payload.x, self.i.payload.x2
        else:
            x, x2 = self.i.payload, None
        z_prev = None                      # z_1..z_(i) registered by the previous stage
        v = const(p.residual_start) if p.shared_inhibition else None
        steps = p.residual_steps if p.shared_inhibition else ()
        for i in range(K):                 # stage i+1 computes neuron i+1
            u = Signal(signed(n), name=f"u{i + 1}")
            if p.folded_gains:
                m.d.comb += u.eq(_tree_sum([v] + (gains(0, x, x2) if i == 0 else [])))
                if i == 0:
                    v = u                  # the residual entering stage 1 is u_1 itself
            elif p.shared_inhibition:
                m.d.comb += u.eq(_tree_sum([v] + gains(i, x, x2)))
            else:
                inhibition = [Mux(z_prev[j], const(h), 0) for j, h in enumerate(p.h_table[i]) if h]
                terms = gains(i, x, x2) + [-const(p.T_table[i])]
                if inhibition:
                    terms.append(-_tree_sum(inhibition))
                m.d.comb += u.eq(_tree_sum(terms))
            z = Signal(i + 1, name=f"z{i + 1}")
            spike = ~u[-1]                 # Θ(u): sign bit clear
            vin = self.i.valid if i == 0 else valid[i - 1]
            load = Signal(name=f"load{i + 1}")   # data registers load valid beats only: bubbles
            m.d.comb += load.eq(advance & vin)   # passing through switch nothing but valid bits
            with m.If(advance):
                m.d.sync += valid[i].eq(vin)
            with m.If(load):
                m.d.sync += z.eq(spike if z_prev is None else Cat(z_prev, spike))
            if i < K - 1:
                if p.shared_inhibition:
                    v_next = Signal(signed(n), name=f"v{i + 1}")
                    with m.If(load):
                        m.d.sync += v_next.eq(v + Mux(spike, const(steps[i][1]), const(steps[i][0])))
                    v = v_next
                if not p.folded_gains:
                    x_next = Signal(signed(p.x_bits), name=f"x{i + 1}")
                    with m.If(load):
                        m.d.sync += x_next.eq(x)
                    x = x_next
                    if p.two_inputs:
                        x2_next = Signal(signed(p.x2_bits), name=f"x2_{i + 1}")
                        with m.If(load):
                            m.d.sync += x2_next.eq(x2)
                        x2 = x2_next
            z_prev = z
        m.d.comb += self.o.payload.z.eq(z_prev)
        return m
