// Analyze: parameter importances, accuracy vs health (Pareto front in pareto mode), the
// study charts (analysis_views.js), two trials side by side, and the plots the run wrote
// into its results folder. A trial selected in a chart becomes the first one compared.

import { analysisSkeleton, renderAnalysisCharts, resetAnalysisCharts } from "./analysis_views.js";
import { api, fetchBlob, fileUrl } from "./api.js";
import { barChart, lineChart, mount, scatterChart } from "./charts.js";
import { $, duration, h, int, isNum, note, num, replace } from "./dom.js";
import { plotFigure } from "./lightbox.js";
import { HEALTH_METRICS, archTable, where } from "./tables.js";

let importanceKey = null;
let compare = { a: null, b: null };
let compareDrawn = null; // "a:b" on screen, so other events do not redraw (and collapse) it
let plotChoice = "study";
let images = new Map(); // file path -> blob: URL (fetched once, with the key)
let shown = null; // the JobLive drawn last, for the trial a chart selects

document.addEventListener("hpopt:trial-select", (event) => {
  const number = event.detail?.number;
  if (!shown || !Number.isInteger(number) || !shown.trials.has(number)) return;
  compare = { a: number, b: compare.b === number ? compare.a ?? number : compare.b };
  renderCompare(shown, shown.rows());
});

export function resetAnalyze() {
  resetAnalysisCharts();
  shown = null;
  importanceKey = null;
  compare = { a: null, b: null };
  compareDrawn = null;
  plotChoice = "study";
  for (const url of images.values()) URL.revokeObjectURL(url);
  images = new Map();
}

export function renderAnalyze(live) {
  const rows = live.rows();
  shown = live;
  renderImportances(live, rows.length);
  renderScatter(live, rows);
  renderAnalysisCharts(live);
  renderCompare(live, rows);
  renderPlotChoices(live, rows);
}

function renderImportances(live, finished) {
  const key = `${live.jobId}:${finished}:${live.job?.status}`;
  if (key === importanceKey) return;
  importanceKey = key;
  api(`/jobs/${live.jobId}/importances`).then((answer) => {
    const items = answer.importances.map((i) => ({ label: i.param, value: i.importance, text: num(i.importance, 3), title: `${i.param}: ${num(i.importance, 3)}` }));
    const box = $("#importances");
    if (!items.length) { replace(box, note(answer.reason || "no importances yet")); return; }
    box.replaceChildren(h("div", { class: "chart-box", id: "importance-chart" }),
      note(`${answer.n_trials} complete trials; target: ${answer.target}. ${answer.n_trials < 10 ? "Few trials: a rough estimate." : ""}`));
    mount($("#importance-chart"), (w) => barChart(w, items));
  }).catch((error) => replace($("#importances"), note(`importances: ${error.message}`)));
}

// The non-dominated complete trials (both objectives maximised).
function paretoOf(points) {
  return points.filter((p) => !points.some((q) => q !== p && q.x >= p.x && q.y >= p.y && (q.x > p.x || q.y > p.y)));
}

function renderScatter(live, rows) {
  const points = rows.filter((r) => isNum(r.val_accuracy) && isNum(r.health?.overall_health)).map((r) => ({
    x: r.health.overall_health, y: r.val_accuracy, number: r.number, cls: `st-${r.state}${r.number === live.best?.number ? " is-best" : ""}`,
    title: `trial ${r.number} (${r.state}): val_acc ${num(r.val_accuracy)}, health ${num(r.health.overall_health, 3)}`,
  }));
  let front = null;
  if (live.job?.mode === "pareto") {
    front = live.pareto?.length
      ? live.pareto.map((p) => ({ x: p.overall_health, y: p.val_accuracy, title: `trial ${p.number} (front)` }))
      : paretoOf(points.filter((p) => p.cls.startsWith("st-complete")));
  }
  $("#scatter-note").textContent = live.job?.mode === "pareto"
    ? "Pareto mode: the gold points (joined by a line) are the front: no other trial beats them on both." : "Each point is a trial; the best one is ringed.";
  mount($("#scatter"), (w) => scatterChart(w, 280, points, { front, xLabel: "overall health", yLabel: "val_accuracy", empty: "no finished trial yet" }));
}

function trialOptions(rows, chosen) {
  return rows.map((r) => h("option", { value: r.number, selected: r.number === chosen || null, text: `trial ${r.number} (${r.state})` }));
}

function renderCompare(live, rows) {
  if (rows.length && compare.a === null) {
    compare.a = live.best?.number ?? rows[0].number;
    compare.b = rows.find((r) => r.number !== compare.a)?.number ?? compare.a;
  }
  for (const side of ["a", "b"]) {
    const select = $(`#compare-${side}`);
    if (select.dataset.rows !== String(rows.length) || Number(select.value) !== compare[side]) {
      select.replaceChildren(...trialOptions(rows, compare[side]));
      select.dataset.rows = String(rows.length);
    }
  }
  if (compare.a === null) { replace($("#compare-body"), note("no finished trial yet")); return; }
  const key = `${compare.a}:${compare.b}`;
  if (key === compareDrawn) return;
  compareDrawn = key;
  Promise.all([live.detail(compare.a), live.detail(compare.b)]).then(([a, b]) => {
    if (compareDrawn === key) drawCompare(a.trial, b.trial, a, b);
  }).catch((error) => { compareDrawn = null; replace($("#compare-body"), note(error.message)); });
}

