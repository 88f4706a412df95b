"""What a run folder or study may be called, and the name a run gets when none is given.

Run names become folder names on any OS the results may be copied to, and share results_dir
with hpopt's own files; the API refuses the same names, so the rules live in one place.
"""

from __future__ import annotations

import re
from typing import Optional

__all__ = ["RUN_NAME_MAX_LENGTH", "SERVER_FILE_NAMES", "dataset_stem", "folder_name_problem", "reserved_name_problem"]

_WINDOWS_ILLEGAL = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)}
# Files hpopt itself keeps in results_dir (the default Optuna storage, the API's job database, with
# SQLite's companions): a run folder or study of that name would collide with them.
SERVER_FILE_NAMES: tuple[str, ...] = tuple(
    f"{base}{suffix}" for base in ("hpopt_studies.db", "hpopt_jobs.db") for suffix in ("", "-wal", "-shm", "-journal"))
RUN_NAME_MAX_LENGTH = 100


def reserved_name_problem(name: str, extra: tuple[str, ...] = ()) -> Optional[str]:
    """Why ``name`` may not name a run folder or study (None: it may): a Windows device name, or
    one of hpopt's own files in results_dir (SERVER_FILE_NAMES, plus ``extra``; any case)."""
    if name.split(".")[0].lower() in _WINDOWS_RESERVED:
        return "expected a folder name that is not a reserved Windows device name (CON, NUL, COM1...)"
    if name.lower() in {n.lower() for n in (*SERVER_FILE_NAMES, *extra)}:
        return f"{name!r} is reserved: it is one of hpopt's own files or folders in results_dir; choose another name"
    return None


def folder_name_problem(name: str) -> Optional[str]:
    """Why ``name`` is no portable run folder name (None: it is one), checked in the order the
    messages are most useful: forbidden characters first, length last."""
    if _WINDOWS_ILLEGAL.search(name):
        return 'expected a folder name without < > : " / \\ | ? * or control characters'
    if name in (".", ".."):
        return "expected a folder name other than '.' or '..'"
    if name.endswith((".", " ")) or name.startswith(" "):
        return "expected a folder name that does not start or end with a space or end with '.'"
    problem = reserved_name_problem(name)
    if problem:
        return problem
    if len(name) > RUN_NAME_MAX_LENGTH:
        return f"expected at most {RUN_NAME_MAX_LENGTH} characters, got {len(name)}"
    return None


def dataset_stem(dataset: str) -> str:
    """A path-safe stem for the default run name: '/data/My Images/' -> 'My_Images', 'reviews.csv' -> 'reviews'."""
    last = re.split(r"[\\/]", dataset.rstrip("\\/"))[-1]
    stem = last.rsplit(".", 1)[0] if "." in last.strip(".") else last
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_")[:40]
    return safe or "custom"
