"""The package layout works in editable and in normal (wheel) installs."""

import os
import pathlib
import subprocess
import sys

SUBPACKAGES = ["models", "hdl", "sim", "synth", "constraints"]


def test_namespace_maps_top_level_folders():
    """In the test environment every subpackage resolves to its top-level folder."""
    import importlib
    for name in SUBPACKAGES:
        mod = importlib.import_module(f"spikeforge.{name}")
        assert pathlib.Path(mod.__file__).resolve().parent.name == name


def test_wheel_install(installed_wheel, tmp_path):
    """The package as a wheel, installed without dependencies into a separate folder
    (conftest's ``installed_wheel``): import from there, away from the source tree."""
    target = installed_wheel
    code = ("import spikeforge, spikeforge.models.fs as fs, spikeforge.constraints as c, pathlib\n"
            "import spikeforge.hdl, spikeforge.sim, spikeforge.synth, spikeforge.report.run, spikeforge.sweep\n"
            "print(pathlib.Path(fs.__file__).resolve())\n"
            "print(fs.fs_golden(fs.FSParams.relu(4, 6), [9]).y[0])\n")
    env = {**os.environ, "PYTHONPATH": str(target)}
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    path, y = p.stdout.split()
    assert pathlib.Path(path).is_relative_to(target.resolve())
    assert y == "9"
    names = {pathlib.Path(n).parts[0] for n in os.listdir(target)}
    assert "models" not in names and "spikeforge" in names   # no stray top-level package
