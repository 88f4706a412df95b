// Analyze's study charts, drawn with Plotly as optuna-dashboard draws them: optimization
// history (log scale, click a point to select its trial), parallel coordinates (drag
// along an axis to filter the trials), slice, contour, EDF and every trial's per-epoch
// values. One request (GET /jobs/{id}/analysis) feeds them all, again when a trial ends.
// Other views learn about the user's choices from two document events:
//   hpopt:trial-filter {source: "parallel-coordinates", numbers: number[] | null}
//   hpopt:trial-select {number}

import { api } from "./api.js";
import * as D from "./analysis_data.js";
import { $, h, note, replace } from "./dom.js";
import { loadPlotly } from "./plotly_loader.js";

const CHARTS = ["history", "parcoords", "slice", "contour", "edf", "intermediate"];
// No mode bar: its buttons inside a role="img" chart would be controls nested in an image
// (axe's nested-interactive); dragging still zooms, a double click resets.
const CONFIG = { responsive: true, displayModeBar: false };
// The chart's height is its box's (style.css): Plotly fills the box, at any width.
const LAYOUT = {
  autosize: true, margin: { l: 64, r: 24, t: 24, b: 52 }, hovermode: "closest", uirevision: "keep",
  font: { family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size: 12, color: "#1d2733" },
  paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#fff",
};
const ACCENT = "#1f4e79";

let state = fresh();

// Plotly follows the window's size; a chart drawn while its tab was hidden, or whose card
// changed width, is resized when its box does.
const resizer = typeof ResizeObserver === "function" ? new ResizeObserver((entries) => {
  for (const entry of entries) {
    const el = entry.target;
    const width = Math.round(entry.contentRect.width);
    if (width > 0 && el._fullLayout && Math.abs(el._fullLayout.width - width) > 2) window.Plotly?.Plots.resize(el);
  }
}) : null;

function fresh() {
  return { key: null, data: null, axes: null, constraints: new Map(), filtered: undefined, pc: null,
           sliceParam: null, contourX: null, contourY: null, log: false };
}

export function announceFilter(numbers) {
  document.dispatchEvent(new CustomEvent("hpopt:trial-filter", { detail: { source: "parallel-coordinates", numbers } }));
}

export function selectTrial(number) {
  document.dispatchEvent(new CustomEvent("hpopt:trial-select", { detail: { number } }));
}

export function resetAnalysisCharts() {
  for (const id of CHARTS) {
    const el = chart(id);
    if (el) { resizer?.unobserve(el); window.Plotly?.purge(el); }
  }
  if (state.filtered) announceFilter(null); // another job: its filter does not apply
  state = fresh();
}

const chart = (id) => document.getElementById(`chart-${id}`);
const maximize = () => state.data?.maximize !== false;

// Fetch once per finished-trial count and status; draw when both data and Plotly are here.
export function renderAnalysisCharts(live) {
  const key = `${live.jobId}:${live.rows().length}:${live.job?.status}`;
  if (key === state.key) return;
  state.key = key;
  Promise.all([api(`/jobs/${encodeURIComponent(live.jobId)}/analysis`), loadPlotly()]).then(([data]) => {
    if (state.key !== key) return;
    state.data = data;
    drawAll();
  }).catch((error) => {
    if (state.key !== key) return;
    for (const id of CHARTS) empty(id, `charts: ${error.message}`);
  });
}

function drawAll() {
  const data = state.data;
  if (!D.scored(data).length && !data.trials.some((t) => t.intermediate.length)) {
    for (const id of CHARTS) empty(id, data.reason || "no complete trial yet");
    return;
  }
  drawHistory();
  drawParcoords();
  drawSlice();
  drawContour();
  drawEdf();
  drawIntermediate();
}

// A chart with nothing to draw says why, in its place and in its label.
function empty(id, why) {
  const el = chart(id);
  if (!el) return;
  window.Plotly?.purge(el);
  el.classList.add("is-empty");
  el.dataset.state = "empty";
  el.setAttribute("aria-label", why);
  replace(el, note(why));
}

function plot(id, traces, layout, summary) {
  const el = chart(id);
  if (!el) return null;
  if (el.dataset.state !== "drawn") el.replaceChildren(); // a note was there
  el.classList.remove("is-empty");
  el.dataset.state = "drawn";
  el.setAttribute("aria-label", summary);
  window.Plotly.react(el, traces, { ...LAYOUT, ...layout }, CONFIG);
  el.removeAllListeners?.("plotly_click");
  el.on("plotly_click", (event) => {
    const number = event.points?.[0]?.customdata;
    if (Number.isInteger(number)) selectTrial(number);
  });
  return el;
}

const axisTitle = (text) => ({ title: { text } });

