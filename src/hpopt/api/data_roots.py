"""Which server files a request may name as its dataset: only those under the data roots.

A request's ``dataset`` is a built-in name or a path; a path is resolved (symlinks
followed) against the operator's data roots and must lie inside one of them. Anything
else, missing or forbidden alike, gets one message that names no server path, so a
request cannot probe the server's file system (``dataset=/etc`` lists nothing,
``/etc/shadow.csv`` does not reveal whether it exists).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

__all__ = ["confine_dataset", "DatasetOutsideRoots"]


class DatasetOutsideRoots(ValueError):
    """The request's dataset (or data_dir) path is not a file or folder under a data root."""

    def __init__(self, message: str, key: str = "dataset") -> None:
        super().__init__(message)
        self.key = key


def _normalized(key: Any) -> str:
    return str(key).strip().lower().replace("-", "_")


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def confine_dataset(values: dict[str, Any], roots: Sequence[Path]) -> None:
    """Replace a path ``dataset`` (and ``data_dir``) in ``values`` by its absolute path under a data root.

    Relative paths are looked up in each root in turn. Raises DatasetOutsideRoots, whose
    message echoes only the request's own value.
    """
    from hpopt.datasets.registry import builtin_name, not_found_error  # light: the table of names only

    keys = [k for k in values if _normalized(k) in ("dataset", "dataset_name")]
    resolved_roots = [Path(r).expanduser().resolve() for r in roots]
    for key in keys:
        value = values[key]
        if not isinstance(value, str) or not value.strip() or builtin_name(value) is not None:
            continue  # a built-in name, or something load_config refuses with its own message
        found = _find(value.strip(), resolved_roots)
        if found is None:
            # The CLI's message for a missing dataset, naming no server path: missing and forbidden read alike.
            raise DatasetOutsideRoots(str(not_found_error(value.strip(), "in the server's data folders "
                                                          "(the operator's data_roots)")))
        values[key] = str(found)
    for key in [k for k in values if _normalized(k) == "data_dir"]:
        value = values[key]
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
            continue
        found = _find(str(value).strip(), resolved_roots) if isinstance(value, str) else None
        if found is None or not found.is_dir():
            raise DatasetOutsideRoots(f"data_dir={value!r}: no such folder in the server's data folders (the "
                                      "operator's data_roots); give a folder relative to a data folder, or none",
                                      "data_dir")
        values[key] = str(found)


def _find(text: str, roots: Sequence[Path]) -> Optional[Path]:
    given = Path(text)
    candidates = [given] if given.is_absolute() else [root / given for root in roots]
    for candidate in candidates:
        try:
            path = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if _inside(path, roots):
            return path
    return None
