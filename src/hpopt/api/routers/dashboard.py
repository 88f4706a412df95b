"""The web dashboard: ``/`` and its static files under ``/dashboard/``.

Open without the API key on purpose: the page and its scripts hold no data; they ask
for the key in the browser and send it with every API call. Only files that sit
directly in hpopt/api/dashboard/ with a known suffix are served (no sub-paths, so no
way out of the folder), with a Content-Security-Policy that allows nothing but this
server: the page works offline and cannot be made to load foreign scripts.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

__all__ = ["router", "ASSETS_DIR"]

ASSETS_DIR = Path(__file__).resolve().parents[1] / "dashboard"
_MEDIA = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\.(html|js|css|svg)$")
_HEADERS = {
    # blob: for plots and the ZIP fetched with the key; 'self' covers the same-origin WebSocket
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidate: a new version of the server serves new assets at once
}

router = APIRouter(include_in_schema=False)


def _serve(name: str) -> FileResponse:
    path = ASSETS_DIR / name
    if not _NAME.match(name) or not path.is_file():
        raise HTTPException(status_code=404, detail=f"no dashboard file {name!r}")
    return FileResponse(path, media_type=_MEDIA[path.suffix], headers=_HEADERS)


@router.get("/")
async def index() -> FileResponse:
    return _serve("index.html")


@router.get("/dashboard/{name}")
async def asset(name: str) -> FileResponse:
    return _serve(name)
