"""A job's run folder over HTTP: safe paths, listing, and a streamed ZIP.

Every path a client names is checked twice: its text (no absolute path, no '..', no
still-encoded '%2e'/'%2f'/'%5c', no NUL or backslash) and, after resolving symlinks,
that it is inside the run folder. Listing and ZIP skip symlinks that lead out, so
neither route can be used to read the rest of the server's disk.
"""

from __future__ import annotations

import os
import re
import zipfile
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Iterator, Optional

__all__ = ["UnsafePath", "safe_file", "list_files", "zip_stream"]

_ENCODED = re.compile(r"%(2e|2f|5c|00)", re.IGNORECASE)
_DRIVE = re.compile(r"^[A-Za-z]:")
CHUNK = 256 * 1024


class UnsafePath(ValueError):
    """A requested path that could leave the job's folder (answered with 400)."""


def _check_text(path: str) -> PurePosixPath:
    if not path or len(path) > 1024:
        raise UnsafePath("expected a relative file path of 1 to 1024 characters")
    if "\x00" in path or "\\" in path:
        raise UnsafePath("file paths may not contain NUL or backslashes")
    if _ENCODED.search(path):
        raise UnsafePath("file paths may not contain encoded dots, slashes or NUL (%2e, %2f, %5c, %00)")
    if path.startswith("/") or _DRIVE.match(path):
        raise UnsafePath("absolute paths are not allowed: give a path relative to the run folder")
    if any(segment in ("", ".", "..") for segment in path.split("/")):
        raise UnsafePath("file paths may not contain '.', '..' or empty segments")
    return PurePosixPath(path)


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve(strict=True).is_relative_to(root.resolve(strict=True))
    except (OSError, RuntimeError):  # missing, or a symlink loop
        return False


def safe_file(root: Path, path: str) -> Optional[Path]:
    """The file ``path`` names inside ``root``; None when it is missing or leads outside."""
    relative = _check_text(path)
    candidate = root.joinpath(*relative.parts)
    if not _inside(candidate, root) or not candidate.is_file():
        return None
    return candidate.resolve()


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    """(relative posix path, file) for regular files under root that stay inside it."""
    if not root.is_dir():
        return
    for folder, dirs, files in os.walk(root, followlinks=False):
        base = Path(folder)
        dirs[:] = sorted(d for d in dirs if not (base / d).is_symlink())
        for name in sorted(files):
            path = base / name
            if path.is_symlink() and not _inside(path, root):
                continue
            if path.is_file() and not name.endswith(".tmp"):
                yield path.relative_to(root).as_posix(), path


def list_files(root: Path) -> list[dict]:
    out = []
    for relative, path in _walk(root):
        try:
            stat = path.stat()
        except OSError:
            continue
        modified = datetime.fromtimestamp(stat.st_mtime, timezone.utc).isoformat(timespec="seconds")
        out.append({"path": relative, "size": stat.st_size, "modified": modified.replace("+00:00", "Z")})
    return out


class _Sink:
    """A write-only, unseekable buffer zipfile writes into; drained as chunks are sent."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def zip_stream(root: Path, prefix: str, extra: Optional[dict[str, Path]] = None) -> Iterator[bytes]:
    """The run folder as a ZIP, produced chunk by chunk in memory (no temporary file).

    Entries are ``<prefix>/<relative path>``; ``extra`` adds files from beside the run folder
    (the server's own choice, e.g. the job's log) under the names given, unless the run folder
    has a file of that name. A file that vanishes mid-way is skipped.
    """
    sink = _Sink()
    files = list(_walk(root))
    taken = {relative for relative, _ in files}
    files += [(name, path) for name, path in (extra or {}).items() if name not in taken and path.is_file()]
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:  # type: ignore[arg-type]
        for relative, path in files:
            try:
                source = path.open("rb")
            except OSError:
                continue
            with source:
                info = zipfile.ZipInfo.from_file(path, f"{prefix}/{relative}")
                info.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(info, "w", force_zip64=info.file_size > (1 << 30)) as target:
                    while chunk := source.read(CHUNK):
                        target.write(chunk)
                        if data := sink.drain():
                            yield data
            if data := sink.drain():
                yield data
    if data := sink.drain():
        yield data
