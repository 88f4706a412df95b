"""summary.json's execution section and warnings list, on hand-made rows and log records (no TensorFlow)."""

from __future__ import annotations

import logging

import pytest

from hpopt.execution_stats import execution_section, samples_per_epoch
from hpopt.report import _execution_lines, _warning_lines
from hpopt.run_warnings import WarningCollector, collect_warnings


def _row(number, execution, train_s, epochs, batch_size, duration_s, state="complete"):
    return {"number": number, "state": state, "execution": execution, "train_seconds": train_s,
            "epochs_run": epochs, "duration_s": duration_s, "params": {"batch_size": batch_size}}


ROWS = [
    _row(0, "local", 10.0, 2, 32, 11.0),
    _row(1, "local", 6.0, 4, 64, 7.0, state="pruned"),
    _row(2, "local", None, 0, 32, 1.0, state="failed"),  # crashed before training: counted, not timed
    _row(3, "gpu_proxy", 3.0, 3, 32, 9.5),
    _row(4, "local", None, 0, 32, None, state="running"),  # not run yet: not counted anywhere
]
SAMPLES = {"local": 1000, "gpu_proxy": 500}  # the proxy trains on a 50 % sample
MIN_STEPS = 20


def test_samples_per_epoch_follows_the_training_steps():
    assert samples_per_epoch(1000, 32, 20) == 32 * 32  # one pass: 32 batches (the last one filled by repeating)
    assert samples_per_epoch(1000, 64, 20) == 20 * 64  # 16 batches < 20: min_steps_per_epoch batches
    assert samples_per_epoch(1024, 32, 0) == 1024
    assert samples_per_epoch(1000, None, 20) == 1000


def test_execution_section_adds_up_the_rows_per_place():
    section = execution_section(ROWS, SAMPLES, MIN_STEPS)
    local, remote = section["places"]["local"], section["places"]["gpu_proxy"]
    assert set(section["places"]) == {"local", "gpu_proxy"}
    # totals are the rows' own numbers, per place
    for place, stats in section["places"].items():
        mine = [r for r in ROWS if r["execution"] == place and r["state"] != "running"]
        timed = [r for r in mine if r["train_seconds"] is not None]
        assert stats["trials"] == len(mine)
        assert stats["timed_trials"] == len(timed)
        assert stats["train_seconds"] == pytest.approx(sum(r["train_seconds"] for r in timed))
        assert stats["trial_seconds"] == pytest.approx(sum(r["duration_s"] for r in mine))
        assert stats["epochs"] == sum(r["epochs_run"] for r in timed)
        assert stats["seconds_per_epoch"] == pytest.approx(stats["train_seconds"] / stats["epochs"], rel=1e-3)
        assert stats["seconds_per_sample"] == pytest.approx(stats["train_seconds"] / stats["samples_trained"],
                                                            rel=1e-3)
    # worked by hand: local 2 x 1024 + 4 x 1280 samples in 16 s over 6 epochs; proxy 3 x 640 in 3 s over 3
    assert (local["trials"], local["epochs"], local["samples_trained"]) == (3, 6, 7168)
    assert local["seconds_per_epoch"] == pytest.approx(16 / 6, rel=1e-3)
    assert local["seconds_per_sample"] == pytest.approx(16 / 7168, rel=1e-3)
    assert (remote["trials"], remote["epochs"], remote["samples_trained"], remote["train_samples"]) == (1, 3, 1920, 500)
    assert remote["seconds_per_epoch"] == pytest.approx(1.0)
    speedup = section["speedup"]
    assert speedup["per_epoch"] == pytest.approx((16 / 6) / 1.0, rel=1e-3)  # local over proxy: >1, proxy faster
    assert speedup["per_sample"] == pytest.approx((16 / 7168) / (3 / 1920), rel=1e-3)


def test_one_place_or_no_timed_trial_has_no_speedup():
    local_only = execution_section([r for r in ROWS if r["execution"] == "local"], SAMPLES, MIN_STEPS)
    assert set(local_only["places"]) == {"local"} and local_only["speedup"] is None
    crashed = execution_section([ROWS[0], _row(5, "gpu_proxy", None, 0, 32, 2.0, state="failed")], SAMPLES)
    assert crashed["places"]["gpu_proxy"]["seconds_per_epoch"] is None and crashed["speedup"] is None
    assert execution_section([], SAMPLES) == {"places": {}, "speedup": None}


def test_report_shows_the_places_and_the_speedup():
    lines = "\n".join(_execution_lines({"execution": execution_section(ROWS, SAMPLES, MIN_STEPS)}))
    assert "| local | 3 | 16.0 | 6 | 2.667 |" in lines and "| GPU proxy | 1 | 3.0 | 3 | 1.000 |" in lines
    assert "2.67x as fast" in lines
    assert _execution_lines({"execution": {"places": {}, "speedup": None}}) == []


def test_warnings_are_collected_masked_capped_and_passed_on():
    seen = []
    log = logging.getLogger("hpopt.some.module")
    with collect_warnings(seen.append, limit=3) as warnings:
        log.info("not a warning")
        log.warning("GPU proxy unavailable (http://user:hunter2@proxy.example/run): training locally")
        logging.getLogger("elsewhere").warning("not hpopt's")
        for n in range(4):
            log.error("trouble %d", n)
    log.warning("after the run")
    section = warnings.section()
    assert [w["message"] for w in section["warnings"]] == [
        "GPU proxy unavailable (http://user:***@proxy.example/run): training locally", "trouble 0", "trouble 1"]
    assert section["warnings_dropped"] == 2
    first = section["warnings"][0]
    assert first["logger"] == "hpopt.some.module" and first["level"] == "WARNING"
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert len(seen) == 5 and "hunter2" not in str(seen)  # the listener sees every one, masked
    lines = _warning_lines(section)
    assert lines[0] == "## Warnings" and "2 more" in "\n".join(lines) and "hunter2" not in "\n".join(lines)
    assert "set &lt;endpoint&gt;" in _warning_lines({"warnings": [{"message": "set <endpoint>\nnow"}]})[2]


def test_a_listener_that_warns_does_not_loop_and_a_resumed_run_keeps_earlier_warnings():
    calls = []

    def noisy(entry):
        calls.append(entry)
        logging.getLogger("hpopt.listener").warning("while handling %s", entry["message"])

    with collect_warnings(noisy) as warnings:
        logging.getLogger("hpopt.x").warning("now")
    assert len(calls) == 1 and [w["message"] for w in warnings.entries] == ["now"]
    resumed = WarningCollector(limit=2)
    resumed.entries = [{"message": "this session"}]
    resumed.seed([{"message": "earlier"}, {"message": "earlier too"}], 1)
    assert [w["message"] for w in resumed.entries] == ["earlier", "earlier too"] and resumed.dropped == 2
