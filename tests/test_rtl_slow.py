"""Long co-simulation sweeps, outside CI: ``python -m pytest -m slow -n auto``.

The CI suite runs every core on a fixed parameter matrix plus a few
hypothesis-drawn parameter sets; these run many more drawn sets, the widest
parameters of the cores (FS K = 32, the two-input AMOS mult unit with K = 40)
and larger layers.
"""

import pytest
from hypothesis import given, settings

from spikeforge.models.amos import AMOSParams
from spikeforge.models.fs import FSParams
from spikeforge.sim.verify import verify

pytestmark = pytest.mark.slow

MANY = settings(max_examples=25, deadline=None)


@pytest.mark.parametrize("K,x_bits", [(20, 24), (24, 30), (32, 40), (32, 8)])
def test_fs_widest(K, x_bits):
    verify("fs", FSParams.relu(K, x_bits), n_random=60)


@pytest.mark.parametrize("K", [12, 20, 32, 40])
def test_amos_widest(K):
    verify("amos", AMOSParams.relu(K, K + 4), n_random=60)


def test_amos_two_input_mult_K40():
    """The size of the AMOS paper's mult unit (Table 3, K = 40): random two-input gains and thresholds."""
    import numpy as np
    rng = np.random.default_rng(40)
    K = 40
    p = AMOSParams(K=K, x_bits=8, x2_bits=8, c=rng.integers(-9, 10, K).tolist(),
                   c2=rng.integers(-9, 10, K).tolist(), T=rng.integers(-200, 200, K).tolist(),
                   d=rng.integers(-50, 50, K).tolist(),
                   h=[rng.integers(-30, 30, i).tolist() for i in range(K)])
    verify("amos", p, n_random=60)


def _drawn(module, strategy_name, core):
    import importlib
    strategy = getattr(importlib.import_module(module), strategy_name)

    @MANY
    @given(strategy())
    def run(p):
        verify(core, p, n_random=30)
    return run


@pytest.mark.parametrize("module,strategy,core", [
    ("test_rtl_fs", "general_params", "fs"), ("test_rtl_amos", "general_params", "amos"),
    ("test_rtl_ann", "mac_params", "ann"), ("test_rtl_if", "if_params", "if"),
    ("test_rtl_ttfs", "any_layer", "ttfs"), ("test_rtl_lif", "layers", "lif"),
])
def test_many_drawn_parameter_sets(module, strategy, core):
    _drawn(module, strategy, core)()
