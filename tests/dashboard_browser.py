"""Headless Chromium for the dashboard tests and screenshots (not a test module).

Debian's chromium driven by Playwright through ``executable_path``: ``playwright
install`` (which downloads a browser) is never needed. ``HPOPT_CHROMIUM`` may name
another binary.
"""

from __future__ import annotations

import os
import shutil
from typing import Optional

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> Optional[str]:
    for candidate in (os.environ.get("HPOPT_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def missing() -> list[str]:
    """What the browser tests lack, in words (empty when they can run)."""
    problems = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("the Python package playwright (pip install -r requirements-dev.txt)")
    if chromium_path() is None:
        problems.append("Chromium at /usr/bin/chromium (apt-get install chromium)")
    return problems


def launch(playwright):  # -> playwright Browser
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


def enter_key(page, key: str, timeout_ms: float = 15_000) -> None:
    """Answer the page's API-key dialog."""
    page.wait_for_selector("#key-dialog[open]", timeout=timeout_ms)
    page.fill("#key-input", key)
    page.click("#key-dialog button[value=save]")
    page.wait_for_selector("#key-dialog:not([open])", state="attached", timeout=timeout_ms)


def require_browser() -> None:
    """Skip the calling test module without chromium or playwright; in CI (which installs both) fail."""
    import pytest

    if not missing():
        return
    reason = "the dashboard browser test needs " + " and ".join(missing())
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; .ci/run installs them", pytrace=False)
    pytest.skip(f"{reason} (CI installs them and fails without them)", allow_module_level=True)


def start_server(tmp_path_factory, name: str, key: str):  # -> api_helpers.ApiServer, started
    """A real API server with an API key and an empty results folder, for one test module."""
    from api_helpers import ApiServer, clean_env

    work = tmp_path_factory.mktemp(name)
    return ApiServer(work, work / "results", env=clean_env(HYPEROPT_API_KEY=key)).start()


def watch_errors(tab, *, console: bool = False) -> list[str]:
    """The page's JavaScript errors (and console errors with ``console``), collected as they
    happen for the module's teardown to assert on; a 30 s default timeout for every wait."""
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    if console:
        tab.on("console", lambda message: message.type == "error" and problems.append(f"console: {message.text}"))
    tab.set_default_timeout(30_000)
    return problems
