// The run summary card, once a job has ended: best value, val and test accuracy, the best
// hyperparameters, the warm-start baseline, counts by state, wall time, the report and the
// ZIP. From GET /jobs/{id}/run-summary (summary.json); kept on live.runSummary so the
// trials table can mark the baseline and the trials at chance level too.

import { api, fetchBlob, fileUrl } from "./api.js";
import { $, duration, h, note, num, pct, replace } from "./dom.js";
import { paramsTable } from "./trial_detail_panel.js";
import { CHANCE_NOTE } from "./trial_table.js";

let fetchedKey = null;
let reportUrl = null;

export function resetRunSummary() {
  fetchedKey = null;
  if (reportUrl) URL.revokeObjectURL(reportUrl);
  reportUrl = null;
}

// The card's element, right under the job header (so both tabs show it).
function card() {
  let el = $("#run-summary");
  if (!el) {
    el = h("section", { id: "run-summary", class: "card", "aria-labelledby": "run-summary-title", hidden: true });
    $("#job-header").after(el);
  }
  return el;
}

export function renderRunSummary(live) {
  const el = card();
  if (!live.terminal) { el.hidden = true; live.runSummary = null; return; }
  const key = `${live.jobId}:${live.job.status}:${live.job.attempts}:${live.trials.size}`;
  if (key === fetchedKey) return;
  fetchedKey = key;
  if (reportUrl) { URL.revokeObjectURL(reportUrl); reportUrl = null; } // a resumed run rewrites report.md
  api(`/jobs/${live.jobId}/run-summary`).then((answer) => {
    if (fetchedKey !== key) return;
    live.runSummary = answer;
    draw(el, live, answer);
    live.changed("summary");
  }).catch((error) => {
    if (error.status === 404) { el.hidden = true; fetchedKey = null; return; } // summary.json not written yet
    el.hidden = false;
    replace(el, note(`run summary: ${error.message}`));
  });
}

function stat(label, value, id, cls = "stat") {
  return h("div", { class: cls }, [h("dt", { text: label }), h("dd", { id: id || null, text: value })]);
}

function countsText(c) {
  const parts = [`${c.complete} complete`, `${c.pruned} pruned`, `${c.no_learning} no learning`, `${c.failed} failed`];
  if (c.stopped) parts.push(`${c.stopped} stopped by user`);
  return `${c.trials} trials: ${parts.join(", ")}`;
}

// The best model's per-class test results, worst F1 first (from the API, already sorted).
const PER_CLASS_ROWS = 10;
function perClassTable(s) {
  const rows = s.per_class || [];
  if (!rows.length) return null;
  const cell = (v) => h("td", { class: "mono", text: num(v, 3) });
  const shown = rows.slice(0, PER_CLASS_ROWS);
  return h("div", { id: "run-per-class" }, [
    h("h4", { text: `per-class results (test split)${rows.length > shown.length ? `: the ${shown.length} worst of ${rows.length}` : ""}` }),
    h("p", { class: "note", text: `macro-F1 ${num(s.macro_f1)}, balanced accuracy ${pct(s.balanced_accuracy)}; worst F1 first (report.md lists every class)` }),
    h("table", { class: "params", id: "run-per-class-table" }, [
      h("thead", {}, h("tr", {}, ["class", "precision", "recall", "F1", "support"].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, shown.map((r) => h("tr", { dataset: { class: r.class } }, [
        h("th", { scope: "row", text: r.class }), cell(r.precision), cell(r.recall), cell(r.f1),
        h("td", { class: "mono", text: String(r.support) })]))),
    ]),
  ]);
}

function draw(el, live, s) {
  const best = s.best_trial;
  const baseline = s.baseline_trial;
  const baselineRow = baseline === null ? null : live.trials.get(baseline);
  const links = [h("button", { type: "button", id: "run-summary-zip", onclick: () => $("#download-zip")?.click() }, "Download ZIP")];
  if (s.report) links.unshift(h("a", { id: "run-summary-report", class: "button-link", target: "_blank", rel: "noopener", href: "#",
                                       "aria-disabled": "true", text: "Report (report.md)",
                                       onclick: (e) => { if (e.currentTarget.getAttribute("aria-disabled")) e.preventDefault(); } }));
  const facts = h("div", {}, [
    h("dl", { class: "stats" }, [
      stat("best value", best ? `${num(best.value)} (trial ${best.number})` : "no complete trial", "run-best-value"),
      stat("val accuracy", pct(best?.val_accuracy), "run-val-accuracy"),
      stat("test accuracy", pct(s.test_accuracy), "run-test-accuracy"),
      stat("wall time", duration(s.wall_s), "run-wall-time"),
      stat("trials", countsText(s.counts), "run-counts", "stat wide"),
    ]),
    baseline === null ? null : h("p", { id: "run-baseline" }, [h("span", { class: "badge b-baseline", text: "baseline" }),
      ` Trial ${baseline} is the warm-start baseline, a known-good architecture the search starts from`,
      baselineRow ? `: value ${num(baselineRow.value)}${best?.number === baseline ? " — no searched trial beat it." : "."}` : "."]),
    s.at_chance.length ? h("p", { id: "run-chance", class: "note" }, [
      `* Trial${s.at_chance.length > 1 ? "s" : ""} ${s.at_chance.join(", ")} stayed at chance level`,
      s.chance_accuracy ? ` (val accuracy at most ${pct(s.chance_ceiling)}; a guess scores ${pct(s.chance_accuracy)}). ` : ". ",
      CHANCE_NOTE]) : null,
    s.stopped_reason ? h("p", { id: "run-stopped-reason", text: `Stopped early: ${s.stopped_reason}.` }) : null,
    perClassTable(s),
    h("div", { class: "actions" }, links),
  ]);
  replace(el, [
    h("h3", { id: "run-summary-title" }, ["Run summary ", h("small", { text: `${live.job.status} · from summary.json` })]),
    h("div", { class: "detail-grid" }, [facts, best
      ? h("div", {}, [h("h4", { text: `best hyperparameters (trial ${best.number})` }), paramsTable(best.params, "run-summary-params")])
      : note("No trial completed: there are no best hyperparameters.")]),
  ]);
  el.hidden = false;
  if (s.report) linkReport(live);
}

// The report needs the API key: fetched once, then the link opens its blob: URL.
function linkReport(live) {
  const link = $("#run-summary-report");
  const ready = (url) => { link.href = url; link.removeAttribute("aria-disabled"); };
  if (reportUrl) { ready(reportUrl); return; }
  fetchBlob(fileUrl(live.jobId, "report.md")).then(async (blob) => {
    reportUrl = URL.createObjectURL(new Blob([await blob.text()], { type: "text/plain;charset=utf-8" }));
    if (document.contains(link)) ready(reportUrl);
  }).catch(() => { link.replaceWith(note("report.md: not available")); });
}
