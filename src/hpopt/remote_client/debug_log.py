"""--debug: each HTTP request and its response status on stderr, never the API key.

Apart from server_api so that what is logged (and what is masked) is easy to check.
"""

from __future__ import annotations

import sys
import time

import httpx

SECRET_HEADERS = ("x-api-key", "authorization")


def shown_url(url: httpx.URL) -> str:
    """The URL for a log line, with any api_key in the query string masked."""
    if "api_key" not in url.params:
        return str(url)
    return str(url.copy_set_param("api_key", "***"))


class DebugLog:
    """httpx event hooks that log each request and its response status to stderr.

    Header values are never logged; the names of the key headers sent are, so a missing
    key shows.
    """

    def __init__(self) -> None:
        self._started: dict[int, float] = {}

    @staticmethod
    def write(line: str) -> None:
        from tqdm import tqdm  # keeps the line off a running progress bar

        tqdm.write(f"[debug] {line}", file=sys.stderr)

    def request(self, request: httpx.Request) -> None:
        self._started[id(request)] = time.monotonic()
        keys = [name for name in request.headers if name.lower() in SECRET_HEADERS]
        self.write(f"-> {request.method} {shown_url(request.url)}" + (f" ({', '.join(keys)}: ***)" if keys else ""))

    def response(self, response: httpx.Response) -> None:
        request = response.request
        started = self._started.pop(id(request), None)
        elapsed = f" {(time.monotonic() - started) * 1000:.0f} ms" if started is not None else ""
        self.write(f"<- {response.status_code} {request.method} {shown_url(request.url)}{elapsed}")
