"""Webhooks: one small JSON POST to ``notify_url`` when a run (CLI) or a job (API) ends.

Standard library only (urllib), so the API's job processes and the CLI share it without
new dependencies. A webhook is a courtesy, never a reason to hold a run: the POST runs in a
daemon thread that the caller waits for at most ``budget_s`` (about 10 s in all, retries
and backoff included), and a receiver that never answers is logged and left behind.
Redirects are not followed: the API checks the URL's host against the operator's
notify_allowed_hosts, and a redirect would lead past that check. The URL may carry a token,
so logs name only its scheme and host (hpopt.masking.url_origin).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from hpopt import __version__
from hpopt.masking import mask_text, url_origin

__all__ = ["ATTEMPTS", "BUDGET_S", "STATUSES", "notify", "payload_from_summary", "post_json"]

logger = logging.getLogger("hpopt.notify")

ATTEMPTS = 3
BUDGET_S = 10.0
STATUSES = ("finished", "failed", "interrupted")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


_OPENER = urllib.request.build_opener(_NoRedirect)


def post_json(url: str, payload: dict[str, Any], *, attempts: int = ATTEMPTS, budget_s: float = BUDGET_S,
              backoff_s: float = 0.5) -> bool:
    """POST ``payload``; retry on a network error or a 5xx/429 answer; True once a 2xx came back."""
    deadline = time.monotonic() + budget_s
    body = json.dumps(payload, default=str).encode("utf-8")
    shown = url_origin(url)
    problem = "no time left"
    for attempt in range(1, attempts + 1):
        left = deadline - time.monotonic()
        if left <= 0.05:
            break
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": f"hpopt/{__version__}"})
        retry = True
        try:
            with _OPENER.open(request, timeout=min(5.0, left)) as answer:
                answer.read(65536)
                logger.info("webhook %s: HTTP %s (%s)", shown, answer.status, payload.get("status"))
                return True
        except urllib.error.HTTPError as exc:
            retry = exc.code >= 500 or exc.code == 429
            problem = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            problem = mask_text(str(getattr(exc, "reason", exc))).replace(url, shown)
        logger.info("webhook %s: %s (try %d of %d)", shown, problem, attempt, attempts)
        if not retry or attempt == attempts:
            break
        time.sleep(max(0.0, min(backoff_s * 2 ** (attempt - 1), deadline - time.monotonic())))
    logger.warning("webhook %s not delivered: %s", shown, problem)
    return False


def notify(url: Optional[str], payload: dict[str, Any], *, budget_s: float = BUDGET_S) -> Optional[bool]:
    """Send ``payload`` to ``url`` from a daemon thread; wait for it at most ``budget_s``.

    Returns True/False when the POST succeeded/failed in time, None when there was no URL or
    the receiver was still busy at the deadline (the thread is abandoned, never joined again).
    """
    if not url:
        return None
    payload = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), **payload}
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(post_json(url, payload, budget_s=budget_s)),
                              name="hpopt-webhook", daemon=True)
    thread.start()
    thread.join(budget_s + 0.5)
    if not result:
        logger.warning("webhook %s: no answer within %.0f s; the run does not wait longer", url_origin(url), budget_s)
        return None
    return result[0]


def payload_from_summary(run_name: str, status: str, summary: Optional[dict[str, Any]] = None,
                         **extra: Any) -> dict[str, Any]:
    """The webhook's JSON: who ended how, with summary.json's headline numbers when there is one."""
    summary = summary or {}
    best = summary.get("best_trial") if isinstance(summary.get("best_trial"), dict) else {}
    payload: dict[str, Any] = {
        "event": "run_ended", "run_name": run_name, "status": status,
        "best_value": best.get("value"), "best_trial": best.get("number"),
        "n_trials": summary.get("n_trials"), "n_complete": summary.get("n_complete"),
        "n_pruned": summary.get("n_pruned"), "n_failed": summary.get("n_failed"),
        "dataset": summary.get("dataset"), "mode": summary.get("mode"), "wall_s": summary.get("wall_s"),
    }
    payload.update(extra)
    return payload


def read_summary(run_dir: Optional[Path]) -> dict[str, Any]:
    """summary.json of a run folder, {} when it is missing or unreadable (a failed run)."""
    if run_dir is None:
        return {}
    try:
        data = json.loads((Path(run_dir) / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
