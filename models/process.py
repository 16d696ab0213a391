"""Running external tools (Yosys, nextpnr, Verilator, SymbiYosys, …) safely.

Every tool runs in its own process group with a time limit. When the limit
passes, or spikeforge itself is interrupted (SIGINT/SIGTERM), the whole group
(the tool and its children) is killed before the error propagates, so no
tool outlives the command that started it. The limit is
``SPIKEFORGE_TOOL_TIMEOUT`` seconds (default :data:`DEFAULT_TIMEOUT`); a run
that exceeds it is a :class:`~spikeforge.models.errors.ToolError` naming the
tool and the limit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

from .errors import ConfigError, ToolError

__all__ = ["run_tool", "tool_timeout", "tool_version", "DEFAULT_TIMEOUT", "kill_group"]

#: seconds a single tool run may take unless SPIKEFORGE_TOOL_TIMEOUT says otherwise
DEFAULT_TIMEOUT = 3600


def tool_timeout(default=DEFAULT_TIMEOUT):
    """The time limit in seconds for one tool run."""
    raw = os.environ.get("SPIKEFORGE_TOOL_TIMEOUT")
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1
    if not value > 0:
        raise ConfigError(f"SPIKEFORGE_TOOL_TIMEOUT must be a positive number of seconds, not {raw!r}")
    return value


def kill_group(proc):
    """Kill ``proc`` and every process of its group; reap it."""
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        proc.kill()
    with contextlib.suppress(Exception):
        proc.wait(timeout=10)


def run_tool(argv, *, name=None, cwd=None, env=None, stdout=None, input=None, timeout=None, text=True):
    """Run ``argv`` like :func:`subprocess.run` with ``capture_output`` (or into ``stdout``,
    an open file, with stderr joined to it), in a new process group, within the time limit.

    Returns the :class:`subprocess.CompletedProcess`; a tool that cannot start
    or runs out of time raises :class:`ToolError` (the caller judges the exit code).
    """
    name = name or os.path.basename(str(argv[0]))
    limit = tool_timeout() if timeout is None else timeout
    out = subprocess.PIPE if stdout is None else stdout
    err = subprocess.PIPE if stdout is None else subprocess.STDOUT
    try:
        proc = subprocess.Popen([str(a) for a in argv], cwd=cwd, env=env, stdout=out, stderr=err,
                                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                                text=text, start_new_session=True)
    except OSError as e:
        raise ToolError(f"{name} could not start: {argv[0]} ({e.strerror or e})") from None
    try:
        o, e = proc.communicate(input, timeout=limit)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        raise ToolError(f"{name} did not finish within {limit:g} s and was stopped "
                        f"(set SPIKEFORGE_TOOL_TIMEOUT=SECONDS to allow longer)") from None
    except BaseException:
        kill_group(proc)
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, o, e)


_VERSIONS = {}


def tool_version(argv, *, name, last=False, timeout=None):
    """The version line a tool prints for ``argv`` (e.g. ``[exe, "--version"]``), asked once per
    process and per executable (its path and modification time, so a tool chosen through the
    environment or reinstalled is asked again): the first non-empty line of its output, or
    the last with ``last`` (YoWASP prints a "Preparing …" line before it; such lines are
    skipped). A failing run is a :class:`~spikeforge.models.errors.ToolError`."""
    argv = [str(a) for a in argv]
    try:
        key = (tuple(argv), os.stat(argv[0]).st_mtime_ns)
    except OSError:
        key = None
    if key in _VERSIONS:
        return _VERSIONS[key]
    p = run_tool(argv, name=name, timeout=timeout)
    out = (p.stdout or "") + (p.stderr or "")
    if p.returncode != 0:
        raise ToolError(f"{name}: '{' '.join(argv)}' failed (exit {p.returncode}): {out.strip()[-300:]}")
    lines = [line.strip() for line in out.splitlines() if line.strip() and "Preparing" not in line]
    version = (lines[-1] if last else lines[0]) if lines else "unknown"
    if key is not None:
        _VERSIONS[key] = version
    return version
