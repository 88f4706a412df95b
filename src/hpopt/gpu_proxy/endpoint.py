"""Where the GPU proxy is and how to authenticate, from the config and the environment.

gpu_proxy_endpoint takes a full URL (``http://127.0.0.1:8011`` for a local worker, any
RunPod-compatible base URL) or a RunPod endpoint id; without it RUNPOD_ENDPOINT_ID is
used. The API key comes from RUNPOD_API_KEY only (never from the command line, so it does
not land in shell history, summary.json or logs) and is kept out of repr and messages. Both
RUNPOD_* variables are read from the environment, ./.env or gpu-proxy/.env
(hpopt.gpu_proxy.credentials says in which order).

Where the key goes is decided here and only here (``Endpoint.headers``, the one place the
Authorization header is built; the transport never follows redirects): to RunPod's API host,
or to the URL its operator configured (gpu_proxy_endpoint on the CLI or in the API server's
environment; an API request cannot set it, see hpopt.api.optimize_request.SERVER_OWNED_KEYS).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Optional
from urllib.parse import urlsplit

from hpopt.gpu_proxy.credentials import (
    API_KEY_ENV,
    ENDPOINT_ID_ENV,
    PLACES,
    CredentialSource,
    RunPodCredentials,
    load_credentials,
)

__all__ = ["API_KEY_ENV", "ENDPOINT_ID_ENV", "RUNPOD_API_BASE", "RUNPOD_API_HOST", "Endpoint", "EndpointConfigError",
           "resolve_endpoint"]

RUNPOD_API_BASE = "https://api.runpod.ai/v2"
RUNPOD_API_HOST = "api.runpod.ai"
_ENDPOINT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,127}$")


class EndpointConfigError(ValueError):
    """No usable endpoint: the message says which setting to give."""


@dataclass(frozen=True)
class Endpoint:
    """A RunPod(-compatible) queue endpoint: ``<base_url>/run``, ``/stream/<id>``, ..."""

    base_url: str
    source: str  # "gpu_proxy_endpoint" or "RUNPOD_ENDPOINT_ID"
    api_key: Optional[str] = field(default=None, repr=False)
    # Where RUNPOD_ENDPOINT_ID (when it named the endpoint) and RUNPOD_API_KEY were found.
    id_source: Optional[CredentialSource] = None
    api_key_source: Optional[CredentialSource] = None

    @property
    def is_runpod(self) -> bool:
        """https on RunPod's API host itself (not a look-alike such as api.runpod.ai.evil.test)."""
        parts = urlsplit(self.base_url)
        return parts.scheme == "https" and parts.hostname == RUNPOD_API_HOST and parts.port in (None, 443)

    def headers(self) -> dict[str, str]:
        """The only place the RunPod key is put on a request: this endpoint is RunPod's host or
        an operator-configured URL (resolve_endpoint reads only operator settings)."""
        headers = {"content-type": "application/json", "accept": "application/json"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        return headers

    def describe(self) -> str:
        """Where the endpoint and its key came from, for logs (never the key)."""
        where = f"{ENDPOINT_ID_ENV} in {self.id_source}" if self.id_source else self.source
        key = f"{API_KEY_ENV} from {self.api_key_source}" if self.api_key_source else f"no {API_KEY_ENV}"
        return f"{where}; {key}"

    def redact(self, text: str) -> str:
        """``text`` with the API key masked (for messages built from server replies)."""
        return text.replace(self.api_key, "***") if self.api_key else text


def resolve_endpoint(configured: Optional[str], environ: Optional[Mapping[str, str]] = None, *,
                     credentials: Optional[RunPodCredentials] = None) -> Endpoint:
    """The endpoint from gpu_proxy_endpoint (URL or id), else RUNPOD_ENDPOINT_ID.

    ``credentials`` default: load_credentials(environ), the environment (``environ``, default
    os.environ), then ./.env, then gpu-proxy/.env.
    """
    creds = credentials if credentials is not None else load_credentials(environ)
    api_key, key_source = creds.api_key, creds.api_key_source
    value = (configured or "").strip()
    source, id_source = "gpu_proxy_endpoint", None
    if not value and creds.endpoint_id:
        value, source, id_source = creds.endpoint_id, ENDPOINT_ID_ENV, creds.endpoint_id_source
    if not value:
        raise EndpointConfigError(
            "no GPU proxy endpoint: set gpu_proxy_endpoint=<RunPod endpoint id or URL> (or "
            f"{ENDPOINT_ID_ENV} in {PLACES}) and {API_KEY_ENV}, or set use_gpu_proxy=false")
    if value.startswith(("http://", "https://")):
        return Endpoint(base_url=value.rstrip("/"), source=source, api_key=api_key, id_source=id_source,
                        api_key_source=key_source)
    if not _ENDPOINT_ID.match(value):
        raise EndpointConfigError(
            f"{source}={value!r} is neither a URL (http://... or https://...) nor a RunPod endpoint id "
            "(letters, digits, - and _)")
    if not api_key:
        raise EndpointConfigError(
            f"the RunPod endpoint {value!r} needs an API key: set {API_KEY_ENV} in {PLACES}")
    return Endpoint(base_url=f"{RUNPOD_API_BASE}/{value}", source=source, api_key=api_key, id_source=id_source,
                    api_key_source=key_source)
