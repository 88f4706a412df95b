"""The dashboard's trials table, trial detail, plot lightbox and run summary card, in headless Chromium.

One tiny finished digits job (4 trials of at most 2 epochs, plots for the best trial) serves
every test: sorting and filtering the table, the hpopt:trial-filter contract other views use,
a clicked row's parameters, a plot at full size, and the summary card's test accuracy and best
parameters, each checked against the API's own answer. Skipped (failed in CI) without
Debian's chromium and playwright, as tests/test_dashboard_e2e.py.
"""

from __future__ import annotations

import dashboard_browser as browser
import pytest
from api_helpers import TINY, wait_status

KEY = "dashboard-table-key-51c2"

browser.require_browser()

from playwright.sync_api import sync_playwright  # noqa: E402

ROWS = "#trial-table tbody tr[data-trial]"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = browser.start_server(tmp_path_factory, "dashboard-table", KEY)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def finished(server):
    """The job, its trials and its run summary, as the API gives them."""
    with server.client(**{"X-API-Key": KEY}) as client:
        job = client.post("/optimize", json={**TINY, "trials": 4, "plot_generation": "best", "warm_start": True,
                                             "run_name": "table_run"}).json()
        wait_status(client, job["job_id"], ("completed",), timeout=300)
        trials = client.get(f"/jobs/{job['job_id']}/trials").json()["trials"]
        summary = client.get(f"/jobs/{job['job_id']}/run-summary").json()
    return {"job_id": job["job_id"], "trials": trials, "summary": summary}


@pytest.fixture(scope="module")
def page(server, finished):
    with sync_playwright() as playwright:
        chromium = browser.launch(playwright)
        context = chromium.new_context(viewport=browser.LAPTOP)
        context.add_init_script(f"localStorage.setItem('hpopt.apiKey', {KEY!r})")
        tab = context.new_page()
        errors = browser.watch_errors(tab)
        tab.goto(f"{server.url}/#/job/{finished['job_id']}")
        tab.wait_for_function(f"() => document.querySelectorAll({ROWS!r}).length === {len(finished['trials'])}")
        yield tab
        chromium.close()
        assert not errors, f"JavaScript errors on the page: {errors}"


def shown(page) -> list[int]:
    return [int(n) for n in page.eval_on_selector_all(ROWS, "rows => rows.map(r => r.dataset.trial)")]


def test_sorting_by_a_column_orders_rows_and_sets_aria_sort(page, finished):
    values = {t["number"]: t["value"] for t in finished["trials"]}
    ranked = sorted((n for n in values if values[n] is not None), key=lambda n: (values[n], n))
    missing = sorted(n for n in values if values[n] is None)
    header = page.locator('#trial-table th[data-key="value"]')
    page.click('#trial-table button[data-sort="value"]')
    page.wait_for_function("() => document.querySelector('#trial-table th[data-key=\"value\"]')"
                           ".getAttribute('aria-sort') === 'ascending'")
    assert shown(page) == ranked + missing  # numbers in order, missing values last
    page.click('#trial-table button[data-sort="value"]')
    assert header.get_attribute("aria-sort") == "descending"
    assert shown(page) == ranked[::-1] + missing
    param = sorted(finished["trials"][0]["params"])[0]
    page.click(f'#trial-table button[data-sort="p:{param}"]')
    got = [t for n in shown(page) for t in finished["trials"] if t["number"] == n]
    keys = [t["params"].get(param) for t in got if t["params"].get(param) is not None]
    assert keys == sorted(keys) and header.get_attribute("aria-sort") == "none"


