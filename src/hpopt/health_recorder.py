"""Record the raw statistics that ``hpopt.health`` turns into health metrics.

Once per health epoch, on a fixed probe batch of validation samples: the output of every
layer with an activation, the true gradient of the loss for every trainable weight
(GradientTape), and weight/bias statistics. Only summaries (per-unit std/mean, norms,
small histograms) are kept, so a snapshot is a few KB of plain JSON.
"""

from __future__ import annotations

import math
import time
from typing import Any

import keras
import numpy as np
import tensorflow as tf

HISTOGRAM_BINS = 30


def _block_name(layer_name: str) -> str:
    """conv_2_act, conv_2_bn and conv_2 all belong to block conv_2."""
    for suffix in ("_act", "_bn", "_pool", "_dropout"):
        if layer_name.endswith(suffix):
            return layer_name[: -len(suffix)]
    return layer_name


def _kind(block: str) -> str:
    if block.startswith("conv"):
        return "conv"
    if block.startswith("dense"):
        return "dense"
    if block in ("lstm", "bilstm"):
        return "lstm"
    if block == "output":
        return "output"
    return block


def _activation_name(layer: keras.layers.Layer) -> str:
    if isinstance(layer, keras.layers.Bidirectional):
        layer = layer.forward_layer
    fn = getattr(layer, "activation", None)
    configured = layer.get_config().get("activation") if hasattr(layer, "get_config") else None
    name = getattr(fn, "__name__", None) or configured
    return {"silu": "swish"}.get(str(name), str(name))


def _histogram(values: np.ndarray) -> dict[str, list[float]]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {"edges": [], "counts": []}
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def _finite_float(value: float) -> float:
    return float(value) if math.isfinite(value) else float("nan")


class HealthRecorder:
    """Take health snapshots of one model on one fixed probe batch."""

    def __init__(self, model: keras.Model, x_probe: np.ndarray, y_probe: np.ndarray) -> None:
        self.model = model
        self.x_probe = tf.convert_to_tensor(x_probe.astype("float32") if x_probe.dtype == np.uint8 else x_probe)
        self.y_probe = tf.convert_to_tensor(y_probe)
        self.seconds = 0.0
        self._activation_layers = [
            layer for layer in model.layers
            if layer.name.endswith("_act") or layer.name in ("lstm", "bilstm", "output")
        ]
        self._probe_model = keras.Model(model.input, [layer.output for layer in self._activation_layers])
        self._blocks = self._group_variables()

    def _group_variables(self) -> dict[str, list[tuple[int, Any]]]:
        """Block name -> [(index in model.trainable_variables, variable)], in depth order."""
        index_of = {id(v): i for i, v in enumerate(self.model.trainable_variables)}
        blocks: dict[str, list[tuple[int, Any]]] = {}
        for layer in self.model.layers:
            for variable in layer.trainable_variables:
                blocks.setdefault(_block_name(layer.name), []).append((index_of[id(variable)], variable))
        return blocks

    def snapshot(self, epoch: int) -> dict[str, Any]:
        """Statistics of the model as it is now; cost is one forward+backward pass on the probe."""
        started = time.perf_counter()
        loss_fn = keras.losses.SparseCategoricalCrossentropy()
        with tf.GradientTape() as tape:
            outputs = self._probe_model(self.x_probe, training=False)
            loss = loss_fn(self.y_probe, outputs[-1])
        gradients = tape.gradient(loss, self.model.trainable_variables)

        layers: dict[str, dict[str, Any]] = {}
        for layer, output in zip(self._activation_layers, outputs):
            block = _block_name(layer.name)
            values = np.asarray(output, dtype=np.float64)
            per_unit = values.reshape(-1, values.shape[-1])
            source = self.model.get_layer(block) if block in ("lstm", "bilstm", "output") else layer
            layers[block] = {
                "name": block,
                "kind": _kind(block),
                "activation_fn": _activation_name(source),
                "activations": {
                    "unit_std": per_unit.std(axis=0).tolist(),
                    "unit_mean": per_unit.mean(axis=0).tolist(),
                    "mean": _finite_float(values.mean()),
                    "std": _finite_float(values.std()),
                },
            }
        for block, variables in self._blocks.items():
            entry = layers.setdefault(block, {"name": block, "kind": _kind(block), "activation_fn": "linear"})
            grads = [gradients[i] for i, _ in variables]
            entry["gradients"] = _gradient_stats(grads, [v for _, v in variables])
            entry["weights"] = _weight_stats([v for _, v in variables])

        ordered = [layers[name] for name in self._depth_order(layers)]
        self.seconds += time.perf_counter() - started
        return {"epoch": epoch, "loss": _finite_float(float(loss)), "layers": ordered}

    def _depth_order(self, layers: dict[str, Any]) -> list[str]:
        order: list[str] = []
        for layer in self.model.layers:
            block = _block_name(layer.name)
            if block in layers and block not in order:
                order.append(block)
        return order


def _gradient_stats(grads: list[Any], variables: list[Any]) -> dict[str, Any]:
    kernel_sq, bias_sq, other_sq, has_bias = 0.0, 0.0, 0.0, False
    finite = True
    for grad, variable in zip(grads, variables):
        if grad is None:
            continue
        if isinstance(grad, tf.IndexedSlices):  # embeddings: sparse rows -> dense norm is the same
            grad = grad.values
        g = np.asarray(grad, dtype=np.float64)
        finite = finite and bool(np.all(np.isfinite(g)))
        if len(variable.shape) >= 2:
            kernel_sq += float(np.sum(g * g))
        elif _is_bias(variable):
            bias_sq += float(np.sum(g * g))
            has_bias = True
        else:  # batch-norm scale/offset: part of the layer's norm only
            other_sq += float(np.sum(g * g))
    return {
        "norm": _finite_float(math.sqrt(kernel_sq + bias_sq + other_sq)) if finite else float("nan"),
        "kernel_norm": _finite_float(math.sqrt(kernel_sq)) if finite else float("nan"),
        "bias_norm": (_finite_float(math.sqrt(bias_sq)) if finite else float("nan")) if has_bias else None,
        "finite": finite,
    }


def _is_bias(variable: Any) -> bool:
    """Biases proper; batch-norm gamma/beta are 1-D too but are not biases."""
    return len(variable.shape) == 1 and variable.name.split("/")[-1].startswith("bias")


def _weight_stats(variables: list[Any]) -> dict[str, Any]:
    kernels = [np.asarray(v, dtype=np.float64).ravel() for v in variables if len(v.shape) >= 2]
    biases = [np.asarray(v, dtype=np.float64).ravel() for v in variables if len(v.shape) < 2 and _is_bias(v)]
    kernel = np.concatenate(kernels) if kernels else np.zeros(0)
    bias = np.concatenate(biases) if biases else None
    if bias is not None and bias.size == 0:
        bias = None
    return {
        "kernel_mean": _finite_float(kernel.mean()) if kernel.size else 0.0,
        "kernel_std": _finite_float(kernel.std()) if kernel.size else 0.0,
        "bias_mean": _finite_float(bias.mean()) if bias is not None and bias.size else None,
        "bias_std": _finite_float(bias.std()) if bias is not None and bias.size else None,
        "kernel_hist": _histogram(kernel),
        "bias_hist": _histogram(bias) if bias is not None else {"edges": [], "counts": []},
    }
