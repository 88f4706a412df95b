"""What hpopt keeps on each Optuna trial besides its parameters and value.

Optuna stores it as user attributes, readable by any Optuna tool (optuna-dashboard shows
them). One type owns their names: the objective stores a ``TrialRecord`` when a trial ends,
summaries load it back, and the study's bookkeeping (who runs a trial, why it gave way)
uses the attribute names defined here. Light: no Optuna import at module level.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Optional

if TYPE_CHECKING:
    import optuna

    from hpopt.spec import TrialResult

# Bookkeeping attributes, set while a trial runs; they decide how it counts (hpopt.study).
CLAIM_ATTR = "started_at"  # set as soon as a trial has sampled: it claims its configuration
WORKER_ATTR = "worker"  # "<host>:<pid>" of the process running the trial (identity.worker_name)
WORKER_NS_ATTR = "worker_pid_namespace"  # its PID namespace (identity.pid_namespace), where known
DIED_ATTR = "worker_died"  # set on a trial failed because its worker process was found dead
INTERRUPTED_ATTR = "interrupted"  # cut by Ctrl-C or an API stop
OVER_CAP_ATTR = "over_cap"  # gave way: another worker started the last allowed trial
AFTER_DEADLINE_ATTR = "after_deadline"  # gave way: sampled in the instant the run's deadline passed
DUPLICATE_ATTR = "duplicate_of"  # gave way: repeats the configuration of that trial
OVER_BUDGET_ATTR = "over_gpu_budget"  # gave way: gpu_budget_usd reached and no local fallback (the reason)
# Why a trial ended early when it is not the pruner's doing: "no_learning" (at chance level, state
# pruned), "deadline" (the run's timeout: state complete, with its best epoch), or for a trial cut by
# a stop (state stopped): "user" (an API stop or Ctrl-C) or "server" (the API server went away).
STOP_REASON_ATTR = "stop_reason"
SCORE_ATTR = "score"

# ---- one rule for a trial's state and the counts derived from it ------------------------------
# The states summary.json, trials.csv, the API and the dashboard use. "stopped": cut by a stop
# request (Optuna stores it as FAIL); it does not count towards the trials cap, so a resumed run
# trains another trial in its place, and it is listed, never counted as finished or failed.
FINISHED_STATES = ("complete", "pruned", "no_learning", "failed")  # count towards the trials cap
STOPPED_STATE = "stopped"
STOPPED_BY_USER, STOPPED_BY_SERVER = "user", "server"
_OPTUNA_STATE_NAMES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running",
                       "WAITING": "waiting"}


def stop_reason_of(interrupt_reason: str) -> str:
    """The stop_reason of a trial cut by a stop requested for ``interrupt_reason`` (hpopt.interrupts):
    an API stop ("stop") or Ctrl-C ("interrupted") is the user's; anything else the server's."""
    return STOPPED_BY_USER if interrupt_reason in ("stop", "interrupted") else STOPPED_BY_SERVER


def trial_state(trial: "optuna.trial.FrozenTrial") -> str:
    """Optuna's state, except: a trial stopped at chance level reads "no_learning" (Optuna stores it as
    PRUNED: it ended early and its last value stands), one cut by a stop reads "stopped"."""
    attrs = trial.user_attrs
    name = _OPTUNA_STATE_NAMES.get(trial.state.name, trial.state.name.lower())
    if name == "pruned" and attrs.get(STOP_REASON_ATTR) == "no_learning":
        return "no_learning"
    if name == "failed" and attrs.get(INTERRUPTED_ATTR):
        return STOPPED_STATE
    return name


def state_counts(states: Iterable[Optional[str]]) -> dict[str, int]:
    """Progress as every view shows it: n_finished (the trials that count towards the cap), per
    state counts, and n_stopped (listed, not counted)."""
    states = list(states)
    counts = {f"n_{state}": states.count(state) for state in (*FINISHED_STATES, STOPPED_STATE)}
    return {"n_finished": sum(counts[f"n_{state}"] for state in FINISHED_STATES), **counts}


@dataclass
class TrialRecord:
    """A finished trial's outcome as stored (None: not known, e.g. a trial that crashed)."""

    finished_at: Optional[str] = None
    duration_s: Optional[float] = None
    failure: Optional[str] = None
    val_accuracy: Optional[float] = None
    best_epoch: Optional[int] = None
    epochs_run: int = 0
    param_count: Optional[int] = None
    model_bytes: Optional[int] = None
    train_seconds: Optional[float] = None
    health_seconds: Optional[float] = None
    inference_samples_per_s: Optional[float] = None
    health: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    execution: str = "local"
    worker: Optional[str] = None
    billed_s: Optional[float] = None  # GPU proxy seconds billed (hpopt.gpu_proxy.cost)
    cost_usd: Optional[float] = None
    endpoint: Optional[str] = None  # the GPU proxy endpoint's name

    @classmethod
    def of(cls, result: Optional["TrialResult"], *, finished_at: str, duration_s: float,
           failure: Optional[str], execution: str) -> "TrialRecord":
        """The record of a trial that returned ``result`` (None: it crashed on ``execution``)."""
        record = cls(finished_at=finished_at, duration_s=round(duration_s, 3), failure=failure or None,
                     execution=execution)
        if result is None:
            return record
        record.val_accuracy = result.val_accuracy
        record.best_epoch = result.best_epoch
        record.epochs_run = result.epochs_run
        record.param_count = result.param_count
        record.model_bytes = result.model_bytes
        record.train_seconds = round(result.train_seconds, 3)
        record.health_seconds = round(result.health_seconds, 3)
        record.inference_samples_per_s = round(result.inference_samples_per_s, 1)
        record.health = {k: v for k, v in result.health.items() if k != "per_layer"}  # per-layer: trials/*.json
        record.history = [r.model_dump(exclude={"health"}) for r in result.history]
        record.execution = result.execution
        record.worker = result.worker
        record.billed_s, record.cost_usd, record.endpoint = result.billed_s, result.cost_usd, result.endpoint
        return record

    def store(self, trial: "optuna.Trial") -> None:
        """Set every known field as a user attribute (unknown ones are left unset)."""
        has_result = self.val_accuracy is not None
        for key, value in asdict(self).items():
            if value is None or (not has_result and key in _RESULT_FIELDS):
                continue
            trial.set_user_attr(key, value)

    @classmethod
    def load(cls, trial: "optuna.trial.FrozenTrial") -> "TrialRecord":
        """The record stored on ``trial`` (defaults where a field was never stored)."""
        attrs = trial.user_attrs
        known = {name: attrs[name] for name in cls.__dataclass_fields__ if attrs.get(name) is not None}
        return cls(**known)


_RESULT_FIELDS = frozenset(name for name in TrialRecord.__dataclass_fields__
                           if name not in ("finished_at", "duration_s", "failure", "execution"))
