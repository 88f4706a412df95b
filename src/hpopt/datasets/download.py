"""Where built-in files live, and fetching them when they are missing.

Files are looked for in data_dir first, then in the Keras cache (``$KERAS_HOME/datasets``
or ``~/.keras/datasets``), so files Keras already downloaded are reused. Downloads go
through urllib with a timeout (never Keras) into a temp file renamed on success, so an
interrupted download never leaves a half file that would later look valid. Why not
``keras.utils.get_file``: it has no timeout (an unreachable mirror would hang a run, and a
run must fail with a clear message offline) and writes in place.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from .base import DatasetUnavailableError
from .registry import DatasetInfo

logger = logging.getLogger(__name__)

OFFLINE_ENV = "HYPEROPT_OFFLINE"
TIMEOUT_S = 30.0
_CHUNK = 1 << 20


def keras_cache_dir() -> Path:
    """Keras' dataset cache: ``$KERAS_HOME/datasets`` if set, else ``~/.keras/datasets``."""
    home = os.environ.get("KERAS_HOME")
    base = Path(home).expanduser() if home else Path.home() / ".keras"
    return base / "datasets"


def search_dirs(data_dir: str | os.PathLike[str] | None) -> list[Path]:
    """The folders searched for built-in files, in order (data_dir wins over the cache)."""
    dirs: list[Path] = []
    if data_dir is not None and str(data_dir) != "":
        dirs.append(Path(data_dir).expanduser())
    cache = keras_cache_dir()
    if all(cache.resolve() != d.resolve() for d in dirs):
        dirs.append(cache)
    return dirs


def offline() -> bool:
    """True when HYPEROPT_OFFLINE asks never to touch the network (tests, air-gapped CI)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def writable_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    """Where to download or extract to: data_dir if writable, else the Keras cache.

    A read-only data_dir (a shared dataset folder) must not make a load fail when the
    cache can hold the file instead.
    """
    for folder in search_dirs(data_dir):
        if _writable(folder):
            return folder
    fallback = Path(tempfile.gettempdir()) / ".keras" / "datasets"
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


def what_to_put(info: DatasetInfo) -> str:
    """Human description of the file(s) a built-in needs, as used in error messages."""
    if info.name == "fashion_mnist":
        names = ", ".join(f.split("/", 1)[1] for f in info.files)
        return f"fashion-mnist/ (containing {names})"
    text = " and ".join(info.files)
    if info.archive:
        text += f" (or {info.archive})"
    return text


def unavailable(info: DatasetInfo, data_dir: str | os.PathLike[str] | None, reason: str) -> DatasetUnavailableError:
    """The error for a built-in that is neither on disk nor downloadable."""
    cache = keras_cache_dir()
    where = f"in data_dir={Path(data_dir).expanduser()} or in {cache}" if data_dir else (
        f"in {cache} (or in a folder passed as data_dir=...)"
    )
    urls = ", ".join(info.urls)
    return DatasetUnavailableError(
        f"dataset {info.name!r} is not available offline: put {what_to_put(info)} {where} "
        f"(download: {urls}) [{reason}]"
    )


def download(url: str, dest: Path, *, timeout: float = TIMEOUT_S) -> Path:
    """Download ``url`` to ``dest`` atomically (temp file in the same folder, then rename)."""
    import urllib.request  # lazy: pulls in ssl/http, not needed to validate a config

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        logger.info("downloading %s -> %s", url, dest)
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            expected = resp.headers.get("Content-Length")
            received = 0
            while chunk := resp.read(_CHUNK):
                out.write(chunk)
                received += len(chunk)
        if expected is not None and received != int(expected):
            raise OSError(f"incomplete download: {received} of {expected} bytes")
        os.replace(tmp, dest)
        logger.info("downloaded %s (%.1f MB)", dest.name, received / 1e6)
        return dest
    finally:
        if tmp.exists():
            tmp.unlink()


def fetch(info: DatasetInfo, data_dir: str | os.PathLike[str] | None) -> Path:
    """Download a built-in's publisher files; returns the folder they went to.

    Any failure (offline flag, DNS, timeout, HTTP error, disk) becomes a
    DatasetUnavailableError that says which file to put where.
    """
    if offline():
        raise unavailable(info, data_dir, f"{OFFLINE_ENV}=1, download skipped")
    if not info.urls:
        raise unavailable(info, data_dir, "no download URL known")
    target = writable_dir(data_dir)
    sub = "fashion-mnist" if info.name == "fashion_mnist" else ""
    for url in info.urls:
        dest = target / sub / url.rsplit("/", 1)[-1]
        if dest.is_file():
            continue
        try:
            download(url, dest)
        except Exception as exc:  # any network or disk failure: say where to put the file
            raise unavailable(info, data_dir, f"download of {url} failed: {exc}") from exc
    return target
