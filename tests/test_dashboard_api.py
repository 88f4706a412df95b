"""The dashboard's server side, without a browser or TensorFlow.

A live server with an API key and max_concurrent_jobs=0 (jobs queue, none trains): the
page and its assets load without the key; the routes the page uses (one trial in full,
importances) need it; the stream takes ``?api_key=`` for browsers. A job's event log and
run folder are laid out by hand, as a job process would write them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from api_helpers import TINY, ApiServer, clean_env
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from hpopt.api.routers.dashboard import ASSETS_DIR
from hpopt.api.trial_detail import trial_detail
from hpopt.jobs.live_state import JobLive
from hpopt.jobs.store import JobRecord

KEY = "dashboard-unit-key-8d41"
LAYERS = [{"name": "image", "type": "InputLayer", "output_shape": [None, 8, 8, 1], "params": 0},
          {"name": "conv_1", "type": "Conv2D", "output_shape": [None, 8, 8, 16], "params": 160},
          {"name": "output", "type": "Dense", "output_shape": [None, 10], "params": 10250}]
EPOCH = {"epoch": 1, "loss": 0.9, "accuracy": 0.7, "val_loss": 0.5, "val_accuracy": 0.8, "seconds": 1.0,
         "health": {"neuron_utilization": 0.9, "dead_fraction": {"conv_1": 0.1}, "gradient_norm": {"conv_1": 0.3}}}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("dashboard-api")
    srv = ApiServer(work, work / "results", "max_concurrent_jobs=0", env=clean_env(HYPEROPT_API_KEY=KEY)).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def authed(server):
    with server.client(**{"X-API-Key": KEY}) as client:
        yield client


def _row(number: int, value: float, params: dict) -> dict:
    return {"number": number, "state": "complete", "value": value, "val_accuracy": value, "params": params,
            "health": {"overall_health": 0.9, "neuron_utilization": 0.8}, "epochs_run": 1, "duration_s": 1.5,
            "execution": "local", "worker": "test:1"}


@pytest.fixture(scope="module")
def job(server, authed):
    """A queued job whose log says trials 0 and 1 finished; trial 0 has its details file."""
    job = authed.post("/optimize", json={**TINY, "trials": 3, "run_name": "dash_run"}).json()
    events = [
        {"type": "job_started", "attempt": 1, "directions": ["maximize"]},
        {"type": "trial_started", "trial": 0, "params": {"lr": 0.01}},
        {"type": "model_built", "trial": 0, "architecture": LAYERS},
        {"type": "epoch", "trial": 0, "record": EPOCH},
        {"type": "trial_finished", "trial": 0, "row": _row(0, 0.8, {"lr": 0.01})},
        {"type": "trial_started", "trial": 1, "params": {"lr": 0.1}},
        {"type": "model_built", "trial": 1, "architecture": LAYERS[:2]},
        {"type": "trial_finished", "trial": 1, "row": _row(1, 0.6, {"lr": 0.1})},
    ]
    log = server.results_dir / ".hpopt_jobs" / job["job_id"] / "events.jsonl"
    log.write_text("".join(json.dumps({"time": "2026-01-01T00:00:00Z", **e}) + "\n" for e in events))
    run_dir = server.results_dir / "dash_run"
    (run_dir / "trials").mkdir(parents=True)
    (run_dir / "plots" / "trial_0").mkdir(parents=True)
    (run_dir / "plots" / "trial_0" / "training_curves.png").write_bytes(b"\x89PNG fake")
    details = {"number": 0, "history": [EPOCH], "architecture": LAYERS,
               "health": {"overall_health": 0.9, "per_layer": {"dead_fraction": {"conv_1": 0.1}}}}
    (run_dir / "trials" / "trial_0.json").write_text(json.dumps(details))
    return job


def test_page_and_assets_load_without_the_key(server):
    with server.client() as anonymous:
        page = anonymous.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        for name in re.findall(r'/dashboard/([\w.-]+)', page.text):
            assert anonymous.get(f"/dashboard/{name}").status_code == 200, name
        script = anonymous.get("/dashboard/app.js")
        assert script.headers["content-type"].startswith("text/javascript")
        for bad in ("/dashboard/../app.py", "/dashboard/%2e%2e%2fapp.py", "/dashboard/nope.js", "/dashboard/app.py",
                    "/dashboard/.hidden.js"):
            assert anonymous.get(bad).status_code == 404, bad
        assert anonymous.get("/jobs").status_code == 401  # the data still needs the key


def test_assets_are_self_contained():
    """Every module the page imports is there, and nothing is fetched from elsewhere."""
    files = {p.name: p.read_text(encoding="utf-8") for p in ASSETS_DIR.iterdir() if p.is_file()}
    assert {"index.html", "app.js", "style.css"} <= set(files)
    for name, text in files.items():
        for target in re.findall(r'from "\./([\w.-]+)"', text):
            assert target in files, f"{name} imports missing {target}"
        urls = [u for u in re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", text) if "www.w3.org" not in u]
        assert not urls, f"{name} refers to {urls}"
        assert len(text.splitlines()) <= 400, f"{name} is too long to read"


def test_dashboard_is_not_in_the_api_schema(authed):
    paths = authed.get("/openapi.json").json()["paths"]
    assert "/" not in paths and not any(p.startswith("/dashboard") for p in paths)
    assert "/jobs/{job_id}/trials/{number}" in paths and "/jobs/{job_id}/importances" in paths


def test_one_trial_in_full(server, authed, job):
    job_id = job["job_id"]
    detail = authed.get(f"/jobs/{job_id}/trials/0").json()
    assert detail["running"] is False and detail["trial"]["number"] == 0
    assert detail["architecture"] == LAYERS
    assert detail["trial"]["history"][0]["health"]["dead_fraction"] == {"conv_1": 0.1}
    assert detail["trial"]["health"]["per_layer"]["dead_fraction"] == {"conv_1": 0.1}
    assert detail["plots"] == ["plots/trial_0/training_curves.png"]
    assert authed.get(f"/jobs/{job_id}/files/{detail['plots'][0]}").status_code == 200
    # no details file: the layers come from the model_built event
    other = authed.get(f"/jobs/{job_id}/trials/1").json()
    assert [layer["name"] for layer in other["architecture"]] == ["image", "conv_1"] and other["plots"] == []
    missing = authed.get(f"/jobs/{job_id}/trials/7")
    assert missing.status_code == 404 and "no trial 7" in missing.json()["detail"]
    assert authed.get(f"/jobs/{job_id}/trials/-1").status_code == 422
    with server.client() as anonymous:
        assert anonymous.get(f"/jobs/{job_id}/trials/0").status_code == 401


def test_importances_from_the_jobs_study(server, authed, job):
    job_id = job["job_id"]
    before = authed.get(f"/jobs/{job_id}/importances").json()
    assert before["importances"] == [] and "not started" in before["reason"]
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{server.results_dir / 'hpopt_studies.db'}"
    study = optuna.create_study(study_name="dash_run", storage=storage, direction="maximize")
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    units = optuna.distributions.IntDistribution(8, 128)
    for i in range(8):
        params = {"lr": 10 ** (-4 + 3 * i / 7), "units": 8 + 15 * (i % 3)}
        study.add_trial(optuna.trial.create_trial(params=params, distributions={"lr": lr, "units": units},
                                                  value=params["lr"] * 5))
    # the answer is cached per finished-trial count: a new trial in the log recomputes it
    log = server.results_dir / ".hpopt_jobs" / job_id / "events.jsonl"
    with log.open("a") as handle:
        handle.write(json.dumps({"type": "trial_finished", "trial": 2, "row": _row(2, 0.7, {"lr": 0.05})}) + "\n")
    answer = authed.get(f"/jobs/{job_id}/importances").json()
    assert answer["n_trials"] == 8 and answer["reason"] is None
    names = [i["param"] for i in answer["importances"]]
    assert set(names) == {"lr", "units"} and names[0] == "lr"
    assert abs(sum(i["importance"] for i in answer["importances"]) - 1) < 1e-6
    with server.client() as anonymous:
        assert anonymous.get(f"/jobs/{job_id}/importances").status_code == 401


def test_stream_takes_the_key_as_a_query_parameter(server, job):
    url = server.url.replace("http://", "ws://") + f"/jobs/{job['job_id']}/stream"
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{url}?api_key=wrong-{KEY}", open_timeout=10)
    assert refused.value.response.status_code == 401
    with connect(f"{url}?api_key={KEY}", open_timeout=10) as socket:
        state = json.loads(socket.recv(timeout=10))
    assert state["type"] == "state" and [t["number"] for t in state["trials"]][:2] == [0, 1]
    assert KEY not in server.log()


def test_live_state_keeps_each_trials_architecture(tmp_path):
    live = JobLive(tmp_path / "events.jsonl")
    for event in ({"type": "trial_started", "trial": 4, "params": {"epochs": 3}},
                  {"type": "model_built", "trial": 4, "architecture": LAYERS},
                  {"type": "epoch", "trial": 4, "record": EPOCH}):
        live.apply(event)
    record = JobRecord("j1", "running", "run", {"trials": 5}, "t", "t")
    from hpopt.jobs import views

    current = views.current_trial(record, live)
    assert current["architecture"] == LAYERS and current["planned_epochs"] == 3
    detail = trial_detail(record, [], current, live.architectures.get(4), Path(tmp_path), 4)
    assert detail["running"] is True and detail["trial"]["state"] == "running"
    assert detail["trial"]["history"] == [EPOCH] and detail["architecture"] == LAYERS
    assert trial_detail(record, [], current, None, Path(tmp_path), 5) is None


def test_live_state_keeps_the_jobs_warnings_capped(tmp_path):
    from hpopt.jobs.live_state import FORWARDED, MAX_WARNINGS

    live = JobLive(tmp_path / "events.jsonl")
    for n in range(MAX_WARNINGS + 3):
        live.apply({"type": "warning", "time": "t", "level": "WARNING", "logger": "hpopt.x", "message": f"m{n}"})
    live.apply({"type": "job_started", "attempt": 2})  # a resumed job keeps its earlier attempts' warnings
    assert "warning" in FORWARDED and len(live.warnings) == MAX_WARNINGS and live.warnings_dropped == 3
    assert live.warnings[0] == {"time": "t", "level": "WARNING", "logger": "hpopt.x", "message": "m0"}


def _summary_row(number: int, state: str, val_accuracy: float, **extra) -> dict:
    return {"number": number, "state": state, "value": val_accuracy, "val_accuracy": val_accuracy,
            "params": {"lr": 0.01 * (number + 1)}, "interrupted": False, "warm_start": False, **extra}


def test_run_summary_card_facts_from_summary_json(tmp_path):
    """The card's facts: test metrics, counts by state, the baseline, trials at chance level."""
    from hpopt.api.run_summary import run_summary

    rows = [_summary_row(0, "complete", 0.9, warm_start=True), _summary_row(1, "no_learning", 0.11),
            _summary_row(2, "complete", 0.105), _summary_row(3, "pruned", 0.5, interrupted=True),
            _summary_row(4, "failed", 0.0), _summary_row(5, "failed", 0.0, interrupted=True)]
    best = dict(rows[0], test_accuracy=0.88, test_loss=0.4)
    summary = {"run_name": "card", "directions": ["maximize"], "data": {"num_classes": 10, "n_val": 360},
               "config": {"warm_start": True}, "wall_s": 42.5, "test_accuracy": 0.88, "best_trial": best,
               "trials": rows}
    (tmp_path / "report.md").write_text("# report")
    done = JobRecord("j1", "completed", "card", {"trials": 5}, "t", "t")
    card = run_summary(done, summary, tmp_path)
    assert card["test_accuracy"] == 0.88 and card["test_loss"] == 0.4 and card["wall_s"] == 42.5
    assert card["best_trial"]["params"] == {"lr": 0.01} and card["baseline_trial"] == 0
    assert card["counts"] == {"trials": 6, "complete": 2, "pruned": 1, "no_learning": 1, "failed": 1, "stopped": 2}
    assert card["chance_accuracy"] == 0.1 and 0.12 < card["chance_ceiling"] < 0.14
    assert card["at_chance"] == [1, 2]  # no_learning, and a complete trial whose val_accuracy is chance
    assert card["report"] == "report.md"
    # a summary written before rows carried warm_start: trial 0 of a warm-started study
    old = dict(summary, trials=[{k: v for k, v in r.items() if k != "warm_start"} for r in rows])
    assert run_summary(done, old, tmp_path)["baseline_trial"] == 0
    assert run_summary(JobRecord("j2", "running", "card", {}, "t", "t"), summary, tmp_path) is None


