"""Finding the worker code (``gpu-proxy/``) that a user deploys to RunPod, or cloning it.

The client talks to an endpoint over HTTP, so it needs no worker code to train; the code is
what gets deployed (its Dockerfile and README) and what proxy_status reports. It is looked
for at ./gpu-proxy and ../gpu-proxy; when absent and gpu_proxy_auto_clone is true, it is
cloned with GitPython from gpu_proxy_repo_url at gpu_proxy_ref into a cache folder and
checked before use: handler.py must be there, and a ref given as a full commit sha must be
exactly what was checked out.

A folder whose handler.py does not start hpopt's worker (the original system's execute-code
worker, cloned by its guide's optional step) is skipped with one warning: deployed, it would
answer hpopt's TrialSpec requests in a protocol hpopt refuses, and the user would only see
trials fall back to local training.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Optional

if TYPE_CHECKING:
    from hpopt.config import OptimizationConfig

logger = logging.getLogger(__name__)

PROXY_DIR = "gpu-proxy"
MARKER = "handler.py"
HPOPT_WORKER_MARK = "hpopt.gpu_proxy.worker"  # what hpopt's handler.py imports
CLONE_ROOT_ENV = "HPOPT_CACHE_DIR"
_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")


class ProxyCodeError(RuntimeError):
    """The worker code could not be found, cloned or verified; the message says what to do."""

    exit_code = 1


@dataclass(frozen=True)
class ProxyCode:
    path: str
    source: str  # "local" or "cloned"
    commit: Optional[str] = None

    def as_dict(self) -> dict:
        return asdict(self)


def default_search_dirs(cwd: Optional[Path] = None) -> list[Path]:
    here = (cwd or Path.cwd()).resolve()
    return [here / PROXY_DIR, here.parent / PROXY_DIR]


def default_clone_root() -> Path:
    base = os.environ.get(CLONE_ROOT_ENV) or os.path.join(Path.home(), ".cache", "hpopt")
    return Path(base) / "gpu-proxy-clones"


def is_hpopt_worker(folder: Path) -> bool:
    """handler.py here starts hpopt's worker (not another system's, e.g. the original execute-code one)."""
    try:
        return HPOPT_WORKER_MARK in (folder / MARKER).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


_warned_foreign: set[str] = set()


def _warn_foreign(folder: Path) -> None:
    if str(folder) in _warned_foreign:
        return
    _warned_foreign.add(str(folder))
    logger.warning(
        "%s holds a GPU worker that is not hpopt's (the original system's execute-code worker?): hpopt does "
        "not use it, and an endpoint deployed from it refuses hpopt's trials. Deploy hpopt's own worker "
        "instead: build gpu-proxy/Dockerfile from this repository (see gpu-proxy/README.md) and move that "
        "folder aside", folder)


def find_proxy_code(search_dirs: Iterable[Path]) -> Optional[ProxyCode]:
    """The first folder holding hpopt's worker; folders holding another worker are warned about."""
    found: Optional[ProxyCode] = None
    for folder in search_dirs:
        if not (folder / MARKER).is_file():
            continue
        if not is_hpopt_worker(folder):
            _warn_foreign(folder)
        elif found is None:
            found = ProxyCode(path=str(folder), source="local")
    return found


def _code_dir(repo_dir: Path) -> Optional[Path]:
    """The worker folder in a clone: the repository root or its gpu-proxy/ folder."""
    for folder in (repo_dir / PROXY_DIR, repo_dir):
        if (folder / MARKER).is_file():
            return folder
    return None


def _clone_name(url: str, ref: Optional[str]) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{url}@{ref or 'HEAD'}")
    return safe[-120:]


def clone_proxy_code(url: str, ref: Optional[str], clone_root: Path) -> ProxyCode:
    """Clone ``url`` at ``ref`` (reusing an earlier verified clone) and verify it."""
    import git  # GitPython; lazy: only auto-clone needs it

    target = clone_root / _clone_name(url, ref)
    try:
        if target.is_dir():
            repo = git.Repo(target)
        else:
            clone_root.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".partial")
            shutil.rmtree(tmp, ignore_errors=True)
            logger.info("GPU proxy: cloning the worker code from %s at %s", url, ref or "the default branch")
            repo = git.Repo.clone_from(url, tmp, no_checkout=ref is not None)
            if ref is not None:
                repo.git.checkout(ref)
            tmp.rename(target)
            repo = git.Repo(target)
        commit = repo.head.commit.hexsha
    except (git.GitCommandError, git.InvalidGitRepositoryError, git.NoSuchPathError, OSError, ValueError) as exc:
        raise ProxyCodeError(
            f"cannot clone the GPU proxy worker code from {url} at {ref or 'HEAD'}: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}. Check "
            "gpu_proxy_repo_url and gpu_proxy_ref, or put the gpu-proxy folder at ./gpu-proxy") from None
    if ref is not None and _FULL_SHA.match(ref) and commit != ref:
        raise ProxyCodeError(f"the clone in {target} is at commit {commit}, not the pinned {ref}: delete "
                             "that folder and run again")
    folder = _code_dir(target)
    if folder is None:
        raise ProxyCodeError(f"{url} at {ref or 'HEAD'} has no {MARKER} (neither at its root nor in "
                             f"{PROXY_DIR}/): point gpu_proxy_repo_url at hpopt's repository")
    if not is_hpopt_worker(folder):
        raise ProxyCodeError(f"{url} at {ref or 'HEAD'} holds a GPU worker that is not hpopt's (the original "
                             "system's execute-code worker?), which hpopt refuses: point gpu_proxy_repo_url at "
                             "hpopt's repository")
    return ProxyCode(path=str(folder), source="cloned", commit=commit)


def locate_proxy_code(config: "OptimizationConfig", *, search_dirs: Optional[Iterable[Path]] = None,
                      clone_root: Optional[Path] = None) -> ProxyCode:
    """The worker code for this config: found locally, else cloned when allowed."""
    dirs = list(search_dirs) if search_dirs is not None else default_search_dirs()
    found = find_proxy_code(dirs)
    if found is not None:
        return found
    where = " or ".join(str(d) for d in dirs)
    if not config.gpu_proxy_auto_clone:
        raise ProxyCodeError(f"the GPU proxy worker code is not at {where} and gpu_proxy_auto_clone is false: "
                             "copy hpopt's gpu-proxy folder there or set gpu_proxy_auto_clone=true")
    if not config.gpu_proxy_repo_url:
        raise ProxyCodeError(f"the GPU proxy worker code is not at {where} and gpu_proxy_repo_url is not set: "
                             "set gpu_proxy_repo_url (and gpu_proxy_ref) to clone it")
    return clone_proxy_code(config.gpu_proxy_repo_url, config.gpu_proxy_ref, clone_root or default_clone_root())
