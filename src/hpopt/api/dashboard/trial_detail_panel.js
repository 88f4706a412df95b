// One trial in detail, for the trial chosen in the table: its parameters, and (in Analyze,
// where no other card shows them) its learning curves, health and layers. The running trial
// shows what it has so far; finished ones come from GET /jobs/{id}/trials/{n} (cached by JobLive).

import { lineChart, mount } from "./charts.js";
import { badge, duration, h, int, note, num, replace } from "./dom.js";
import { archTable, epochSeries, healthPanel } from "./tables.js";
import { CHANCE_NOTE } from "./trial_table.js";

function fmt(v) {
  if (v === undefined || v === null) return "–";
  return typeof v === "number" ? String(+v.toPrecision(6)) : String(v);
}

export function paramsTable(params, id) {
  const names = Object.keys(params || {}).sort();
  if (!names.length) return note("no hyperparameters recorded");
  return h("table", { class: "params", id }, [
    h("thead", {}, h("tr", {}, [h("th", { scope: "col", text: "hyperparameter" }), h("th", { scope: "col", text: "value" })])),
    h("tbody", {}, names.map((name) => h("tr", { dataset: { param: name } }, [
      h("th", { scope: "row", text: name }), h("td", { class: "mono", text: fmt(params[name]) })]))),
  ]);
}

export class TrialDetail {
  // full: curves, health and layers too (Analyze); otherwise parameters and layers (Watch).
  constructor(root, { prefix, full }) {
    this.root = root;
    this.prefix = prefix;
    this.full = full;
    this.drawn = null;
    this.loading = new Set();
  }

  // marks: {atChance: Set, baseline: number|null}
  show(live, number, marks = {}) {
    if (number === null || number === undefined) {
      if (this.drawn !== "none") { this.drawn = "none"; replace(this.root, note("click a trial in the table to see it in full")); }
      return;
    }
    const running = live.current?.number === number;
    const detail = running ? null : live.details.get(number);
    const row = running ? { number, state: "running", params: live.current.params } : detail?.trial || live.trials.get(number);
    if (!running && !detail) this.fetch(live, number);
    const epochs = running ? live.current.epochs.length : (detail ? "d" : "-");
    const key = `${number}:${running}:${epochs}:${marks.atChance?.has(number)}:${marks.baseline}`;
    if (key === this.drawn || !row) return;
    this.drawn = key;
    this.draw(live, row, running ? { trial: { ...row, history: live.current.epochs }, architecture: live.current.architecture } : detail, marks);
  }

  fetch(live, number) {
    if (this.loading.has(number)) return;
    this.loading.add(number);
    live.detail(number).then(() => live.changed("detail"))
      .catch((error) => replace(this.root, note(`trial ${number}: ${error.message}`)))
      .finally(() => this.loading.delete(number));
  }

  draw(live, row, detail, marks) {
    const p = this.prefix;
    const lowNote = marks.atChance?.has(row.number) ? h("p", { class: "note chance-note", text: `* ${CHANCE_NOTE}` }) : null;
    const head = h("p", { class: "detail-head" }, [
      h("strong", { text: `trial ${row.number} ` }), badge(row.state),
      row.number === marks.baseline || row.warm_start ? h("span", { class: "badge b-baseline", text: "baseline" }) : null,
      ` value ${num(row.value)} · val acc ${num(row.val_accuracy)} · ${int(row.epochs_run ?? detail?.trial?.history?.length)} epochs`,
      row.duration_s ? ` · ${duration(row.duration_s)}` : "",
    ]);
    const layers = detail ? archTable(detail.architecture) || note("no layers recorded") : note("loading…");
    if (!this.full) {
      replace(this.root, [head, lowNote, h("div", { class: "detail-grid" }, [
        h("div", {}, [h("h4", { text: "hyperparameters" }), paramsTable(row.params, `${p}-params`)]),
        h("div", {}, [h("h4", { text: "layers" }), layers])])]);
      return;
    }
    const history = detail?.trial?.history || [];
    replace(this.root, [head, lowNote, h("div", { class: "detail-grid" }, [
      h("div", {}, [h("h4", { text: "hyperparameters" }), paramsTable(row.params, `${p}-params`)]),
      h("div", {}, [h("h4", { text: "learning curves" }), h("div", { id: `${p}-accuracy`, class: "chart-box" }),
        h("div", { id: `${p}-loss`, class: "chart-box" })]),
      h("div", {}, [h("h4", { text: "health" }), h("div", { id: `${p}-health` })]),
      h("div", {}, [h("h4", { text: "layers" }), layers]),
    ])]);
    for (const metric of ["accuracy", "loss"]) {
      const series = epochSeries(history, metric);
      const summary = `${metric} per epoch of trial ${row.number}: ${history.length} epochs, last val_${metric} ${num(history.at(-1)?.[`val_${metric}`])}`;
      mount(this.root.querySelector(`#${p}-${metric}`), (w) => {
        const svg = lineChart(w, 180, series, { xLabel: "epoch", yLabel: metric, xInteger: true, empty: detail ? "no epochs recorded" : "loading…" });
        svg.setAttribute("aria-label", summary);
        return svg;
      });
    }
    const health = detail?.trial?.health || row.health || {};
    mount(this.root.querySelector(`#${p}-health`), (w) => healthPanel(Math.min(w, 520), health, history.at(-1)?.health));
  }
}
