"""Where a run's things live: the results folder's names, the default storage and the study name.

The results folder is a contract (README "The results folder"): the CLI, the API's server and
job processes, the plots and the tests all find files through ``RunLayout``, so a name is
written once. Light on purpose (no Optuna, no TensorFlow): the API server imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

DEFAULT_STORAGE_FILE = "hpopt_studies.db"  # the SQLite storage in results_dir when none is configured
BEST_MODEL_FILE = "best_model.keras"
BEST_SO_FAR_FILE = "best_so_far.json"


@dataclass(frozen=True)
class RunLayout:
    """The paths of one run folder, ``<results_dir>/<run_name>/``."""

    run_dir: Path

    @classmethod
    def at(cls, results_dir: str | Path, run_name: str) -> "RunLayout":
        return cls(Path(results_dir).expanduser().resolve() / run_name)

    @property
    def summary(self) -> Path:
        return self.run_dir / "summary.json"

    @property
    def trials_csv(self) -> Path:
        return self.run_dir / "trials.csv"

    @property
    def report(self) -> Path:
        return self.run_dir / "report.md"

    @property
    def best_model(self) -> Path:
        return self.run_dir / BEST_MODEL_FILE

    @property
    def preprocessing(self) -> Path:
        """How inputs become model inputs (hpopt.datasets.preprocessing), for predict."""
        return self.run_dir / "preprocessing.json"

    @property
    def export_dir(self) -> Path:
        return self.run_dir / "export"

    @property
    def export_savedmodel(self) -> Path:
        return self.export_dir / "savedmodel"

    @property
    def export_tflite(self) -> Path:
        return self.export_dir / "model.tflite"

    @property
    def export_onnx(self) -> Path:
        return self.export_dir / "model.onnx"

    def model_file(self, fmt: str) -> Path:
        """The best model in ``fmt``: keras (best_model.keras), savedmodel, tflite or onnx (export/)."""
        return {"keras": self.best_model, "savedmodel": self.export_savedmodel, "tflite": self.export_tflite,
                "onnx": self.export_onnx}[fmt]

    @property
    def best_hyperparameters(self) -> Path:
        return self.run_dir / "best_hyperparameters.yaml"

    @property
    def search_space(self) -> Path:
        return self.run_dir / "search_space.yaml"

    @property
    def tensorboard_dir(self) -> Path:
        return self.run_dir / "tensorboard"

    @property
    def best_so_far(self) -> Path:
        return self.run_dir / BEST_SO_FAR_FILE

    @property
    def plots_dir(self) -> Path:
        return self.run_dir / "plots"

    def trial_plots_dir(self, number: int) -> Path:
        return self.plots_dir / f"trial_{number}"

    @property
    def trial_models_dir(self) -> Path:
        """Models of trials that were best when they ended, until the run places the best one."""
        return self.run_dir / "trial_models"

    def trial_model(self, number: int) -> Path:
        return self.trial_models_dir / f"trial_{number}.keras"

    @property
    def trial_details_dir(self) -> Path:
        return self.run_dir / "trials"

    def trial_details(self, number: int) -> Path:
        return self.trial_details_dir / f"trial_{number}.json"


def default_storage_path(results_dir: str | Path) -> Path:
    return Path(results_dir).expanduser().resolve() / DEFAULT_STORAGE_FILE


def storage_url(storage: Optional[str], results_dir: str | Path, *, create_dir: bool = True) -> str:
    """The configured Optuna storage URL, or the SQLite file in results_dir."""
    if storage:
        return storage
    path = default_storage_path(results_dir)
    if create_dir:
        path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def study_name(study_name_setting: Optional[str], run_name: str) -> str:
    """A run's study is named by ``study_name``, else by its run name."""
    return study_name_setting or run_name