def test_run_summary_route_waits_for_the_end(authed, job):
    missing = authed.get(f"/jobs/{job['job_id']}/run-summary")
    assert missing.status_code == 404 and "no run summary yet" in missing.json()["detail"]


def test_trial_rows_mark_the_warm_start_baseline():
    import optuna

    from hpopt.results import trial_row
    from hpopt.search_space import WARM_START_ATTR

    study = optuna.create_study(direction="maximize")
    study.enqueue_trial({"x": 1.0}, user_attrs={WARM_START_ATTR: True})
    study.optimize(lambda t: t.suggest_float("x", 0, 2), n_trials=2)
    assert [trial_row(t)["warm_start"] for t in study.trials] == [True, False]


def test_a_dataset_outside_the_data_roots_is_reported_with_the_other_mistakes(authed):
    answer = authed.post("/optimize", json={"dataset": "/etc", "trials": "0", "health_weight": "2"})
    assert answer.status_code == 422
    problems = {d["loc"][1]: d["msg"] for d in answer.json()["detail"]}
    assert set(problems) == {"dataset", "trials", "health_weight"}, problems
    assert "/etc" in problems["dataset"] or "data root" in problems["dataset"]


def test_a_submit_with_several_mistakes_names_them_all(authed):
    answer = authed.post("/optimize", json={"trials": "0", "health_weight": "2", "max_epochs": "0"})
    assert answer.status_code == 422
    problems = {d["loc"][1]: d["msg"] for d in answer.json()["detail"]}
    assert set(problems) == {"trials", "health_weight", "max_epochs_per_trial"}
    assert problems["trials"].startswith("trials=0 is out of range")
    # a default that clashes once a bad key is set aside is not reported as the body's mistake
    clash = authed.post("/optimize", json={"min_epochs_per_trial": "9", "max_epochs_per_trial": "3"}).json()
    assert [d["loc"][1] for d in clash["detail"]] == ["min_epochs_per_trial"]


