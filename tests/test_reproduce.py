"""``spikeforge reproduce``: sections, rows with every field, files, errors. The full run
(every section, long sweeps, the K = 40 co-simulation) is slow-marked."""

import json

import pytest
from click.testing import CliRunner

from spikeforge.cli import cli, main
from spikeforge.models.amos import AMOSParams
from spikeforge.models.errors import ConfigError
from spikeforge.models.fitted import find_table
from spikeforge.report.reproduce import SECTIONS, render_markdown, run_reproduction

FIELDS = ("id", "source", "claim", "paper", "ours", "command", "why")


def _check_rows(data):
    ids = []
    for sec in data["sections"]:
        assert sec["name"] in SECTIONS and sec["claims"]
        for c in sec["claims"]:
            assert all(isinstance(c[k], str) and c[k] for k in FIELDS), c
            assert c["command"].startswith(("spikeforge ", "python -m spikeforge."))
            ids.append(c["id"])
    assert len(ids) == len(set(ids))
    return ids


def test_quick_sections_measure_what_they_claim():
    data = run_reproduction(["amos_units", "spikes"], quick=True)
    ids = _check_rows(data)
    assert {"amos-params", "amos-mult-mse", "fs-spikes-swish", "fs-spikes-relu"} <= set(ids)
    amos = data["sections"][0]
    counts = [r["params"] for r in amos["details"]["amos_units"]]
    assert counts == [find_table("amos", "sigmoid").params().param_count, AMOSParams.relu(10, 12).param_count,
                      find_table("amos", "swish").params().param_count,
                      find_table("amos", "mult", K=40).params().param_count] == [52, 75, 102, 940]
    md = render_markdown(data)
    assert "| parameters of the AMOS units |" in md and "52/75/102/940" in md
    spikes = next(c for c in data["sections"][1]["claims"] if c["id"] == "fs-spikes-relu")
    st = spikes["data"]["stages"]
    assert set(st) == {"input", "neurons0"} and st["neurons0"] > st["input"] > 0


def test_unknown_section_is_refused():
    with pytest.raises(ConfigError, match=r"^unknown section\(s\) fs; choose from fs_fit, spikes, "):
        run_reproduction(["fs"])


def test_cli_writes_both_files(tmp_path, capsys):
    out = tmp_path / "r"
    r = CliRunner().invoke(cli, ["reproduce", "--only", "amos_units", "--quick", "--out", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads((out / "reproduce.json").read_text())
    assert data["schema"] == "spikeforge.reproduce/1" and data["quick"] is True
    _check_rows(data)
    assert (out / "reproduce.md").read_text().startswith("# Reproduction")
    (out / "mine.txt").write_text("x")
    assert main(["reproduce", "--only", "amos_units", "--out", str(out)]) == 2
    assert "mine.txt" in capsys.readouterr().err


def test_ttfs_section_quick():
    data = run_reproduction(["ttfs"], quick=True)
    _check_rows(data)
    d = data["sections"][0]["details"]
    assert d["ttfs_jitter"][0]["sd"] == 0 and d["ttfs_integer"][-1]["agreement"] >= 0.99


@pytest.mark.slow
def test_full_reproduction(tmp_path):
    r = CliRunner().invoke(cli, ["reproduce", "--out", str(tmp_path / "full")])
    assert r.exit_code == 0, r.output
    data = json.loads((tmp_path / "full" / "reproduce.json").read_text())
    assert [s["name"] for s in data["sections"]] == list(SECTIONS)
    _check_rows(data)
