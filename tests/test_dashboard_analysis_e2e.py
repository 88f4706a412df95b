"""The Analyze view's study charts (Plotly) in headless Chromium, on one tiny finished job.

Plotly is loaded only when Analyze opens, from this server (nothing else is fetched); the
history, parallel coordinates, slice, contour, EDF and intermediate-values charts render
with a text summary in their aria-label; brushing an axis of the parallel coordinates
dispatches hpopt:trial-filter with the trials inside the range; the log toggle switches the
history's value axis; clicking a history point selects that trial. Needs Debian's chromium
and the playwright package (CI installs both); elsewhere the test is skipped.
"""

from __future__ import annotations

import dashboard_browser as browser
import pytest
from api_helpers import TINY, wait_status

KEY = "analysis-e2e-key-71d0"
# 4 trials of at most 2 epochs on digits, pruner off: every trial completes with a value
JOB = {**TINY, "trials": 4, "plot_generation": "best", "run_name": "analysis_e2e"}
BUNDLE = "/dashboard/vendor/plotly.min.js"
CHARTS = ("history", "parcoords", "slice", "contour", "edf", "intermediate")

browser.require_browser()

from playwright.sync_api import sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = browser.start_server(tmp_path_factory, "analysis-e2e", KEY)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def job(server):
    """The finished job and its analysis data, as the API gives them."""
    with server.client(**{"X-API-Key": KEY}) as client:
        job_id = client.post("/optimize", json=JOB).json()["job_id"]
        assert wait_status(client, job_id, ("completed", "failed"), timeout=240)["status"] == "completed"
        return {"id": job_id, "analysis": client.get(f"/jobs/{job_id}/analysis").json()}


@pytest.fixture(scope="module")
def page(server):
    with sync_playwright() as playwright:
        chromium = browser.launch(playwright)
        tab = chromium.new_context(viewport=browser.LAPTOP).new_page()
        problems = browser.watch_errors(tab, console=True)
        tab.requests = []
        tab.on("request", lambda request: tab.requests.append(request.url))
        tab.add_init_script(f"localStorage.setItem('hpopt.apiKey', '{KEY}')")
        yield tab
        chromium.close()
        assert not problems, f"errors on the page: {problems}"


def scored(job) -> list[dict]:
    return [t for t in job["analysis"]["trials"] if t["state"] == "complete" and t["value"] is not None]


def chart_data(page, name: str, expression: str):
    return page.evaluate(f"() => {{ const gd = document.getElementById('chart-{name}'); return {expression}; }}")


def test_plotly_loads_with_analyze_and_every_view_renders(server, job, page):
    page.goto(server.url + f"/#/job/{job['id']}")
    page.wait_for_selector("#trial-table tr[data-trial]")
    assert not [u for u in page.requests if u.endswith(BUNDLE)], "Plotly loaded before Analyze opened"
    page.click("#tab-analyze")
    for name in CHARTS:
        page.wait_for_selector(f"#chart-{name} svg.main-svg")
    assert len([u for u in page.requests if u.endswith(BUNDLE)]) == 1
    others = [u for u in page.requests if not u.startswith((server.url, "blob:", "data:"))]
    assert not others, f"the page fetched from another host: {others}"
    complete = scored(job)
    best = max(complete, key=lambda t: t["value"])
    for name in CHARTS:
        box = page.locator(f"#chart-{name}")
        assert box.get_attribute("role") == "img"
        assert any(ch.isdigit() for ch in box.get_attribute("aria-label")), name
    label = page.get_attribute("#chart-parcoords", "aria-label")
    assert label.startswith(f"Parallel coordinates of {len(complete)} trials") and f"at trial {best['number']}" in label
    assert chart_data(page, "history", "gd.data[0].customdata") == [t["number"] for t in complete]
    assert chart_data(page, "parcoords", "gd.data[0].dimensions.at(-1).values") == [t["value"] for t in complete]
    with_epochs = [t for t in job["analysis"]["trials"] if t["intermediate"]]
    assert len(with_epochs) == len(job["analysis"]["trials"])  # the trials' histories stand in for pruner=none
    assert chart_data(page, "intermediate", "gd.data.length") == len(with_epochs)
    assert chart_data(page, "contour", "gd.data[0].type") == "contour"
    assert page.locator("#slice-param option").count() >= 2 and page.locator("h3", has_text="Intermediate values").count() == 1


