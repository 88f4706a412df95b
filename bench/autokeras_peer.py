"""The AutoKeras peer: ``ak.ImageClassifier`` as its docs write it, timed per epoch.

Runs under .venv-autokeras's python (``make bench-autokeras-venv``; AutoKeras 3.0 needs an
older keras than .venv has), so it must never import hpopt. The call is the one from
AutoKeras' image-classification guide: ``ImageClassifier(max_trials=..., overwrite=True,
seed=seed)`` then ``fit(x_train, y_train, validation_data=(x_val, y_val), epochs=10)``, on
the uint8 images as they are (AutoKeras adds its own normalization). ``max_trials`` is
large so the search never ends before the parent kills it at the budget; the one thing
added is a callback that writes each epoch's val_accuracy (AutoKeras and KerasTuner
deep-copy the callbacks of every trial, so every copy shares the writer and the counter).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras


class AutoKerasEpochs(keras.callbacks.Callback):
    """Counts fits (one per trial) and writes every epoch's val_accuracy."""

    def __init__(self, writer: Any, state: dict[str, int] | None = None) -> None:
        super().__init__()
        self.writer = writer
        self.state = state if state is not None else {"trial": -1}

    def __deepcopy__(self, memo: dict) -> "AutoKerasEpochs":
        return AutoKerasEpochs(self.writer, self.state)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.state["trial"] += 1

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.writer.epoch(self.state["trial"], (logs or {}).get("val_accuracy"))


def run_autokeras(split: Any, seed: int, writer: Any, epochs: int = 10, max_trials: int = 10000) -> dict[str, Any]:
    """AutoKeras' ImageClassifier search on hpopt's split; returns how many fits it started."""
    import autokeras as ak

    callback = AutoKerasEpochs(writer)
    # Its trials go to the working folder the parent gave it (and deletes): a killed process cleans nothing up.
    clf = ak.ImageClassifier(max_trials=max_trials, overwrite=True, seed=seed, directory=str(Path.cwd() / "autokeras"))
    clf.fit(split.x_train, split.y_train, validation_data=(split.x_val, split.y_val), epochs=epochs,
            callbacks=[callback], verbose=0)
    return {"fits_started": callback.state["trial"] + 1, "autokeras": ak.__version__, "keras": keras.__version__}
