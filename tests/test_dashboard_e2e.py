"""The web dashboard end to end: headless Chromium against a live server with an API key.

From the page alone: the key is asked once and kept; bad form values show the API's
own message beside the field and start nothing; a tiny digits job launched from the
form is watched live (trial rows, the history chart, the live dot of the WebSocket),
then its best model's layers, the Analyze view, and the ZIP download are checked; the
page stays inside a phone's width. Needs Debian's chromium and the playwright package:
CI installs both (.ci/run) and fails without them; elsewhere the test is skipped.
"""

from __future__ import annotations

import io
import os
import zipfile

import dashboard_browser as browser
import pytest
from api_helpers import ApiServer, clean_env

KEY = "dashboard-e2e-key-3b9f"
# 3 trials of at most 2 epochs on digits; plots for the best trial only (they take seconds)
FORM = {"trials": "3", "max_epochs_per_trial": "2", "min_epochs_per_trial": "1"}

if browser.missing():
    reason = "the dashboard browser test needs " + " and ".join(browser.missing())
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; .ci/run installs them", pytrace=False)
    pytest.skip(f"{reason} (CI installs them and fails without them)", allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("dashboard-e2e")
    srv = ApiServer(work, work / "results", env=clean_env(HYPEROPT_API_KEY=KEY)).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def page(server):
    with sync_playwright() as playwright:
        chromium = browser.launch(playwright)
        context = chromium.new_context(viewport=browser.LAPTOP, accept_downloads=True)
        tab = context.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.set_default_timeout(30_000)
        yield tab
        chromium.close()
        assert not errors, f"JavaScript errors on the page: {errors}"


def job_count(server) -> int:
    with server.client(**{"X-API-Key": KEY}) as client:
        return client.get("/jobs").json()["total"]


def test_bad_values_show_the_apis_message_and_start_nothing(server, page):
    page.goto(server.url + "/#/launch")
    browser.enter_key(page, KEY)  # the page loaded without the key, then asked for it
    page.wait_for_selector("#f-trials")
    for name, bad, expected in (("trials", "0", "trials=0 is out of range"),
                                ("health_weight", "2", "health_weight=2 is out of range")):
        page.fill("#f-trials", "3")
        page.fill(f"#f-{name}", bad)
        page.click("#launch")
        slot = page.locator(f'[data-error-for="{name}"]')
        slot.wait_for(state="visible")
        with server.client(**{"X-API-Key": KEY}) as client:
            api_message = client.post("/optimize", json={"trials": "3", name: bad}).json()["detail"][0]["msg"]
        assert expected in slot.inner_text() and slot.inner_text() == api_message
        assert page.locator(f'[data-field="{name}"]').get_attribute("class").find("invalid") >= 0
        assert "#/launch" in page.url  # still on the form
        assert job_count(server) == 0
        page.fill(f"#f-{name}", "0.3" if name == "health_weight" else "3")


def test_launch_watch_live_then_analyze_and_download(server, page, tmp_path):
    page.goto(server.url + "/#/launch")
    page.wait_for_selector("#f-trials")
    assert not page.locator("#key-dialog[open]").count()  # kept in the browser: not asked again
    for name, value in FORM.items():
        page.fill(f"#f-{name}", value)
    page.click("details summary")
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


def test_stop_and_resume_from_the_job_header(server, page):
    with server.client(**{"X-API-Key": KEY}) as client:
        job = client.post("/optimize", json={"dataset": "digits", "trials": 6, "max_epochs": 1, "min_epochs_per_trial": 1,
                                             "plot_generation": "none", "run_name": "stop_resume"}).json()
    page.set_viewport_size(browser.LAPTOP)
    page.goto(server.url + f"/#/job/{job['job_id']}")
    page.wait_for_selector('#trial-table tr[data-state="complete"]', timeout=150_000)
    page.click("#stop-job")
    page.wait_for_selector("#job-status .s-cancelled", timeout=120_000)
    with server.client(**{"X-API-Key": KEY}) as client:
        finished = client.get(f"/jobs/{job['job_id']}").json()["progress"]["trials_finished"]
    assert 1 <= finished < 6
    page.fill("#resume-trials", str(finished + 1))  # a small total: the study continues with a trial or two
    page.click("#resume-job")
    page.wait_for_selector("#job-status .s-running, #job-status .s-completed", timeout=60_000)
    page.wait_for_selector("#job-status .s-completed", timeout=150_000)
    with server.client(**{"X-API-Key": KEY}) as client:
        trials = client.get(f"/jobs/{job['job_id']}/trials").json()["trials"]
    assert len(trials) > finished  # the resumed attempt added trials to the same study
    page.wait_for_function(f"() => document.querySelectorAll('#trial-table tr[data-trial]').length === {len(trials)}")
    assert page.locator(".live-dot").inner_text() == "ended"
