"""The analysis views' server side, without a browser or TensorFlow.

GET /jobs/{id}/analysis reads a tiny real Optuna study (a float on a log scale, an int and
a categorical; complete, pruned and failed trials) and the job's trial rows; the Plotly
bundle is served from the installed package at a fixed route, without the key and offline.
"""

from __future__ import annotations

import json

import optuna
import pytest
from api_helpers import TINY, ApiServer, clean_env

from hpopt.api.analysis import compute_analysis, epoch_values
from hpopt.api.routers.dashboard import plotly_bundle
from hpopt.jobs.store import JobRecord

KEY = "analysis-unit-key-5c27"
LR = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
UNITS = optuna.distributions.IntDistribution(8, 64, step=8)
OPT = optuna.distributions.CategoricalDistribution(["adam", "sgd"])


def _study(storage: str, name: str) -> None:
    """Trial 0 complete with 2 reported epochs; 1 pruned after one; 2 complete, no epochs
    in Optuna (pruner off) but a history row; 3 failed; 4 diverged (inf value)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    dists = {"lr": LR, "units": UNITS, "optimizer": OPT}
    create = optuna.trial.create_trial
    study.add_trial(create(params={"lr": 1e-3, "units": 16, "optimizer": "adam"}, distributions=dists, value=0.9,
                           intermediate_values={1: 0.7, 2: 0.9}))
    study.add_trial(create(params={"lr": 1e-2, "units": 8, "optimizer": "sgd"}, distributions=dists,
                           state=optuna.trial.TrialState.PRUNED, intermediate_values={1: 0.2}))
    study.add_trial(create(params={"lr": 3e-4, "units": 64, "optimizer": "sgd"}, distributions=dists, value=0.5))
    study.add_trial(create(params={"lr": 1e-4}, distributions={"lr": LR}, state=optuna.trial.TrialState.FAIL))
    study.add_trial(create(params={"lr": 1e-1}, distributions={"lr": LR}, value=float("inf")))


ROWS = [{"number": 2, "state": "no_learning", "history": [{"epoch": 1, "val_accuracy": 0.4, "value": None},
                                                          {"epoch": 2, "val_accuracy": 0.5, "value": 0.45}]}]


def test_compute_analysis_reads_distributions_values_and_epochs(tmp_path):
    record = JobRecord(job_id="j1", status="completed", run_name="unit_run", config={}, created_at="",
                       updated_at="")
    assert "not started" in compute_analysis(record, tmp_path, [])["reason"]
    _study(f"sqlite:///{tmp_path / 'hpopt_studies.db'}", "unit_run")
    answer = compute_analysis(record, tmp_path, ROWS)
    assert answer["reason"] is None and answer["directions"] == ["maximize"]
    params = {p["name"]: p for p in answer["params"]}
    assert [p["name"] for p in answer["params"]] == ["lr", "optimizer", "units"]
    assert params["lr"]["kind"] == "float" and params["lr"]["log"] is True and params["lr"]["low"] == 1e-4
    assert params["units"] == {"name": "units", "kind": "int", "log": False, "low": 8.0, "high": 64.0, "step": 8.0}
    assert params["optimizer"]["choices"] == ["adam", "sgd"]
    trials = {t["number"]: t for t in answer["trials"]}
    assert [t["state"] for t in answer["trials"]] == ["complete", "pruned", "no_learning", "failed", "complete"]
    assert trials[0]["value"] == 0.9 and trials[0]["params"] == {"lr": 1e-3, "units": 16, "optimizer": "adam"}
    assert trials[0]["intermediate"] == [{"step": 1, "value": 0.7}, {"step": 2, "value": 0.9}]
    assert trials[1]["value"] is None and trials[1]["intermediate"] == [{"step": 1, "value": 0.2}]
    assert trials[2]["intermediate"] == [{"step": 1, "value": 0.4}, {"step": 2, "value": 0.45}]  # from the row
    assert trials[4]["value"] is None and trials[4]["values"] == [None]  # inf is not JSON
    other = JobRecord(job_id="j2", status="completed", run_name="absent", config={}, created_at="", updated_at="")
    assert "not in its storage" in compute_analysis(other, tmp_path, [])["reason"]


def test_epoch_values_skip_what_is_not_a_number():
    row = {"history": [{"epoch": 1, "val_accuracy": float("nan")}, "junk", {"val_accuracy": 0.3}]}
    assert epoch_values(row) == [{"step": 3, "value": 0.3}]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("analysis-api")
    srv = ApiServer(work, work / "results", "max_concurrent_jobs=0", env=clean_env(HYPEROPT_API_KEY=KEY)).start()
    yield srv
    srv.stop()


def test_analysis_route(server):
    with server.client(**{"X-API-Key": KEY}) as client:
        job = client.post("/optimize", json={**TINY, "trials": 5, "run_name": "analysis_run"}).json()
        url = f"/jobs/{job['job_id']}/analysis"
        before = client.get(url).json()
        assert before["trials"] == [] and before["reason"] and before["maximize"] is True
        _study(f"sqlite:///{server.results_dir / 'hpopt_studies.db'}", "analysis_run")
        log = server.results_dir / ".hpopt_jobs" / job["job_id"] / "events.jsonl"  # a finished trial: recompute
        log.write_text(json.dumps({"time": "2026-01-01T00:00:00Z", "type": "trial_finished", "trial": 2,
                                   "row": {**ROWS[0], "value": 0.5, "params": {}}}) + "\n")
        answer = client.get(url).json()
        assert answer["job_id"] == job["job_id"] and answer["status"] == "pending"
        assert answer["maximize"] is True and len(answer["trials"]) == 5 and len(answer["params"]) == 3
        assert answer["trials"][2]["state"] == "no_learning" and len(answer["trials"][2]["intermediate"]) == 2
        missing = client.get("/jobs/nope/analysis")
        assert missing.status_code == 404 and "nope" in missing.json()["detail"]
        assert "/jobs/{job_id}/analysis" in client.get("/openapi.json").json()["paths"]
    with server.client() as anonymous:
        assert anonymous.get(url).status_code == 401


def test_plotly_is_served_from_the_installed_package_without_the_key(server):
    bundle = plotly_bundle()
    assert bundle is not None and bundle.parent.parent.name == "plotly"  # the package's, not a copy
    with server.client() as anonymous:
        answer = anonymous.get("/dashboard/vendor/plotly.min.js")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/javascript")
    assert "max-age=604800" in answer.headers["cache-control"]
    assert answer.content == bundle.read_bytes() and b"plotly.js v" in answer.content[:200]
