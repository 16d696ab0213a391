"""Make the front-end test fixtures in tests/data/ (not run by the tests).

The tests read the files this script writes; they never import torch. To
remake them (CPU only, a minute or two)::

    python3 -m venv /tmp/fixtures && . /tmp/fixtures/bin/activate
    pip install torch==2.13.0 snntorch==1.0.0 nir nirtorch onnx onnxscript scikit-learn
    python tests/data/make_fixtures.py

Files (all from the bundled 8×8 digits, split as ``spikeforge.models.datasets``
splits it: 75/25, stratified, ``random_state=0``, pixels / 16):

``digits_mlp3.onnx``
    A 3-layer PyTorch MLP 64-64-32-10 (ReLU), trained with Adam, exported by
    the TorchScript exporter (``torch.onnx.export(..., dynamo=False)``):
    ``Gemm`` and ``Relu`` nodes.
``digits_mlp3_dynamo.onnx``
    The same model through torch's default (dynamo) exporter.
``digits_pool.onnx``
    A PyTorch net with a max-pool: input (1, 8, 8) → MaxPool2d(2) → Flatten →
    Linear(16, 32) → ReLU → Linear(32, 10).
``digits_onnx.json``
    Float test accuracy of each ONNX model as PyTorch computes it, and its
    logits on the first 8 test rows (the tests check the import against them).
``snntorch_lif.nir``
    A spiking 64-32-10 network trained in snnTorch (``snn.Leaky`` with a
    learned leak per neuron, reset to zero, rate-coded Bernoulli inputs,
    25 steps) and written by snnTorch's own NIR exporter
    (``snntorch.export_nir.export_to_nir``, through nirtorch) and ``nir.write``:
    ``Affine`` and ``LIF`` nodes with τ = dt/(1 − β), r = τ/dt, dt = 1e-4 s.
    This is the fixture produced by another framework's exporter.
``snntorch_lif.json``
    The spiking net's float test accuracy in snnTorch and its settings.
"""

import json
import os
import sys

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))


def digits():
    """The split of ``spikeforge.models.datasets.load_dataset("digits")``."""
    d = load_digits()
    x, y = d.data.astype(np.float64), d.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    return xtr / 16.0, ytr, xte / 16.0, yte


def train(model, x, y, epochs, lr=1e-2, seed=0):
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
    for _ in range(epochs):
        perm = torch.randperm(len(xt))
        for k in range(0, len(xt), 64):
            idx = perm[k:k + 64]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    return model.eval()


def onnx_fixtures(out):
    xtr, ytr, xte, yte = digits()
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 32),
                              torch.nn.ReLU(), torch.nn.Linear(32, 10))
    train(mlp, xtr, ytr, epochs=60)
    torch.manual_seed(1)
    pool = torch.nn.Sequential(torch.nn.Unflatten(1, (1, 8, 8)), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                               torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    train(pool, xtr, ytr, epochs=60)
    pool_export = torch.nn.Sequential(*list(pool)[1:])          # the ONNX input is (batch, 1, 8, 8)
    facts = {}
    with torch.no_grad():
        xt = torch.tensor(xte, dtype=torch.float32)
        sample = xt[:1]
        torch.onnx.export(mlp, (sample,), os.path.join(out, "digits_mlp3.onnx"), dynamo=False,
                          input_names=["x"], output_names=["logits"], dynamic_axes={"x": {0: "batch"}})
        torch.onnx.export(mlp, (sample,), os.path.join(out, "digits_mlp3_dynamo.onnx"), dynamo=True,
                          input_names=["x"], output_names=["logits"], external_data=False,
                          dynamic_shapes=({0: torch.export.Dim("batch")},))
        torch.onnx.export(pool_export, (sample.reshape(1, 1, 8, 8),), os.path.join(out, "digits_pool.onnx"),
                          dynamo=False, input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}})
        for name, model in (("digits_mlp3", mlp), ("digits_pool", pool)):
            logits = model(xt)
            facts[name] = {"float_accuracy": float((logits.argmax(1).numpy() == yte).mean()),
                           "logits_first_8": logits[:8].double().numpy().tolist()}
    facts["torch"] = torch.__version__
    with open(os.path.join(out, "digits_onnx.json"), "w") as f:
        json.dump(facts, f, indent=1)
        f.write("\n")


def nir_fixture(out, steps=25):
    import nir
    import snntorch as snn
    from snntorch import utils as snn_utils
    from snntorch.export_nir import export_to_nir

    xtr, ytr, xte, yte = digits()
    torch.manual_seed(0)
    lif1 = snn.Leaky(beta=torch.full((32,), 0.8), threshold=torch.ones(32), learn_beta=True,
                     reset_mechanism="zero", init_hidden=True)
    lif2 = snn.Leaky(beta=torch.full((10,), 0.8), threshold=torch.ones(10), learn_beta=True,
                     reset_mechanism="zero", init_hidden=True, output=True)
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), lif1, torch.nn.Linear(32, 10), lif2)

    def run(x):
        snn_utils.reset(net)
        counts = 0
        for _ in range(steps):
            spk, _mem = net(torch.bernoulli(x))
            counts = counts + spk
        return counts

    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    xt, yt = torch.tensor(xtr, dtype=torch.float32), torch.tensor(ytr)
    for _epoch in range(30):
        perm = torch.randperm(len(xt))
        for k in range(0, len(xt), 64):
            idx = perm[k:k + 64]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(run(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            with torch.no_grad():                       # keep the leak a leak
                for lif in (lif1, lif2):
                    lif.beta.clamp_(0.05, 0.98)
    net.eval()
    with torch.no_grad():
        acc = float((run(torch.tensor(xte, dtype=torch.float32)).argmax(1).numpy() == yte).mean())
        graph = export_to_nir(net, torch.zeros(1, 64), ignore_dims=[0])
    nir.write(os.path.join(out, "snntorch_lif.nir"), graph)
    facts = {"float_accuracy_snntorch": acc, "steps": steps, "dt": 1e-4, "snntorch": snn.__version__,
             "nir": nir.version, "torch": torch.__version__,
             "note": "snnTorch's own simulation with Bernoulli rate inputs; reset to zero"}
    with open(os.path.join(out, "snntorch_lif.json"), "w") as f:
        json.dump(facts, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else HERE
    onnx_fixtures(out)
    nir_fixture(out)
    print("wrote the fixtures to", out)
