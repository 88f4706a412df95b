"""The web dashboard end to end: headless Chromium against a live server with an API key.

From the page alone: the key is asked once and kept, and Cancel on its dialog leaves an
"API key needed" banner with no more dialogs nor polling; every mistake of a submit is shown
beside its field at once, in the form's words, and starts nothing; a tiny digits job launched
from the form is watched live (trial rows, the history chart, the live dot of the WebSocket),
then its best model's layers, the Analyze view, and the ZIP download are checked; every view
passes axe-core (no serious or critical violation) and is saved to docs/screenshots/; the page
stays inside a phone's width. One job then lives through a server kill and restart (the page
shows the outage and corrects itself without a reload), a stop and two resumes, its progress
matching summary.json throughout. Needs Debian's chromium and the playwright package: CI
installs both (.ci/run) and fails without them; elsewhere the test is skipped.
"""

from __future__ import annotations

import io
import re
import zipfile

import dashboard_browser as browser
import pytest
from api_helpers import wait_for, wait_status
from dashboard_screenshots import save_view

from hpopt.jobs.launcher import lock_held

KEY = "dashboard-e2e-key-3b9f"
# 3 trials of at most 2 epochs on digits; plots for the best trial only (they take seconds)
FORM = {"trials": "3", "max_epochs_per_trial": "2", "min_epochs_per_trial": "1"}

browser.require_browser()

from playwright.sync_api import sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = browser.start_server(tmp_path_factory, "dashboard-e2e", KEY)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def chromium():
    with sync_playwright() as playwright:
        browser_ = browser.launch(playwright)
        yield browser_
        browser_.close()


@pytest.fixture(scope="module")
def page(chromium):
    context = chromium.new_context(viewport=browser.LAPTOP, accept_downloads=True)
    tab = context.new_page()
    errors = browser.watch_errors(tab)
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="module")
def keyed_page(chromium):
    """A page whose browser already holds the key (tests that do not start from a first visit)."""
    context = chromium.new_context(viewport=browser.LAPTOP)
    context.add_init_script(f"localStorage.setItem('hpopt.apiKey', '{KEY}')")
    tab = context.new_page()
    errors = browser.watch_errors(tab)
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def job_count(server) -> int:
    with server.client(**{"X-API-Key": KEY}) as client:
        return client.get("/jobs").json()["total"]


def in_form_words(message: str) -> str:
    """The API's message as the form words it: labels for CLI keys (launch.js inFormWords)."""
    for key, words in (("max_epochs_per_trial", "max epochs"), ("health_weight", "health weight"), ("trials", "trials")):
        message = message.replace(f"{key}=", f"{words} = ").replace(key, words)
    return message


def test_cancel_on_the_key_dialog_asks_no_more_and_stops_polling(server, chromium):
    context = chromium.new_context(viewport=browser.LAPTOP)
    tab = context.new_page()
    tab.clock.install()  # the page's timers run on a clock the test moves forward
    polled: list[str] = []
    tab.on("request", lambda request: polled.append(request.url) if re.search(r"/(jobs|health)\b", request.url) else None)
    tab.goto(server.url + "/#/jobs")
    tab.wait_for_selector("#key-dialog[open]")
    tab.click("#key-dialog button[value=cancel]")
    banner = tab.locator("#auth-banner")
    banner.wait_for(state="visible")
    assert "API key needed" in banner.inner_text()
    asked = len(polled)
    tab.clock.run_for(16_000)  # five ticks of the jobs list's polling, one of the GPU proxy badge's
    assert not tab.locator("#key-dialog[open]").count(), "the key dialog opened again after Cancel"
    assert polled[asked:] == [], f"requests after Cancel: {polled[asked:]}"
    tab.click("#auth-enter")  # the banner's button: one dialog, and everything loads with the key
    browser.enter_key(tab, KEY)
    banner.wait_for(state="hidden")
    tab.wait_for_selector("#job-list table, #job-list >> text=No jobs yet")
    with tab.expect_request(lambda request: "/jobs?" in request.url, timeout=10_000):
        tab.clock.run_for(3_500)  # the jobs list polls again once the key is given
    context.close()


