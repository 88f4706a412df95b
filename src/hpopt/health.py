"""Model health metrics computed from recorded training statistics.

Pure functions (numpy only) that turn the per-epoch ``history`` and the per-epoch
health ``snapshots`` produced by the training recorder into scores in [0, 1],
where higher is healthier.  Non-finite inputs never leak out: a metric whose
inputs are NaN/inf scores 0.0.

Formulas (``L_t`` = training loss at epoch ``t = 1..n``, ``σ`` = logistic sigmoid):

* dead unit:            ``s_i < max(f_i, 0.01·median{s_j : s_j ≥ f_j})``, ``f_i = 1e-6·max(1, |μ_i|)``
* neuron_utilization:   ``Σ_layers alive units / Σ_layers units`` (softmax / output layers excluded)
* gradient_health:      ``0`` if any norm is non-finite, else ``½·S_last + ½·mean_t S_t``,
  ``S_t = mean_l b(log10 g_l) · 1/(1 + (D_t/4)^4)``, ``b(x) = σ((x+7)/0.5)·σ((3−x)/0.5)``,
  ``D_t = max_l log10 g_l − min_l log10 g_l``
* training_stability:   ``1/(1 + e²) · (1 − U) · B``, ``e = (L_n − L_min)/(|L_min| + 0.01·|L_1|)``,
  ``U = Σ max(ΔL,0) / Σ |ΔL|``, ``B = 1 if r ≤ 1.2 else exp(−2(r − 1.2))``, ``r = max L / ln(classes)``
* convergence_quality:  ``min(1, (L_ref − L_min)/(0.5·L_ref)) · (1 − ½·clip(|L_{n−k} − L_n|/(max(L_1, L_ref) − L_min), 0, 1))``,
  ``k = ⌈n/5⌉``, ``L_ref = ln(classes)`` (the loss of a uniform guess; ``L_1`` when unknown)
* accuracy_consistency: ``exp(−std(Δ val_acc over the last max(3, ⌈n/2⌉) epochs) / 0.05)``; needs 3 epochs
* generalization:       ``1 − clip((acc_n − val_acc_n)/0.3, 0, 1)``
* parameter_efficiency: ``accuracy · (1 + P/1000)^(−0.15)`` (each 10× parameters ≈ ×0.71)
* learning:             ``min(1, A/0.2, R/0.2)``, ``A = (acc − 1/k)/(1 − 1/k)`` (validation accuracy of the
  kept weights over chance), ``R = (ln k − L*)/ln k``, ``L* = min(loss, val_loss)`` of the kept (best) epoch,
  ``k`` = classes: a fifth of the way from chance to perfect accuracy, and a loss a fifth below chance,
  count as learning in full; at chance it is 0
* overall_health:       ``learning · Σ w_m·m / Σ w_m`` over every weighted metric

Every metric is always reported: one that cannot be measured (no snapshot of the kept
weights, no gradients, fewer than 3 epochs for consistency, no validation, unknown
class count) scores 0 and ``unmeasured[metric]`` says why, so every trial's
overall_health averages the same set.  The learning gate keeps a model that learned
nothing (accuracy at chance, or a loss not below ~0.9·ln k) at or below half its
weighted mean, however flat ("stable"), gap-free ("general") or steady its curves are.
The weight metrics (neuron_utilization, gradient_health's last term, per_layer's dead
fractions) read the last snapshot, which ``run_trial`` takes of the weights it returns.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

import numpy as np

__all__ = [
    "HEALTH_METRICS",
    "DEFAULT_WEIGHTS",
    "dead_unit_mask",
    "neuron_utilization",
    "gradient_health",
    "training_stability",
    "convergence_quality",
    "accuracy_consistency",
    "generalization_gap",
    "overfitting_epoch",
    "parameter_efficiency",
    "learning",
    "overall_health",
    "compute_health",
]

#: Names of the metrics that ``compute_health`` reports in [0, 1].
HEALTH_METRICS: tuple[str, ...] = (
    "neuron_utilization",
    "gradient_health",
    "training_stability",
    "convergence_quality",
    "accuracy_consistency",
    "generalization",
    "parameter_efficiency",
    "learning",
    "overall_health",
)

#: Default weights of ``overall_health``.  ``parameter_efficiency`` is reported but
#: deliberately not part of the health score (model size is a preference, not a
#: sign of sick training); pass ``weights`` to include it.  ``learning`` is not a
#: weight: it multiplies the weighted mean.
DEFAULT_WEIGHTS: dict[str, float] = {
    "neuron_utilization": 0.25,
    "gradient_health": 0.25,
    "training_stability": 0.2,
    "convergence_quality": 0.1,
    "accuracy_consistency": 0.1,
    "generalization": 0.1,
}

VANISHING_NORM = 1e-7  # gradient norm at which b(.) = 0.5 on the low side
EXPLODING_NORM = 1e3  # gradient norm at which b(.) = 0.5 on the high side
_BAND_WIDTH = 0.5  # decades; softness of the vanishing / exploding edges
_SPREAD_SCALE = 4.0  # decades of layer-norm spread at which the spread factor is 0.5
_GAP_SCALE = 0.3  # accuracy gap that scores 0 generalization
_JITTER_SCALE = 0.05  # std of val-accuracy changes that scores exp(-1)
_EFFICIENCY_ALPHA = 0.15
_BLOWUP_TOLERANCE = 1.2  # max epoch loss / chance loss tolerated before stability drops
_EFFICIENCY_P0 = 1e3
_LEARNING_SCALE = 0.2  # share of the way from chance (accuracy, loss) that counts as learning in full
_CONSISTENCY_MIN_EPOCHS = 3
_EXCLUDED_ACTIVATIONS = ("softmax",)
_EXCLUDED_KINDS = ("output",)


# --------------------------------------------------------------------------- helpers
def _num(value: Any) -> float:
    """``float(value)``, or nan when it is missing / not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _clip01(value: float) -> float:
    """Plain float in [0, 1]; non-finite becomes 0.0."""
    value = _num(value)
    if not math.isfinite(value):
        return 0.0
    return float(min(1.0, max(0.0, value)))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))


