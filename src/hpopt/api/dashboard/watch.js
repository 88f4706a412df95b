// Watch: a job live — trial table, history with running best, the running trial's
// epoch curves, a trial's health breakdown, and the current and best models' layers.

import { lineChart, mount } from "./charts.js";
import { $, h, note, replace } from "./dom.js";
import { renderTrialDetail, renderTrialTable } from "./job_trials.js";
import { archTable, epochSeries, healthPanel, historySeries } from "./tables.js";

let selected = null; // trial number the user clicked (null: follow the running trial)
let wanted = new Set(); // trial details being fetched
let shown = null; // the live state last drawn: what a click on the history selects in

// A trial chosen anywhere (a history point here, a point of an Analyze chart) is Watch's selection too.
function select(number) {
  if (!Number.isInteger(number) || !shown) return;
  selected = number;
  shown.changed("select");
}
document.addEventListener("hpopt:trial-select", (e) => select(e.detail?.number));

export function resetWatch() {
  selected = null;
  wanted = new Set();
}

// Fetch a trial's detail once, then redraw (its architecture, history and health).
function want(live, number) {
  if (number === null || number === undefined || live.details.has(number) || wanted.has(number)) return null;
  wanted.add(number);
  live.detail(number).then(() => live.changed("detail")).catch(() => {}).finally(() => wanted.delete(number));
  return null;
}

function focusNumber(live) {
  if (selected !== null) return selected;
  if (live.current) return live.current.number;
  return live.best?.number ?? live.rows().at(-1)?.number ?? null;
}

export function renderWatch(live) {
  shown = live;
  const rows = live.rows();
  const bestNumber = live.best?.number ?? null;
  const mode = live.job?.mode;
  $("#watch-events").textContent = `${live.events} live events`;

  const objective = live.job?.optimize_for || "objective";
  const yLabel = { pareto: "val_accuracy (first objective)", health: `score (${objective} blended with health)` }[mode] || `value (${objective})`;
  // a fixed axis over all planned trials, so the run visibly fills it
  const lastTrial = Math.max(live.job?.trials - 1 || 0, live.current?.number ?? 0, rows.at(-1)?.number ?? 0, 1);
  mount($("#history-chart"), (w) => lineChart(w, 260, historySeries(rows, live.direction), {
    xLabel: "trial", yLabel, xDomain: [-0.3, lastTrial + 0.3],
    xInteger: true, empty: "the first trial is training…",
  }));

  const table = $("#trial-table");
  table.hidden = !(rows.length || live.current);
  $("#trial-table-empty").textContent = table.hidden ? (live.terminal ? "this job finished without trials" : "waiting for the first trial…") : "";
  renderTrialTable(table, live, "watch-trials", selected, (n) => { selected = selected === n ? null : n; live.changed("select"); });

  const focus = focusNumber(live);
  $("#trial-detail-title").textContent = focus === null ? "" : `trial ${focus}${selected === null ? "" : " (selected)"}`;
  renderTrialDetail($("#trial-detail"), live, "trial-detail", focus, false);
  renderFocus(live, focus);
  renderModels(live, bestNumber);
}

// The focused trial: the running one (live epochs) or the one clicked (its stored detail).
function renderFocus(live, number) {
  const running = live.current && live.current.number === number;
  const detail = running ? null : live.details.get(number);
  if (!running && number !== null) want(live, number);
  const history = running ? live.current.epochs : detail?.trial?.history || [];
  const label = number === null ? "" : running ? `trial ${number} — training, epoch ${history.length}` : `trial ${number}`;
  $("#focus-title").textContent = label;
  $("#health-title").textContent = label;
  const planned = running ? live.current.planned_epochs ?? live.current.params?.epochs : null;
  const lastEpoch = Math.max(planned || 0, history.length, 2);
  for (const metric of ["accuracy", "loss"]) {
    mount($(`#epoch-${metric}`), (w) => lineChart(w, 200, epochSeries(history, metric), {
      xLabel: "epoch", yLabel: metric, xInteger: true, xDomain: [0.8, lastEpoch + 0.2], empty: number === null ? "no trial yet" : "waiting for the first epoch…",
    }));
  }
  const health = running ? {} : detail?.trial?.health || live.trials.get(number)?.health || {};
  const epochHealth = history.at(-1)?.health;
  mount($("#health-panel"), (w) => healthPanel(Math.min(w, 560), health, epochHealth));
}

function modelCard(live, el, number, caption) {
  if (number === null || number === undefined) {
    replace(el, note(caption));
    return;
  }
  const layers = live.current?.number === number && live.current.architecture?.length
    ? live.current.architecture : live.architectures.get(number);
  if (!layers?.length && live.current?.number !== number) want(live, number);
  replace(el, archTable(layers) || note(live.current?.number === number ? "building the model…" : "loading…"));
}

function renderModels(live, bestNumber) {
  const current = live.current?.number ?? live.rows().at(-1)?.number ?? null;
  $("#current-title").textContent = current === null ? "Current model"
    : `Current model — trial ${current}${live.current ? " (training)" : " (last)"}`;
  modelCard(live, $("#current-arch"), current, "no trial yet");
  $("#best-title").textContent = bestNumber === null ? "Best model" : `Best model — trial ${bestNumber}`;
  modelCard(live, $("#best-arch"), bestNumber, "no complete trial yet");
}

export function watchSkeleton() {
  const card = (title, body, extra = {}) => h("section", { class: `card ${extra.wide ? "wide" : ""}` }, [
    h("h3", { id: extra.titleId || null, text: title }), body]);
  return [
    card("Optimization history", h("div", {
      id: "history-chart", class: "chart-box",
      onclick: (e) => select(Number(e.target.closest?.("circle[data-trial]")?.dataset.trial ?? NaN)),
    }), { wide: true }),
    h("section", { class: "card wide" }, [
      h("h3", { text: "Trials" }), h("p", { id: "trial-table-empty", class: "note" }), h("div", { id: "trial-table" }),
    ]),
    h("section", { class: "card wide" }, [
      h("h3", {}, ["Parameters ", h("small", { id: "trial-detail-title" })]), h("div", { id: "trial-detail" }),
    ]),
    h("section", { class: "card" }, [
      h("h3", {}, ["Epochs ", h("small", { id: "focus-title" })]),
      h("div", { id: "epoch-accuracy", class: "chart-box" }), h("div", { id: "epoch-loss", class: "chart-box" }),
    ]),
    h("section", { class: "card" }, [
      h("h3", {}, ["Health breakdown ", h("small", { id: "health-title" })]), h("div", { id: "health-panel" }),
    ]),
    card("Current model", h("div", { id: "current-arch" }), { titleId: "current-title" }),
    card("Best model", h("div", { id: "best-arch" }), { titleId: "best-title" }),
    h("p", { id: "watch-events", class: "note wide" }),
  ];
}
