"""The web dashboard: ``/`` and its static files under ``/dashboard/``.

Open without the API key on purpose: the page and its scripts hold no data; they ask
for the key in the browser and send it with every API call. Only files that sit
directly in hpopt/api/dashboard/ with a known suffix are served (no sub-paths, so no
way out of the folder), with a Content-Security-Policy that allows nothing but this
server: the page works offline and cannot be made to load foreign scripts.

The analysis charts are drawn by Plotly (the charting library optuna-dashboard uses),
served from the installed ``plotly`` Python package at a fixed route, never copied into
the repository nor fetched from a CDN. Its WebGL parallel coordinates compile their
drawing code with ``Function`` and it injects its own styles, so the page allows
'unsafe-eval' for scripts (still only scripts from this server) and inline styles.
"""

from __future__ import annotations

import logging
import re
from importlib import resources
from pathlib import Path
from typing import Optional

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

__all__ = ["router", "ASSETS_DIR", "plotly_bundle"]

logger = logging.getLogger(__name__)

ASSETS_DIR = Path(__file__).resolve().parents[1] / "dashboard"
_MEDIA = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\.(html|js|css|svg)$")
_HEADERS = {
    # blob: for plots and the ZIP fetched with the key; 'self' covers the same-origin WebSocket
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-eval'; "
                               "style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; connect-src 'self'; "
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


def plotly_bundle() -> Optional[Path]:
    """plotly.min.js inside the installed plotly package, or None when it is not installed."""
    try:
        path = Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


@router.get("/dashboard/vendor/plotly.min.js")
async def plotly_js() -> FileResponse:
    """The charting library for the Analyze view (loaded only when it opens); a week in the
    browser's cache: it changes only when the server's plotly package is upgraded."""
    path = plotly_bundle()
    if path is None:
        logger.warning("the dashboard's charts need the plotly package: pip install -r requirements.txt")
        raise HTTPException(status_code=404, detail="plotly is not installed on the server: pip install "
                                                    "'plotly>=5,<7' (requirements.txt) to draw the analysis charts")
    return FileResponse(path, media_type=_MEDIA[".js"],
                        headers={**_HEADERS, "Cache-Control": "public, max-age=604800"})
