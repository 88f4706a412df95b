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


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL: CI's (HYPEROPT_TEST_POSTGRES_URL), else one started here for the session."""
    from postgres_server import postgres_bin, running_postgres

    url = os.environ.get("HYPEROPT_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    if postgres_bin() is None:
        pytest.skip("HYPEROPT_TEST_POSTGRES_URL is unset and PostgreSQL is not installed here "
                    "(.ci/run installs and starts it)")
    with running_postgres() as started:
        yield started


@pytest.fixture(scope="session")
def priced_workers(tmp_path_factory):
    """Two real GPU workers (local runpod servers) shared by the cost, budget and tier tests: each
    imports TensorFlow at start, so one pair serves the whole session."""
    from gpu_worker_helpers import running_worker

    with running_worker(tmp_path_factory.mktemp("cheap")) as cheap, \
            running_worker(tmp_path_factory.mktemp("dear")) as dear:
        yield cheap, dear
