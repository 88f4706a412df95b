"""Masking secrets in settings before they are written or shown.

One rule for every writer (logs, summary.json, a job's config.json, API answers): the
password of a URL (``postgresql://user:pw@host/db``) becomes ``***``, and any value of a
key named like a credential (*key*, *token*, *password*, *secret*) is replaced by ``***``.
The masked text keeps the URL's shape, so a reader still sees which server and database a
run used.
"""

from __future__ import annotations

import logging
import re
from typing import Any

__all__ = ["MASK", "MaskingFormatter", "mask_url", "mask_text", "masked_config", "is_secret_key", "url_origin",
           "ORIGIN_ONLY_KEYS"]

MASK = "***"
_SECRET_KEY = re.compile(r"key|token|password|passwd|secret|credential", re.IGNORECASE)
# scheme://user:password@ (up to the authority's last '@', as URL parsers read an unencoded '@')
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s'\"]*:)(?P<pw>[^/\s'\"]+)(?P<at>@)")
# https://token@host (a token as the whole userinfo, as git hosting URLs carry them)
_URL_TOKEN = re.compile(r"(?P<head>\bhttps?://)(?P<pw>[^:/@\s'\"]+)(?P<at>@)")


# Settings whose URL may carry a token anywhere (path, query: webhook URLs do): only the
# scheme and host are ever written or shown.
ORIGIN_ONLY_KEYS = frozenset({"notify_url"})


def url_origin(url: str) -> str:
    """``https://hooks.example.com/services/T0/B0/secret?x=1`` -> ``https://hooks.example.com/***``."""
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://(?:[^@/?#]*@)?([^/?#]*)(.*)$", url.strip())
    if not match:
        return MASK
    scheme, host, rest = match.groups()
    return f"{scheme.lower()}://{host}" + (f"/{MASK}" if rest.strip("/") else "")


def is_secret_key(key: str) -> bool:
    """Whether a setting's name says it holds a credential."""
    return bool(_SECRET_KEY.search(key))


def mask_url(url: str) -> str:
    """``postgresql://user:pw@host/db`` -> ``postgresql://user:***@host/db``; others unchanged."""
    return mask_text(url)


def mask_text(text: str) -> str:
    """Every URL password (and the bare userinfo token of an http(s) URL) in ``text`` masked."""
    if not isinstance(text, str) or "://" not in text:
        return text
    text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK + m["at"], text)
    return _URL_TOKEN.sub(lambda m: m["head"] + (m["pw"] if m["pw"] == MASK else MASK) + m["at"], text)


def _masked(key: str, value: Any) -> Any:
    if isinstance(value, dict):
        return masked_config(value)
    if isinstance(value, list):
        return [_masked(key, item) for item in value]
    if value is not None and is_secret_key(key):
        return MASK
    if isinstance(value, str) and key in ORIGIN_ONLY_KEYS:
        return url_origin(value)
    return mask_text(value) if isinstance(value, str) else value


def masked_config(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with credentials masked (nested mappings too)."""
    return {key: _masked(str(key), value) for key, value in config.items()}


class MaskingFormatter(logging.Formatter):
    """A log formatter whose lines (tracebacks included) never carry a URL's password."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_text(super().format(record))
