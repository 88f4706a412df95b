// Small DOM and formatting helpers shared by the views (no framework: a few functions).

// h("tr", {class: "x", dataset: {trial: 3}, onclick}, [children]) -> Element
export function h(tag, attrs = {}, children = []) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of [].concat(children)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(el, children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

export function isNum(v) {
  return typeof v === "number" && Number.isFinite(v);
}

export function num(v, digits = 4) {
  if (Array.isArray(v)) return v.map((x) => num(x, digits)).join(" / ");
  return isNum(v) ? v.toFixed(digits) : "–";
}

export function pct(v) {
  return isNum(v) ? `${(v * 100).toFixed(1)}%` : "–";
}

export function int(v) {
  return isNum(v) ? Math.round(v).toLocaleString("en-US") : "–";
}

export function duration(seconds) {
  if (!isNum(seconds)) return "–";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} m ${Math.round(seconds % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} m`;
}

// Keras' shapes: [null, 8, 8, 32] -> "(None, 8, 8, 32)"; nested lists for multi-output layers
export function shape(s) {
  if (!Array.isArray(s)) return s === null || s === undefined ? "–" : String(s);
  if (s.some(Array.isArray)) return s.map(shape).join(", ");
  return `(${s.map((d) => (d === null ? "None" : d)).join(", ")})`;
}

export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });
}

// The value that ranks a trial: its value, or the first objective's in pareto mode.
export function firstValue(row) {
  const v = Array.isArray(row?.value) ? row.value[0] : row?.value;
  return isNum(v) ? v : null;
}

export function badge(status, text = status, title = null) {
  return h("span", { class: `badge s-${status}`, text, title });
}

// A trial's state in words: a stopped trial says who stopped it (stop_reason user | server).
export function stateText(row) {
  if (row?.state !== "stopped") return row?.state ?? "–";
  return row.stop_reason === "server" ? "stopped: server went away" : "stopped by user";
}

export function stateBadge(row) {
  const title = row?.state === "stopped" ? "cut by a stop: not counted in the trials; a resume runs another in its place" : null;
  return badge(row?.state, stateText(row), title);
}

// Shown in place of a panel that cannot be filled (yet).
export function note(text) {
  return h("p", { class: "note", text });
}
