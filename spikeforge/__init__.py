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
"""

from .api import convert_model, evaluate_design, resolve_codings
from .models import core_names, get_core
from .models.amos import AMOSParams, amos_golden
from .models.ann import MACParams, ann_golden
from .models.convert import FloatNet, from_npz, from_sklearn, quantize, quantize_inputs, to_coding
from .models.datasets import load_dataset, train_reference
from .models.userdata import UserData, load_data
from .models.errors import ConfigError, SimulationMismatch, SpikeforgeError, ToolError, WidthError
from .models.evaluate import Evaluation, evaluate
from .models.fs import FSParams, fs_golden
from .models.lfsr import LFSRParams, rate_encode
from .models.lif import LIFParams, lif_golden
from .models.network import Dense, MaxPool, Network, layer_params, load_network, save_network
from .models.rate_if import IFParams, if_golden
from .models.simulate import run_network
from .models.ttfs import TTFSParams, ttfs_golden, ttfs_ticks

__all__ = [
    "convert_model", "evaluate_design", "resolve_codings", "core_names", "get_core",
    "FSParams", "fs_golden", "AMOSParams", "amos_golden", "TTFSParams", "ttfs_golden", "ttfs_ticks",
    "LIFParams", "lif_golden", "LFSRParams", "rate_encode", "IFParams", "if_golden",
    "MACParams", "ann_golden", "FloatNet", "from_npz", "from_sklearn", "quantize", "quantize_inputs",
    "to_coding", "load_dataset", "train_reference", "load_data", "UserData", "Dense", "MaxPool", "Network", "layer_params",
    "load_network", "save_network", "run_network", "Evaluation", "evaluate",
    "SpikeforgeError", "ConfigError", "WidthError", "ToolError", "SimulationMismatch",
]
