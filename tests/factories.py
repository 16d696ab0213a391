"""Small shared helpers for the golden-model tests: exact-message matching,
integer ranges and hypothesis strategies for integer vectors and matrices.

Nothing here calls the code under test; expected values in the tests come
from naive Python-int reimplementations written next to each test.
"""

import re

from hypothesis import strategies as st


def exact(msg):
    """A ``pytest.raises(match=...)`` pattern that matches ``msg`` exactly."""
    return "^" + re.escape(msg) + "$"


def srange(bits):
    """Inclusive range of a signed ``bits``-wide integer."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def clamp(v, lo, hi):
    return min(max(v, lo), hi)


def ints(bits):
    """Strategy: any signed ``bits``-wide integer."""
    lo, hi = srange(bits)
    return st.integers(lo, hi)


def vectors(elements, n):
    """Strategy: a list of exactly ``n`` elements."""
    return st.lists(elements, min_size=n, max_size=n)


def matrices(elements, n_rows, n_cols):
    """Strategy: an ``n_rows`` × ``n_cols`` list of lists."""
    return vectors(vectors(elements, n_cols), n_rows)


def spike_trains(T, n):
    """Strategy: a T × n list of 0/1 lists."""
    return matrices(st.integers(0, 1), T, n)
