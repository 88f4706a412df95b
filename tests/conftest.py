"""Shared fixtures: offline mode, quiet TensorFlow, the shared datasets when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HYPEROPT_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """../shared/datasets (may be absent on a fresh clone: tests then build stand-ins)."""
    return SHARED_DATASETS


@pytest.fixture(scope="session")
def digits():
    """The digits dataset with the default splits, loaded once per test session."""
    from hpopt.datasets import load_dataset

    return load_dataset("digits", seed=42)
