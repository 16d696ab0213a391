"""Switching activity from a simulation waveform: bit toggles per signal.

A *toggle* is one bit changing value between two successive value changes
of a signal in the VCD (the Hamming distance of the two values). Changes
before ``after`` (e.g. the end of reset) and the clock/reset signals are
not counted. The result is a proxy of dynamic power (α·C·V²·f with C and V
unknown), measured on the simulated circuit.
"""

from __future__ import annotations

import io
import re

from vcd.reader import TokenKind, tokenize

__all__ = ["count_toggles"]

# Verilator writes identifiers with '$' (its top scope ``$rootio``, Amaranth's
# ``$auto$…`` nets) that pyvcd's tokenizer rejects: the header's scope and
# variable names are rewritten ('$' → '_') before parsing; values are untouched.
_NAME = re.compile(rb"(\$scope\s+\S+\s+|\$var\s+\S+\s+\d+\s+\S+\s+)(\S+)")


def _clean_header(head):
    return _NAME.sub(lambda m: m.group(1) + m.group(2).replace(b"$", b"_"), head)


def _bits(value):
    """A VCD scalar/vector value as an int (x/z count as 0)."""
    if isinstance(value, int):
        return value
    if value is None:
        return 0
    s = str(value).lower().replace("x", "0").replace("z", "0")
    try:
        return int(s, 2)
    except ValueError:
        return 0


def count_toggles(vcd_path, after=0, skip=("clk", "rst"), top_scopes=("_rootio",)):
    """Total bit toggles and the per-signal counts (name → toggles) of a VCD file.

    Signals of the simulator's own top scope (``top_scopes``: the testbench's
    view of the ports) are skipped; every net inside the design is counted.
    """
    names, last, counts = {}, {}, {}
    scope = []
    now = 0
    with open(vcd_path, "rb") as f:
        data = f.read()
    head, sep, body = data.partition(b"$enddefinitions")
    for tok in tokenize(io.BytesIO(_clean_header(head) + sep + body)):
        kind = tok.kind
        if kind is TokenKind.SCOPE:
            scope.append(tok.data.ident)
        elif kind is TokenKind.UPSCOPE:
            scope.pop()
        elif kind is TokenKind.VAR:
            ref = tok.data.reference
            if ref not in skip and scope and scope[0] not in top_scopes:
                names.setdefault(tok.data.id_code, ".".join(scope + [ref]))
        elif kind is TokenKind.CHANGE_TIME:
            now = tok.data
        elif kind in (TokenKind.CHANGE_SCALAR, TokenKind.CHANGE_VECTOR):
            code = tok.data.id_code
            if code not in names:
                continue
            v = _bits(tok.data.value)
            if code in last and now > after:
                flips = bin(last[code] ^ v).count("1")
                if flips:
                    counts[names[code]] = counts.get(names[code], 0) + flips
            last[code] = v
    return sum(counts.values()), counts
