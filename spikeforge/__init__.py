"""spikeforge: temporally-coded spiking neuron cores as hardware.

One integer description per core drives the golden model (``spikeforge.models``),
the Amaranth RTL (``spikeforge.hdl``), the cocotb co-simulation
(``spikeforge.sim``) and synthesis (``spikeforge.synth``); the comparison
report (``spikeforge.report``) and parameter sweeps (``spikeforge.sweep``)
sit above them, the command line (``spikeforge.cli``) on top.

Quick tour::

    from spikeforge import convert_model, evaluate, run_network
    nets = convert_model("digits", codings=["fs", "ttfs"])
    result = run_network(nets["fs"], x)          # x: (batch, 64) ints in [0, 255]

The names below are loaded on first use (PEP 562), so that importing one
light module (``spikeforge.models.errors`` in a simulator's embedded Python,
say) does not load the whole package.
"""

import importlib

# where each public name lives (loaded on first use)
_MODULES = {
    ".api": ("convert_model", "evaluate_design", "resolve_codings"),
    ".models": ("core_names", "get_core"),
    ".models.amos": ("AMOSParams", "amos_golden"),
    ".models.ann": ("MACParams", "ann_golden"),
    ".models.convert": ("FloatNet", "from_npz", "from_sklearn", "quantize", "quantize_inputs", "to_coding"),
    ".models.datasets": ("load_dataset", "train_reference"),
    ".models.userdata": ("UserData", "load_data"),
    ".models.errors": ("ConfigError", "SimulationMismatch", "SpikeforgeError", "ToolError", "WidthError"),
    ".models.evaluate": ("Evaluation", "evaluate"),
    ".models.fs": ("FSParams", "fs_golden"),
    ".models.lfsr": ("LFSRParams", "rate_encode"),
    ".models.lif": ("LIFParams", "lif_golden"),
    ".models.network": ("Dense", "MaxPool", "Network", "layer_params", "load_network", "save_network"),
    ".models.rate_if": ("IFParams", "if_golden"),
    ".models.simulate": ("run_network",),
    ".models.ttfs": ("TTFSParams", "ttfs_golden", "ttfs_ticks"),
}
_WHERE = {name: module for module, names in _MODULES.items() for name in names}

__all__ = list(_WHERE)


def __getattr__(name):
    module = _WHERE.get(name)
    if module is None:                     # a subpackage or module: spikeforge.models, .api, …
        from .models import submodule
        return submodule(__name__, name)
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
