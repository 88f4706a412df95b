// Tables and panels shared by the Watch and Analyze views.

import { barChart } from "./charts.js";
import { firstValue, h, int, isNum, num, shape } from "./dom.js";

// Health metrics in [0, 1] worth a bar, in the order a person reads them.
export const HEALTH_METRICS = [
  "overall_health", "learning", "neuron_utilization", "gradient_health", "training_stability",
  "convergence_quality", "accuracy_consistency", "generalization", "parameter_efficiency",
];

export function where(row) {
  if (!row.execution) return "–";
  return row.execution === "gpu_proxy" ? "GPU proxy" : "local";
}

export function archTable(layers) {
  if (!layers?.length) return null;
  const total = layers.reduce((sum, l) => sum + (isNum(l.params) ? l.params : 0), 0);
  return h("div", { class: "scroll" }, h("table", { class: "arch" }, [
    h("thead", {}, h("tr", {}, ["layer", "type", "output shape", "params"].map((t) => h("th", { text: t })))),
    h("tbody", {}, layers.map((l) => h("tr", {}, [
      h("td", { text: l.name }), h("td", { text: l.type }), h("td", { class: "mono", text: shape(l.output_shape) }),
      h("td", { class: "n", text: int(l.params) }),
    ]))),
    h("tfoot", {}, h("tr", {}, [h("td", { colspan: 3, text: `${layers.length} layers` }), h("td", { class: "n", text: int(total) })])),
  ]));
}

// The last value of each per-layer statistic: {layer: number} or {layer: [per epoch]}.
function lastByLayer(stats) {
  return Object.entries(stats || {}).map(([layer, v]) => [layer, Array.isArray(v) ? v.at(-1) : v])
    .filter(([, v]) => isNum(v));
}

// health: a trial's report (finished) or {} ; epochHealth: the latest epoch's live health.
export function healthPanel(width, health, epochHealth) {
  const parts = [];
  const scalars = HEALTH_METRICS.filter((k) => isNum(health?.[k]))
    .map((k) => ({ label: k.replace(/_/g, " "), value: health[k], cls: k === "overall_health" ? "b-main" : "" }));
  if (!scalars.length && isNum(epochHealth?.neuron_utilization)) {
    scalars.push({ label: "neuron utilization", value: epochHealth.neuron_utilization });
  }
  if (scalars.length) parts.push(h("h4", { text: "scores (0–1, higher is healthier)" }), barChart(width, scalars, { max: 1 }));
  if (isNum(health?.generalization_gap)) parts.push(h("p", { class: "note", text: `generalization gap (train − val accuracy): ${num(health.generalization_gap, 3)}` }));
  const perLayer = health?.per_layer || {};
  const dead = lastByLayer(perLayer.dead_fraction || epochHealth?.dead_fraction);
  if (dead.length) {
    parts.push(h("h4", { text: "dead neurons per layer (fraction)" }),
      barChart(width, dead.map(([l, v]) => ({ label: l, value: v, cls: "b-bad" })), { max: 1 }));
  }
  const grads = lastByLayer(perLayer.gradient_norms || epochHealth?.gradient_norm);
  if (grads.length) {
    parts.push(h("h4", { text: "gradient norm per layer (last epoch)" }),
      barChart(width, grads.map(([l, v]) => ({ label: l, value: v }))));
  }
  return parts.length ? h("div", {}, parts) : h("p", { class: "note", text: "no health recorded yet" });
}

// Per-epoch curves: [{epoch, accuracy, val_accuracy, loss, val_loss}]
export function epochSeries(history, metric) {
  const points = (key) => history.map((r, i) => ({ x: r.epoch ?? i + 1, y: r[key], title: `epoch ${r.epoch ?? i + 1}: ${key} ${num(r[key])}` }))
    .filter((p) => isNum(p.y));
  return [
    { label: metric, cls: "s-train", points: points(metric), line: true },
    { label: `val_${metric}`, cls: "s-val", points: points(`val_${metric}`), line: true },
  ];
}

// Trials as history points plus the running best (a step line), in trial order.
export function historySeries(rows, direction) {
  const done = [...rows].sort((a, b) => a.number - b.number);
  const points = [], bestLine = [];
  let best = null;
  for (const row of done) {
    const v = firstValue(row);
    if (v === null) continue;
    points.push({ x: row.number, y: v, trial: row.number, cls: `st-${row.state}`, title: `trial ${row.number} (${row.state}): ${num(v)} (click to select)` });
    if (row.state === "complete" && (best === null || (direction === "minimize" ? v < best : v > best))) best = v;
    if (best !== null) bestLine.push({ x: row.number, y: best, title: `best after trial ${row.number}: ${num(best)}` });
  }
  return [
    { label: "trial value", cls: "s-value", points },
    { label: "running best", cls: "s-best", points: bestLine, line: true, step: true, dots: false },
  ];
}