def test_state_and_value_filters_hide_rows(page, finished):
    trials = finished["trials"]
    states = {t["state"] for t in trials}
    state = "complete" if "complete" in states else sorted(states)[0]
    page.uncheck(f'#trial-table input[data-state="{state}"]')
    assert sorted(shown(page)) == sorted(t["number"] for t in trials if t["state"] != state)
    page.check(f'#trial-table input[data-state="{state}"]')
    assert len(shown(page)) == len(trials)
    values = sorted(t["value"] for t in trials if t["value"] is not None)
    low = values[len(values) // 2]
    page.fill("#watch-trials-value-min", str(low))
    expected = sorted(t["number"] for t in trials if t["value"] is not None and t["value"] >= low)
    page.wait_for_function(f"() => document.querySelectorAll({ROWS!r}).length === {len(expected)}")
    assert sorted(shown(page)) == expected and len(expected) < len(trials)
    page.fill("#watch-trials-value-max", str(values[0] - 1))  # an empty range: a note, no rows
    page.wait_for_selector("#trial-table tbody tr.empty")
    page.fill("#watch-trials-value-min", "")
    page.fill("#watch-trials-value-max", "")
    page.wait_for_function(f"() => document.querySelectorAll({ROWS!r}).length === {len(trials)}")


def test_a_published_trial_filter_restricts_rows_until_cleared(page, finished):
    keep = [t["number"] for t in finished["trials"]][1:3]
    page.evaluate("numbers => document.dispatchEvent(new CustomEvent('hpopt:trial-filter', "
                  "{detail: {source: 'test brush', numbers}}))", keep)
    page.wait_for_function(f"() => document.querySelectorAll({ROWS!r}).length === {len(keep)}")
    assert sorted(shown(page)) == sorted(keep)
    chip = page.locator('#trial-table .filter-chip[data-source="test brush"]')
    assert "filtered by test brush" in chip.inner_text()
    chip.locator("button").click()
    page.wait_for_function(f"() => document.querySelectorAll({ROWS!r}).length === {len(finished['trials'])}")
    assert page.locator("#trial-table .filter-chip").count() == 0


def test_a_clicked_row_shows_its_parameters(page, finished):
    for trial, how in ((finished["trials"][1], "click"), (finished["trials"][2], "enter")):
        row = page.locator(f'{ROWS}[data-trial="{trial["number"]}"]')
        if how == "click":
            row.click()
        else:
            row.focus()
            page.keyboard.press("Enter")
        page.wait_for_function(f"() => document.querySelector('#trial-detail-title').textContent.startsWith("
                               f"'trial {trial['number']} ')")
        page.wait_for_selector("#trial-detail-params")
        cells = page.eval_on_selector_all("#trial-detail-params tbody tr",
                                          "rows => rows.map(r => [r.dataset.param, r.querySelector('td').textContent])")
        assert [name for name, _ in cells] == sorted(trial["params"])
        for name, text in cells:
            value = trial["params"][name]
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                assert abs(float(text) - value) <= 1e-5 * abs(value), name
            else:
                assert text.lower() == str(value).lower(), name  # JavaScript writes false for False
    row.click()  # clicked again: back to following the run


def test_the_summary_card_shows_test_accuracy_best_parameters_and_the_baseline(page, finished):
    summary = finished["summary"]
    best = summary["best_trial"]
    page.wait_for_selector("#run-summary:not([hidden]) #run-test-accuracy")
    assert page.inner_text("#run-test-accuracy") == f"{summary['test_accuracy'] * 100:.1f}%"
    assert f"trial {best['number']}" in page.inner_text("#run-best-value")
    names = page.eval_on_selector_all("#run-summary-params tbody tr", "rows => rows.map(r => r.dataset.param)")
    assert names == sorted(best["params"])
    assert summary["baseline_trial"] == 0 and "Trial 0 is the warm-start baseline" in page.inner_text("#run-baseline")
    assert page.locator(f'{ROWS}[data-trial="0"] .b-baseline').count() == 1
    assert page.locator(f'{ROWS} .b-baseline').count() == 1
    assert f"{summary['counts']['trials']} trials" in page.inner_text("#run-counts")
    page.wait_for_function("() => document.querySelector('#run-summary-report').href.startsWith('blob:')")


def test_the_summary_card_lists_the_worst_classes_first(page, finished):
    per_class = finished["summary"]["per_class"]
    assert len(per_class) == 10 and [r["f1"] for r in per_class] == sorted(r["f1"] for r in per_class)
    page.wait_for_selector("#run-summary:not([hidden]) #run-per-class-table")
    shown_classes = page.eval_on_selector_all("#run-per-class-table tbody tr", "rows => rows.map(r => r.dataset.class)")
    assert shown_classes == [r["class"] for r in per_class]
    first = page.locator("#run-per-class-table tbody tr").first.inner_text().split()
    assert float(first[3]) == pytest.approx(per_class[0]["f1"], abs=1e-3)
    assert "macro-F1" in page.inner_text("#run-per-class")


def test_columns_chooser_hides_a_column_and_remembers_it(page, finished, server):
    param = sorted(finished["trials"][0]["params"])[-1]
    page.click("#trial-table .column-chooser summary")
    page.uncheck(f'#trial-table input[data-column="p:{param}"]')
    assert page.locator(f'#trial-table th[data-key="p:{param}"]').count() == 0
    page.reload()
    page.wait_for_function(f"() => document.querySelectorAll({ROWS!r}).length === {len(finished['trials'])}")
    assert page.locator(f'#trial-table th[data-key="p:{param}"]').count() == 0
    page.click("#trial-table .column-chooser summary")
    page.check(f'#trial-table input[data-column="p:{param}"]')
    assert page.locator(f'#trial-table th[data-key="p:{param}"]').count() == 1


def test_a_plot_opens_full_size_and_closes_back_to_its_thumbnail(page, finished):
    page.click("#tab-analyze")
    page.wait_for_function("() => [...document.querySelectorAll('#plots img')].some(i => i.naturalWidth > 0)")
    thumb = page.locator("#plots button.thumb").first
    width = thumb.evaluate("b => b.querySelector('img').clientWidth")
    thumb.click()
    page.wait_for_selector("#lightbox[open]")
    page.wait_for_function("() => document.querySelector('#lightbox-img').complete")
    natural = page.evaluate("document.querySelector('#lightbox-img').naturalWidth")
    shown_width = page.evaluate("document.querySelector('#lightbox-img').getBoundingClientRect().width")
    assert natural > width and shown_width > width
    assert page.get_attribute("#lightbox-newtab", "href").startswith("blob:")
    page.keyboard.press("Escape")
    page.wait_for_selector("#lightbox", state="hidden")
    assert page.evaluate("document.activeElement.classList.contains('thumb')")
    # Analyze has the table too, and its detail panel shows the chosen trial in full
    page.locator('#analyze-trials tbody tr[data-trial="1"]').click()
    page.wait_for_selector("#analyze-detail-params")
    page.wait_for_selector("#analyze-detail-accuracy svg[aria-label]")


def test_clicking_a_history_point_in_watch_selects_that_trial(server, finished, page):
    page.goto(f"{server.url}/#/job/{finished['job_id']}")
    points = page.locator("#history-chart circle[data-trial]")
    points.first.wait_for()
    target = int(points.first.get_attribute("data-trial"))
    points.first.click()
    page.wait_for_function("(n) => document.querySelector('#trial-detail-title').textContent === `trial ${n} (selected)`",
                           arg=target)
    # a trial chosen on another view (an Analyze chart) is Watch's selection too
    other = max(t["number"] for t in finished["trials"] if t["number"] != target)
    page.evaluate("(n) => document.dispatchEvent(new CustomEvent('hpopt:trial-select', {detail: {number: n}}))", other)
    page.wait_for_function("(n) => document.querySelector('#trial-detail-title').textContent === `trial ${n} (selected)`",
                           arg=other)