def test_a_stopped_trial_is_listed_but_not_counted_as_finished(server, authed):
    job = authed.post("/optimize", json={**TINY, "trials": 3, "run_name": "stopped_run"}).json()
    stopped = {**_row(1, 0.0, {"lr": 0.1}), "state": "stopped", "value": None, "stop_reason": "user"}
    events = [{"type": "job_started", "attempt": 1, "directions": ["maximize"]},
              {"type": "trial_finished", "trial": 0, "row": _row(0, 0.8, {"lr": 0.01})},
              {"type": "trial_finished", "trial": 1, "row": stopped}]
    log = server.results_dir / ".hpopt_jobs" / job["job_id"] / "events.jsonl"
    log.write_text("".join(json.dumps({"time": "2026-01-01T00:00:00Z", **e}) + "\n" for e in events))
    progress = authed.get(f"/jobs/{job['job_id']}").json()["progress"]
    assert (progress["trials_finished"], progress["n_complete"], progress["n_failed"], progress["n_stopped"]) == (
        1, 1, 0, 1)
    rows = authed.get(f"/jobs/{job['job_id']}/trials").json()["trials"]
    assert [(r["number"], r["state"], r.get("stop_reason")) for r in rows] == [
        (0, "complete", None), (1, "stopped", "user")]
