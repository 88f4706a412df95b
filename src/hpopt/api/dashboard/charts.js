// SVG charts drawn by hand: line/point charts, a scatter plot and horizontal bars.
// Colours come from CSS classes (style.css), so the page needs no inline styles.
// Each chart is role="img" with an aria-label that says in words what it shows (the
// caller's opts.label, else a summary of its series), for screen readers and axe.
// Charts are drawn at their container's pixel width, and redrawn when it changes,
// so text stays readable on a phone instead of being scaled down with the picture.

const NS = "http://www.w3.org/2000/svg";
const PAD = { top: 34, right: 14, bottom: 36, left: 52 };

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function title(el, text) {
  if (text) el.append(s("title", {}, text));
  return el;
}

// "Nice" ticks: steps of 1, 2 or 5 times a power of ten.
export function ticks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((st) => st >= raw) || raw;
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(+t.toFixed(12));
  return out;
}

function extent(values, pad = 0.05) {
  const finite = values.filter(Number.isFinite);
  if (!finite.length) return [0, 1];
  let lo = Math.min(...finite), hi = Math.max(...finite);
  if (lo === hi) { const d = Math.abs(lo) * 0.1 || 0.5; lo -= d; hi += d; }
  const margin = (hi - lo) * pad;
  return [lo - margin, hi + margin];
}

function label(v) {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e4 || a < 1e-3)) return v.toExponential(0);
  return String(+v.toPrecision(4));
}

const short = (v) => (Number.isFinite(v) ? String(+v.toPrecision(3)) : "–");

// "val_accuracy by epoch. accuracy: 3 points, from 0.52 to 0.81 (last 0.81 at 3)..."
export function describeSeries(series, opts = {}) {
  const what = `${opts.yLabel || "value"} by ${opts.xLabel || "x"}`;
  const parts = series.filter((se) => se.points.some((p) => Number.isFinite(p.y))).map((se) => {
    const pts = se.points.filter((p) => Number.isFinite(p.y));
    const ys = pts.map((p) => p.y);
    const last = pts.at(-1);
    return `${se.label || "points"}: ${pts.length} point${pts.length === 1 ? "" : "s"}, from ${short(Math.min(...ys))} to ${short(Math.max(...ys))}`
      + ` (last ${short(last.y)} at ${opts.xLabel || "x"} ${short(last.x)})`;
  });
  return `${what}. ${parts.length ? parts.join("; ") : opts.empty || "no data yet"}`;
}

// Axes, grid and scales for a plot area; returns {svg, x(), y()}.
function frame(width, height, xDomain, yDomain, opts) {
  const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": opts.ariaLabel });
  const iw = width - PAD.left - PAD.right, ih = height - PAD.top - PAD.bottom;
  const x = (v) => PAD.left + ((v - xDomain[0]) / (xDomain[1] - xDomain[0])) * iw;
  const y = (v) => PAD.top + ih - ((v - yDomain[0]) / (yDomain[1] - yDomain[0])) * ih;
  const grid = s("g", { class: "grid" });
  for (const t of ticks(yDomain[0], yDomain[1], Math.max(2, Math.round(ih / 45)))) {
    grid.append(s("line", { x1: PAD.left, x2: PAD.left + iw, y1: y(t), y2: y(t) }));
    grid.append(s("text", { x: PAD.left - 6, y: y(t) + 4, "text-anchor": "end" }, label(t)));
  }
  let xt = ticks(xDomain[0], xDomain[1], Math.max(2, Math.round(iw / 70)));
  if (opts.xInteger) xt = xt.filter(Number.isInteger);
  for (const t of xt) grid.append(s("text", { x: x(t), y: PAD.top + ih + 16, "text-anchor": "middle" }, label(t)));
  grid.append(s("line", { class: "axis", x1: PAD.left, x2: PAD.left + iw, y1: PAD.top + ih, y2: PAD.top + ih }));
  svg.append(grid);
  if (opts.xLabel) svg.append(s("text", { class: "axis-label", x: PAD.left + iw / 2, y: height - 4, "text-anchor": "middle" }, opts.xLabel));
  if (opts.yLabel) svg.append(s("text", { class: "axis-label", x: 4, y: 14 }, opts.yLabel));
  return { svg, x, y };
}

function legend(svg, series, width, yLabel) {
  const widths = series.filter((i) => i.label).map((i) => i.label.length * 6.4 + 30);
  const room = width - PAD.right - (yLabel ? yLabel.length * 6.4 + 16 : 0);
  const y = widths.reduce((a, b) => a + b, 0) > room ? 24 : 10; // a second line on narrow charts
  let cx = width - PAD.right;
  for (const item of [...series].reverse()) {
    if (!item.label) continue;
    const text = s("text", { class: "legend", x: cx, y: y + 4, "text-anchor": "end" }, item.label);
    const w = item.label.length * 6.4 + 22;
    svg.append(s("rect", { class: `key ${item.cls}`, x: cx - w + 4, y: y - 5, width: 10, height: 10, rx: 2 }), text);
    cx -= w + 8;
  }
}

