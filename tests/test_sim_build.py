"""Verilator builds of small models share one precompiled header of Verilator's runtime
headers (sim/runner.py, SHARED_PCH); the model they build is the same with or without it."""

import pytest

from spikeforge.models.fs import FSParams
from spikeforge.sim.runner import available_simulators
from spikeforge.sim.verify import verify

pytestmark = pytest.mark.skipif("verilator" not in available_simulators(), reason="needs Verilator")


def _builds(cache):
    return sorted(d for d in (cache / "sim").glob("spikeforge_fs-verilator-*") if d.is_dir())


def _compile_line(build_dir):
    return next(line for line in (build_dir / "build.log").read_text().splitlines() if "Vtop__ALL.o" in line)


def test_small_models_share_one_precompiled_header(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKEFORGE_CACHE", str(tmp_path))
    for K in (4, 5):                                  # two models, bit-exact against the golden model
        verify("fs", FSParams.relu(K, K + 2), n_random=20)
    pch = list((tmp_path / "sim" / "pch").glob("*/vl.h.fast.gch"))
    assert len(pch) == 1 and pch[0].stat().st_size > 1_000_000
    builds = _builds(tmp_path)
    assert len(builds) == 2
    for b in builds:
        assert f"-include {pch[0].parent / 'vl.h.fast'}" in _compile_line(b)


@pytest.mark.parametrize("damage", ["garbage header", "failed before"])
def test_a_damaged_or_failed_header_leaves_the_build_correct(tmp_path, monkeypatch, damage):
    """A .gch the compiler cannot use is read as text instead; a header that could not be made
    is not used at all. Either way the model builds and matches the golden model."""
    monkeypatch.setenv("SPIKEFORGE_CACHE", str(tmp_path))
    verify("fs", FSParams.relu(4, 6), n_random=10)
    folder = next((tmp_path / "sim" / "pch").glob("*/"))
    if damage == "garbage header":
        (folder / "vl.h.fast.gch").write_bytes(b"gpch\0not a header")
    else:
        (folder / "made").write_text("failed\n")
    verify("fs", FSParams.relu(6, 8), n_random=20)       # a new model, built against the damage
    newest = max(_builds(tmp_path), key=lambda d: (d / "built.ok").stat().st_mtime_ns)
    assert ("-include" in _compile_line(newest)) == (damage == "garbage header")
