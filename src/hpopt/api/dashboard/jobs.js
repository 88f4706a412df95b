// Jobs: every job, newest first, filtered by status; refreshed while the list is shown.

import { api, auth } from "./api.js";
import { $, badge, h, note, num, replace, when } from "./dom.js";

const STATUSES = ["all", "running", "pending", "completed", "failed", "cancelled", "interrupted"];
const REFRESH_MS = 3000;
let filter = "all";
let timer = null;

export function showJobs() {
  renderFilters();
  refresh();
  clearInterval(timer);
  timer = setInterval(() => { if (!document.hidden && !auth.blocked) refresh(); }, REFRESH_MS); // no key: no polling
}

export function hideJobs() {
  clearInterval(timer);
  timer = null;
}

function renderFilters() {
  replace($("#job-filters"), STATUSES.map((status) => h("button", {
    type: "button", class: "chip", "aria-pressed": String(status === filter), dataset: { status },
    onclick: () => { filter = status; renderFilters(); refresh(); },
  }, status)));
}

async function refresh() {
  const query = filter === "all" ? "" : `&status=${filter}`;
  let answer;
  try {
    answer = await api(`/jobs?limit=200${query}`);
  } catch (error) {
    replace($("#job-list"), h("p", { class: "error", text: `jobs: ${error.message}` }));
    return;
  }
  if (!answer.jobs.length) {
    replace($("#job-list"), note(filter === "all" ? "No jobs yet: launch one." : `No ${filter} jobs.`));
    return;
  }
  const rows = answer.jobs.map((job) => {
    const p = job.progress;
    const open = () => { location.hash = `#/job/${job.job_id}`; };
    return h("tr", { dataset: { job: job.job_id, status: job.status }, tabindex: 0, onclick: open, onkeydown: (e) => e.key === "Enter" && open() }, [
      h("td", {}, h("a", { href: `#/job/${job.job_id}`, text: job.run_name })),
      h("td", {}, badge(job.status)),
      h("td", { text: job.dataset }),
      h("td", { text: `${job.mode} · ${job.optimize_for}` }),
      h("td", { class: "n", text: `${p.trials_finished}/${job.trials}` }),
      h("td", { class: "n", text: num(p.best_value) }),
      h("td", { text: when(job.created_at) }),
    ]);
  });
  replace($("#job-list"), [
    h("p", { class: "note", text: `${answer.total} job${answer.total === 1 ? "" : "s"}` }),
    h("div", { class: "scroll" }, h("table", { class: "jobs" }, [
      h("thead", {}, h("tr", {}, ["run", "status", "dataset", "mode · objective", "trials", "best", "created"].map((t) => h("th", { text: t })))),
      h("tbody", {}, rows),
    ])),
  ]);
}