def _series(history: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    return np.array([_num(h.get(key)) for h in history or ()], dtype=float)


def _epoch(record: Mapping[str, Any], index: int) -> int:
    """The record's integral ``epoch`` field, else its 1-based position."""
    e = _num(record.get("epoch")) if not isinstance(record.get("epoch"), bool) else math.nan
    return int(e) if math.isfinite(e) and e == int(e) else index + 1


def _values(seq: Any) -> np.ndarray:
    """1-D float array of a list of numbers; unreadable entries become nan."""
    return np.array([_num(v) for v in np.asarray(seq, dtype=object).ravel()], dtype=float)


def _is_excluded(layer: Mapping[str, Any]) -> bool:
    return layer.get("kind") in _EXCLUDED_KINDS or layer.get("activation_fn") in _EXCLUDED_ACTIVATIONS


# --------------------------------------------------------------------------- neurons
def dead_unit_mask(
    unit_std: Sequence[float] | np.ndarray,
    unit_mean: Optional[Sequence[float] | np.ndarray] = None,
    *,
    rel_threshold: float = 1e-2,
    abs_threshold: float = 1e-6,
) -> np.ndarray:
    """Boolean mask of dead units: units whose output barely varies over the probe batch.

    Works for any activation: a dead ReLU (always 0), a saturated sigmoid/tanh (stuck at
    0/±1) and a collapsed swish all have a near-zero output std.  With ``s_i`` the unit's
    std and ``μ_i`` its mean::

        floor_i = abs_threshold · max(1, |μ_i|)
        ref     = median{ s_j : s_j ≥ floor_j }          (0 if no unit passes its floor)
        dead_i  ⇔ s_i < max(floor_i, rel_threshold · ref)   or s_i / μ_i non-finite

    The reference scale is the median over units that are not constant, so a layer with
    most units dead is still judged against its living units, and a layer whose units are
    all constant falls back to the absolute floor and is entirely dead.  The floor grows
    with ``|μ_i|`` because float32 cannot resolve variation below ~1e-7 of a value.
    """
    s = np.asarray(unit_std, dtype=float).ravel()
    if unit_mean is None:
        m = np.zeros_like(s)
    else:
        m = np.asarray(unit_mean, dtype=float).ravel()
        if m.shape != s.shape:
            raise ValueError(f"unit_mean has {m.size} values, unit_std has {s.size}")
    finite = np.isfinite(s) & np.isfinite(m)
    floor = abs_threshold * np.maximum(1.0, np.abs(np.where(finite, m, 0.0)))
    varying = finite & (s >= floor)
    ref = float(np.median(s[varying])) if varying.any() else 0.0
    threshold = np.maximum(floor, rel_threshold * ref)
    return ~finite | (np.where(finite, s, 0.0) < threshold)


def _layer_alive(snapshot: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """{layer name: (alive units, units)} for measurable, non-output layers."""
    out: dict[str, tuple[int, int]] = {}
    for i, layer in enumerate((snapshot or {}).get("layers") or ()):
        acts = layer.get("activations")
        if not acts or _is_excluded(layer):
            continue
        std = acts.get("unit_std")
        if std is None or len(std) == 0:
            continue
        mean = acts.get("unit_mean")
        if mean is not None and len(mean) != len(std):
            mean = None
        dead = dead_unit_mask(_values(std), None if mean is None else _values(mean))
        out[str(layer.get("name", f"layer_{i}"))] = (int(dead.size - dead.sum()), int(dead.size))
    return out


def neuron_utilization(snapshot: Mapping[str, Any]) -> tuple[float, dict[str, float]]:
    """Share of alive units in one snapshot: ``(overall, {layer: alive share})``.

    ``overall = Σ_layers alive units / Σ_layers units`` (unit-weighted), over layers that
    report activations; layers of kind ``"output"`` or with a softmax activation are
    excluded (a never-predicted class is not a dead neuron).  Dead units are decided by
    :func:`dead_unit_mask`; a layer whose outputs are all constant scores exactly 0.0.
    Returns ``(0.0, {})`` when no layer can be measured.
    """
    counts = _layer_alive(snapshot)
    per_layer = {name: alive / total for name, (alive, total) in counts.items()}
    units = sum(total for _, total in counts.values())
    if units == 0:
        return 0.0, {}
    return float(sum(alive for alive, _ in counts.values()) / units), per_layer


# --------------------------------------------------------------------------- gradients
def _gradient_norms(snapshot: Mapping[str, Any]) -> dict[str, float]:
    """{layer: gradient norm} for layers that report one; nan when marked non-finite."""
    out: dict[str, float] = {}
    for i, layer in enumerate((snapshot or {}).get("layers") or ()):
        grads = layer.get("gradients")
        if not grads or grads.get("norm") is None:
            continue
        norm = _num(grads.get("norm"))
        if grads.get("finite") is False or not math.isfinite(norm) or norm < 0:
            norm = math.nan
        out[str(layer.get("name", f"layer_{i}"))] = norm
    return out


def _gradient_snapshot_score(norms: np.ndarray) -> float:
    logs = np.log10(np.maximum(norms, 1e-30))
    band = _sigmoid((logs - math.log10(VANISHING_NORM)) / _BAND_WIDTH) * _sigmoid(
        (math.log10(EXPLODING_NORM) - logs) / _BAND_WIDTH
    )
    spread = float(logs.max() - logs.min())
    return float(band.mean()) / (1.0 + (spread / _SPREAD_SCALE) ** 4)


def gradient_health(snapshots: Sequence[Mapping[str, Any]]) -> float:
    """Health of the per-layer loss-gradient norms ``g_l``.

    ``0`` if any recorded norm is non-finite (or flagged ``finite: False``), else
    ``½·S_last + ½·mean_t S_t`` over snapshots ``t`` with gradients, where::

        S_t = mean_l b(log10 g_l) · 1 / (1 + (D_t / 4)^4)
        b(x) = σ((x + 7) / 0.5) · σ((3 − x) / 0.5)      # > 0.98 for 1e-5 ≤ g ≤ 10
        D_t  = max_l log10 g_l − min_l log10 g_l         # spread across depth, decades

    ``b`` is 0.5 at the vanishing (1e-7) and exploding (1e3) norms and falls ≈7× per
    further decade (1e-10 or 1e6 → 0.0025); a 100× spread between layers keeps 94 %,
    10⁴× halves the score.  Returns 0.0 when no snapshot has gradient norms.
    """
    scores = []
    for snap in snapshots or ():
        norms = np.array(list(_gradient_norms(snap).values()), dtype=float)
        if norms.size == 0:
            continue
        if not np.all(np.isfinite(norms)):
            return 0.0
        scores.append(_gradient_snapshot_score(norms))
    if not scores:
        return 0.0
    return _clip01(0.5 * scores[-1] + 0.5 * float(np.mean(scores)))


# --------------------------------------------------------------------------- loss curve
def _blowup_factor(loss: np.ndarray, chance_loss: Optional[float]) -> float:
    """1 while every epoch's loss stays near or below chance, → 0 as it explodes above it."""
    if not chance_loss or chance_loss <= 0:
        return 1.0
    ratio = float(loss.max()) / chance_loss
    return 1.0 if ratio <= _BLOWUP_TOLERANCE else math.exp(-2.0 * (ratio - _BLOWUP_TOLERANCE))


def training_stability(history: Sequence[Mapping[str, Any]], chance_loss: Optional[float] = None) -> float:
    """Stability of the training-loss curve ``L_1..L_n``.

    ``0`` if any loss is non-finite, else::

        stability = 1 / (1 + e²) · (1 − U) · B
        e = (L_n − L_min) / (|L_min| + 0.01·|L_1|)    # divergence: final excess over best
        U = Σ_t max(ΔL_t, 0) / Σ_t |ΔL_t|              # share of loss movement that is upward
        B = 1 if r ≤ 1.2 else exp(−2·(r − 1.2)),  r = max_t L_t / L_chance   # blow-up above chance

    ``L_chance = ln(classes)`` is the loss of a uniform guess (an untrained model); an
    epoch whose mean loss is well above it means the updates blew the model up (too high
    a learning rate), even if the loss later collapses back to chance. Without
    ``chance_loss`` B = 1. A single finite epoch scores B.

    A monotone decrease scores 1; a final loss 50× the best scores ≈0; a loss that
    bounces fully back every other epoch (1, .5, 1, .5, …) scores 0.6.
    """
    loss = _series(history, "loss")
    if loss.size == 0 or not np.all(np.isfinite(loss)):
        return 0.0
    blowup = _blowup_factor(loss, chance_loss)
    if loss.size == 1:
        return _clip01(blowup)
    lmin = float(loss.min())
    excess = (loss[-1] - lmin) / (abs(lmin) + 0.01 * abs(loss[0]) + 1e-12)
    diffs = np.diff(loss)
    total = float(np.abs(diffs).sum())
    upward = float(np.clip(diffs, 0, None).sum()) / total if total > 0 else 0.0
    return _clip01(1.0 / (1.0 + excess**2) * (1.0 - upward) * blowup)


def convergence_quality(history: Sequence[Mapping[str, Any]], chance_loss: Optional[float] = None) -> float:
    """How far the training loss came down and whether it has levelled off.

    ``0`` if any loss is non-finite; with one epoch ``½·R`` against chance (0 without it); else::

        R = min(1, (L_ref − L_min) / (0.5·|L_ref|))                   # ≥50 % reduction = full
        L_ref = L_chance = ln(classes) when known, else L_1           # learning below a uniform guess
        τ = clip(|L_{n−k} − L_n| / (L_1 − L_min), 0, 1),  k = ⌈n/5⌉  # loss still moving at the end
        convergence = R · (1 − ½·τ)

    A loss that fell by half or more and is flat over the last fifth of training scores
    1; a flat loss scores 0; a loss still falling (or jumping back up) steeply at the
    end keeps half.
    """
    loss = _series(history, "loss")
    if loss.size == 0 or not np.all(np.isfinite(loss)):
        return 0.0
    if loss.size == 1:  # one epoch: only measurable against chance, and not yet settled
        if not chance_loss or chance_loss <= 0:
            return 0.0
        return _clip01(0.5 * min(1.0, (chance_loss - float(loss[0])) / (0.5 * chance_loss)))
    first, lmin = float(loss[0]), float(loss.min())
    reference = chance_loss if chance_loss and chance_loss > 0 else first
    reduction = max(first, reference) - lmin
    if reduction <= 0 or reference - lmin <= 0:
        return 0.0
    r = min(1.0, (reference - lmin) / (0.5 * abs(reference))) if reference != 0 else 1.0
    k = math.ceil(loss.size / 5)
    tau = min(1.0, abs(loss[-1 - k] - loss[-1]) / reduction)
    return _clip01(r * (1.0 - 0.5 * tau))


def accuracy_consistency(history: Sequence[Mapping[str, Any]]) -> float:
    """Steadiness of validation accuracy over the later epochs.

    With ``a`` the ``val_accuracy`` (``accuracy`` when no validation was recorded) of
    the last ``max(3, ⌈n/2⌉)`` epochs::

        consistency = exp(−std(Δa) / 0.05)

    The std of epoch-to-epoch changes ignores a steady climb and measures only jitter:
    ±0.01 jitter scores ≈0.8, ±0.2 swings score ≈0.  ``0`` if any of the used values is
    non-finite, and ``0`` with fewer than 3 epochs: one change has no spread to measure,
    and an unmeasured steadiness is not a proven one (``compute_health`` says why).
    """
    acc = _series(history, "val_accuracy")
    if acc.size and np.all(np.isnan(acc)):
        acc = _series(history, "accuracy")
    if acc.size == 0:
        return 0.0
    window = acc[-max(3, math.ceil(acc.size / 2)) :]
    if window.size < _CONSISTENCY_MIN_EPOCHS or not np.all(np.isfinite(window)):
        return 0.0
    return _clip01(math.exp(-float(np.std(np.diff(window))) / _JITTER_SCALE))


def generalization_gap(history: Sequence[Mapping[str, Any]]) -> tuple[float, float]:
    """``(score, raw_gap)`` with ``raw_gap = accuracy_n − val_accuracy_n`` (last epoch).

    ``score = 1 − clip(raw_gap / 0.3, 0, 1)``: no gap (or val better than train) scores
    1, a 0.3 gap scores 0.  Non-finite or missing accuracies give ``(0.0, nan)``.
    """
    if not history:
        return 0.0, math.nan
    gap = _num(history[-1].get("accuracy")) - _num(history[-1].get("val_accuracy"))
    if not math.isfinite(gap):
        return 0.0, math.nan
    return _clip01(1.0 - gap / _GAP_SCALE), float(gap)


def overfitting_epoch(history: Sequence[Mapping[str, Any]], *, rel_tol: float = 0.01) -> Optional[int]:
    """Epoch (1-based, from the ``epoch`` field) after which validation loss got worse.

    The epoch of the minimum finite ``val_loss``, returned only when it is not the last
    epoch and the final ``val_loss`` exceeds that minimum by more than
    ``rel_tol·|min|`` (non-finite later values count as worse).  ``None`` otherwise.
    """
    vl = _series(history, "val_loss")
    finite = np.isfinite(vl)
    if not finite.any():
        return None
    best = int(np.argmin(np.where(finite, vl, np.inf)))
    if best == vl.size - 1:
        return None
    last = vl[-1]
    if math.isfinite(last) and last <= vl[best] + rel_tol * abs(vl[best]):
        return None
    return _epoch(history[best], best)


def parameter_efficiency(accuracy: float, param_count: float) -> float:
    """Accuracy discounted by model size: ``accuracy · (1 + P/1000)^(−0.15)``.

    Each 10× more parameters multiplies the score by ≈0.71 (at accuracy 0.9: 10K→0.63,
    100K→0.45, 1M→0.32, 10M→0.23).  Strictly decreasing in ``P``, strictly increasing in
    accuracy, within [0, accuracy].  Accuracy is clipped to [0, 1]; non-finite → 0.
    """
    acc, p = _num(accuracy), _num(param_count)
    if not (math.isfinite(acc) and math.isfinite(p)):
        return 0.0
    acc = min(1.0, max(0.0, acc))
    return _clip01(acc * (1.0 + max(p, 0.0) / _EFFICIENCY_P0) ** (-_EFFICIENCY_ALPHA))


# --------------------------------------------------------------------------- learning
def _kept_record(history: Sequence[Mapping[str, Any]], best_epoch: Optional[int]) -> Optional[Mapping[str, Any]]:
    """The epoch record of the weights a trial keeps: ``best_epoch``'s, else the first best val_accuracy."""
    if not history:
        return None
    if best_epoch is not None:
        for i, record in enumerate(history):
            if _epoch(record, i) == best_epoch:
                return record
    val = _series(history, "val_accuracy")
    if np.isfinite(val).any():
        return history[int(np.argmax(np.where(np.isfinite(val), val, -np.inf)))]
    return history[-1]


def _learning(
    accuracy: float,
    history: Sequence[Mapping[str, Any]],
    num_classes: Optional[int],
    best_epoch: Optional[int] = None,
) -> tuple[float, Optional[str]]:
    """``(learning, why it could not be measured or None)``; see :func:`learning`."""
    k = _num(num_classes)
    if not (math.isfinite(k) and k >= 2):
        return 0.0, "class count unknown: chance level cannot be placed"
    acc = _num(accuracy)
    if not math.isfinite(acc):
        return 0.0, "no finite validation accuracy"
    record = _kept_record(history, best_epoch)
    losses = [] if record is None else [v for v in (_num(record.get("loss")), _num(record.get("val_loss"))) if math.isfinite(v)]
    if not losses:
        return 0.0, "no finite loss of the kept epoch"
    over_chance = (min(1.0, max(0.0, acc)) - 1.0 / k) / (1.0 - 1.0 / k)
    chance_loss = math.log(k)
    below_chance = (chance_loss - min(losses)) / chance_loss
    return _clip01(min(1.0, over_chance / _LEARNING_SCALE, below_chance / _LEARNING_SCALE)), None


def learning(
    accuracy: float,
    history: Sequence[Mapping[str, Any]],
    num_classes: Optional[int],
    *,
    best_epoch: Optional[int] = None,
) -> float:
    """Evidence that the model learned anything: the gate of :func:`overall_health`.

    With ``k`` classes, ``accuracy`` the validation accuracy of the kept weights and
    ``L*`` the lower of the training and validation loss of the kept epoch (``best_epoch``;
    by default the first epoch of the highest ``val_accuracy``)::

        A = (accuracy − 1/k) / (1 − 1/k)          # accuracy over chance, 0 at a uniform guess
        R = (ln k − L*) / ln k                     # share of the chance loss ln k shed
        learning = clip(min(1, A / 0.2, R / 0.2), 0, 1)

    A fifth of the way from chance to perfect accuracy, and a loss a fifth below chance,
    count as learning in full.  A model at chance (A ≈ 0, or a loss not below 0.9·ln k,
    R ≤ 0.1) scores ≤ 0.5, so its overall_health is at most half its weighted mean; for
    ``k ≥ 6`` an accuracy within 1.5× chance does too.  The lower of the two losses is
    used because the training loss is averaged over an epoch of changing weights (with
    dropout active), and the validation loss alone punishes overconfident but accurate
    models.  0 when ``k`` is unknown or nothing is finite.
    """
    return _learning(accuracy, history, num_classes, best_epoch)[0]


# --------------------------------------------------------------------------- aggregate
def overall_health(metrics: Mapping[str, Any], weights: Optional[Mapping[str, float]] = None) -> float:
    """``learning · Σ w_m·m / Σ w_m`` over every metric in ``weights``.

    Default weights: :data:`DEFAULT_WEIGHTS` (neuron_utilization 0.25, gradient_health
    0.25, training_stability 0.2, convergence_quality 0.1, accuracy_consistency 0.1,
    generalization 0.1; parameter_efficiency not included).  A missing (or ``None``,
    or non-finite) metric counts as 0 instead of being skipped, so every trial is scored
    on the same basis; ``learning`` (:func:`learning`) counts as 0 when missing too.
    Values are clipped to [0, 1].  Returns 0.0 when nothing is weighted.
    """
    weights = DEFAULT_WEIGHTS if weights is None else weights
    total = acc = 0.0
    for name, w in weights.items():
        w = _num(w)
        if not math.isfinite(w) or w < 0:
            raise ValueError(f"weight for {name!r} must be a finite non-negative number, got {w}")
        total += w
        acc += w * _clip01(metrics.get(name))
    if total <= 0:
        return 0.0
    return _clip01(_clip01(metrics.get("learning")) * acc / total)


def compute_health(
    history: Sequence[Mapping[str, Any]],
    snapshots: Sequence[Mapping[str, Any]],
    *,
    param_count: float,
    accuracy: float,
    num_classes: Optional[int] = None,
    best_epoch: Optional[int] = None,
    weights: Optional[Mapping[str, float]] = None,
) -> dict[str, Any]:
    """All health metrics of one trained model as a flat, JSON-serializable dict.

    ``snapshots[-1]`` must describe the weights being judged (``run_trial`` takes it of
    the kept, best-epoch weights): neuron_utilization, per_layer's dead fractions and
    gradient_health's last term read it; earlier snapshots give gradient_health's trend.
    ``accuracy`` is the kept weights' validation accuracy, ``best_epoch`` their epoch
    (for :func:`learning`), ``num_classes`` gives the chance loss ``ln(classes)``.

    Keys: every metric of :data:`HEALTH_METRICS`, always (a plain float in [0, 1], never
    nan; ``generalization`` is the gap score), ``unmeasured`` = ``{metric: reason}`` for
    those that could not be measured and so score 0, ``generalization_gap`` (raw train −
    val accuracy, may be negative; ``None`` if not finite), ``overfitting_epoch`` (int or
    ``None``) and ``per_layer`` = ``{"dead_fraction": {layer: float}`` (last snapshot),
    ``"gradient_norms": {layer: [norm or None per snapshot]}``, ``"snapshot_epochs": [int]}``.
    ``weights`` is passed to :func:`overall_health`.
    """
    history = list(history or ())
    snapshots = list(snapshots or ())
    out: dict[str, Any] = {}
    unmeasured: dict[str, str] = {}

    def unmeasurable(metric: str, reason: str) -> None:
        out[metric] = 0.0
        unmeasured[metric] = reason

    counts = _layer_alive(snapshots[-1]) if snapshots else {}
    if counts:
        out["neuron_utilization"] = _clip01(neuron_utilization(snapshots[-1])[0])
    else:
        unmeasurable("neuron_utilization", "no snapshot of the kept weights" if not snapshots
                     else "the last snapshot has no measurable layer activations")
    if not snapshots:
        unmeasurable("gradient_health", "no snapshot of the kept weights")
    elif not _gradient_norms(snapshots[-1]):
        unmeasurable("gradient_health", "the last snapshot has no gradient norms")
    else:
        out["gradient_health"] = gradient_health(snapshots)

    chance = math.log(num_classes) if num_classes and num_classes > 1 else None
    if history:
        out["training_stability"] = training_stability(history, chance)
        out["convergence_quality"] = convergence_quality(history, chance)
        out["accuracy_consistency"] = accuracy_consistency(history)
        if len(history) < _CONSISTENCY_MIN_EPOCHS:
            unmeasured["accuracy_consistency"] = (
                f"{len(history)} epoch(s): consistency needs {_CONSISTENCY_MIN_EPOCHS}")
        if history[-1].get("val_accuracy") is not None:
            score, gap = generalization_gap(history)
            out["generalization"] = score
            out["generalization_gap"] = gap if math.isfinite(gap) else None
        else:
            unmeasurable("generalization", "no validation accuracy recorded")
            out["generalization_gap"] = None
        out["overfitting_epoch"] = overfitting_epoch(history)
    else:
        for metric in ("training_stability", "convergence_quality", "accuracy_consistency", "generalization"):
            unmeasurable(metric, "no epoch completed")
        out["generalization_gap"] = out["overfitting_epoch"] = None

    out["parameter_efficiency"] = parameter_efficiency(accuracy, param_count)
    out["learning"], reason = _learning(accuracy, history, num_classes, best_epoch)
    if reason:
        unmeasured["learning"] = reason
    out["overall_health"] = overall_health(out, weights)
    out["unmeasured"] = unmeasured

    grad_series: dict[str, list[Optional[float]]] = {}
    per_snapshot = [_gradient_norms(s) for s in snapshots]
    for norms in per_snapshot:
        for name in norms:
            grad_series.setdefault(name, [])
    for name, series in grad_series.items():
        for norms in per_snapshot:
            g = norms.get(name, math.nan)
            series.append(float(g) if math.isfinite(g) else None)
    out["per_layer"] = {
        "dead_fraction": {name: float(1.0 - alive / total) for name, (alive, total) in counts.items()},
        "gradient_norms": grad_series,
        "snapshot_epochs": [_epoch(s, i) for i, s in enumerate(snapshots)],
    }
    return {key: out[key] for key in (*HEALTH_METRICS, *[k for k in out if k not in HEALTH_METRICS])}
