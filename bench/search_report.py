"""Medians, pass checks and markdown tables of bench/search_efficiency.py (no TensorFlow here).

Kept apart from the runner so ``--table`` can reprint a saved JSON at once.
"""

from __future__ import annotations

from typing import Any, Optional

from peers_clock import median_or_none

CHECK_TARGET = "0.985"
CHECK_TIME_S = 45.0


def summarize(runs: list[dict[str, Any]], targets: list[float]) -> dict[str, Any]:
    """Per tool: median time to each target (None = not reached, sorts last), how many seeds reached it, median best."""
    per_tool: dict[str, dict[str, Any]] = {}
    for tool in dict.fromkeys(r["tool"] for r in runs):
        mine = [r for r in runs if r["tool"] == tool]
        done = [r for r in mine if "skipped" not in r]
        if not done:
            per_tool[tool] = {"skipped": mine[0]["skipped"], "runs": 0}
            continue
        per_tool[tool] = {
            "median_time_to": {str(t): median_or_none([r["time_to"].get(str(t)) for r in done]) for t in targets},
            "reached": {str(t): sum(r["time_to"].get(str(t)) is not None for r in done) for t in targets},
            "median_best_val_accuracy": median_or_none([r["best_val_accuracy"] for r in done]),
            "runs": len(done)}
    return {"per_tool": per_tool}


def _le(a: Optional[float], b: Optional[float]) -> bool:
    """a <= b where None means never: a never-reached a is no better than anything."""
    if a is None:
        return False
    return b is None or a <= b


def pass_checks(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's pass criteria (passed None: not applicable); an empty list when hpopt was not run."""
    per_tool = result["summary"]["per_tool"]
    hp = per_tool.get("hpopt")
    if not hp or "skipped" in hp:
        return []
    budget = result["settings"]["budget"]
    hp_runs = [r for r in result["runs"] if r["tool"] == "hpopt"]
    peers = {t: s for t, s in per_tool.items() if t != "hpopt" and "skipped" not in s}
    checks: list[dict[str, Any]] = []

    def check(name: str, passed: Optional[bool], detail: str) -> None:  # None: n/a (no peer ran)
        checks.append({"check": name, "passed": passed, "detail": detail})

    if CHECK_TARGET in hp["reached"]:
        k, n = hp["reached"][CHECK_TARGET], hp["runs"]
        check(f"hpopt reaches {CHECK_TARGET} in {n}/{n} seeds", k == n, f"{k}/{n}")
        t = hp["median_time_to"][CHECK_TARGET]
        check(f"hpopt median time to {CHECK_TARGET} <= {CHECK_TIME_S:.0f} s", t is not None and t <= CHECK_TIME_S,
              _fmt_t(t))
    first = str(result["settings"]["targets"][0])
    mine = hp["median_time_to"][first]
    check(f"hpopt median time to {first} <= every peer's", None if not peers else all(
        _le(mine, s["median_time_to"].get(first)) for s in peers.values()),
        f"hpopt {_fmt_t(mine)}; " + ", ".join(f"{t} {_fmt_t(s['median_time_to'].get(first))}"
                                                for t, s in peers.items()))
    best = hp["median_best_val_accuracy"]
    check("hpopt median best at budget >= every peer's", None if not peers else best is not None and all(
        best >= (s["median_best_val_accuracy"] or 0.0) for s in peers.values()),
        f"hpopt {_fmt_acc(best)}; " + ", ".join(f"{t} {_fmt_acc(s['median_best_val_accuracy'])}"
                                                  for t, s in peers.items()))
    held = [r.get("deadline_held", False) for r in hp_runs]
    check("hpopt exited within budget+10 s in every seed", all(held),
          f"{sum(held)}/{len(held)} (exit s: {', '.join(str(r.get('exit_s')) for r in hp_runs)}; "
          f"budget {budget:.0f} s)")
    return checks


def _fmt_t(value: Optional[float]) -> str:
    return "not reached" if value is None else f"{value:.1f}"


def _fmt_acc(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.4f}"


def markdown(result: dict[str, Any]) -> str:
    """The per-run table, the per-tool medians and the PASS/FAIL lines."""
    settings = result["settings"]
    targets = [str(t) for t in settings["targets"]]
    lines = [f"budget {settings['budget']:.0f} s per tool and seed from launch, dataset {settings['dataset']}, "
             f"seeds {result['seeds']}", "",
             "| tool | seed | " + " | ".join(f"time to {t} (s)" for t in targets) +
             " | best val_accuracy | points | trials | exit (s) |",
             "|---|---|" + "---|" * len(targets) + "---|---|---|---|"]
    notes = []
    for r in result["runs"]:
        if "skipped" in r:
            lines.append(f"| {r['tool']} | {r['seed']} | " + " | ".join("skipped" for _ in targets) +
                         " | - | - | - | - |")
            notes.append(f"{r['tool']} seed {r['seed']}: skipped: {r['skipped']}")
            continue
        exit_s = "killed" if r.get("exit_s") is None else f"{r['exit_s']:.1f}"
        lines.append(f"| {r['tool']} | {r['seed']} | " + " | ".join(_fmt_t(r["time_to"].get(t)) for t in targets) +
                     f" | {_fmt_acc(r['best_val_accuracy'])} | {r['epochs_in_budget']} | "
                     f"{r.get('trials_started', '-')} | {exit_s} |")
        if r.get("note"):
            notes.append(f"seed {r['seed']}: {r['note'].splitlines()[0][:300]}")
    lines += ["", "points: epochs inside the budget (hpopt: its best_over_time points, i.e. improvements only); "
                  "exit: hpopt's own exit, a peer's 'killed' = stopped at the budget"]
    lines += ["", "| tool | " + " | ".join(f"median time to {t} (s) | reached" for t in targets) +
              " | median best val_accuracy |", "|---|" + "---|---|" * len(targets) + "---|"]
    for tool, s in result["summary"]["per_tool"].items():
        if "skipped" in s:
            lines.append(f"| {tool} | " + " | ".join("skipped | -" for _ in targets) + " | - |")
            continue
        lines.append(f"| {tool} | " + " | ".join(f"{_fmt_t(s['median_time_to'][t])} | {s['reached'][t]}/{s['runs']}"
                                                 for t in targets) + f" | {_fmt_acc(s['median_best_val_accuracy'])} |")
    if notes:
        lines += ["", *(f"NOTE {n}" for n in notes)]
    checks = result.get("checks") or []
    if checks:
        verdict = {True: "PASS", False: "FAIL", None: "N/A (no peer ran)"}
        lines += ["", *(f"{verdict[c['passed']]}: {c['check']} ({c['detail']})" for c in checks)]
    else:
        lines += ["", "pass checks: n/a (hpopt was not run)"]
    return "\n".join(lines)
