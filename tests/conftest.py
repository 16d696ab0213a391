"""Shared test settings.

Hypothesis runs at least 200 examples per property test by default (the CI
profile); set HYPOTHESIS_PROFILE=dev for a quick local run.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=25, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# ------------------------------------------------------------ simulators

import pytest  # noqa: E402

from spikeforge.sim.runner import available_simulators  # noqa: E402

REQUIRE_TOOLS = os.environ.get("SPIKEFORGE_REQUIRE_TOOLS") == "1"


def simulator_params():
    """Verilator always (fail if missing under SPIKEFORGE_REQUIRE_TOOLS=1), Icarus when present."""
    have = available_simulators()
    out = []
    for sim, required in (("verilator", True), ("icarus", False)):
        if sim in have:
            out.append(pytest.param(sim, id=sim))
        elif required and REQUIRE_TOOLS:
            out.append(pytest.param(sim, id=sim))          # runs and fails with a ToolError
        else:
            out.append(pytest.param(sim, id=sim, marks=pytest.mark.skip(reason=f"{sim} not installed")))
    return out


SIMULATORS = simulator_params()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say that the default run leaves the long tests out, and how to run them (with xdist the
    workers deselect, so the count is known only without it)."""
    if "not slow" not in (config.option.markexpr or ""):
        return
    slow = [r for r in terminalreporter.stats.get("deselected", []) if "slow" in getattr(r, "keywords", {})]
    count = f"{len(slow)} " if slow else ""
    terminalreporter.write_line(f"{count}slow test(s) deselected by the default '-m \"not slow\"'; "
                                "run them with: python -m pytest -m slow -n auto")


# ------------------------------------------------------------ one wheel per run

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def installed_wheel(tmp_path_factory, worker_id):
    """The package built as a wheel and installed without dependencies into a folder of its own
    (``site``), away from the source tree: built once per run, shared by the xdist workers."""
    import fcntl
    import subprocess
    import sys
    base = tmp_path_factory.getbasetemp()
    shared = (base if worker_id == "master" else base.parent) / "installed-wheel"
    shared.mkdir(exist_ok=True)
    site, done = shared / "site", shared / "done"
    with open(shared / "lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            wheels = shared / "wheels"
            subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
                           check=True, capture_output=True, text=True)
            wheel = next(wheels.glob("spikeforge-*.whl"))
            subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                            str(wheel)], check=True, capture_output=True, text=True)
            done.write_text(wheel.name)
    return site
