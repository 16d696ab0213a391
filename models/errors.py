"""The error hierarchy of spikeforge.

Every error a user can provoke with bad input is a :class:`SpikeforgeError`;
the CLI turns it into a one-line message and a non-zero exit code.
"""

import warnings

__all__ = ["SpikeforgeError", "ConfigError", "WidthError", "ToolError", "SimulationMismatch",
           "ProtocolError", "Interrupted", "SpikeforgeWarning", "warn"]


class SpikeforgeWarning(UserWarning):
    """Something the user should know that does not stop the work (e.g. a damaged cache entry)."""


def warn(message):
    """Issue a :class:`SpikeforgeWarning` (the CLI prints it as one ``warning:`` line)."""
    warnings.warn(message, SpikeforgeWarning, stacklevel=2)


class Interrupted(BaseException):
    """Raised by the CLI's signal handler on SIGTERM, so that ``finally`` blocks clean up.

    A BaseException like KeyboardInterrupt: ``except Exception`` must not swallow it.
    """

    def __init__(self, signum):
        self.signum = signum
        super().__init__(f"interrupted by signal {signum}")


class SpikeforgeError(Exception):
    """Base class of all errors raised on purpose by spikeforge."""


class ConfigError(SpikeforgeError, ValueError):
    """An invalid parameter, shape, file or option. The message names it."""


class WidthError(SpikeforgeError, OverflowError):
    """A state exceeded its declared bit width.

    Carries the name of the width parameter, the offending value and the
    admissible range, so a user can tell which width to raise.
    """

    def __init__(self, name, value, lo, hi):
        self.name, self.value, self.lo, self.hi = name, int(value), int(lo), int(hi)
        super().__init__(f"{name}: value {self.value} does not fit the declared width "
                         f"(range [{self.lo}, {self.hi}])")


class ToolError(SpikeforgeError, RuntimeError):
    """An external tool (Yosys, nextpnr, Verilator, ...) is missing or failed."""


class SimulationMismatch(SpikeforgeError, AssertionError):
    """RTL and golden model disagree.

    Attributes name the first differing cycle, the signal, and the expected
    (golden) and actual (RTL) values.
    """

    def __init__(self, cycle, signal, expected, actual, context=""):
        self.cycle, self.signal, self.expected, self.actual = cycle, signal, expected, actual
        self.context = context
        msg = (f"first mismatch at cycle {cycle}, signal {signal!r}: "
               f"expected {expected!r}, got {actual!r}")
        if context:
            msg += f" ({context})"
        super().__init__(msg)


class ProtocolError(SpikeforgeError, RuntimeError):
    """The host link failed: a malformed or missing reply, an ERROR frame from the board, a board
    running another design, or a serial port that is missing or silent. The message says which."""
