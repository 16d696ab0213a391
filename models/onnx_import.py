"""ONNX front-end: an MLP exported from PyTorch or Keras → :class:`FloatNet`.

Needs the optional extra ``spikeforge[onnx]`` (the ``onnx`` package only: the
graph is read, never run, so no ONNX runtime is needed).

The graph must be one chain from its single input to its single output;
each node reads the previous node's output (and constant initializers).
Supported operators and how they map (docs/frontends.md):

============================  ================================================
``Gemm``                      a dense layer: transA = 0; transB = 1 (PyTorch's
                              ``nn.Linear``, W = B) or 0 (W = Bᵀ); alpha, beta
                              folded into W and the bias
``MatMul`` [+ ``Add``]        a dense layer W = Bᵀ (Keras, tf2onnx), the bias
                              from a following ``Add`` of a constant
``Relu``                      closes a hidden layer
``Flatten``, ``Reshape``      to (batch, features), or from a flat vector to
                              (batch, C, H, W) before a ``MaxPool``
``MaxPool``                   2-D, kernel = stride, no padding, dilation 1,
                              H and W multiples of the kernel: a
                              :class:`~spikeforge.models.network.MaxPool`
                              before the next dense layer, on the input or
                              on a ReLU activation
``Identity``, ``Dropout``     nothing (inference)
``Softmax``, ``LogSoftmax``   only as the last node: dropped (monotone, the
                              arg-max is unchanged)
``Constant``                  a constant input of a later node
============================  ================================================

Any other operator is an error naming the operator and the node. Weights
must be finite real numbers; the model must end in a linear layer (the
logits).
"""

from __future__ import annotations

import math
import os

import numpy as np

from .convert import FloatNet
from .errors import ConfigError
from .inputs import limit, limit_error, read_bytes
from .network import MaxPool

__all__ = ["from_onnx", "SUPPORTED_OPS", "load_onnx"]

SUPPORTED_OPS = ("Gemm", "MatMul", "Add", "Relu", "Flatten", "Reshape", "MaxPool", "Identity", "Dropout",
                 "Softmax", "LogSoftmax", "Constant")
_PASS = ("Identity", "Dropout")
_FINAL = ("Softmax", "LogSoftmax")


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ConfigError("reading ONNX models needs the onnx package: pip install spikeforge[onnx]") from None
    return onnx


def load_onnx(path):
    """Parse the ONNX file at ``path`` (read through the input layer) into a ``ModelProto``.

    Raises
    ------
    ConfigError
        The file cannot be read or is not an ONNX model.
    """
    onnx = _onnx()
    path = os.fspath(path)
    raw = read_bytes(path)
    model = onnx.ModelProto()
    try:
        model.ParseFromString(raw)
    except Exception as e:                      # protobuf raises DecodeError and others on garbage
        raise ConfigError(f"{path}: not an ONNX model ({str(e).splitlines()[0] if str(e) else type(e).__name__})") \
            from None
    if not model.HasField("graph") or not model.graph.node:
        raise ConfigError(f"{path}: not an ONNX model (no graph with nodes)")
    return model


