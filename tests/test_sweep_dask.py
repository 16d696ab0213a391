"""Sweeps on a Dask cluster: the same rows, in the same order, as on the local process pool.

Runs a two-point sweep of a small FS neuron (Yosys's CMOS estimate, about a
second per point) locally and on a ``distributed.LocalCluster`` of two worker
processes, and compares the tables byte for byte. Needs the extra
``spikeforge[dask]``.
"""

import json
import os

import pytest

distributed = pytest.importorskip("distributed")

from spikeforge.cli import main  # noqa: E402
from spikeforge.models.errors import ConfigError  # noqa: E402
from spikeforge.sweep import run_sweep, worker_versions  # noqa: E402

AXES = {"K": [3, 4]}
BASE = {"x_bits": 6}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two worker processes with a synthesis cache of their own (``cluster.cache``)."""
    cache = tmp_path_factory.mktemp("worker-cache")
    old = os.environ.get("SPIKEFORGE_CACHE")
    os.environ["SPIKEFORGE_CACHE"] = str(cache)          # inherited by the worker processes
    try:
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None, scheduler_port=0) as c:
            c.cache = cache
            if old is None:
                del os.environ["SPIKEFORGE_CACHE"]
            else:
                os.environ["SPIKEFORGE_CACHE"] = old
            yield c
    finally:
        if old is None:
            os.environ.pop("SPIKEFORGE_CACHE", None)
        else:
            os.environ["SPIKEFORGE_CACHE"] = old


def test_dask_sweep_equals_local_sweep_row_for_row(cluster, tmp_path, monkeypatch):
    """Same rows, same tables byte for byte, and the same synthesis cache keys (each side
    computes into an empty cache of its own)."""
    monkeypatch.setenv("SPIKEFORGE_CACHE", str(tmp_path / "local-cache"))
    local = run_sweep("fs", AXES, "cmos", str(tmp_path / "local.csv"), base=BASE, jobs=2)
    dask = run_sweep("fs", AXES, "cmos", str(tmp_path / "dask.csv"), base=BASE,
                     scheduler=cluster.scheduler_address)
    assert [r["params"] for r in local] == [json.dumps({"K": k}) for k in AXES["K"]]
    assert not any(r.get("error") for r in local)
    assert dask == local
    for ext in ("csv", "jsonl"):
        assert (tmp_path / f"dask.{ext}").read_bytes() == (tmp_path / f"local.{ext}").read_bytes()
    entries = lambda folder: sorted(n for n in os.listdir(folder / "synth") if not n.endswith(".lock"))
    keys = entries(tmp_path / "local-cache")
    assert len(keys) == len(AXES["K"])
    assert entries(cluster.cache) == keys


def test_cli_sweep_on_the_cluster(cluster, tmp_path, capsys):
    out = tmp_path / "cli.csv"
    assert main(["sweep", "fs", "--axis", "K=3,4", "--param", "x_bits=6", "--target", "cmos",
                 "--scheduler", cluster.scheduler_address, "--out", str(out)]) == 0
    assert "2 points done, 0 failed" in capsys.readouterr().out
    assert len(out.read_text().splitlines()) == 3


def test_workers_report_versions(cluster):
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as c:
        versions = c.run(worker_versions)
    assert len(versions) == 2 and all(v == worker_versions() for v in versions.values())


@pytest.mark.parametrize("address, fragment", [("localhost:1", "expects an address such as tcp://"),
                                               ("tcp://127.0.0.1:1", "cannot reach the Dask scheduler")])
def test_bad_scheduler_is_one_line_error(address, fragment, tmp_path, capsys):
    out = tmp_path / "t.csv"
    code = main(["sweep", "fs", "--axis", "K=3", "--target", "cmos", "--scheduler", address, "--out", str(out),
                 "--connect-timeout", "2"])
    err = capsys.readouterr().err
    lines = [l for l in err.splitlines() if l.startswith("error")]
    assert code == 2 and len(lines) == 1 and fragment in lines[0], err
    assert not os.path.exists(out) and not os.path.exists(tmp_path / "t.jsonl")


def test_missing_dask_names_the_extra(monkeypatch, tmp_path):
    import builtins
    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "distributed":
            raise ImportError("no dask")
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ConfigError, match=r"pip install spikeforge\[dask\]"):
        run_sweep("fs", AXES, "cmos", str(tmp_path / "x.csv"), base=BASE, scheduler="tcp://127.0.0.1:1")