function drawHistory() {
  const hs = D.history(state.data, maximize());
  const button = $("#history-log");
  button.disabled = !hs.positive;
  button.title = hs.positive ? "" : "a log scale needs values above 0";
  if (!hs.positive) state.log = false;
  button.setAttribute("aria-pressed", String(state.log));
  if (!hs.trials.length) { empty("history", "Optimization history: no complete trial yet"); return; }
  const x = hs.trials.map((t) => t.number);
  plot("history", [
    { type: "scatter", mode: "markers", name: "trial value", x, y: hs.trials.map((t) => t.value), customdata: x,
      marker: { size: 9, color: ACCENT }, hovertemplate: "trial %{x}: %{y:.4g}<extra>click to select</extra>" },
    { type: "scatter", mode: "lines", name: "best so far", x, y: hs.bestLine, line: { shape: "hv", color: "#b7791f", width: 2 },
      hoverinfo: "skip" },
  ], { xaxis: { ...axisTitle("trial"), tickformat: "d" }, yaxis: { ...axisTitle("value"), type: state.log ? "log" : "linear" },
       legend: { orientation: "h", y: 1.12 } }, `${hs.summary}; ${state.log ? "log" : "linear"} value axis`);
}

function toggleLog() {
  state.log = !state.log;
  if (state.data) drawHistory();
}

function drawParcoords() {
  const data = state.data;
  if (state.axes === null) state.axes = D.sharedParams(data);
  renderAxisChoices();
  const pc = D.parallelCoordinates(data, state.axes, maximize());
  state.pc = pc;
  if (!pc.trials.length) { empty("parcoords", "Parallel coordinates: no complete trial has all chosen parameters"); announce(); return; }
  const dimensions = pc.dimensions.map((d) => (state.constraints.has(d.label) ? { ...d, constraintrange: state.constraints.get(d.label) } : d));
  const el = plot("parcoords", [{
    type: "parcoords", dimensions, labelangle: -15, labelside: "top",
    line: { color: pc.trials.map((t) => t.value), colorscale: "Viridis", reversescale: !maximize(), showscale: true,
            colorbar: axisTitle("value") },
  }], { margin: { l: 70, r: 40, t: 72, b: 28 } }, pc.summary);
  el.removeAllListeners?.("plotly_restyle");
  el.on("plotly_restyle", () => onBrush(el));
  announce();
}

// Axes brushed by the user (or set with Plotly.restyle): keep them across redraws and tell the page.
function onBrush(el) {
  const dims = el.data?.[0]?.dimensions || [];
  state.constraints = new Map(dims.filter((d) => d.constraintrange?.length).map((d) => [d.label, d.constraintrange]));
  announce(dims);
}

function announce(dims = null) {
  const dimensions = dims || (state.pc?.dimensions || []).map((d) => ({ ...d, constraintrange: state.constraints.get(d.label) }));
  const numbers = state.pc?.trials.length ? D.insideConstraints(state.pc.trials, dimensions) : null;
  const text = numbers === null ? "Drag along an axis to keep only the trials in that range; the trial table follows."
    : `${numbers.length} of ${state.pc.trials.length} trials in the brushed ranges: ${numbers.join(", ") || "none"}. Double-click an axis' range to clear it.`;
  $("#parcoords-note").textContent = text;
  if (JSON.stringify(numbers) === JSON.stringify(state.filtered ?? null)) return;
  state.filtered = numbers;
  announceFilter(numbers);
}

function renderAxisChoices() {
  const names = D.paramsByUse(state.data).map((p) => p.name);
  const box = $("#parcoords-axes");
  if (box.dataset.names === names.join(",") && box.childElementCount) return;
  box.dataset.names = names.join(",");
  replace(box, names.map((name) => h("label", { class: "check" }, [
    h("input", { type: "checkbox", value: name, checked: state.axes.includes(name) || null,
                 onchange: () => { state.axes = [...box.querySelectorAll("input:checked")].map((i) => i.value); drawParcoords(); } }),
    ` ${name}`])));
}

function fillSelect(select, names, chosen) {
  if (select.dataset.names !== names.join(",")) {
    select.replaceChildren(...names.map((n) => h("option", { value: n, text: n })));
    select.dataset.names = names.join(",");
  }
  select.value = chosen;
}

function hoverText(dist, trials) {
  return trials.map((t) => `trial ${t.number}<br>${dist.name} = ${String(t.params[dist.name])}<br>value ${D.fmt(t.value)}`);
}

function drawSlice() {
  const names = D.paramsByUse(state.data).map((p) => p.name);
  if (!names.length) { empty("slice", "Slice plot: no parameter yet"); return; }
  if (!names.includes(state.sliceParam)) state.sliceParam = names[0];
  fillSelect($("#slice-param"), names, state.sliceParam);
  const sl = D.slice(state.data, state.sliceParam, maximize());
  const ax = D.paramAxis(sl.dist, sl.trials);
  const numbers = sl.trials.map((t) => t.number);
  plot("slice", [{
    type: "scatter", mode: "markers", x: ax.values, y: sl.trials.map((t) => t.value), customdata: numbers,
    text: hoverText(sl.dist, sl.trials), hovertemplate: "%{text}<extra></extra>",
    marker: { size: 9, color: numbers, colorscale: "Blues", showscale: true, colorbar: axisTitle("trial"), line: { width: 1, color: ACCENT } },
  }], { xaxis: ax.axis, yaxis: axisTitle("value") }, sl.summary);
}

