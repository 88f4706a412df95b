"""Auth, request-size limit, and an access log that cannot leak secrets.

The API key (HYPEROPT_API_KEY) is accepted as ``X-API-Key`` or ``Authorization: Bearer``
(and, on the WebSocket stream only, ``?api_key=``) and compared in constant time. Uvicorn's own
access log is off: ours logs method, path (never the query string), status and time, and a filter
on every handler masks anything that looks like a key or a bearer token should some other code log one.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from typing import Optional

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["require_api_key", "connection_authorized", "BodySizeLimit", "AccessLog", "RedactingFilter"]

access_logger = logging.getLogger("hpopt.api.access")
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the server's HYPEROPT_API_KEY")
_bearer = HTTPBearer(auto_error=False, description="the server's HYPEROPT_API_KEY as a bearer token")


def _presented_key(conn: HTTPConnection) -> Optional[str]:
    key = conn.headers.get("x-api-key")
    if key:
        return key
    scheme, _, token = conn.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def connection_authorized(conn: HTTPConnection, query_key: bool = False) -> bool:
    """True when no key is configured or the request carries the right one.

    ``query_key`` also accepts ``?api_key=``: only for the WebSocket stream, because a
    browser cannot set headers on a WebSocket. Query strings never reach the log.
    """
    secret = conn.app.state.settings.api_key
    if secret is None:
        return True
    presented = _presented_key(conn) or (conn.query_params.get("api_key") if query_key else None)
    if presented is None:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), secret.get_secret_value().encode("utf-8"))


async def require_api_key(
    request: Request,
    _header: Optional[str] = Depends(_api_key_header),
    _token: Optional[HTTPAuthorizationCredentials] = Depends(_bearer),
) -> None:
    """Route dependency: 401 unless authorized (the schemes feed /docs' Authorize button)."""
    if not connection_authorized(request):
        raise HTTPException(status_code=401, detail="missing or wrong API key: send it as X-API-Key or "
                            "Authorization: Bearer", headers={"WWW-Authenticate": "Bearer"})


UPLOAD_PATH = re.compile(r"^/jobs/[^/]+/predict/?$")  # file uploads: their own, larger limit


class BodySizeLimit:
    """Rejects request bodies over max_bytes (upload routes: upload_max_bytes) with 413 before the app reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int, upload_max_bytes: Optional[int] = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_max_bytes = upload_max_bytes or max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_max_bytes if UPLOAD_PATH.match(scope.get("path", "")) else self.max_bytes
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self._reject(send, limit)
            return
        body, more = bytearray(), True
        messages: list[Message] = []
        while more:
            message = await receive()
            if message["type"] != "http.request":
                messages.append(message)
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                await self._reject(send, limit)
                return
        messages.insert(0, {"type": "http.request", "body": bytes(body), "more_body": False})

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Send, limit: int) -> None:
        detail = f'{{"detail":"request body larger than {limit} bytes"}}'.encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(detail)).encode())]})
        await send({"type": "http.response.body", "body": detail})


class AccessLog:
    """One line per request: method, path without query, status, milliseconds."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), {"code": 0}

        async def record(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                status["code"] = message["status"]
            elif message["type"] == "websocket.accept":
                status["code"] = 101
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            access_logger.info("%s %s %s %.1fms", scope.get("method", "WS"), scope.get("path", ""),
                               status["code"], (time.perf_counter() - started) * 1000)


_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[^\s'\",]+"),
    re.compile(r"(?i)(x-api-key['\"]?\s*[:=,]\s*['\"]?)[^\s'\",)]+"),
    re.compile(r"(?i)(api[_-]?key['\"]?\s*[:=]\s*['\"]?)[^\s'\",)&]+"),
    re.compile(r"(?i)([?&](?:token|access_token|key|secret)=)[^&\s'\"]+"),
)


class RedactingFilter(logging.Filter):
    """Masks API keys and bearer tokens, and the configured key itself, in any record."""

    def __init__(self, secret: Optional[str] = None) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = message
        if self.secret:
            cleaned = cleaned.replace(self.secret, "***")
        for pattern in _SECRET_PATTERNS:
            cleaned = pattern.sub(r"\1***", cleaned)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True