def test_every_mistake_of_a_submit_shows_at_once_in_the_forms_words(server, page):
    page.goto(server.url + "/#/launch")
    browser.enter_key(page, KEY)  # the page loaded without the key, then asked for it
    page.wait_for_selector("#f-trials")
    # a light first run; health_weight only in health mode; the unconfigured GPU proxy folded away
    assert (page.input_value("#f-trials"), page.input_value("#f-max_epochs_per_trial")) == ("10", "5")
    assert page.is_disabled("#f-health_weight")
    assert page.get_attribute("#gpu-settings", "open") is None
    page.fill("#f-trials", "0")
    page.fill("#f-max_epochs_per_trial", "0")
    page.select_option("#f-mode", "health")
    page.fill("#f-health_weight", "2")
    page.click("#launch")
    page.wait_for_selector('[data-error-for="health_weight"]:not(:empty)')
    with server.client(**{"X-API-Key": KEY}) as client:
        detail = client.post("/optimize", json={"trials": "0", "max_epochs_per_trial": "0", "mode": "health",
                                                "health_weight": "2"}).json()["detail"]
    assert len(detail) == 3
    for problem in detail:
        name = problem["loc"][1]
        text = page.inner_text(f'[data-error-for="{name}"]')
        assert text == in_form_words(problem["msg"]), name
        assert "_" not in text.split(" is ")[0], f"a CLI key name in {text!r}"
        assert "invalid" in page.get_attribute(f'[data-field="{name}"]', "class")
    assert "max epochs = 0 is out of range" in page.inner_text('[data-error-for="max_epochs_per_trial"]')
    assert "#/launch" in page.url and job_count(server) == 0  # nothing started
    page.fill("#f-health_weight", "0.3")
    page.select_option("#f-mode", "simple")  # health_weight is then not sent
    page.fill("#f-trials", "3")
    page.fill("#f-max_epochs_per_trial", "2")
    assert "health_weight" not in page.inner_text("#cli-preview")


def test_launch_watch_live_then_analyze_and_download(server, page, tmp_path):
    page.goto(server.url + "/#/launch")
    page.wait_for_selector("#f-trials")
    assert not page.locator("#key-dialog[open]").count()  # kept in the browser: not asked again
    for name, value in FORM.items():
        page.fill(f"#f-{name}", value)
    page.click("#more-settings summary")
    page.select_option("#f-plot_generation", "best")
    page.click("#launch")
    page.wait_for_url("**/#/job/*")
    job_id = page.url.rsplit("/", 1)[-1]

    # Live: while the job still runs, a finished trial's row and its point in the history
    # chart appear, pushed over the WebSocket (the live dot is on).
    page.wait_for_function("""() => {
        const running = document.querySelector('#job-status .badge')?.textContent === 'running';
        const rows = document.querySelectorAll('#trial-table tr[data-state="complete"]').length;
        const points = document.querySelectorAll('#history-chart .s-value circle.point').length;
        return running && rows >= 1 && points >= 1 && document.querySelector('.live-dot.on');
    }""", timeout=150_000)
    first_rows = page.locator('#trial-table tr[data-state="complete"]').count()
    assert first_rows < 3
    page.wait_for_function("n => document.querySelectorAll('#trial-table tr[data-state=\"complete\"], "
                           "#trial-table tr[data-state=\"pruned\"]').length > n", arg=first_rows, timeout=120_000)
    page.wait_for_selector("#job-status .s-completed", timeout=180_000)
    assert page.locator("#history-chart .s-value circle.point").count() == 3
    assert page.locator("#history-chart .s-best path.line").count() == 1  # the running best
    assert int(page.inner_text("#watch-events").split()[0]) > 3  # events came over the stream

    # The best trial's architecture, as the API knows it
    with server.client(**{"X-API-Key": KEY}) as client:
        best = client.get(f"/jobs/{job_id}/best-trial").json()["best_trial"]["number"]
        layers = client.get(f"/jobs/{job_id}/trials/{best}").json()["architecture"]
    page.wait_for_function(f"() => document.querySelectorAll('#best-arch table.arch tbody tr').length === {len(layers)}")
    assert page.inner_text("#best-title") == f"Best model — trial {best}"
    assert page.locator("#best-arch tbody tr").first.inner_text().split()[0] == layers[0]["name"]
    total = sum(layer["params"] for layer in layers)
    assert page.inner_text("#best-arch tfoot td.n").replace(",", "") == str(total)

    # Analyze: importances, accuracy vs health, comparison, the results folder's plots
    page.click("#tab-analyze")
    page.wait_for_selector("#importances svg .bar")
    assert page.locator("#scatter .s-trials circle.point").count() == 3
    page.wait_for_selector("#compare-body table.compare")
    page.locator("#plots").scroll_into_view_if_needed()  # below the study charts; its images load lazily
    page.wait_for_function("() => [...document.querySelectorAll('#plots img')].some(i => i.src.startsWith('blob:') && i.naturalWidth > 0)")
    page.select_option("#plot-choice", str(best))
    page.wait_for_function("() => [...document.querySelectorAll('#plots figcaption')].some(c => c.textContent === 'training curves')")

    # The ZIP, fetched with the key and saved by the browser
    with page.expect_download(timeout=60_000) as download:
        page.click("#download-zip")
    saved = tmp_path / "run.zip"
    download.value.save_as(saved)
    with zipfile.ZipFile(io.BytesIO(saved.read_bytes())) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
    run_name = download.value.suggested_filename.removesuffix(".zip")
    assert f"{run_name}/summary.json" in names and f"{run_name}/best_model.keras" in names

    # A phone: every view fits its width (tables scroll inside their cards)
    page.set_viewport_size(browser.PHONE)
    for view in (f"#/job/{job_id}", f"#/job/{job_id}/analyze", "#/launch", "#/jobs"):
        page.goto(server.url + "/" + view)
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= browser.PHONE["width"], f"{view} is {width}px wide on a phone"


