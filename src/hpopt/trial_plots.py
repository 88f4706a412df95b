"""Per-trial plots under plots/trial_<n>/: what happened inside one model while it trained."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any, Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from hpopt.layout import RunLayout  # noqa: E402

logger = logging.getLogger(__name__)


def save_figure(fig: plt.Figure, path: Path, dpi: int = 100) -> Path:
    """Write and close a figure (closing matters: a long run makes hundreds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def _num(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and value is not None else math.nan


def plot_training_curves(details: dict[str, Any], path: Path) -> Optional[Path]:
    """Loss and accuracy, train vs validation; the overfitting point (val_loss minimum) marked."""
    history = details.get("history") or []
    if not history:
        return None
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [_num(h["loss"]) for h in history], marker="o", label="train loss")
    ax_loss.plot(epochs, [_num(h["val_loss"]) for h in history], marker="o", label="val loss")
    ax_acc.plot(epochs, [_num(h["accuracy"]) for h in history], marker="o", label="train accuracy")
    ax_acc.plot(epochs, [_num(h["val_accuracy"]) for h in history], marker="o", label="val accuracy")
    overfit = (details.get("health") or {}).get("overfitting_epoch")
    if overfit:
        for ax in (ax_loss, ax_acc):
            ax.axvline(overfit, color="red", linestyle="--", label=f"overfitting from epoch {overfit}")
    for ax, title in ((ax_loss, "Loss"), (ax_acc, "Accuracy")):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_title(f"Trial {details['number']}: {title} ({details.get('status')})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_gradient_flow(details: dict[str, Any], path: Path) -> Optional[Path]:
    """Gradient norm per layer (log scale) at each recorded epoch: vanishing or exploding?"""
    snapshots = details.get("snapshots") or []
    if not snapshots:
        return None
    layers = [layer["name"] for layer in snapshots[-1]["layers"] if "gradients" in layer]
    if not layers:
        return None
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(layers)), 4))
    cmap = plt.get_cmap("viridis")
    for i, snapshot in enumerate(snapshots):
        norms = {layer["name"]: _num(layer["gradients"].get("norm")) for layer in snapshot["layers"]
                 if "gradients" in layer}
        values = [max(norms.get(name, math.nan), 1e-12) for name in layers]
        ax.plot(layers, values, marker="o", color=cmap(i / max(1, len(snapshots) - 1)),
                label=f"epoch {snapshot['epoch']}")
    ax.set_yscale("log")
    ax.set_ylabel("gradient L2 norm")
    ax.set_title(f"Trial {details['number']}: gradient flow (input → output)")
    ax.tick_params(axis="x", rotation=45)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    return save_figure(fig, path)


def plot_weight_distributions(details: dict[str, Any], path: Path) -> Optional[Path]:
    """Kernel and bias histograms per layer at the last recorded epoch."""
    snapshots = details.get("snapshots") or []
    if not snapshots:
        return None
    layers = [layer for layer in snapshots[-1]["layers"]
              if layer.get("weights", {}).get("kernel_hist", {}).get("counts")]
    if not layers:
        return None
    cols = min(4, len(layers))
    rows = math.ceil(len(layers) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax, layer in zip(axes.flat, layers):
        for key, color, label in (("kernel_hist", "tab:blue", "kernel"), ("bias_hist", "tab:orange", "bias")):
            hist = layer["weights"].get(key) or {}
            if hist.get("counts"):
                edges = np.asarray(hist["edges"], dtype=float)
                ax.stairs(hist["counts"], edges, fill=True, alpha=0.5, color=color, label=label)
        ax.set_title(layer["name"], fontsize=9)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(layers):]:
        ax.axis("off")
    fig.suptitle(f"Trial {details['number']}: weight and bias distributions (epoch {snapshots[-1]['epoch']})")
    return save_figure(fig, path)


