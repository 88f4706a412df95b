// The trials table: a column per hyperparameter and per health metric (a "Columns" chooser
// picks the visible ones, kept in localStorage), sorting by any column, filters by state and
// by value range, and restrictions published by other views (trial_filter.js).
// Fast for hundreds of trials: the body is one innerHTML per render and the table has one
// listener per event type on its root (delegation), none per row.

import { duration, firstValue, int, isNum, num, stateText } from "./dom.js";
import { HEALTH_METRICS, where } from "./tables.js";
import { onTrialFilterChange, passesRestrictions, publishTrialFilter, trialRestrictions } from "./trial_filter.js";

const COLUMNS_STORE = "hpopt.trialColumns";
const STATES = ["running", "complete", "pruned", "no_learning", "failed", "stopped"];
export const CHANCE_NOTE = "At chance level: the model predicts no better than a guess. Its health score mostly "
  + "reflects well-behaved weights and gradients, not a useful model, so it means little here.";

const esc = (v) => String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function fmtParam(v) {
  if (v === undefined || v === null) return "–";
  return typeof v === "number" ? String(+v.toPrecision(4)) : String(v);
}

// Column: {key, label, group, get(row) -> sortable value, show(row) -> text, n: right-aligned}
function fixedColumns() {
  return [
    { key: "number", label: "#", group: "trial", get: (r) => r.number, n: true },
    { key: "state", label: "state", group: "trial", get: (r) => r.state },
    { key: "value", label: "value", group: "trial", get: firstValue, show: (r) => num(r.value), n: true },
    { key: "val_accuracy", label: "val acc", group: "trial", get: (r) => r.val_accuracy, show: (r) => num(r.val_accuracy), n: true },
    { key: "epochs", label: "epochs", group: "trial", get: (r) => r.epochs_run, n: true,
      show: (r) => (r.planned ? `${r.epochs_run}/${r.planned}` : int(r.epochs_run)) },
    { key: "duration", label: "duration", group: "trial", get: (r) => r.duration_s, show: (r) => duration(r.duration_s), n: true },
    { key: "where", label: "where", group: "trial", get: (r) => (r.execution ? where(r) : null), show: where },
  ];
}

function paramColumn(name) {
  return { key: `p:${name}`, label: name, group: "parameters", get: (r) => r.params?.[name], show: (r) => fmtParam(r.params?.[name]),
           n: true };
}

function healthColumn(name) {
  return { key: `h:${name}`, label: name === "overall_health" ? "health" : name.replace(/_/g, " "), group: "health",
           get: (r) => r.health?.[name], show: (r) => num(r.health?.[name], 3), n: true, health: true };
}

// Numbers before strings, each in order; missing values last whatever the direction.
function compare(a, b) {
  const missA = a === null || a === undefined || (typeof a === "number" && !Number.isFinite(a));
  const missB = b === null || b === undefined || (typeof b === "number" && !Number.isFinite(b));
  if (missA || missB) return missA && missB ? 0 : missA ? 1 : -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "number") return -1;
  if (typeof b === "number") return 1;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

function loadColumnChoice() {
  try { return JSON.parse(localStorage.getItem(COLUMNS_STORE) || "{}") || {}; } catch { return {}; }
}

export class TrialTable {
  // root: an empty element; prefix: unique id prefix; onSelect(number) when a row is chosen.
  constructor(root, { prefix, onSelect }) {
    this.root = root;
    this.prefix = prefix;
    this.onSelect = onSelect;
    this.sort = { key: "number", dir: "desc" };
    this.hiddenStates = new Set();
    this.choice = loadColumnChoice(); // column key -> visible (only what the user changed)
    this.rows = [];
    this.opts = {};
    this.drawn = { states: "", columns: "", body: "" };
    root.classList.add("trial-table");
    root.innerHTML = `
      <div class="table-tools">
        <fieldset class="state-filter"><legend>State</legend><span id="${prefix}-states"></span></fieldset>
        <fieldset class="value-filter"><legend>Value</legend>
          <label>min <input id="${prefix}-value-min" type="number" step="any" inputmode="decimal"></label>
          <label>max <input id="${prefix}-value-max" type="number" step="any" inputmode="decimal"></label>
        </fieldset>
        <details class="column-chooser"><summary>Columns</summary><div id="${prefix}-columns" class="column-list"></div></details>
        <span id="${prefix}-count" class="note" role="status"></span>
      </div>
      <div id="${prefix}-chips" class="chips filter-chips"></div>
      <div class="scroll table-scroll"><table class="trials" id="${prefix}-table"><thead></thead><tbody></tbody></table></div>
      <p id="${prefix}-chance-note" class="note" hidden><span aria-hidden="true">* </span>${esc(CHANCE_NOTE)}</p>`;
    root.addEventListener("click", (e) => this.onClick(e));
    root.addEventListener("keydown", (e) => {
      const row = e.target.closest?.("tbody tr[data-trial]");
      if (row && e.key === "Enter") { e.preventDefault(); this.onSelect(Number(row.dataset.trial)); }
    });
    root.addEventListener("change", (e) => this.onChange(e));
    root.addEventListener("input", (e) => { if (e.target.closest(".value-filter")) this.draw(); });
    this.unsubscribe = onTrialFilterChange(() => this.draw());
  }