def test_jobs_list_filters_by_status(server, page):
    page.set_viewport_size(browser.LAPTOP)
    page.goto(server.url + "/#/jobs")
    page.wait_for_selector("#job-list tr[data-job]")
    assert page.locator('#job-list tr[data-status="completed"]').count() == 1
    page.click('#job-filters [data-status="failed"]')
    page.wait_for_selector("#job-list >> text=No failed jobs.")
    page.click('#job-filters [data-status="completed"]')
    page.wait_for_selector('#job-list tr[data-status="completed"]')
    page.click('#job-list tr[data-status="completed"] a')
    page.wait_for_selector("#job-status .s-completed")


def finished_job(server) -> str:
    """A completed job of this module (the form's, when that test ran), or a tiny one launched now."""
    with server.client(**{"X-API-Key": KEY}) as client:
        done = client.get("/jobs", params={"status": "completed"}).json()["jobs"]
        if done:
            return done[0]["job_id"]
        job = client.post("/optimize", json={"dataset": "digits", "trials": 3, "max_epochs": 2, "min_epochs_per_trial": 1,
                                             "plot_generation": "best"}).json()
        wait_status(client, job["job_id"], ("completed",), timeout=300)
        return job["job_id"]


def test_every_view_passes_axe_and_is_saved_as_a_screenshot(server, keyed_page):
    from axe_playwright_python.sync_playwright import Axe

    page = keyed_page
    job_id = finished_job(server)
    page.set_viewport_size(browser.LAPTOP)
    axe = Axe()
    views = {"jobs": ("#/jobs", "#job-list tr[data-job]"),
             "launch": ("#/launch", "#f-trials"),
             "watch": (f"#/job/{job_id}", "#history-chart svg .s-value circle.point"),
             "analyze": (f"#/job/{job_id}/analyze", "#importances svg .bar")}
    for name, (view, ready) in views.items():
        page.goto(server.url + "/" + view)
        page.wait_for_selector(ready)
        if name == "analyze":  # Plotly's charts (loaded when Analyze opens) are checked too
            for chart in ("history", "parcoords", "slice", "contour", "edf", "intermediate"):
                page.wait_for_selector(f"#chart-{chart}:not([data-state=loading])")
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").count() == 1 and page.locator("main h2:visible").count() >= 1, name
        charts = page.locator("svg.chart")
        for n in range(charts.count()):
            assert charts.nth(n).get_attribute("role") == "img" and charts.nth(n).get_attribute("aria-label"), name
        results = axe.run(page)
        bad = [(v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:3])
               for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, f"axe-core on {name}: {bad}"
        save_view(page, name)


