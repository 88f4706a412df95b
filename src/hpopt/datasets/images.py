"""Image arrays: size handling, resizing, conversion to uint8, and class-folder reading.

Every image dataset leaves here as uint8 (N, H, W, C) in 0..255: scaling to float is the
model's job, so the arrays stay 4x smaller and identical wherever they are sent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .base import DatasetError

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".gif")
DEFAULT_IMAGE_SIZE = 32
_GRAY_MODES = {"L", "1"}


def normalize_size(image_size: int | Sequence[int] | None) -> tuple[int, int] | None:
    """``32`` or ``(32, 32)`` -> ``(32, 32)`` (height, width); None stays None."""
    if image_size is None:
        return None
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        size: tuple[int, ...] = (int(image_size), int(image_size))
    elif isinstance(image_size, Sequence) and not isinstance(image_size, str) and len(image_size) == 2:
        size = tuple(int(s) for s in image_size)
    else:
        raise DatasetError(
            f"image_size={image_size!r}: expected a positive int (square) or (height, width)"
        )
    if min(size) < 1:
        raise DatasetError(f"image_size={image_size!r}: sizes must be >= 1")
    return size[0], size[1]


def resize_image(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize to (height, width) with bilinear filtering (antialiased when shrinking)."""
    if img.size == (size[1], size[0]):
        return img
    return img.resize((size[1], size[0]), Image.Resampling.BILINEAR)


def resize_array(x: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """Resize a uint8 (N, H, W, C) batch to ``size``; a no-op when it already has it."""
    if size is None or tuple(x.shape[1:3]) == size:
        return x
    out = np.empty((len(x), size[0], size[1], x.shape[3]), dtype=np.uint8)
    for i, img in enumerate(x):
        pil = Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img)
        out[i] = np.asarray(resize_image(pil, size)).reshape(size[0], size[1], x.shape[3])
    return out


def to_uint8_images(x: np.ndarray, source: str) -> np.ndarray:
    """Bring an image array to uint8 (N, H, W, C).

    (N, H, W) gets a channel axis; 4 channels lose alpha (RGB, like the folder loader).
    Floats in [0, 1] are taken as scaled images and multiplied by 255; floats or ints in
    [0, 255] are rounded. Anything else is refused rather than silently clipped.
    """
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4):
        raise DatasetError(
            f"{source}: images must have shape (N, H, W) or (N, H, W, C) with C in 1, 3, 4; "
            f"got {x.shape}"
        )
    if x.shape[-1] == 4:
        x = x[..., :3]
    if x.dtype == np.uint8:
        return np.ascontiguousarray(x)
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise DatasetError(f"{source}: image dtype {x.dtype} is not numeric")
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if np.issubdtype(x.dtype, np.floating) and lo >= 0.0 and hi <= 1.0:
        return np.rint(x * 255.0).astype(np.uint8)
    if lo >= 0.0 and hi <= 255.0:
        return np.rint(x).astype(np.uint8)
    raise DatasetError(
        f"{source}: pixel values must be in 0..1 (float) or 0..255; got {lo:g}..{hi:g}"
    )


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )


def _probe(path: Path) -> tuple[str, tuple[int, int]]:
    """Mode and (width, height) from the header only, so a big folder is not decoded twice."""
    try:
        with Image.open(path) as img:
            return img.mode, img.size
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DatasetError(f"cannot read image {path}: {exc}. Fix or remove the file.") from exc


def _read(path: Path, mode: str, size: tuple[int, int]) -> np.ndarray:
    try:
        with Image.open(path) as img:
            return np.asarray(resize_image(img.convert(mode), size))
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DatasetError(f"cannot read image {path}: {exc}. Fix or remove the file.") from exc


def load_image_folder(
    root: Path, image_size: int | Sequence[int] | None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read ``root/<class>/<image>`` into (x uint8 NHWC, y int64, sorted class names).

    Size: image_size if given; else the native size when all images share one, else
    32x32. Grayscale (1 channel) only when every image is grayscale, else RGB.
    """
    classes = sorted(
        p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    if len(classes) < 2:
        raise DatasetError(
            f"dataset folder {root}: found {len(classes)} class subfolder(s) "
            f"{classes}; need at least 2 (one subfolder of images per class)"
        )
    files: list[tuple[Path, int]] = []
    for label, name in enumerate(classes):
        found = _image_files(root / name)
        if not found:
            raise DatasetError(
                f"dataset folder {root}: class folder {name!r} has no images "
                f"(accepted: {', '.join(IMAGE_SUFFIXES)})"
            )
        files += [(f, label) for f in found]
    probes = [_probe(f) for f, _ in files]
    gray = all(mode in _GRAY_MODES for mode, _ in probes)
    size = normalize_size(image_size)
    if size is None:
        sizes = {wh for _, wh in probes}
        if len(sizes) == 1:
            w, h = sizes.pop()
            size = (h, w)
        else:
            size = (DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE)
            logger.info("%s: images differ in size, resizing all to %dx%d", root, *size)
    channels = 1 if gray else 3
    x = np.empty((len(files), size[0], size[1], channels), dtype=np.uint8)
    for i, (f, _) in enumerate(files):
        x[i] = _read(f, "L" if gray else "RGB", size).reshape(size[0], size[1], channels)
    y = np.array([label for _, label in files], dtype=np.int64)
    logger.info("%s: %d images, %d classes, %s", root, len(y), len(classes), x.shape[1:])
    return x, y, classes
