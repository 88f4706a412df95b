"""The HTTP side of the client: one httpx client per server, its answers turned into exit statuses.

Everything that can go wrong on the wire (unreachable, not an hpopt server, a refused key, an
error answer, a body that is not JSON) becomes a ClientError here, in one line.
"""

from __future__ import annotations

from typing import Any, Optional

import httpx

from hpopt.remote_client.debug_log import DebugLog
from hpopt.remote_client.errors import EXIT_JOB_FAILED, EXIT_UNAUTHORIZED, EXIT_UNREACHABLE, ClientError, one_line
from hpopt.remote_client.urls import URL_HINT


def unreachable(url: str, exc: BaseException, note: str = "") -> ClientError:
    return ClientError(f"cannot reach an hpopt API server at {url} ({note}{one_line(exc)}): {URL_HINT}",
                       EXIT_UNREACHABLE)


class Api:
    """The few calls the client makes, with errors turned into exit statuses."""

    def __init__(self, url: str, api_key: Optional[str], timeout: float = 30.0, debug: bool = False,
                 note: str = "") -> None:
        self.url = url.rstrip("/")
        self.note = note  # said in connection errors (e.g. that the client added the scheme)
        self.headers = {"X-API-Key": api_key} if api_key else {}
        self.debug = DebugLog() if debug else None
        hooks = {"request": [self.debug.request], "response": [self.debug.response]} if self.debug else {}
        try:
            self.http = httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout, event_hooks=hooks)
        except httpx.InvalidURL as exc:
            raise unreachable(self.url, exc, self.note) from None

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            raise unreachable(self.url, exc, self.note) from None
        if response.status_code == 401:
            raise ClientError(f"the server at {self.url} refused the API key (401): pass --api-key or set "
                              "HYPEROPT_API_KEY to the server's key", EXIT_UNAUTHORIZED)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        if response.status_code >= 400:
            raise ClientError(f"{method} {path} answered {response.status_code}: {error_detail(response)}",
                              EXIT_JOB_FAILED)
        return json_body(response, self.url)

    def check_server(self) -> dict[str, Any]:
        """GET /health, refusing anything that is not an hpopt API server (a wrong port, a pod
        whose server is not up, a proxy's error page) with one line naming the URL."""
        response = self.call("GET", "/health")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 200 and isinstance(body, dict) and body.get("status") == "ok" and "jobs" in body:
            return body
        what = f"GET /health answered {response.status_code}"
        if 300 <= response.status_code < 400 and response.headers.get("location"):
            what += f", a redirect to {response.headers['location']}"
        elif body is None:
            what += f" with {response.headers.get('content-type', 'no content type').split(';')[0]}, not JSON"
        raise ClientError(f"{self.url} answered but is not an hpopt API server ({self.note}{what}): {URL_HINT}",
                          EXIT_UNREACHABLE)


def json_body(response: httpx.Response, url: str) -> Any:
    """The response's JSON; a body that is not JSON means url is not an hpopt API server."""
    try:
        return response.json()
    except ValueError:
        raise ClientError(f"{response.request.method} {response.request.url.path} on {url} answered "
                          f"{response.status_code} without JSON: is {url} an hpopt API server?",
                          EXIT_UNREACHABLE) from None


def error_detail(response: httpx.Response) -> str:
    """What an error answer says: FastAPI's detail (its validation messages joined), else the text."""
    try:
        body = response.json()
    except ValueError:
        return " ".join(response.text[:500].split())
    detail = body.get("detail") if isinstance(body, dict) else body
    if isinstance(detail, list):
        return "; ".join(str(item.get("msg", item)) for item in detail if isinstance(item, dict))
    return str(detail)