// series: [{label, cls, points: [{x, y, title, cls}], line: bool, step: bool, dots: bool}]
export function lineChart(width, height, series, opts = {}) {
  const all = series.flatMap((se) => se.points);
  const xs = all.map((p) => p.x), ys = all.map((p) => p.y);
  const xDomain = opts.xDomain || extent(xs, 0.03);
  const yDomain = opts.yDomain || extent(ys, 0.08);
  const { svg, x, y } = frame(width, height, xDomain, yDomain, { ...opts, ariaLabel: opts.label || describeSeries(series, opts) });
  for (const se of series) {
    const pts = se.points.filter((p) => Number.isFinite(p.y));
    const g = s("g", { class: `series ${se.cls || ""}` });
    if (se.line && pts.length > 1) {
      let d = "";
      pts.forEach((p, i) => {
        if (i === 0) d += `M${x(p.x)},${y(p.y)}`;
        else d += se.step ? `H${x(p.x)}V${y(p.y)}` : `L${x(p.x)},${y(p.y)}`;
      });
      g.append(s("path", { d, class: "line" }));
    }
    if (se.dots !== false) {
      for (const p of pts) g.append(title(s("circle", { cx: x(p.x), cy: y(p.y), r: se.r || 4, class: `point ${p.cls || ""}`, "data-trial": p.trial }), p.title));
    }
    svg.append(g);
  }
  legend(svg, series, width, opts.yLabel);
  if (!all.length) svg.append(s("text", { class: "empty", x: width / 2, y: height / 2, "text-anchor": "middle" }, opts.empty || "no data yet"));
  return svg;
}

// Horizontal bars, values in [0, max]: [{label, value, title, cls}]
export function barChart(width, items, opts = {}) {
  const rowH = 22, labelW = Math.min(170, Math.max(70, width * 0.38));
  const height = Math.max(40, items.length * rowH + 10);
  const summary = items.length ? items.slice(0, 12).map((i) => `${i.label} ${i.text ?? short(i.value)}`).join("; ") : opts.empty || "no data";
  const svg = s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "chart bars", role: "img",
                         "aria-label": opts.label || `bars: ${summary}${items.length > 12 ? `; and ${items.length - 12} more` : ""}` });
  const max = opts.max || Math.max(1e-12, ...items.map((i) => i.value || 0));
  const bw = width - labelW - 64;
  items.forEach((item, i) => {
    const top = 5 + i * rowH, v = Number.isFinite(item.value) ? item.value : 0;
    svg.append(s("text", { class: "bar-label", x: labelW - 6, y: top + 14, "text-anchor": "end" }, item.label));
    svg.append(s("rect", { class: "bar-track", x: labelW, y: top + 3, width: bw, height: 14, rx: 3 }));
    svg.append(title(s("rect", { class: `bar ${item.cls || ""}`, x: labelW, y: top + 3, width: Math.max(1, (v / max) * bw), height: 14, rx: 3 }), item.title));
    svg.append(s("text", { class: "bar-value", x: labelW + bw + 6, y: top + 14 }, item.text ?? (Number.isFinite(item.value) ? label(item.value) : "–")));
  });
  if (!items.length) svg.append(s("text", { class: "empty", x: width / 2, y: 24, "text-anchor": "middle" }, opts.empty || "no data"));
  return svg;
}

// Points [{x, y, title, cls}] plus an optional front (a line through its points, sorted by x).
export function scatterChart(width, height, points, opts = {}) {
  const series = [{ label: opts.pointsLabel || "trials", cls: "s-trials", points, dots: true }];
  if (opts.front?.length) {
    series.push({ label: "Pareto front", cls: "s-front", points: [...opts.front].sort((a, b) => a.x - b.x), line: true, step: false, r: 6 });
  }
  return lineChart(width, height, series, opts);
}

// Draw into a container now and again whenever its width changes.
const observed = new WeakMap();
const resizer = typeof ResizeObserver === "function" ? new ResizeObserver((entries) => {
  for (const entry of entries) {
    const state = observed.get(entry.target);
    const w = Math.floor(entry.contentRect.width);
    if (state && w > 0 && Math.abs(w - state.width) > 8) { state.width = w; state.draw(); }
  }
}) : null;

export function mount(container, drawFn) {
  const state = { width: container.clientWidth, draw: () => container.replaceChildren(drawFn(Math.max(260, container.clientWidth))) };
  observed.set(container, state);
  resizer?.observe(container);
  state.draw();
}
