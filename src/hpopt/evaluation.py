"""Final evaluation of the best model on the test split (never used for selection)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

import keras
import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
)

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
        "macro_f1": float(f1_score(labels, predictions, labels=classes, average="macro", zero_division=0)),
        "balanced_accuracy": float(balanced_accuracy_score(labels, predictions)),
        "per_class": per_class_report(labels, predictions, list(getattr(dataset, "class_names", []) or [])),
        "confusion_matrix": confusion.tolist(),
        "model": model,
    }


def per_class_report(labels: np.ndarray, predictions: np.ndarray, class_names: list[str]) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support of every class (sklearn), in class-id order: which classes
    the model gets wrong, which accuracy alone hides on imbalanced data. A class never predicted
    has precision 0 (sklearn's zero_division=0), not a warning."""
    count = max(len(class_names), int(max(labels.max(initial=0), predictions.max(initial=0))) + 1)
    names = class_names if len(class_names) == count else [str(i) for i in range(count)]
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predictions, labels=list(range(count)), zero_division=0)
    return [{"class": names[i], "precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
             "support": int(support[i])} for i in range(count)]