def test_brushing_the_parallel_coordinates_dispatches_the_trials_inside(server, job, page):
    page.evaluate("""() => { window.filters = [];
        document.addEventListener('hpopt:trial-filter', (e) => window.filters.push(e.detail)); }""")
    complete = scored(job)
    values = sorted(t["value"] for t in complete)
    low, high = values[1], values[-1]  # every trial but the worst
    expected = sorted(t["number"] for t in complete if low <= t["value"] <= high)
    page.evaluate("([lo, hi]) => { const gd = document.getElementById('chart-parcoords');"
                  " return Plotly.restyle(gd, {[`dimensions[${gd.data[0].dimensions.length - 1}].constraintrange`]: [[lo, hi]]}); }",
                  [low, high])
    page.wait_for_function("() => window.filters.length === 1")
    detail = page.evaluate("() => window.filters[0]")
    assert detail["source"] == "parallel-coordinates" and sorted(detail["numbers"]) == expected
    assert f"{len(expected)} of {len(complete)} trials" in page.inner_text("#parcoords-note")
    # ...and the trials table below shows exactly those rows, with a chip naming the filter
    rows = "#analyze-trials-table tbody tr[data-trial]"
    page.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length === n", arg=[rows, len(expected)])
    shown = sorted(int(n) for n in page.eval_on_selector_all(rows, "trs => trs.map(tr => tr.dataset.trial)"))
    assert shown == expected
    assert "parallel-coordinates" in page.inner_text("#analyze-trials-chips")
    page.evaluate("() => { const gd = document.getElementById('chart-parcoords');"
                  " return Plotly.restyle(gd, {[`dimensions[${gd.data[0].dimensions.length - 1}].constraintrange`]: null}); }")
    page.wait_for_function("() => window.filters.length === 2")
    assert page.evaluate("() => window.filters[1].numbers") is None
    page.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length === n",
                           arg=[rows, len(job["analysis"]["trials"])])


def test_log_toggle_switches_the_history_value_axis(page):
    assert chart_data(page, "history", "gd._fullLayout.yaxis.type") == "linear"
    page.click("#history-log")
    page.wait_for_function("() => document.getElementById('chart-history')._fullLayout.yaxis.type === 'log'")
    assert page.get_attribute("#history-log", "aria-pressed") == "true"
    assert page.get_attribute("#chart-history", "aria-label").endswith("log value axis")
    page.click("#history-log")
    page.wait_for_function("() => document.getElementById('chart-history')._fullLayout.yaxis.type === 'linear'")


def test_clicking_a_history_point_selects_that_trial(job, page):
    page.evaluate("""() => { window.selected = [];
        document.addEventListener('hpopt:trial-select', (e) => window.selected.push(e.detail.number)); }""")
    target = scored(job)[-1]["number"]
    point = page.locator("#chart-history .scatterlayer .trace").first.locator("path.point").last
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # Plotly clicks what it hovers
    page.mouse.down()
    page.mouse.up()
    page.wait_for_function("() => window.selected.length > 0")
    assert page.evaluate("() => window.selected") == [target]
    page.wait_for_function(f"() => document.querySelector('#compare-a').value === '{target}'")


def test_pruned_trials_are_drawn_grey_and_dashed(page):
    """Pruning is off in the tiny job: the traces are checked on a made-up study."""
    traces = page.evaluate("""async () => {
        const D = await import('/dashboard/analysis_data.js');
        const t = (number, state) => ({number, state, value: 0.5, params: {}, intermediate: [{step: 1, value: 0.4}]});
        return D.intermediateTraces({trials: [t(0, 'complete'), t(1, 'pruned'), t(2, 'pruned'), t(3, 'complete')]}).traces;
    }""")
    pruned = [tr for tr in traces if tr["legendgroup"] == "pruned"]
    complete = [tr for tr in traces if tr["legendgroup"] == "complete"]
    assert len(pruned) == 2 and all(tr["line"]["dash"] == "dash" for tr in pruned)
    assert all(tr["line"]["dash"] == "solid" and tr["line"]["color"] != pruned[0]["line"]["color"] for tr in complete)
    assert [tr["showlegend"] for tr in traces] == [True, True, False, False]  # one legend entry per state


def test_charts_drawn_while_hidden_fit_a_phone_when_shown(server, job, page):
    """Plotly skips hidden charts when the window narrows: Analyze resizes them when shown."""
    page.goto(server.url + f"/#/job/{job['id']}")
    page.wait_for_selector("#analyze", state="hidden")
    page.evaluate("""names => { window.relayouts = 0;
        for (const n of names) document.getElementById(`chart-${n}`).on('plotly_relayout', () => { window.relayouts += 1; }); }""",
                  list(CHARTS))
    page.set_viewport_size(browser.PHONE)
    page.wait_for_function(f"() => window.relayouts >= {len(CHARTS)}")  # Plotly's own resize, done while hidden
    page.goto(server.url + f"/#/job/{job['id']}/analyze")
    page.wait_for_function("names => names.every((n) => document.getElementById(`chart-${n}`)._fullLayout.width <= 390)",
                           arg=list(CHARTS))
    assert page.evaluate("document.documentElement.scrollWidth") <= browser.PHONE["width"]
    page.set_viewport_size(browser.LAPTOP)