def plot_dead_neurons(details: dict[str, Any], path: Path) -> Optional[Path]:
    """Share of dead units per layer (output barely varies over the probe batch)."""
    dead = ((details.get("health") or {}).get("per_layer") or {}).get("dead_fraction") or {}
    if not dead:
        return None
    names = list(dead)
    values = [_num(dead[n]) for n in names]
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(names)), 3.5))
    ax.bar(names, values, color=["tab:red" if v > 0.5 else "tab:gray" for v in values])
    ax.set_ylim(0, 1)
    ax.set_ylabel("dead share")
    ax.set_title(f"Trial {details['number']}: dead neurons per layer")
    ax.tick_params(axis="x", rotation=45)
    return save_figure(fig, path)


def plot_confusion_matrix(confusion: list[list[int]], class_names: list[str], path: Path) -> Path:
    """Where the best model's test errors go."""
    matrix = np.asarray(confusion)
    size = max(4, 0.45 * len(matrix))
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ticks = range(len(matrix))
    labels = [str(c)[:12] for c in class_names] if len(class_names) == len(matrix) else list(ticks)
    if len(matrix) <= 20:
        ax.set_xticks(list(ticks), labels, rotation=90, fontsize=7)
        ax.set_yticks(list(ticks), labels, fontsize=7)
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, int(value), ha="center", va="center", fontsize=6,
                    color="white" if value > matrix.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(matrix) / max(1, matrix.sum())
    ax.set_title(f"Confusion matrix on the test split (accuracy {accuracy:.3f})")
    return save_figure(fig, path)


def plot_activation_maps(model: Any, images: np.ndarray, path: Path, max_channels: int = 6) -> Optional[Path]:
    """What the first conv layer responds to, for a few test images."""
    import keras

    act_layers = [layer for layer in model.layers if layer.name.startswith("conv_") and layer.name.endswith("_act")]
    if not act_layers or len(images) == 0:
        return None
    probe = keras.Model(model.input, act_layers[0].output)
    maps = np.asarray(probe(images.astype("float32"), training=False))
    channels = min(max_channels, maps.shape[-1])
    fig, axes = plt.subplots(len(images), channels + 1, figsize=(1.6 * (channels + 1), 1.6 * len(images)),
                             squeeze=False)
    for row, image in enumerate(images):
        axes[row, 0].imshow(image.squeeze(), cmap="gray" if image.shape[-1] == 1 else None)
        axes[row, 0].set_title("input", fontsize=7)
        for c in range(channels):
            axes[row, c + 1].imshow(maps[row, :, :, c], cmap="magma")
            axes[row, c + 1].set_title(f"{act_layers[0].name}[{c}]", fontsize=6)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle("Activation maps of the first conv layer")
    return save_figure(fig, path)


def write_trial_plots(run_dir: Path, number: int, evaluation: Optional[dict[str, Any]],
                      dataset: Any) -> dict[str, Path]:
    """Every per-trial plot that the trial's recorded details allow."""
    layout = RunLayout(run_dir)
    details_path = layout.trial_details(number)
    if not details_path.exists():
        return {}
    details = json.loads(details_path.read_text())
    out_dir = layout.trial_plots_dir(number)
    plots: dict[str, Path] = {}
    for name, make in (
        ("training_curves", plot_training_curves),
        ("gradient_flow", plot_gradient_flow),
        ("weight_distributions", plot_weight_distributions),
        ("dead_neurons", plot_dead_neurons),
    ):
        path = make(details, out_dir / f"{name}.png")
        if path:
            plots[name] = path
    if evaluation:
        plots["confusion_matrix"] = plot_confusion_matrix(
            evaluation["confusion_matrix"], list(getattr(dataset, "class_names", [])), out_dir / "confusion_matrix.png")
        if dataset.modality == "image":
            path = plot_activation_maps(evaluation["model"], dataset.x_test[:4], out_dir / "activation_maps.png")
            if path:
                plots["activation_maps"] = path
    return plots
