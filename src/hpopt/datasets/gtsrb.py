"""GTSRB from the official training archive layout.

``GTSRB/Final_Training/Images/000NN/*.ppm`` with ``GT-000NN.csv`` per class
(``Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId``). Each image is cropped
to its ROI (the annotated sign: the raw images carry a ~10% margin of background) and
resized to image_size (default 32x32) RGB, the usual GTSRB preprocessing.

The training set is made of tracks: ``<track>_<frame>.ppm`` are ~30 frames of one physical
sign seen while driving past it. Frames of a track are near-duplicates, so read_gtsrb also
returns a group id per image, (class, track), and the loader keeps each track whole in one
of train / validation / test (a per-image split would leak a sign's frames into all three).
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .base import DatasetError
from .images import DEFAULT_IMAGE_SIZE, normalize_size, resize_image

logger = logging.getLogger(__name__)

NUM_CLASSES = 43
_CLASS_DIR = re.compile(r"^\d{5}$")
_RELATIVE = ("GTSRB/Final_Training/Images", "Final_Training/Images", "Images", ".")
_TRACK_FILE = re.compile(r"^(\d+)_\d+\.ppm$", re.IGNORECASE)
_TRACKS_PER_CLASS = 100_000  # group id = class * this + track (official track numbers have 5 digits)


def _is_images_dir(folder: Path) -> bool:
    try:
        return folder.is_dir() and any(
            p.is_dir() and _CLASS_DIR.match(p.name) for p in folder.iterdir()
        )
    except OSError:
        return False


def find_images_dir(base: Path) -> Path | None:
    """The ``Images`` folder for ``base`` = the folder holding GTSRB/, GTSRB itself,
    Final_Training, Images, or one class folder inside it (looked up one level)."""
    for rel in _RELATIVE:
        if _is_images_dir(base / rel):
            return (base / rel).resolve()
    if _CLASS_DIR.match(base.name) and _is_images_dir(base.parent):
        return base.parent.resolve()
    return None


def _annotations(class_dir: Path) -> list[tuple[str, tuple[int, int, int, int] | None, int]]:
    """(file name, ROI box or None, class id) for every image of one class folder."""
    class_id = int(class_dir.name)
    gt = class_dir / f"GT-{class_dir.name}.csv"
    if not gt.is_file():
        logger.warning("%s missing: using every .ppm without ROI cropping", gt)
        return [(p.name, None, class_id) for p in sorted(class_dir.glob("*.ppm"))]
    rows = []
    with gt.open(newline="", encoding="utf-8") as fh:
        for line, row in enumerate(csv.DictReader(fh, delimiter=";"), start=2):
            try:
                box = tuple(int(row[k]) for k in ("Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2"))
                rows.append((row["Filename"], box, int(row["ClassId"])))
            except (KeyError, TypeError, ValueError) as exc:
                raise DatasetError(
                    f"{gt}, line {line}: expected Filename;Width;Height;Roi.X1;Roi.Y1;"
                    f"Roi.X2;Roi.Y2;ClassId, got {row} ({exc})"
                ) from exc
    return rows


def _read(path: Path, box: tuple[int, int, int, int] | None, size: tuple[int, int]) -> np.ndarray:
    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            if box is not None:
                x1, y1, x2, y2 = box  # inclusive corners, as in the GT files
                x1, y1 = max(0, x1), max(0, y1)
                x2, y2 = min(img.width, x2 + 1), min(img.height, y2 + 1)
                if x2 > x1 and y2 > y1:
                    img = img.crop((x1, y1, x2, y2))
            return np.asarray(resize_image(img, size))
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DatasetError(f"cannot read GTSRB image {path}: {exc}") from exc


def track_groups(names: Sequence[str], classes: Sequence[int]) -> np.ndarray:
    """One group id per image: (class, track) from ``<track>_<frame>.ppm``.

    A file not named that way gets a group of its own (no track to keep together).
    """
    groups = np.empty(len(names), dtype=np.int64)
    loose = 0
    for i, (name, class_id) in enumerate(zip(names, classes)):
        match = _TRACK_FILE.match(Path(name).name)
        if match and int(match.group(1)) < _TRACKS_PER_CLASS:
            groups[i] = class_id * _TRACKS_PER_CLASS + int(match.group(1))
        else:
            groups[i] = -1 - i  # unique, never equal to a track id
            loose += 1
    if loose:
        logger.warning("%d GTSRB file(s) not named <track>_<frame>.ppm: each is split on its own", loose)
    return groups


def read_gtsrb(
    images_dir: Path, image_size: int | Sequence[int] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All training images as (x uint8 (N, H, W, 3), y int64 official ClassId, track group ids)."""
    size = normalize_size(image_size) or (DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE)
    items: list[tuple[Path, tuple[int, int, int, int] | None, int]] = []
    for class_dir in sorted(p for p in images_dir.iterdir() if p.is_dir() and _CLASS_DIR.match(p.name)):
        for name, box, class_id in _annotations(class_dir):
            if not 0 <= class_id < NUM_CLASSES:
                raise DatasetError(f"{class_dir}: ClassId {class_id} outside 0..{NUM_CLASSES - 1}")
            items.append((class_dir / name, box, class_id))
    if not items:
        raise DatasetError(f"GTSRB folder {images_dir} holds no images")
    logger.info("reading %d GTSRB images from %s", len(items), images_dir)
    x = np.empty((len(items), size[0], size[1], 3), dtype=np.uint8)
    for i, (path, box, _) in enumerate(items):
        x[i] = _read(path, box, size)
    y = np.array([c for _, _, c in items], dtype=np.int64)
    return x, y, track_groups([p.name for p, _, _ in items], y.tolist())
