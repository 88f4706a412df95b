"""RunPod credentials (RUNPOD_API_KEY, RUNPOD_ENDPOINT_ID): where they are looked for, and where each was found.

Per variable, the first of these places that sets it (non-empty) wins:

1. the process environment;
2. ``./.env`` in the current directory (where hpopt's own HYPEROPT_* settings live);
3. ``gpu-proxy/.env`` under the current directory (where the GPU proxy's older guide puts them).

The files are read with python-dotenv's ``dotenv_values`` and never exported to os.environ, so
nothing else in the process (or a child process) sees more than it did. The key is kept out of
repr; what may be shown (``--help``, ``GET /health``) is where each value came from, never the value.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping, Optional

__all__ = ["API_KEY_ENV", "ENDPOINT_ID_ENV", "CREDENTIAL_FILES", "PLACES", "CredentialSource", "RunPodCredentials",
           "load_credentials"]

logger = logging.getLogger(__name__)

API_KEY_ENV = "RUNPOD_API_KEY"
ENDPOINT_ID_ENV = "RUNPOD_ENDPOINT_ID"
CredentialSource = Literal["environment", ".env", "gpu-proxy/.env"]
# The files after the environment, in precedence order, relative to the current directory.
CREDENTIAL_FILES: tuple[CredentialSource, ...] = (".env", "gpu-proxy/.env")
# For messages that tell a user where to put a credential.
PLACES = "the environment, ./.env or gpu-proxy/.env"


@dataclass(frozen=True)
class RunPodCredentials:
    """What was found, and where (None: in none of the places)."""

    api_key: Optional[str] = field(default=None, repr=False)
    endpoint_id: Optional[str] = None
    api_key_source: Optional[CredentialSource] = None
    endpoint_id_source: Optional[CredentialSource] = None

    def sources(self) -> dict[str, Optional[CredentialSource]]:
        """Variable name -> where it was found: safe to show (no value)."""
        return {API_KEY_ENV: self.api_key_source, ENDPOINT_ID_ENV: self.endpoint_id_source}


def _read_env_file(path: Path) -> Mapping[str, Optional[str]]:
    """The file's variables ({} when absent or unreadable: a warning says why, without its content)."""
    if not path.is_file():
        return {}
    from dotenv import dotenv_values  # lazy: only a lookup that reaches the files needs it

    try:
        return dotenv_values(path)
    except (OSError, UnicodeDecodeError) as exc:
        logger.warning("could not read %s (%s): its RunPod credentials are ignored", path, type(exc).__name__)
        return {}


def load_credentials(environ: Optional[Mapping[str, str]] = None,
                     directory: Optional[str | os.PathLike[str]] = None) -> RunPodCredentials:
    """RUNPOD_API_KEY and RUNPOD_ENDPOINT_ID from ``environ`` (default os.environ), then
    ``<directory>/.env``, then ``<directory>/gpu-proxy/.env`` (directory: the current one).

    A file is read only when a variable is still missing, so a fully set environment touches no file.
    """
    base = Path.cwd() if directory is None else Path(directory)
    layers: list[tuple[CredentialSource, Optional[Mapping[str, Optional[str]]]]] = [
        ("environment", os.environ if environ is None else environ), *((name, None) for name in CREDENTIAL_FILES)]
    found: dict[str, tuple[Optional[str], Optional[CredentialSource]]] = {}
    for variable in (API_KEY_ENV, ENDPOINT_ID_ENV):
        found[variable] = (None, None)
        for index, (source, values) in enumerate(layers):
            if values is None:
                values = _read_env_file(base / source)
                layers[index] = (source, values)
            value = (values.get(variable) or "").strip()
            if value:
                found[variable] = (value, source)
                break
    (api_key, key_source), (endpoint_id, id_source) = found[API_KEY_ENV], found[ENDPOINT_ID_ENV]
    return RunPodCredentials(api_key=api_key, endpoint_id=endpoint_id, api_key_source=key_source,
                             endpoint_id_source=id_source)
