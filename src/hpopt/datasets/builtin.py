"""Finding, fetching and reading the built-in datasets.

Lookup order: data_dir, then the Keras cache; an archive found there is extracted beside
itself (or into a writable folder); only when nothing is on disk is the publisher's URL
tried, and offline that fails at once with a message naming the file and the folders.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import class_names, gtsrb, keras_files
from .archives import extract
from .base import DatasetError, RawData
from .download import fetch, search_dirs, unavailable, what_to_put, writable_dir
from .registry import BUILTIN_DATASETS, FASHION_FILES, DatasetInfo, resolve_dataset_name

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str] | None

_FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
_FILES = {"mnist": "mnist.npz", "imdb": "imdb.npz", "reuters": "reuters.npz"}


def _fashion_dir(folder: Path) -> Path | None:
    for cand in (folder / "fashion-mnist", folder):
        if all((cand / f).is_file() for f in FASHION_FILES):
            return cand
    return None


def _extract_here_or_cache(archive: Path, data_dir: PathLike) -> Path:
    """Extract beside the archive when that folder is writable, else to a writable one."""
    dest = archive.parent if os.access(archive.parent, os.W_OK) else writable_dir(data_dir)
    return extract(archive, dest)


def _find_folder(info: DatasetInfo, folder: Path) -> Path | None:
    """The data folder: ``folder`` itself, in it, or one level below it (Keras 3 extracts
    cifar to ``cifar-10-batches-py-target/cifar-10-batches-py``)."""
    if info.name not in _FOLDERS:
        return gtsrb.find_images_dir(folder)
    name = _FOLDERS[info.name]
    if not folder.is_dir():
        return None
    candidates = [folder] if folder.name == name else []
    candidates += [folder / name, *sorted(folder.glob(f"*/{name}"))]
    return next((c for c in candidates if c.is_dir()), None)


def _archive_names(info: DatasetInfo) -> list[str]:
    """The publisher's archive name, plus the names Keras 3 stores it under."""
    assert info.archive is not None
    folder = _FOLDERS.get(info.name)
    return [info.archive] + ([f"{folder}-target_archive", f"{folder}-target.tar.gz"] if folder else [])


def locate(info: DatasetInfo, data_dir: PathLike, *, extract_archives: bool = True) -> Path | None:
    """The file or folder to read ``info`` from, or None when nothing usable is on disk.

    With ``extract_archives=False`` an archive counts as found (and is returned as is):
    used by availability checks, which must not write anything.
    """
    dirs = search_dirs(data_dir)
    if info.name in _FILES:
        return next((d / _FILES[info.name] for d in dirs if (d / _FILES[info.name]).is_file()), None)
    if info.name == "fashion_mnist":
        return next((f for f in map(_fashion_dir, dirs) if f is not None), None)
    if info.archive is None:
        return None
    found = next((f for f in (_find_folder(info, d) for d in dirs) if f is not None), None)
    if found is not None:
        return found
    for archive in (d / a for d in dirs for a in _archive_names(info)):
        if archive.is_file():
            if not extract_archives:
                return archive
            found = _find_folder(info, _extract_here_or_cache(archive, data_dir))
            if found is None:
                raise DatasetError(
                    f"{archive} was extracted but holds no {what_to_put(info)}; is it the right file?"
                )
            return found
    return None


def is_available_offline(name: str, data_dir: PathLike) -> bool:
    """True when ``name`` can be loaded without the network (never downloads or extracts)."""
    try:
        resolved = resolve_dataset_name(name)
    except DatasetError:
        return False
    info = BUILTIN_DATASETS.get(resolved)
    if info is None:  # a custom path that exists
        return True
    return info.bundled or locate(info, data_dir, extract_archives=False) is not None


def _locate_or_fetch(info: DatasetInfo, data_dir: PathLike) -> Path:
    found = locate(info, data_dir)
    if found is None:
        fetch(info, data_dir)
        found = locate(info, data_dir)
    if found is None:
        raise unavailable(info, data_dir, "downloaded, but the expected files are not there")
    logger.info("dataset %s: reading %s", info.name, found)
    return found


def _digits() -> RawData:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.rint(d.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)[..., np.newaxis]
    return RawData("image", x, d.target.astype(np.int64), None, None, list(class_names.DIGITS))


def _check_labels(info: DatasetInfo, *ys: np.ndarray) -> None:
    for y in ys:
        if y.size and (int(y.min()) < 0 or int(y.max()) >= info.num_classes):
            raise DatasetError(
                f"dataset {info.name!r}: labels must be in 0..{info.num_classes - 1}, "
                f"found {int(y.min())}..{int(y.max())}"
            )


def read_builtin(name: str, data_dir: PathLike, image_size: int | Sequence[int] | None) -> RawData:
    """Read a built-in dataset into RawData (publisher labels and class names kept)."""
    info = BUILTIN_DATASETS[name]
    if name == "digits":
        return _digits()
    path = _locate_or_fetch(info, data_dir)
    names = list(class_names.BY_DATASET[name])
    text_kind = None
    if name == "gtsrb":
        x, y, tracks = gtsrb.read_gtsrb(path, image_size)
        _check_labels(info, y)
        return RawData("image", x, y, None, None, names, fixed_classes=True, groups=tracks)
    if name == "mnist":
        x, y, xt, yt = keras_files.read_mnist(path)
    elif name == "fashion_mnist":
        x, y, xt, yt = keras_files.read_fashion(path)
    elif name == "cifar10":
        x, y, xt, yt = keras_files.read_cifar10(path)
    elif name == "cifar100":
        x, y, xt, yt = keras_files.read_cifar100(path)
        names = keras_files.cifar100_label_names(path) or names
    else:  # imdb, reuters
        reader = keras_files.read_imdb if name == "imdb" else keras_files.read_reuters
        x, y, xt, yt = reader(path)
        text_kind = "ranks"
    y, yt = np.asarray(y).astype(np.int64).ravel(), np.asarray(yt).astype(np.int64).ravel()
    _check_labels(info, y, yt)
    if len(x) != len(y) or len(xt) != len(yt):
        raise DatasetError(f"{path}: {len(x)} train inputs for {len(y)} labels, {len(xt)} test inputs for {len(yt)}")
    return RawData(info.modality, x, y, xt, yt, names, text_kind=text_kind, fixed_classes=True)
