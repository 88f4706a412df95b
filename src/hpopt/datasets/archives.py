"""Extracting publisher archives (.tar.gz, .zip) safely and atomically.

Archives are unpacked into a temp folder beside the destination and their top-level
entries moved in only when extraction finished, so a crash never leaves a half folder
that the next run would take for a complete dataset.
"""

from __future__ import annotations

import logging
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path

from .base import DatasetError

logger = logging.getLogger(__name__)


def extract(archive: Path, dest_dir: Path) -> Path:
    """Extract ``archive`` (tar.gz or zip) into ``dest_dir``; returns ``dest_dir``."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    logger.info("extracting %s -> %s", archive, dest_dir)
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest_dir))
    try:
        try:
            if zipfile.is_zipfile(archive):
                with zipfile.ZipFile(archive) as zf:
                    zf.extractall(tmp)  # zipfile strips absolute paths and ".."
            else:
                with tarfile.open(archive, "r:*") as tf:
                    tf.extractall(tmp, filter="data")  # refuses links/paths outside tmp
        except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
            raise DatasetError(
                f"cannot extract {archive}: {exc}. Delete it and download it again, or put "
                "the extracted folder beside it."
            ) from exc
        for entry in sorted(tmp.iterdir()):
            target = dest_dir / entry.name
            if target.exists():
                logger.info("keeping existing %s", target)
                continue
            shutil.move(str(entry), str(target))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest_dir
