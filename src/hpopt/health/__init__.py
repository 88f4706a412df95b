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
* convergence_quality:  ``min(1, (L_ref − L_min)/(0.5·L_ref))
  · (1 − ½·clip(|L_{n−k} − L_n|/(max(L_1, L_ref) − L_min), 0, 1))``,
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

from hpopt.health.curves import (
    accuracy_consistency,
    convergence_quality,
    generalization_gap,
    overfitting_epoch,
    training_stability,
)
from hpopt.health.gradients import gradient_health
from hpopt.health.learning_gate import learning, parameter_efficiency
from hpopt.health.neurons import dead_unit_mask, neuron_utilization
from hpopt.health.scores import DEFAULT_WEIGHTS, HEALTH_METRICS, compute_health, overall_health

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
