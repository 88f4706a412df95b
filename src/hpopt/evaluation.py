"""Final evaluation of the best model on the test split (never used for selection)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

import keras
import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss

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
    classes = list(range(dataset.num_classes))
    confusion = confusion_matrix(labels, predictions, labels=classes)
    return {
        "test_accuracy": float(accuracy_score(labels, predictions)),
        "test_loss": float(log_loss(labels, probabilities, labels=classes)),
        "confusion_matrix": confusion.tolist(),
        "model": model,
    }
