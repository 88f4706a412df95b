"""The results: a job's run folder, streamed as a ZIP and unpacked safely.

The ZIP comes from a server, so nothing in it may land outside the run's folder (zip slip)
and symlinks are never written.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, Optional

import httpx

from hpopt.remote_client.errors import EXIT_JOB_FAILED, EXIT_UNREACHABLE, ClientError, one_line
from hpopt.remote_client.server_api import Api, error_detail

logger = logging.getLogger(__name__)


def _member_target(dest: Path, name: str, prefix: Optional[str]) -> Optional[Path]:
    """Where a ZIP member goes inside dest, or None for anything that could escape it."""
    if "\\" in name or "\x00" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    parts = PurePosixPath(name).parts
    if prefix and parts and parts[0] == prefix:
        parts = parts[1:]
    if not parts or any(part in ("..", ".", "") for part in parts):
        return None
    target = dest.joinpath(*parts).resolve()
    return target if target.is_relative_to(dest.resolve()) else None


def safe_extract(archive: zipfile.ZipFile, dest: Path, prefix: Optional[str] = None) -> list[Path]:
    """Unpack regular files into dest; refuses members that would land outside it (zip slip) and symlinks."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for info in archive.infolist():
        is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
        if info.is_dir() or is_link:
            continue
        target = _member_target(dest, info.filename, prefix)
        if target is None:
            logger.warning("skipped unsafe entry %r in the results ZIP", info.filename)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as source, target.open("wb") as out:
            shutil.copyfileobj(source, out)
        written.append(target)
    return written


def download(api: Api, job: dict[str, Any], output_dir: Path) -> Path:
    """Stream the run folder's ZIP to a temporary file, unpack it, remove the ZIP."""
    run_name = job["run_name"]
    dest = output_dir / run_name
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=output_dir, prefix=f".{run_name}.", suffix=".zip", delete=False) as tmp:
        part = Path(tmp.name)
        try:
            with api.http.stream("GET", f"/jobs/{job['job_id']}/download") as response:
                if response.status_code >= 400:
                    response.read()
                    raise ClientError(f"download failed ({response.status_code}): {error_detail(response)}",
                                      EXIT_JOB_FAILED)
                for chunk in response.iter_bytes():
                    tmp.write(chunk)
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            part.unlink(missing_ok=True)
            raise ClientError(f"download from {api.url} interrupted ({one_line(exc)}): run again with "
                              f"--monitor-only {job['job_id']} to retry", EXIT_UNREACHABLE) from None
    try:
        with zipfile.ZipFile(part) as archive:
            safe_extract(archive, dest, prefix=run_name)
    finally:
        part.unlink(missing_ok=True)
    return dest
