"""Datasets for hpopt: built-ins (Keras-cache layout, downloaded when missing), custom
folders / .npz / .csv, split into train / validation / test.

Never imports TensorFlow or Keras: config validation imports this package on every CLI
call, and the arrays it returns are plain numpy so they travel to job processes and the
GPU worker unchanged.
"""

from .base import Dataset, DatasetError, DatasetUnavailableError
from .builtin import is_available_offline
from .download import OFFLINE_ENV, keras_cache_dir
from .loader import load_dataset
from .registry import BUILTIN_DATASETS, DatasetInfo, resolve_dataset_name

__all__ = [
    "BUILTIN_DATASETS",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "DatasetUnavailableError",
    "OFFLINE_ENV",
    "is_available_offline",
    "keras_cache_dir",
    "load_dataset",
    "resolve_dataset_name",
]