  destroy() { this.unsubscribe(); }

  // rows: finished trials plus the running one; opts: {bestNumber, selected, atChance: Set}
  update(rows, opts = {}) {
    this.rows = rows;
    this.opts = opts;
    this.draw();
  }

  columns() {
    const params = [...new Set(this.rows.flatMap((r) => Object.keys(r.params || {})))].sort();
    const health = HEALTH_METRICS.filter((m) => this.rows.some((r) => isNum(r.health?.[m])));
    return [...fixedColumns(), ...params.map(paramColumn), ...health.map(healthColumn)];
  }

  visible(column) {
    if (column.key in this.choice) return this.choice[column.key];
    return column.group !== "health" || column.key === "h:overall_health";
  }

  onClick(e) {
    const sortButton = e.target.closest("button[data-sort]");
    if (sortButton) {
      const key = sortButton.dataset.sort;
      this.sort = { key, dir: this.sort.key === key && this.sort.dir === "asc" ? "desc" : "asc" };
      this.draw();
      return;
    }
    const clear = e.target.closest("button[data-clear-source]");
    if (clear) { publishTrialFilter(clear.dataset.clearSource, null); return; }
    const row = e.target.closest("tbody tr[data-trial]");
    if (row) this.onSelect(Number(row.dataset.trial));
  }

  onChange(e) {
    const input = e.target;
    if (input.dataset.state) {
      if (input.checked) this.hiddenStates.delete(input.dataset.state);
      else this.hiddenStates.add(input.dataset.state);
    } else if (input.dataset.column) {
      this.choice[input.dataset.column] = input.checked;
      try { localStorage.setItem(COLUMNS_STORE, JSON.stringify(this.choice)); } catch { /* private mode */ }
    } else {
      return;
    }
    this.draw();
  }

  bound(which) {
    const raw = this.root.querySelector(`#${this.prefix}-value-${which}`).value;
    return raw === "" || !Number.isFinite(Number(raw)) ? null : Number(raw);
  }

  filtered() {
    const lo = this.bound("min"), hi = this.bound("max");
    return this.rows.filter((r) => {
      if (this.hiddenStates.has(r.state)) return false;
      if (!passesRestrictions(r.number)) return false;
      if (lo === null && hi === null) return true;
      const v = firstValue(r);
      return v !== null && (lo === null || v >= lo) && (hi === null || v <= hi);
    });
  }

  draw() {
    const columns = this.columns();
    this.drawStates();
    this.drawColumnChooser(columns);
    this.drawChips();
    const shown = columns.filter((c) => this.visible(c));
    const sortColumn = columns.find((c) => c.key === this.sort.key) || columns[0];
    const sign = this.sort.dir === "asc" ? 1 : -1;
    const rows = this.filtered().sort((a, b) => {
      const va = sortColumn.get(a), vb = sortColumn.get(b);
      const missing = compare(va, vb);
      const either = va === null || va === undefined || vb === null || vb === undefined;
      return (either ? missing : sign * missing) || sign * (a.number - b.number);
    });
    this.drawHead(shown);
    this.drawBody(rows, shown);
    const count = this.root.querySelector(`#${this.prefix}-count`);
    const text = `${rows.length} of ${this.rows.length} trials shown`;
    if (count.textContent !== text) count.textContent = text;
  }

