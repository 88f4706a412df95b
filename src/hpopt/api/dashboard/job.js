// One open job: its header (status, progress, stop / resume / download) and the Watch
// and Analyze tabs, both fed by a single JobLive (one WebSocket per open job).

import { ApiError, api, fetchBlob, saveBlob } from "./api.js";
import { analyzeSkeleton, onCompareChange, onPlotChange, renderAnalyze, resetAnalyze } from "./analyze.js";
import { $, badge, h, num, replace } from "./dom.js";
import { analyzeTrialCards, renderAnalyzeTrials, resetTrialViews } from "./job_trials.js";
import { JobLive, TERMINAL } from "./live.js";
import { renderRunSummary, resetRunSummary } from "./run_summary.js";
import { renderWatch, resetWatch, watchSkeleton } from "./watch.js";

let live = null;
let tab = "watch";

export function openJob(jobId, which) {
  tab = which;
  if (!live || live.jobId !== jobId) {
    live?.stop();
    resetWatch();
    resetAnalyze();
    resetTrialViews();
    resetRunSummary();
    replace($("#watch"), watchSkeleton());
    replace($("#analyze"), [...analyzeSkeleton(), ...analyzeTrialCards()]);
    $("#compare-a").addEventListener("change", () => onCompareChange(live));
    $("#compare-b").addEventListener("change", () => onCompareChange(live));
    $("#plot-choice").addEventListener("change", () => onPlotChange(live));
    replace($("#job-header"), h("p", { class: "note", text: "loading…" }));
    live = new JobLive(jobId, render);
    live.start().catch((error) => replace($("#job-header"), h("p", { class: "error", text: `job ${jobId}: ${error.message}` })));
  }
  $("#watch").hidden = tab !== "watch";
  $("#analyze").hidden = tab !== "analyze";
  $("#tab-watch").setAttribute("aria-current", tab === "watch" ? "page" : "false");
  $("#tab-analyze").setAttribute("aria-current", tab === "analyze" ? "page" : "false");
  $("#tab-watch").href = `#/job/${jobId}`;
  $("#tab-analyze").href = `#/job/${jobId}/analyze`;
  if (live.job) render(new Set(["tab"]));
}

export function closeJob() {
  live?.stop();
  live = null;
}

function render() {
  if (!live?.job) return;
  renderHeader();
  renderRunSummary(live);
  if (tab === "watch") renderWatch(live);
  else { renderAnalyze(live); renderAnalyzeTrials(live); }
}

function progressText(job) {
  const p = job.progress || {};
  const parts = [`${live.finishedCount()}/${job.trials} trials`];
  const stopped = live.rows().filter((row) => row.state === "stopped").length;
  if (stopped) parts.push(`${stopped} stopped (not counted)`);
  if (live.current) parts.push(`trial ${live.current.number}, epoch ${live.current.epochs.length}`);
  const cost = gpuCost(live.rows());
  if (cost !== null) parts.push(`GPU cost $${cost.toFixed(4)}`);
  const best = live.best?.value ?? p.best_value;
  if (best !== null && best !== undefined) parts.push(`best ${num(best)}`);
  const epochBest = live.bestSoFar ?? p.best_so_far;
  if (job.status === "running" && epochBest && epochBest.value !== best) {
    parts.push(`best epoch so far ${num(epochBest.value)} (trial ${epochBest.trial}, epoch ${epochBest.epoch})`);
  }
  if (job.status === "pending" && job.queue_position) parts.push(`queue position ${job.queue_position}`);
  return parts.join(" · ");
}

// The GPU proxy spend so far: the finished trials' cost_usd, as summary.json's cost_usd_total sums them.
function gpuCost(rows) {
  const costs = rows.map((row) => row.cost_usd).filter((c) => typeof c === "number");
  return costs.length ? costs.reduce((a, b) => a + b, 0) : null;
}

let headerKey = "";

