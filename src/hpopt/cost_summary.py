"""summary.json's GPU spend: cost_usd_total, cost_by_endpoint and, with gpu_budget_usd, budget.

Totals are sums of the trials' own cost_usd (hpopt.gpu_proxy.cost), so the run's figures and
the trials' always agree. The budget's ``remote_stopped_at_trial`` is the first trial the
budget kept off the GPU proxy (a study attribute, so every worker process sees it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from hpopt.gpu_proxy.cost import BUDGET_STOP_ATTR

if TYPE_CHECKING:
    from hpopt.config import OptimizationConfig

__all__ = ["cost_lines", "cost_section"]


def cost_section(rows: list[dict[str, Any]], config: "OptimizationConfig",
                 study_attrs: dict[str, Any]) -> dict[str, Any]:
    """The summary fields; ``stopped_reason`` only when the budget ended the run."""
    by_endpoint: dict[str, dict[str, Any]] = {}
    for row in rows:
        name = row.get("endpoint")
        if not name:
            continue
        entry = by_endpoint.setdefault(name, {"trials": 0, "billed_s": 0.0, "cost_usd": 0.0, "unpriced_trials": 0})
        entry["trials"] += 1
        entry["billed_s"] = round(entry["billed_s"] + (row.get("billed_s") or 0.0), 3)
        if row.get("cost_usd") is None:
            entry["unpriced_trials"] += 1
        else:
            entry["cost_usd"] += row["cost_usd"]
    total = sum(entry["cost_usd"] for entry in by_endpoint.values())
    section: dict[str, Any] = {"cost_usd_total": total, "cost_by_endpoint": by_endpoint}
    if config.gpu_budget_usd is not None:
        stopped_at: Optional[int] = study_attrs.get(BUDGET_STOP_ATTR)
        ended = stopped_at is not None and not config.gpu_proxy_fallback_local
        section["budget"] = {"limit": config.gpu_budget_usd, "spent": total, "remote_stopped_at_trial": stopped_at,
                             "then": None if stopped_at is None else ("run ended" if ended else "trained locally")}
        if ended:
            section["stopped_reason"] = (f"gpu_budget_usd={config.gpu_budget_usd:g} reached: trial {stopped_at} "
                                         "was not sent to the GPU proxy and gpu_proxy_fallback_local=false")
    return section


def cost_lines(summary: dict[str, Any]) -> list[str]:
    """report.md's "GPU cost" section (empty when no trial ran on the GPU proxy)."""
    by_endpoint = summary.get("cost_by_endpoint") or {}
    budget = summary.get("budget")
    if not by_endpoint and not budget:
        return []
    lines = ["## GPU cost", "", f"Total: **{summary.get('cost_usd_total', 0.0):.6f} USD** on the GPU proxy "
             "(billed seconds x the endpoint's price per hour / 3600; billed seconds are the endpoint's execution "
             "time when it reports one, else submit to result).", ""]
    if by_endpoint:
        lines += ["| endpoint | trials | billed s | cost USD |", "|---|---|---|---|"]
        for name, entry in by_endpoint.items():
            cost = f"{entry['cost_usd']:.6f}" + (f" ({entry['unpriced_trials']} unpriced)"
                                                 if entry.get("unpriced_trials") else "")
            lines.append(f"| {name} | {entry['trials']} | {entry['billed_s']:.3f} | {cost} |")
        lines += ["", "| trial | endpoint | billed s | cost USD |", "|---|---|---|---|"]
        for row in summary.get("trials") or []:
            if row.get("endpoint"):
                cost = "?" if row.get("cost_usd") is None else f"{row['cost_usd']:.6f}"
                lines.append(f"| {row['number']} | {row['endpoint']} | {row.get('billed_s') or 0:.3f} | {cost} |")
        lines.append("")
    if budget:
        text = f"Budget: {budget['limit']:g} USD, spent {budget['spent']:.6f} USD."
        if budget.get("remote_stopped_at_trial") is not None:
            text += (f" The budget stopped remote trials at trial {budget['remote_stopped_at_trial']}: "
                     f"{'the run ended there' if budget['then'] == 'run ended' else 'later trials trained locally'}.")
        lines += [text, ""]
    return lines
