"""Shared pieces of the per-core co-simulation modules (``sim/<core>.py``).

Each core module provides::

    corner_inputs(params) -> list           # 0, extremes, every threshold ± 1, …
    random_inputs(params, rng, n) -> list
    transactions(params, inputs) -> Transactions   # stimuli + golden beats + golden counts
    timing(params, SimResult) -> dict       # measured latency/interval lists, spikes, cycles

``verify`` (in :mod:`spikeforge.sim.verify`) runs one core through all of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..models.base import Counts

__all__ = ["Transactions", "dedup"]


@dataclass
class Transactions:
    """Stimuli per input port, golden beats per output port, golden operation counts."""

    stimuli: dict
    expected: dict
    counts: Counts


def dedup(values):
    """Keep the first occurrence of each value, in order."""
    seen, out = set(), []
    for v in values:
        key = repr(v)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out