function drawContour() {
  const names = D.paramsByUse(state.data).map((p) => p.name);
  if (names.length < 2) { empty("contour", "Contour: needs two parameters"); return; }
  const [x, y] = D.contourDefaults(state.data);
  if (!names.includes(state.contourX)) state.contourX = x;
  if (!names.includes(state.contourY) || state.contourY === state.contourX) state.contourY = y !== state.contourX ? y : x;
  fillSelect($("#contour-x"), names, state.contourX);
  fillSelect($("#contour-y"), names, state.contourY);
  const ct = D.contour(state.data, state.contourX, state.contourY, maximize());
  if (!ct.drawable) {
    empty("contour", `${ct.summary}. A contour needs 3 trials with two different values of each parameter.`);
    return;
  }
  const ax = D.paramAxis(ct.dx, ct.trials), ay = D.paramAxis(ct.dy, ct.trials);
  const values = ct.trials.map((t) => t.value);
  plot("contour", [
    { type: "contour", x: ax.values, y: ay.values, z: values, connectgaps: true, colorscale: "Viridis", reversescale: !maximize(),
      contours: { coloring: "heatmap" }, colorbar: axisTitle("value"), hoverinfo: "skip", line: { width: 0.5 } },
    { type: "scatter", mode: "markers", x: ax.values, y: ay.values, customdata: ct.trials.map((t) => t.number),
      text: ct.trials.map((t) => `trial ${t.number}: value ${D.fmt(t.value)}`), hovertemplate: "%{text}<extra></extra>",
      marker: { size: 8, color: "#fff", line: { width: 1.5, color: "#1d2733" } }, showlegend: false },
  ], { xaxis: ax.axis, yaxis: ay.axis }, ct.summary);
}

function drawEdf() {
  const e = D.edf(state.data);
  if (!e.x.length) { empty("edf", e.summary); return; }
  plot("edf", [{ type: "scatter", mode: "lines+markers", x: e.x, y: e.y, line: { shape: "hv", color: ACCENT, width: 2 },
                 marker: { size: 5, color: ACCENT }, hovertemplate: "value ≤ %{x:.4g}: %{y:.0%} of trials<extra></extra>" }],
  { xaxis: axisTitle("value"), yaxis: { ...axisTitle("share of trials ≤ value"), range: [0, 1.04], tickformat: ".0%" } }, e.summary);
}

function drawIntermediate() {
  const it = D.intermediateTraces(state.data);
  if (!it.traces.length) { empty("intermediate", "Intermediate values: no epoch reported yet"); return; }
  plot("intermediate", it.traces, { xaxis: { ...axisTitle("epoch"), tickformat: "d" }, yaxis: axisTitle("value"),
                                    legend: { orientation: "h", y: 1.14 } }, it.summary);
}

function onChoice(key, id, draw) {
  return () => { state[key] = $(`#${id}`).value; if (state.data) draw(); };
}

export function analysisSkeleton() {
  const box = (id) => {
    const el = h("div", { id: `chart-${id}`, class: "plotly-box is-empty", role: "img", "aria-label": "loading…",
                          "data-state": "loading" }, note("loading the charts…"));
    resizer?.observe(el);
    return el;
  };
  const card = (title, id, controls = [], after = [], wide = false) => h("section", { class: `card${wide ? " wide" : ""}` }, [
    h("h3", {}, [title, ...controls]), box(id), ...after]);
  return [
    card("Optimization history", "history", [h("button", { id: "history-log", type: "button", class: "toggle", "aria-pressed": "false",
                                                           onclick: toggleLog }, "Log scale")],
         [h("p", { class: "note", text: "Click a point to select its trial (compared below). Drag to zoom, double-click to reset." })], true),
    card("Parallel coordinates", "parcoords", [],
         [h("details", { class: "axes" }, [h("summary", { text: "Axes" }), h("div", { id: "parcoords-axes", class: "checks" })]),
          h("p", { id: "parcoords-note", class: "note", "aria-live": "polite" })], true),
    card("Slice", "slice", [h("select", { id: "slice-param", "aria-label": "parameter of the slice plot",
                                          onchange: onChoice("sliceParam", "slice-param", drawSlice) })]),
    card("Contour", "contour", [
      h("select", { id: "contour-x", "aria-label": "x parameter of the contour", onchange: onChoice("contourX", "contour-x", drawContour) }), " × ",
      h("select", { id: "contour-y", "aria-label": "y parameter of the contour", onchange: onChoice("contourY", "contour-y", drawContour) })]),
    card("Empirical distribution (EDF)", "edf"),
    card("Intermediate values", "intermediate", [], [h("p", { class: "note", text: "Each trial's value per epoch; pruned trials grey and dashed." })]),
  ];
}