  drawStates() {
    const present = [...new Set([...STATES.filter((s) => this.rows.some((r) => r.state === s)),
      ...this.rows.map((r) => r.state)])];
    const key = present.join(",") + "|" + [...this.hiddenStates].join(",");
    if (key === this.drawn.states) return;
    this.drawn.states = key;
    this.root.querySelector(`#${this.prefix}-states`).innerHTML = present.map((s) => `<label class="check">
      <input type="checkbox" data-state="${esc(s)}" ${this.hiddenStates.has(s) ? "" : "checked"}> ${esc(s.replace(/_/g, " "))}</label>`).join("");
  }

  drawColumnChooser(columns) {
    const key = columns.map((c) => `${c.key}:${this.visible(c)}`).join(",");
    if (key === this.drawn.columns) return;
    this.drawn.columns = key;
    const groups = [...new Set(columns.map((c) => c.group))];
    this.root.querySelector(`#${this.prefix}-columns`).innerHTML = groups.map((g) => `<fieldset><legend>${esc(g)}</legend>${
      columns.filter((c) => c.group === g && c.key !== "number").map((c) => `<label class="check"><input type="checkbox"
        data-column="${esc(c.key)}" ${this.visible(c) ? "checked" : ""}> ${esc(c.label)}</label>`).join("")}</fieldset>`).join("");
  }

  drawChips() {
    const chips = trialRestrictions().map(([source, numbers]) => `<span class="chip filter-chip" data-source="${esc(source)}">
      filtered by ${esc(source)} (${numbers.size})
      <button type="button" class="ghost" data-clear-source="${esc(source)}" aria-label="clear the filter by ${esc(source)}">×</button></span>`);
    const box = this.root.querySelector(`#${this.prefix}-chips`);
    const html = chips.join("");
    if (box.innerHTML !== html) box.innerHTML = html;
  }

  drawHead(shown) {
    const ths = shown.map((c) => {
      const sorted = c.key === this.sort.key ? (this.sort.dir === "asc" ? "ascending" : "descending") : "none";
      const arrow = sorted === "ascending" ? " ▲" : sorted === "descending" ? " ▼" : "";
      return `<th${c.n ? ' class="n"' : ""} aria-sort="${sorted}" data-key="${esc(c.key)}"><button type="button" class="sort"
        data-sort="${esc(c.key)}" title="sort by ${esc(c.label)}">${esc(c.label)}${arrow}</button></th>`;
    }).join("");
    const head = this.root.querySelector("thead");
    const html = `<tr>${ths}</tr>`;
    if (head.dataset.html !== html) { head.innerHTML = html; head.dataset.html = html; }
  }

  drawBody(rows, shown) {
    const { bestNumber, selected, atChance = new Set() } = this.opts;
    let chance = false;
    const html = rows.map((r) => {
      const low = atChance.has(r.number);
      chance ||= low;
      const classes = [r.number === bestNumber ? "best" : "", r.number === selected ? "selected" : "", low ? "at-chance" : ""]
        .filter(Boolean).join(" ");
      const cells = shown.map((c) => {
        let text = esc(c.show ? c.show(r) : c.get(r) ?? "–");
        if (c.key === "number") {
          text = r.number === bestNumber ? `${r.number} <span class="star" aria-label="best">★</span>` : text;
          if (r.warm_start) text += ' <span class="badge b-baseline" title="the warm-start baseline: a known-good architecture the search starts from">baseline</span>';
        } else if (c.key === "state") {
          text = `<span class="badge s-${esc(r.state)}">${esc(stateText(r).replace(/_/g, " "))}</span>`;
        } else if (c.health && low) {
          text += `<span class="chance-mark" title="${esc(CHANCE_NOTE)}">*</span>`;
        }
        return `<td${c.n ? ' class="n"' : ""}>${text}</td>`;
      }).join("");
      return `<tr${classes ? ` class="${classes}"` : ""} data-trial="${r.number}" data-state="${esc(r.state)}" tabindex="0"${
        r.number === selected ? ' aria-current="true"' : ""}>${cells}</tr>`;
    }).join("");
    this.root.querySelector(`#${this.prefix}-chance-note`).hidden = !chance;
    if (html === this.drawn.body) return;
    this.drawn.body = html;
    const body = this.root.querySelector("tbody");
    const focused = document.activeElement?.closest?.("tbody tr[data-trial]");
    const refocus = focused && body.contains(focused) ? focused.dataset.trial : null;
    body.innerHTML = html || `<tr class="empty"><td colspan="${shown.length}" class="note">no trial matches the filters</td></tr>`;
    if (refocus !== null) body.querySelector(`tr[data-trial="${refocus}"]`)?.focus();
  }
}
