"""Multiply-accumulate datapath shared by the ANN MAC layer and the direct-input IF layer.

``lanes`` accumulators work in parallel, each with its own multiplier; a
lane serves neuron g·lanes + l while group g is processed. Weights and
biases are constant ROMs addressed by group and input index, read from the
parameter object's tuples as they are.

Constant tables are :class:`~spikeforge.hdl.common.ConstRom` words padded
to the full range of their index, register files are read through a tree
of 2-way multiplexers over the index bits (:func:`pick`): the Verilog has
only continuous assignments there, no ``case`` that could be incomplete and
no ``always @*`` block that Icarus leaves at X when none of its inputs ever
changes after time 0 (a register read at a constant index).

See docs/cores/ann.md and docs/cores/if.md (direct input).
"""

from __future__ import annotations

from amaranth import Mux, Signal

from .common import const_rom

__all__ = ["counter", "pick", "rom_read", "lane_tables", "mac_step"]


def counter(n, name=None):
    """A register counting 0..n−1, at least one bit wide (no zero-width signals)."""
    return Signal(range(max(n, 2)), name=name)


def pick(values, index):
    """``values[index]`` by a multiplexer tree over the bits of ``index`` (LSB first);
    indices past the end read the last value."""
    level = list(values)
    for bit in range(len(index)):
        if len(level) == 1:
            break
        level = [Mux(index[bit], level[n + 1] if n + 1 < len(level) else level[n], level[n])
                 for n in range(0, len(level), 2)]
    return level[0]


def rom_read(values, index):
    """A constant ROM of the integers ``values`` read at ``index`` (0 past the end);
    a Python int ``index`` reads the constant itself."""
    values = list(values)
    if isinstance(index, int):
        return values[index]
    return const_rom(values + [0] * ((1 << len(index)) - len(values)))[index]


def lane_tables(weights, bias, lanes, groups):
    """Per-lane tables: weights (lane l, address g·n_in + j: weights[g·lanes + l][j])
    and biases (address g: bias[g·lanes + l]); 0 where the last group is short.
    ``groups`` is the parameter object's group count (ceil(n_out / lanes))."""
    n_out, n_in = len(weights), len(weights[0])
    rows = [[g * lanes + l for g in range(groups)] for l in range(lanes)]
    w = [[weights[i][j] if i < n_out else 0 for i in r for j in range(n_in)] for r in rows]
    b = [[bias[i] if i < n_out else 0 for i in r] for r in rows]
    return w, b


def mac_step(m, acc, x, weights, address, biases, group, first, enable):
    """On ``enable``: acc[l] <= (bias[l][group] if first else acc[l]) + weight[l][address]·x.

    ``acc``: the lane accumulators (signed, of the declared width; the true sum
    always fits, so the wider sum is truncated without loss). ``x``: the input
    value (its shape decides signed or unsigned multiplication). ``weights``,
    ``biases``: per-lane integer tables (see :func:`lane_tables`).
    """
    with m.If(enable):
        for a, w, b in zip(acc, weights, biases):
            m.d.sync += a.eq(Mux(first, rom_read(b, group), a) + rom_read(w, address) * x)
