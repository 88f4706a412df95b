"""Run a finished run's model on a prepared Batch and write the prediction rows (imports TensorFlow)."""

from __future__ import annotations

import csv
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from hpopt.model_formats import input_dtype, predict_with
from hpopt.predict.inputs import Batch

logger = logging.getLogger(__name__)

FIELDS = ("id", "predicted_class", "probability", "top3")


def rows(probabilities: np.ndarray, ids: list[str], class_names: list[str]) -> list[dict[str, Any]]:
    """One row per input: the most probable class, its probability, and the top 3 as name:p|..."""
    out = []
    for sample_id, probs in zip(ids, probabilities):
        order = np.argsort(-probs, kind="stable")[:3]
        out.append({
            "id": sample_id,
            "predicted_class": class_names[int(order[0])],
            "probability": round(float(probs[order[0]]), 6),
            "top3": "|".join(f"{class_names[int(k)]}:{float(probs[k]):.4f}" for k in order),
        })
    return out


def predict(model_path: Path, fmt: str, batch: Batch, spec: dict[str, Any]) -> list[dict[str, Any]]:
    probabilities = predict_with(fmt, model_path, batch.x.astype(input_dtype(spec["kind"])))
    names = list(spec["class_names"])
    if probabilities.ndim != 2 or probabilities.shape[1] != len(names):
        raise ValueError(f"{model_path}: the model gives {probabilities.shape[1:]} outputs for "
                         f"{len(names)} classes in preprocessing.json; is it this run's model?")
    return rows(probabilities, batch.ids, names)


def write_csv(path: Path, table: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(table)


def summary_line(table: list[dict[str, Any]], fmt: str, model_path: Path) -> str:
    counts = Counter(r["predicted_class"] for r in table).most_common(3)
    mean_p = sum(r["probability"] for r in table) / len(table)
    common = ", ".join(f"{name} ({n})" for name, n in counts)
    return (f"predicted {len(table)} input(s) with {model_path.name} ({fmt}): most frequent {common}; "
            f"mean probability {mean_p:.3f}")
