// Glue between a job's live state and the trials table / trial detail of each tab:
// the rows (finished trials plus the running one), the marks (best, baseline, chance level)
// and one TrialTable / TrialDetail per container, made on first use.

import { h } from "./dom.js";
import { TrialDetail } from "./trial_detail_panel.js";
import { clearTrialFilters } from "./trial_filter.js";
import { TrialTable } from "./trial_table.js";

let tables = new Map(); // container -> TrialTable
let details = new Map(); // container -> TrialDetail
let analyzeSelected = null;

export function resetTrialViews() {
  for (const table of tables.values()) table.destroy();
  tables = new Map();
  details = new Map();
  analyzeSelected = null;
  clearTrialFilters();
}

function elapsed(iso) {
  const t = Date.parse(iso || "");
  return Number.isNaN(t) ? null : Math.max(0, (Date.now() - t) / 1000);
}

export function tableRows(live) {
  const rows = live.rows();
  const current = live.current;
  if (current && !live.trials.has(current.number)) {
    rows.push({ number: current.number, state: "running", params: current.params || {}, epochs_run: current.epochs.length,
                planned: current.planned_epochs ?? current.params?.epochs, duration_s: elapsed(current.started_at),
                val_accuracy: current.epochs.at(-1)?.val_accuracy });
  }
  return rows;
}

// Best, baseline and chance level: the run summary's word once the job ended, the rows' before.
export function trialMarks(live) {
  const summary = live.runSummary;
  const rows = live.rows();
  return {
    bestNumber: live.best?.number ?? null,
    baseline: summary ? summary.baseline_trial : rows.find((r) => r.warm_start)?.number ?? null,
    atChance: new Set(summary ? summary.at_chance : rows.filter((r) => r.state === "no_learning").map((r) => r.number)),
  };
}

export function renderTrialTable(el, live, prefix, selected, onSelect) {
  let table = tables.get(el);
  if (!table) { table = new TrialTable(el, { prefix, onSelect }); tables.set(el, table); }
  table.onSelect = onSelect;
  table.update(tableRows(live), { ...trialMarks(live), selected });
}

export function renderTrialDetail(el, live, prefix, number, full) {
  let detail = details.get(el);
  if (!detail) { detail = new TrialDetail(el, { prefix, full }); details.set(el, detail); }
  detail.show(live, number, trialMarks(live));
}

// Analyze: the table (restricted by the analysis views' brushes) and the chosen trial in full.
export function analyzeTrialCards() {
  return [
    h("section", { class: "card wide" }, [h("h3", { text: "Trials" }), h("div", { id: "analyze-trials" })]),
    h("section", { class: "card wide" }, [h("h3", { text: "Trial detail" }), h("div", { id: "analyze-trial-detail" })]),
  ];
}

export function renderAnalyzeTrials(live) {
  const table = document.getElementById("analyze-trials");
  if (!table) return;
  if (analyzeSelected === null) analyzeSelected = live.best?.number ?? null;
  renderTrialTable(table, live, "analyze-trials", analyzeSelected, (n) => { analyzeSelected = n; live.changed("select"); });
  renderTrialDetail(document.getElementById("analyze-trial-detail"), live, "analyze-detail", analyzeSelected, true);
}