function renderHeader() {
  const job = live.job;
  const terminal = TERMINAL.has(job.status);
  const finished = live.finishedCount();
  // redraw only when something shown changed: a button replaced under the pointer loses its click
  const key = JSON.stringify([live.jobId, job.status, job.stop_requested, job.error, job.trials, live.connected,
                              live.actionMessage, finished === 0, live.warnings.length, live.warningsDropped]);
  if (key === headerKey && $("#job-status")) {
    $("#job-progress").textContent = progressText(job); // progress changes with every epoch: update in place
    $("#job-header progress").value = Math.min(finished, job.trials || 1);
    return;
  }
  headerKey = key;
  // a completed job only resumes with more trials: offer 5 more
  const resumeTrials = h("input", { id: "resume-trials", type: "number", min: 1,
                                    value: live.resumeTrials ?? (job.status === "completed" ? job.trials + 5 : job.trials),
                                    oninput: (e) => { live.resumeTrials = e.target.value; },
                                    "aria-label": "total trials after resuming", title: "total trials after resuming (finished ones count)" });
  const status = h("p", { id: "job-message", class: "error", role: "status" }, live.actionMessage || job.error || "");
  const buttons = h("div", { class: "actions" }, [
    h("button", { id: "stop-job", type: "button", disabled: !(job.status === "running" || job.status === "pending") || job.stop_requested || null,
                  onclick: () => act(() => api(`/jobs/${live.jobId}/stop`, { method: "POST" })) }, job.stop_requested && !terminal ? "Stopping…" : "Stop"),
    h("span", { class: "resume" }, [
      h("button", { id: "resume-job", type: "button", disabled: !terminal || null,
                    onclick: () => act(() => api(`/jobs/${live.jobId}/resume`, { method: "POST", body: { trials: Number(resumeTrials.value) } }), true) }, "Resume"),
      resumeTrials]),
    h("button", { id: "download-zip", type: "button", disabled: job.status === "pending" && !finished || null, onclick: download }, "Download ZIP"),
  ]);
  replace($("#job-header"), [
    h("div", { class: "job-title" }, [
      h("h2", { text: job.run_name }), h("span", { id: "job-status" }, badge(job.status)),
      h("span", { class: `live-dot ${live.connected ? "on" : ""}`, title: live.connected ? "live: connected to the job's stream" : "not connected",
                  text: live.connected ? "live" : terminal ? "ended" : "reconnecting…" }),
    ]),
    h("p", { class: "meta" }, [`${job.dataset} · ${job.mode} · ${job.optimize_for} · `, h("span", { id: "job-progress", text: progressText(job) })]),
    h("progress", { max: job.trials || 1, value: Math.min(finished, job.trials || 1), "aria-label": "trials finished" }),
    buttons, status, warningList(),
  ]);
}

// The run's warnings (GPU proxy fallback, skipped plots, a missed deadline): the latest
// few in view, all of them in summary.json once the run ends.
function warningList() {
  const all = live.warnings;
  const more = live.warningsDropped;
  if (!all.length) return h("div", { id: "job-warnings", hidden: true });
  const shown = all.slice(-5);
  const hiddenCount = all.length - shown.length + more;
  const items = shown.map((w) => h("li", { title: `${w.time || ""} ${w.logger || ""}` }, w.message || ""));
  if (hiddenCount > 0) items.unshift(h("li", { class: "note" }, `${hiddenCount} earlier warning${hiddenCount > 1 ? "s" : ""} (all in summary.json)`));
  return h("div", { id: "job-warnings", class: "warnings", role: "status" }, [
    h("strong", { text: `${all.length + more} warning${all.length + more > 1 ? "s" : ""}` }), h("ul", {}, items)]);
}

// Stop / resume: the answer is the job; a refusal (409) is shown under the buttons.
async function act(call, restart = false) {
  live.actionMessage = "";
  try {
    live.job = await call();
    if (restart) { live.resumeTrials = undefined; await live.restart(); }
    live.changed("action");
  } catch (error) {
    live.actionMessage = error instanceof ApiError ? String(error.detail) : error.message;
    $("#job-message").textContent = live.actionMessage;
  }
}

async function download() {
  const button = $("#download-zip");
  button.disabled = true;
  button.textContent = "Preparing ZIP…";
  try {
    saveBlob(await fetchBlob(`/jobs/${live.jobId}/download`), `${live.job.run_name}.zip`);
  } catch (error) {
    $("#job-message").textContent = `download: ${error.message}`;
  } finally {
    button.disabled = false;
    button.textContent = "Download ZIP";
  }
}