class _Reader:
    """Walks one ONNX graph as a chain, collecting dense layers and max-pools."""

    def __init__(self, model, path):
        self.onnx = _onnx()
        self.path = path
        self.graph = model.graph
        self.consts = {}
        cap = limit("array_elements")
        for t in self.graph.initializer:
            n = math.prod(t.dims)
            if n > cap:
                raise limit_error("array_elements", f"{path}: initializer {t.name!r} of shape {tuple(t.dims)}", n)
            self.consts[t.name] = self._array(t, f"initializer {t.name!r}")
        self.weights, self.biases, self.pools = [], [], []
        self.pending = None          # [W, b, node] of a dense layer not yet closed by a Relu
        self.activated = True        # the current value is the input or a ReLU output (a max-pool may follow)
        self.final = False           # a Softmax was seen: nothing may follow

    def _array(self, tensor, what):
        if tensor.data_location == self.onnx.TensorProto.EXTERNAL:
            raise ConfigError(f"{self.path}: {what} is stored in an external file; export with the "
                              "weights inside the model (torch.onnx.export(..., external_data=False))")
        try:
            a = self.onnx.numpy_helper.to_array(tensor)
        except Exception as e:
            raise ConfigError(f"{self.path}: {what} cannot be read ({str(e).splitlines()[0][:120]})") from None
        if a.dtype.kind not in "iuf":
            raise ConfigError(f"{self.path}: {what} holds {a.dtype} values, not real numbers")
        a = a.astype(np.float64)
        if not np.all(np.isfinite(a)):
            raise ConfigError(f"{self.path}: {what} contains NaN or infinite values")
        return a

    def fail(self, node, why):
        name = node.name or "(unnamed)"
        raise ConfigError(f"{self.path}: node {name!r} ({node.op_type}): {why}")

    def attrs(self, node):
        out = {}
        for a in node.attribute:
            out[a.name] = self.onnx.helper.get_attribute_value(a)
        return out

    def const(self, node, name):
        if name not in self.consts:
            self.fail(node, f"input {name!r} must be a constant (an initializer); only chains of layers "
                            "with fixed weights are supported")
        return self.consts[name]

    def _input_shape(self):
        inputs = [i for i in self.graph.input if i.name not in self.consts]
        if len(inputs) != 1:
            raise ConfigError(f"{self.path}: the graph has {len(inputs)} data inputs; one is supported")
        if len(self.graph.output) != 1:
            raise ConfigError(f"{self.path}: the graph has {len(self.graph.output)} outputs; one is supported")
        dims = inputs[0].type.tensor_type.shape.dim
        shape = [d.dim_value if d.HasField("dim_value") else None for d in dims]
        if len(shape) < 2 or any(s is None or s < 1 for s in shape[1:]):
            raise ConfigError(f"{self.path}: input {inputs[0].name!r} has shape {shape}; expected "
                              "(batch, features) or (batch, C, H, W) with fixed sizes but the batch")
        return inputs[0].name, tuple(shape[1:])

    def _dense(self, node, W, b):
        if self.final:
            self.fail(node, "a layer after the softmax")
        if self.pending is not None:
            self.fail(node, "two linear layers without a Relu between them")
        if len(self.shape) != 1:
            self.fail(node, f"a dense layer on a {len(self.shape) + 1}-D tensor; add a Flatten first")
        if W.shape[1] != self.shape[0]:
            self.fail(node, f"weights of shape {W.shape} do not match {self.shape[0]} inputs")
        self.pending = [W, b, node]
        self.shape = (W.shape[0],)
        self.activated = False

    def _close(self):
        W, b, _node = self.pending
        self.weights.append(W)
        self.biases.append(b)
        self.pending = None

    def gemm(self, node):
        a = self.attrs(node)
        if a.get("transA", 0):
            self.fail(node, "transA = 1 is not supported")
        B = self.const(node, node.input[1])
        if B.ndim != 2:
            self.fail(node, f"weights of shape {B.shape}; expected a matrix")
        W = (B if a.get("transB", 0) else B.T) * a.get("alpha", 1.0)
        b = np.zeros(W.shape[0])
        if len(node.input) > 2 and node.input[2]:
            C = self.const(node, node.input[2]) * a.get("beta", 1.0)
            if C.size not in (1, W.shape[0]) or C.ndim > 2:
                self.fail(node, f"bias of shape {C.shape} for {W.shape[0]} outputs")
            b = b + C.reshape(-1)
        self._dense(node, W, b)

    def matmul(self, node):
        B = self.const(node, node.input[1])
        if B.ndim != 2:
            self.fail(node, f"weights of shape {B.shape}; expected a matrix")
        self._dense(node, B.T.copy(), np.zeros(B.shape[1]))

    def add(self, node, x):
        if self.pending is None:
            self.fail(node, "an Add that is not the bias of a preceding linear layer")
        other = node.input[1] if node.input[0] == x else node.input[0]
        c = self.const(node, other)
        n = self.pending[0].shape[0]
        if c.size != n or (c.ndim == 2 and c.shape[0] != 1) or c.ndim > 2:
            self.fail(node, f"bias of shape {c.shape} for {n} outputs")
        self.pending[1] = self.pending[1] + c.reshape(-1)

    def relu(self, node):
        if self.pending is None:
            if self.activated:
                return                              # ReLU of a ReLU (or of inputs in [0, 1]): nothing
            self.fail(node, "a Relu that does not follow a linear layer")
        self._close()
        self.activated = True

    def flatten(self, node):
        axis = self.attrs(node).get("axis", 1)
        if axis != 1:
            self.fail(node, f"axis = {axis}; only Flatten(axis=1) is supported")
        self.shape = (math.prod(self.shape),)

    def reshape(self, node):
        target = [int(v) for v in self.const(node, node.input[1]).reshape(-1)]
        n = math.prod(self.shape)
        rest = target[1:]
        if target and target[0] in (0, -1, 1) and rest and -1 not in rest and 0 not in rest:
            if math.prod(rest) == n and len(rest) in (1, 3):
                self.shape = tuple(rest)
                return
        if target in ([0, -1], [-1, n], [1, -1], [1, n]) or (len(target) == 2 and target[1] == -1):
            self.shape = (n,)
            return
        self.fail(node, f"reshape to {target}; only (batch, features) and (batch, C, H, W) are supported")

    def maxpool(self, node):
        a = self.attrs(node)
        k = list(a.get("kernel_shape", []))
        strides = list(a.get("strides", [1] * len(k)))
        pads = list(a.get("pads", [0] * (2 * len(k))))
        if len(self.shape) != 3 or len(k) != 2:
            self.fail(node, f"a 2-D max-pool on a (batch, C, H, W) tensor is supported, not kernel {k} "
                            f"on shape {self.shape}")
        if k[0] != k[1] or strides != k or any(pads) or any(d != 1 for d in a.get("dilations", [1, 1])) \
                or a.get("ceil_mode", 0) or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID", "NOTSET"):
            self.fail(node, f"kernel {k}, strides {strides}, pads {pads}: only square pools with stride = "
                            "kernel, no padding and no dilation are supported")
        if self.pending is not None:
            self.fail(node, "a max-pool between a linear layer and its Relu; put it after the Relu")
        if not self.activated:
            self.fail(node, "a max-pool on a value that is not a ReLU activation or the input")
        try:
            pool = MaxPool(tuple(self.shape), int(k[0]))
        except ConfigError as e:
            self.fail(node, str(e))
        if any(i == len(self.weights) for i, _ in self.pools):
            self.fail(node, "two max-pools in a row")
        self.pools.append((len(self.weights), pool))
        C, H, W = self.shape
        self.shape = (C, H // pool.pool, W // pool.pool)

    def read(self):
        x, self.shape = self._input_shape()
        for node in self.graph.node:
            op = node.op_type
            if node.domain not in ("", "ai.onnx"):
                self.fail(node, f"operator {op} of domain {node.domain!r} is not supported")
            if op == "Constant":
                a = self.attrs(node)
                if "value" not in a:
                    self.fail(node, "only tensor constants are supported")
                self.consts[node.output[0]] = self._array(a["value"], f"constant {node.output[0]!r}")
                continue
            if op not in SUPPORTED_OPS:
                self.fail(node, f"operator {op} is not supported (supported: {', '.join(SUPPORTED_OPS)})")
            data_in = [i for i in node.input if i and i not in self.consts]
            if data_in != [x]:
                self.fail(node, f"reads {data_in or 'only constants'}, not the output of the previous "
                                f"layer {x!r}: only sequential networks are supported")
            if self.final and op not in _PASS:
                self.fail(node, f"{op} after the softmax")
            if op == "Gemm":
                self.gemm(node)
            elif op == "MatMul":
                self.matmul(node)
            elif op == "Add":
                self.add(node, x)
            elif op == "Relu":
                self.relu(node)
            elif op == "Flatten":
                self.flatten(node)
            elif op == "Reshape":
                self.reshape(node)
            elif op == "MaxPool":
                self.maxpool(node)
            elif op in _FINAL:
                if self.pending is None:
                    self.fail(node, "a softmax that does not follow the output layer")
                self.final = True
            x = node.output[0]
        if x != self.graph.output[0].name:
            raise ConfigError(f"{self.path}: the graph output {self.graph.output[0].name!r} is not the end "
                              "of the chain of layers")
        if self.pending is None:
            raise ConfigError(f"{self.path}: the network must end with a linear layer (the logits), "
                              "not with a Relu or a max-pool")
        self._close()
        return FloatNet(tuple(self.weights), tuple(self.biases), tuple(self.pools))


def from_onnx(path) -> FloatNet:
    """Read an MLP (optionally with max-pools) from an ONNX file into a :class:`FloatNet`.

    Parameters
    ----------
    path : str or os.PathLike
        An ``.onnx`` file, e.g. from ``torch.onnx.export`` or tf2onnx.

    Returns
    -------
    FloatNet
        Dense layers W (n_out, n_in) with ReLU between them, linear logits
        at the end; max-pools as ``(index of the next dense layer, MaxPool)``.
        A 4-D input (batch, C, H, W) is read flattened channel-major.

    Raises
    ------
    ConfigError
        An unsupported operator (naming the operator and the node), a
        graph that is not one chain, wrong shapes, NaN weights, or a file
        that is not ONNX.
    """
    path = os.fspath(path)
    model = load_onnx(path)
    net = _Reader(model, path)
    try:
        return net.read()
    except ConfigError as e:
        msg = str(e)
        raise ConfigError(msg if msg.startswith(path) else f"{path}: {msg}") from None
