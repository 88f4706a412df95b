"""Screenshots of the dashboard for the README, taken from the real page.

    .venv/bin/python tests/dashboard_screenshots.py [docs/screenshots]

Starts ``src/api_server.py`` on a free port with an empty results folder, launches a
small digits job from the Launch form in headless Chromium (laptop size, 1366x768),
and saves launch.png (with the API's message for a bad value beside its field),
watch.png (while the job trains) and analyze.png (once it completed), plus
watch-phone.png at 390x844. Takes about a minute; not part of the test run.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dashboard_browser as browser  # noqa: E402
from api_helpers import REPO, ApiServer, clean_env  # noqa: E402

SETTINGS = {"trials": "10", "max_epochs_per_trial": "4", "min_epochs_per_trial": "2"}


def main(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server = ApiServer(Path(tmp), Path(tmp) / "results", env=clean_env()).start()
        try:
            with sync_playwright() as playwright:
                chromium = browser.launch(playwright)
                page = chromium.new_page(viewport=browser.LAPTOP)
                page.goto(server.url + "/#/launch")
                page.wait_for_selector("#f-trials")
                for name, value in SETTINGS.items():
                    page.fill(f"#f-{name}", value)
                page.select_option("#f-mode", "health")
                page.fill("#f-health_weight", "1.5")
                page.click("#launch")
                page.wait_for_selector('[data-error-for="health_weight"]:not(:empty)')
                page.screenshot(path=str(out / "launch.png"))
                page.fill("#f-health_weight", "0.3")
                page.click("#launch")
                page.wait_for_url("**/#/job/*")
                page.wait_for_function("() => document.querySelectorAll('#trial-table tr[data-state=\"complete\"]').length >= 4"
                                       " && document.querySelector('#trial-table tr[data-state=\"running\"]')"
                                       " && document.querySelectorAll('#epoch-accuracy .s-val circle').length >= 2"
                                       " && document.querySelectorAll('#current-arch tbody tr').length > 0", timeout=300_000)
                page.screenshot(path=str(out / "watch.png"), full_page=True)
                page.set_viewport_size(browser.PHONE)
                time.sleep(0.5)
                page.screenshot(path=str(out / "watch-phone.png"))
                page.set_viewport_size(browser.LAPTOP)
                page.wait_for_selector("#job-status .s-completed", timeout=600_000)
                page.click("#tab-analyze")
                page.wait_for_selector("#importances svg .bar")
                for chart in ("history", "parcoords", "slice", "contour", "edf", "intermediate"):  # Plotly's
                    page.wait_for_selector(f"#chart-{chart}:not([data-state=loading])")
                page.wait_for_function("() => [...document.querySelectorAll('#plots img')].filter(i => i.naturalWidth > 0).length >= 4")
                time.sleep(0.5)
                page.screenshot(path=str(out / "analyze.png"), full_page=True)
                chromium.close()
        finally:
            server.stop()
    print("\n".join(str(p) for p in sorted(out.glob("*.png"))))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screenshots")
