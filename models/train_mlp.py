"""Training a float MLP with any hidden activation, in NumPy (front-end, float).

scikit-learn's ``MLPClassifier`` offers ReLU, logistic, tanh and identity
only; the FS and AMOS papers' networks use Swish and sigmoid (and GELU is
their modern relative). :func:`train_mlp` trains a softmax classifier with
dense hidden layers of a given activation by Adam on the cross-entropy with
an L2 penalty, on mini-batches drawn by a seeded generator, and returns a
:class:`~spikeforge.models.convert.FloatNet` with the activation recorded.
Deterministic for a seed (BLAS limited to one thread while it runs).
"""

from __future__ import annotations

import numpy as np

from .activations import get_activation
from .base import check_int
from .convert import FloatNet
from .errors import ConfigError
from .fit_common import Adam, check_positive
from .simulate import blas_threads

__all__ = ["train_mlp", "accuracy"]


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def train_mlp(x, y, hidden=(32,), activation="swish", *, epochs=300, batch=64, lr=2e-3, l2=1e-4,
              seed=0) -> FloatNet:
    """Train an MLP classifier.

    Parameters
    ----------
    x : array (n, n_in)
        Inputs (the conversion expects them in [0, 1]).
    y : array (n,)
        Class labels 0..C−1.
    hidden : tuple of int
        Hidden layer sizes.
    activation : str or tuple of str
        One activation for every hidden layer, or one per layer.
    epochs, batch, lr, l2, seed
        Passes over the data, mini-batch size, Adam step, L2 weight, seed of the
        initialization (Glorot uniform) and of the batch order.

    Returns
    -------
    FloatNet
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y)
    if x.ndim != 2 or y.shape != (x.shape[0],) or x.shape[0] == 0:
        raise ConfigError(f"x must be (n, n_in) and y (n,); got {x.shape} and {y.shape}")
    hidden = tuple(check_int(f"hidden[{k}]", h, 1, 1 << 16) for k, h in enumerate(hidden))
    acts = (activation,) * len(hidden) if isinstance(activation, str) else tuple(activation)
    if len(acts) != len(hidden):
        raise ConfigError(f"activation: {len(hidden)} hidden layers but {len(acts)} activations")
    fs = [get_activation(a) for a in acts]
    check_int("epochs", epochs, 1, 10 ** 6)
    check_int("batch", batch, 1, 1 << 20)
    check_positive("lr", lr, 1.0)
    if not (isinstance(l2, (int, float)) and l2 >= 0):
        raise ConfigError(f"l2 must be a number >= 0, not {l2!r}")
    check_int("seed", seed, 0, 2 ** 32 - 1)
    classes = int(y.max()) + 1
    rng = np.random.default_rng(seed)
    sizes = (x.shape[1],) + hidden + (classes,)
    Ws = [rng.uniform(-1, 1, (o, i)) * np.sqrt(6.0 / (i + o)) for i, o in zip(sizes[:-1], sizes[1:])]
    bs = [np.zeros(o) for o in sizes[1:]]
    opt = Adam(Ws + bs, lr)
    onehot = np.eye(classes)[y]
    L = len(Ws)
    with blas_threads(1):
        for _ in range(epochs):
            order = rng.permutation(x.shape[0])
            for s in range(0, len(order), batch):
                idx = order[s:s + batch]
                a, zs, As = x[idx], [], [x[idx]]
                for k in range(L - 1):
                    z = a @ Ws[k].T + bs[k]
                    a = fs[k](z)
                    zs.append(z)
                    As.append(a)
                g = (_softmax(a @ Ws[-1].T + bs[-1]) - onehot[idx]) / len(idx)
                gW, gb = [None] * L, [None] * L
                for k in range(L - 1, -1, -1):
                    gW[k] = g.T @ As[k] + l2 * Ws[k]
                    gb[k] = g.sum(axis=0)
                    if k:
                        g = (g @ Ws[k]) * fs[k - 1].df(zs[k - 1])
                opt.step(gW + gb)
    return FloatNet(tuple(w.copy() for w in Ws), tuple(b.copy() for b in bs), activations=acts)


def accuracy(fnet: FloatNet, x, y):
    """Test accuracy of a float network (fraction of correct arg-max predictions)."""
    _, logits = fnet.forward(x)
    return float(np.mean(np.argmax(logits, axis=1) == np.asarray(y)))
