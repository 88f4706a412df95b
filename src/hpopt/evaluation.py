"""Final evaluation of the best model on the test split (never used for selection)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

import keras
import numpy as np

from hpopt.training import input_pipeline

logger = logging.getLogger(__name__)


def evaluate_on_test(model_path: Path, dataset: Any) -> Optional[dict[str, Any]]:
    """Load best_model.keras from disk (proving it loads) and score it on the test split."""
    if dataset.x_test is None or len(dataset.x_test) == 0:
        return None
    model = keras.saving.load_model(model_path)
    probabilities = model.predict(input_pipeline(dataset.x_test, dataset.y_test, 256), verbose=0)
    predictions = probabilities.argmax(axis=1)
    labels = np.asarray(dataset.y_test)
    loss = float(np.mean(-np.log(np.clip(probabilities[np.arange(len(labels)), labels], 1e-12, 1.0))))
    confusion = np.zeros((dataset.num_classes, dataset.num_classes), dtype=int)
    np.add.at(confusion, (labels, predictions), 1)
    return {
        "test_accuracy": float((predictions == labels).mean()),
        "test_loss": loss,
        "confusion_matrix": confusion.tolist(),
        "model": model,
    }
