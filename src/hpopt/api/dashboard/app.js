// Entry: the API-key dialog and a hash router over the views
// (#/jobs, #/launch, #/job/<id> = Watch, #/job/<id>/analyze = Analyze).

import { api, auth, onAuthChange } from "./api.js";
import { $ } from "./dom.js";
import { closeJob, openJob } from "./job.js";
import { hideJobs, showJobs } from "./jobs.js";
import { showLaunch } from "./launch.js";

// The dialog resolves with the key typed, or null when dismissed.
function askKey(reason) {
  const dialog = $("#key-dialog");
  $("#key-reason").textContent = reason;
  $("#key-input").value = "";
  return new Promise((resolve) => {
    const done = (value) => {
      dialog.removeEventListener("close", onClose);
      resolve(value);
    };
    const onClose = () => done(dialog.returnValue === "save" ? $("#key-input").value.trim() || null : null);
    dialog.addEventListener("close", onClose);
    dialog.showModal();
  });
}

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  const view = parts[0] === "job" && parts[1] ? "job" : parts[0] === "launch" ? "launch" : "jobs";
  for (const id of ["jobs", "launch", "job"]) $(`#view-${id}`).hidden = id !== view;
  for (const link of document.querySelectorAll("nav.main a")) {
    link.setAttribute("aria-current", link.dataset.view === view ? "page" : "false");
  }
  if (view !== "jobs") hideJobs();
  if (view !== "job") closeJob();
  const fail = (error) => { $("#global-error").textContent = error.message; };
  $("#global-error").textContent = "";
  if (view === "jobs") showJobs();
  else if (view === "launch") showLaunch().catch(fail);
  else openJob(decodeURIComponent(parts[1]), parts[2] === "analyze" ? "analyze" : "watch");
}

// The GPU proxy badge: /health's gpu_proxy_status (a background check on the server), refreshed every 15 s.
const PROXY_TEXT = { reachable: "reachable", unreachable: "unreachable", unknown: "checking…",
  not_configured: "not configured", disabled: "off" };
const PROXY_REFRESH_MS = 15000;

function showGpuProxy(health) {
  const badge = $("#gpu-proxy-badge");
  const status = health.gpu_proxy_status;
  if (!status) { badge.hidden = true; return; } // an older server
  badge.hidden = false;
  badge.className = `badge g-${status}`;
  badge.textContent = `GPU proxy: ${PROXY_TEXT[status] || status}`;
  const proxy = health.gpu_proxy || {};
  const where = (name, source) => `${name}: ${source ? `from ${source}` : "not set"}`;
  badge.title = [
    health.gpu_proxy_detail,
    health.gpu_proxy_checked_at ? `checked ${new Date(health.gpu_proxy_checked_at).toLocaleTimeString()}` : null,
    proxy.endpoint ? `endpoint ${proxy.endpoint}` : null,
    where("RUNPOD_API_KEY", proxy.api_key_source), where("RUNPOD_ENDPOINT_ID", proxy.endpoint_id_source),
  ].filter(Boolean).join("\n");
}

function watchGpuProxy() {
  setInterval(() => {
    if (auth.blocked) return; // no polling until a key is given
    api("/health").then(showGpuProxy).catch(() => { /* the next tick tries again */ });
  }, PROXY_REFRESH_MS);
}

// Cancel on the key dialog: a banner with one button to enter the key; the views wait for it.
function watchAuth() {
  $("#auth-enter").addEventListener("click", () => auth.prompt("Enter the server's API key (kept in this browser)."));
  onAuthChange((blocked) => {
    $("#auth-banner").hidden = !blocked;
    if (!blocked) { closeJob(); route(); } // a key at last: load the view anew
  });
}

async function boot() {
  auth.onPrompt(askKey);
  watchAuth();
  $("#key-button").addEventListener("click", async () => {
    if (await auth.prompt("Enter the server's API key (kept in this browser).")) route();
  });
  $("#key-forget").addEventListener("click", () => { auth.set(""); $("#key-dialog").close("forget"); });
  // /health needs no key: it says whether the server wants one, so we ask before the first call fails
  try {
    const health = await api("/health");
    auth.required = health.auth_required;
    $("#server-version").textContent = `hpopt ${health.version}`;
    $("#key-button").hidden = !health.auth_required;
    showGpuProxy(health);
    if (health.auth_required && !auth.key) await auth.prompt("This server needs an API key.");
  } catch (error) {
    $("#global-error").textContent = `server not reachable: ${error.message}`;
  }
  watchGpuProxy();
  window.addEventListener("hashchange", route);
  route();
}

boot();