def summary_counts(client, job_id: str) -> dict:
    summary = client.get(f"/jobs/{job_id}/files/summary.json").json()
    finished = sum(summary[k] for k in ("n_complete", "n_pruned", "n_no_learning", "n_failed"))
    return {"finished": finished, "n_stopped": summary["n_stopped"], "rows": summary["trials"]}


def assert_counts_match_summary(server, page, job_id: str, total: int) -> dict:
    """The API's progress and the page's header and rows say what summary.json says."""
    with server.client(**{"X-API-Key": KEY}) as client:
        summary = summary_counts(client, job_id)
        progress = client.get(f"/jobs/{job_id}").json()["progress"]
    assert (progress["trials_finished"], progress["n_stopped"]) == (summary["finished"], summary["n_stopped"])
    page.wait_for_function("([n, rows]) => document.querySelector('#job-progress')?.textContent.startsWith(n)"
                           " && document.querySelectorAll('#trial-table tr[data-trial]').length === rows",
                           arg=[f"{summary['finished']}/{total} trials", len(summary["rows"])])
    for row in summary["rows"]:
        if row["state"] == "stopped":
            words = "stopped by user" if row["stop_reason"] == "user" else "stopped: server went away"
            assert page.inner_text(f'#trial-table tr[data-trial="{row["number"]}"] .badge') == words
    return summary


def test_server_restart_then_stop_and_resume_keep_the_page_true(server, keyed_page):
    page = keyed_page
    total = 4
    with server.client(**{"X-API-Key": KEY}) as client:
        job = client.post("/optimize", json={"dataset": "digits", "trials": total, "max_epochs": 2,
                                             "min_epochs_per_trial": 2, "plot_generation": "none",
                                             "pruner": "none", "run_name": "restart_stop_resume"}).json()
    job_id = job["job_id"]
    page.set_viewport_size(browser.LAPTOP)
    page.goto(server.url + f"/#/job/{job_id}")
    page.wait_for_selector('#trial-table tr[data-state="complete"]', timeout=150_000)
    page.wait_for_selector('#trial-table tr[data-state="running"]', timeout=60_000)
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    # The server dies mid-trial: the page says so at once, then corrects itself when it is back
    server.kill()
    banner = page.locator("#connection-banner")
    banner.wait_for(state="visible", timeout=20_000)
    assert banner.get_attribute("role") == "alert" and banner.inner_text() == "Lost connection to the server - retrying..."
    # the job process notices, stops its trial and ends; the page hears nothing until the server is back
    lock = server.results_dir / ".hpopt_jobs" / job_id / "job.lock"
    wait_for(lambda: not lock_held(lock), 120, "the orphaned job process to end")
    server.restart_on_same_port()
    page.wait_for_selector("#job-status .s-interrupted", timeout=120_000)
    banner.wait_for(state="hidden", timeout=20_000)
    assert not page.locator('#trial-table tr[data-state="running"]').count(), "a trial still shows running"
    assert ", epoch" not in page.inner_text("#job-progress") and "training" not in page.inner_text("#focus-title")
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    assert_counts_match_summary(server, page, job_id, total)

    # Resume, stop by the user, resume again: the counts stay summary.json's and stopped rows stay
    page.click("#resume-job")
    page.wait_for_selector("#job-status .s-running", timeout=60_000)
    page.wait_for_selector('#trial-table tr[data-state="running"]', timeout=120_000)
    page.click("#stop-job")
    page.wait_for_selector("#job-status .s-cancelled", timeout=120_000)
    stopped = assert_counts_match_summary(server, page, job_id, total)
    page.click("#resume-job")
    page.wait_for_selector("#job-status .s-completed", timeout=240_000)
    final = assert_counts_match_summary(server, page, job_id, total)
    assert final["finished"] == total
    kept = {r["number"] for r in stopped["rows"] if r["state"] == "stopped"}
    assert kept <= {r["number"] for r in final["rows"] if r["state"] == "stopped"}, "a stopped row vanished"
    assert page.locator(".live-dot").inner_text() == "ended"