export function onCompareChange(live) {
  compare = { a: Number($("#compare-a").value), b: Number($("#compare-b").value) };
  renderCompare(live, live.rows());
}

function drawCompare(a, b, da, db) {
  const total = (d) => d.architecture?.reduce((s, l) => s + (l.params || 0), 0);
  const lines = [
    ["state", a.state, b.state], ["value", num(a.value), num(b.value)],
    ["val_accuracy", num(a.val_accuracy), num(b.val_accuracy)],
    ...HEALTH_METRICS.map((k) => [k, num(a.health?.[k], 3), num(b.health?.[k], 3)]),
    ["epochs", int(a.epochs_run), int(b.epochs_run)], ["duration", duration(a.duration_s), duration(b.duration_s)],
    ["where", where(a), where(b)], ["layers", int(da.architecture?.length), int(db.architecture?.length)],
    ["parameters", int(total(da)), int(total(db))],
  ];
  const keys = [...new Set([...Object.keys(a.params || {}), ...Object.keys(b.params || {})])].sort();
  for (const k of keys) lines.push([k, fmt(a.params?.[k]), fmt(b.params?.[k]), true]);
  const table = h("table", { class: "compare" }, [
    h("thead", {}, h("tr", {}, [h("th"), h("th", { text: `trial ${a.number}` }), h("th", { text: `trial ${b.number}` })])),
    h("tbody", {}, lines.map(([k, x, y, param]) => h("tr", { class: param && x !== y ? "differs" : null }, [
      h("th", { text: k }), h("td", { class: "n", text: x }), h("td", { class: "n", text: y })]))),
  ]);
  const curve = (t, cls) => ({ label: `trial ${t.number} val_acc`, cls, line: true,
    points: (t.history || []).map((r, i) => ({ x: r.epoch ?? i + 1, y: r.val_accuracy, title: `trial ${t.number} epoch ${r.epoch ?? i + 1}: ${num(r.val_accuracy)}` })) });
  const box = $("#compare-body");
  box.replaceChildren(h("div", { class: "two" }, [h("div", { class: "scroll" }, table), h("div", { class: "chart-box", id: "compare-chart" })]),
    h("details", {}, [h("summary", { text: "layers side by side" }),
      h("div", { class: "two" }, [archTable(da.architecture) || note("no layers"), archTable(db.architecture) || note("no layers")])]));
  mount($("#compare-chart"), (w) => lineChart(w, 200, [curve(a, "s-train"), curve(b, "s-val")], { xLabel: "epoch", yLabel: "val_accuracy", xInteger: true }));
}

function fmt(v) {
  if (v === undefined) return "–";
  return typeof v === "number" ? String(+v.toPrecision(4)) : String(v);
}

function renderPlotChoices(live, rows) {
  const select = $("#plot-choice");
  const want = ["study", ...rows.map((r) => String(r.number))];
  if (select.dataset.opts !== want.join(",")) {
    select.replaceChildren(...want.map((v) => h("option", { value: v, selected: v === plotChoice || null,
      text: v === "study" ? "study plots" : `trial ${v}` })));
    select.dataset.opts = want.join(",");
    showPlots(live);
  }
}

export function onPlotChange(live) {
  plotChoice = $("#plot-choice").value;
  showPlots(live);
}

async function showPlots(live) {
  const box = $("#plots");
  const choice = plotChoice;
  let paths = [];
  try {
    if (choice === "study") {
      const listing = await api(`/jobs/${live.jobId}/files`);
      paths = listing.files.map((f) => f.path).filter((p) => /^plots\/[^/]+\.png$/.test(p));
    } else {
      paths = (await live.detail(Number(choice))).plots || [];
    }
  } catch (error) {
    replace(box, note(error.status === 404 ? "no results folder yet" : error.message));
    return;
  }
  if (choice !== plotChoice) return; // the user picked another meanwhile
  if (!paths.length) { replace(box, note(live.terminal ? "no plots (plot_generation may be 'none' or 'best')" : "plots are drawn when the run ends")); return; }
  replace(box, paths.map((path) => {
    const img = h("img", { alt: path }); // not lazy: the blob is fetched anyway, and a lazy image below the fold never loads
    const cached = images.get(path);
    if (cached) img.src = cached;
    else fetchBlob(fileUrl(live.jobId, path)).then((blob) => { const url = URL.createObjectURL(blob); images.set(path, url); img.src = url; }).catch(() => img.replaceWith(note(`${path}: not available`)));
    return plotFigure(img, path.split("/").pop().replace(/\.png$/, "").replace(/_/g, " "));
  }));
}

export function analyzeSkeleton() {
  return [
    h("section", { class: "card" }, [h("h3", { text: "Parameter importances" }), h("div", { id: "importances" }, note("loading…"))]),
    h("section", { class: "card" }, [h("h3", { text: "Accuracy vs health" }), h("div", { id: "scatter", class: "chart-box" }), h("p", { id: "scatter-note", class: "note" })]),
    ...analysisSkeleton(),
    h("section", { class: "card wide" }, [h("h3", {}, ["Compare ", h("select", { id: "compare-a", "aria-label": "first trial" }), " with ",
      h("select", { id: "compare-b", "aria-label": "second trial" })]), h("div", { id: "compare-body" })]),
    h("section", { class: "card wide" }, [h("h3", {}, ["Plots ", h("select", { id: "plot-choice", "aria-label": "plots of" })]),
      h("div", { id: "plots", class: "plots" })]),
  ];
}
