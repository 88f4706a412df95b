"""summary.json's ``execution`` section: where the trials trained, and how fast.

A user who pays for the GPU proxy wants to know what it bought: with fallback to local
training a run can quietly train most trials on the CPU, and a proxy that is slower than
this machine (a cold start per trial, a small GPU) is worth switching off. The trial rows
already say where each trial ran and how long it trained; this section adds them up per
place and puts the two places side by side.

Training time is ``train_seconds`` as measured where the trial ran (the fit itself, health
recording included; not the upload, queueing or a cold start, which the rows' ``duration_s``
and the section's ``trial_seconds`` include). Different trials train different models, so the
speed-up compares the places' means, not one model on both.

Per sample: an epoch passes over the place's training samples (the gpu_proxy_sample_percentage
sample on the proxy), or over ``min_steps_per_epoch`` batches when that is more (small data is
repeated so every trial gets enough updates), so seconds per sample divide by the samples
actually trained on, and stay comparable when the proxy trains on a sample of the data.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from hpopt.config import OptimizationConfig

__all__ = ["PLACES", "execution_section", "samples_per_epoch", "training_samples_by_place"]

PLACES = ("local", "gpu_proxy")
UNFINISHED = ("running", "waiting")  # not yet run anywhere (their execution is not recorded yet)


def samples_per_epoch(train_samples: int, batch_size: Optional[int], min_steps_per_epoch: int) -> int:
    """Samples one epoch trains on: hpopt.training's steps per epoch (one pass, or more to reach
    min_steps_per_epoch; a repeated pass fills its last batch) times the batch size."""
    if not batch_size or batch_size <= 0 or train_samples <= 0:
        return max(train_samples, 0)
    return max(math.ceil(train_samples / batch_size), min_steps_per_epoch) * batch_size


def _significant(value: Optional[float], digits: int = 4) -> Optional[float]:
    return None if value is None else float(f"{value:.{digits}g}")


def _place(rows: list[dict[str, Any]], train_samples: int, min_steps_per_epoch: int) -> dict[str, Any]:
    timed = [r for r in rows if r.get("train_seconds") is not None and (r.get("epochs_run") or 0) > 0]
    train_s = sum(float(r["train_seconds"]) for r in timed)
    epochs = sum(int(r["epochs_run"]) for r in timed)
    samples = sum(int(r["epochs_run"]) * samples_per_epoch(train_samples, (r.get("params") or {}).get("batch_size"),
                                                          min_steps_per_epoch) for r in timed)
    return {
        "trials": len(rows),
        "timed_trials": len(timed),  # trained at least one epoch (a crashed trial has no training time)
        "train_seconds": round(train_s, 3),
        "trial_seconds": round(sum(float(r.get("duration_s") or 0.0) for r in rows), 3),
        "epochs": epochs,
        "train_samples": train_samples,
        "samples_trained": samples,
        "seconds_per_epoch": _significant(train_s / epochs) if epochs else None,
        "seconds_per_sample": _significant(train_s / samples) if samples else None,
    }


def _ratio(local: dict[str, Any], remote: dict[str, Any], per: str) -> Optional[float]:
    """Local mean seconds per ``per`` over the proxy's (from the totals, not the rounded means)."""
    if not (local.get(per) and remote.get(per) and local.get("train_seconds") and remote.get("train_seconds")):
        return None
    return round((local["train_seconds"] / local[per]) / (remote["train_seconds"] / remote[per]), 3)


def execution_section(rows: list[dict[str, Any]], train_samples: dict[str, int],
                      min_steps_per_epoch: int = 0) -> dict[str, Any]:
    """Per place a trial ran (``local``, ``gpu_proxy``): trials, training seconds, epochs, samples
    trained on, mean seconds per epoch and per sample; ``speedup`` (local mean over gpu_proxy
    mean, per epoch and per sample; above 1: the proxy is faster) when both places trained,
    else None. ``train_samples`` maps each place to its training split's size."""
    ran = [r for r in rows if r.get("state") not in UNFINISHED]
    places = {place: _place([r for r in ran if r.get("execution") == place], int(train_samples.get(place, 0)),
                            min_steps_per_epoch)
              for place in PLACES if any(r.get("execution") == place for r in ran)}
    local, remote = places.get("local", {}), places.get("gpu_proxy", {})
    per_epoch = _ratio(local, remote, "epochs")
    per_sample = _ratio(local, remote, "samples_trained")
    speedup = {"per_epoch": per_epoch, "per_sample": per_sample} if per_epoch and per_sample else None
    return {"places": places, "speedup": speedup}


def training_samples_by_place(config: "OptimizationConfig", n_train: int, y_train: Any = None) -> dict[str, int]:
    """The training split's size per place: the proxy trains on the gpu_proxy_sample_percentage
    sample (drawn as hpopt.gpu_proxy.sampling draws it, so the count is exact)."""
    proxy = n_train
    if config.use_gpu_proxy and config.gpu_proxy_sample_percentage < 1.0 and y_train is not None:
        from hpopt.gpu_proxy.sampling import sample_indices

        proxy = len(sample_indices(y_train, config.gpu_proxy_sample_percentage, config.random_seed,
                                   config.gpu_proxy_use_stratified_sampling))
    return {"local": n_train, "gpu_proxy": proxy}
