"""Energy proxy (see docs/network.md, "Energy proxy"): counted operations × a cited per-operation energy.

Source of the table: M. Horowitz, "Computing's energy problem (and what we
can do about it)", ISSCC 2014, 45 nm, 0.9 V:

    integer add   8 bit 0.03 pJ   32 bit 0.1 pJ
    integer mult  8 bit 0.2 pJ    32 bit 3.1 pJ
    SRAM read     8 kB array, 64-bit word: 10 pJ

Other widths are derived, and labelled so: adds linearly between (and
beyond) the 8- and 32-bit points, multiplications ∝ width² from the 8-bit
point (32 bit → 3.2 pJ against the table's 3.1), memory reads ∝ word width
from the 64-bit figure. Spikes travel on wires inside one core and cost no
table entry. This is a *proxy*: it ranks designs by operation counts, it is
not a power measurement.
"""

from __future__ import annotations

__all__ = ["ENERGY_SOURCE", "ENERGY_TABLE", "add_pj", "mult_pj", "mem_pj", "energy_breakdown"]

ENERGY_SOURCE = ("M. Horowitz, \"Computing's energy problem (and what we can do about it)\", "
                 "ISSCC 2014, 45 nm")
ENERGY_TABLE = {"add8_pj": 0.03, "add32_pj": 0.1, "mult8_pj": 0.2, "mult32_pj": 3.1,
                "sram8kB_read64_pj": 10.0}


def add_pj(bits):
    """Integer add of ``bits`` bits (linear through the 8- and 32-bit points, ≥ 0.005 pJ)."""
    t = ENERGY_TABLE
    return max(0.005, t["add8_pj"] + (bits - 8) * (t["add32_pj"] - t["add8_pj"]) / 24)


def mult_pj(bits):
    """Integer multiply of ``bits``×``bits`` bits (∝ bits² from the 8-bit point)."""
    return ENERGY_TABLE["mult8_pj"] * (bits / 8) ** 2


def mem_pj(bits):
    """Read of a ``bits``-bit word from a small SRAM (∝ width from the 64-bit figure)."""
    return ENERGY_TABLE["sram8kB_read64_pj"] * bits / 64


def energy_breakdown(layer_stats):
    """Energy per inference in pJ, by operation kind, from a network run's layer stats."""
    out = {"synaptic_adds": 0.0, "state_updates": 0.0, "multiplications": 0.0, "memory_reads": 0.0}
    for s in layer_stats:
        c, w = s.counts, s.widths
        n = max(1, c.inferences)
        out["synaptic_adds"] += c.synaptic_adds / n * add_pj(w.get("add", 8))
        out["state_updates"] += c.state_updates / n * add_pj(w.get("state", 8))
        out["multiplications"] += c.multiplications / n * mult_pj(w.get("mult", 8))
        out["memory_reads"] += c.memory_reads / n * mem_pj(w.get("word", 8))
    out["total"] = sum(out.values())
    return out
