// Launch: a form for POST /optimize. The API is the only validator (the form has
// `novalidate`): a 422 lists every mistake with its key in `loc`; each message is shown
// beside its field at once, in the form's words (its labels, not the CLI's key names),
// and nothing starts. Defaults and help texts come from the request schema in
// /openapi.json, so the form follows the config model; a first run is kept light.

import { ApiError, api } from "./api.js";
import { $, h, replace } from "./dom.js";

const ALIASES = { dataset_name: "dataset", max_epochs: "max_epochs_per_trial", gpu_proxy_fallback: "gpu_proxy_fallback_local" };
// Sent always (the essentials); the rest only when changed, so server HYPEROPT_* defaults apply.
const PRIMARY = ["dataset", "mode", "optimize_for", "trials", "health_weight", "max_epochs_per_trial", "min_epochs_per_trial"];
// The endpoint is an operator setting (HYPEROPT_GPU_PROXY_ENDPOINT on the server): shown, never sent.
const GPU = ["use_gpu_proxy", "gpu_proxy_fallback_local", "gpu_proxy_sample_percentage", "gpu_proxy_use_stratified_sampling"];
const ADVANCED = ["run_name", "sampler", "pruner", "activation", "n_startup_trials", "n_warmup_steps", "random_seed",
  "early_stopping_patience", "enable_early_stopping", "plot_generation", "timeout_hours", "workers", "precision", "tracking",
  "class_weight", "target_value"];
const FALLBACK = { trials: { default: 20 }, health_weight: { default: 0.3 }, max_epochs_per_trial: { default: 20 }, min_epochs_per_trial: { default: 5 } };
// A first run from the form is light (minutes on a laptop CPU), unless the server's defaults are lighter still.
const LIGHT = { trials: 10, max_epochs_per_trial: 5, min_epochs_per_trial: 2 };

let meta = null; // {schema, datasets, modes, objectives, health}
const changed = new Set();

export async function showLaunch() {
  if (!meta) {
    const [openapi, datasets, modes, objectives, health] = await Promise.all([
      api("/openapi.json").catch(() => null), api("/datasets"), api("/modes"), api("/objectives"), api("/health"),
    ]);
    const body = openapi?.paths?.["/optimize"]?.post?.requestBody?.content?.["application/json"]?.schema;
    meta = { schema: body?.properties || FALLBACK, datasets, modes, objectives, health };
    buildForm();
  }
}

function spec(name) {
  const s = meta.schema[name] || {};
  const variants = s.anyOf || [s];
  return { ...s, enum: variants.find((v) => v.enum)?.enum, type: variants.find((v) => v.type && v.type !== "null")?.type || s.type };
}

function label(name) {
  return name.replace(/_per_trial$/, "").replace(/^gpu_proxy_/, "").replace(/_/g, " ");
}

// One labelled control with its help text and the place for the API's message.
function field(name, control, hint) {
  control.id = `f-${name}`;
  control.name = name;
  control.addEventListener("input", () => { changed.add(name); preview(); });
  control.addEventListener("change", () => { changed.add(name); preview(); });
  const box = h("div", { class: "field", dataset: { field: name } });
  const text = hint ?? spec(name).description;
  if (control.type === "checkbox") box.append(h("label", { class: "check" }, [control, ` ${label(name)}`]));
  else box.append(h("label", { for: control.id, text: label(name) }), control);
  if (text) box.append(h("small", { class: "hint", text }));
  box.append(h("p", { class: "field-error", dataset: { errorFor: name }, role: "alert" }));
  return box;
}

function input(name, attrs = {}) {
  const s = spec(name);
  if (s.type === "boolean") return h("input", { type: "checkbox", ...(s.default ? { checked: true } : {}), ...attrs });
  if (s.enum) {
    const options = s.default === undefined ? [h("option", { value: "", text: "(not fixed)" })] : [];
    return h("select", attrs, [...options, ...s.enum.map((v) => h("option", { value: v, selected: v === s.default || null, text: v }))]);
  }
  const numeric = s.type === "integer" || s.type === "number";
  return h("input", { type: "text", inputmode: numeric ? (s.type === "integer" ? "numeric" : "decimal") : null,
                      placeholder: s.default === undefined || s.default === null ? "none" : String(s.default), ...attrs });
}

function datasetSelect() {
  const options = meta.datasets.map((d) => h("option", { value: d.name, selected: d.name === (spec("dataset").default || "digits") || null,
    text: `${d.name} (${d.modality}) ${d.available_offline ? "✓ offline" : "↓ download"}` }));
  options.push(h("option", { value: "__path", text: "custom: a path on the server…" }));
  return h("select", {}, options);
}

function buildForm() {
  const form = $("#launch-form");
  const dataset = field("dataset", datasetSelect(), "built-in datasets, with whether their files are on the server already");
  const path = h("input", { type: "text", id: "f-dataset-path", placeholder: "/data/my_images or /data/reviews.csv", hidden: true, "aria-label": "dataset path" });
  dataset.querySelector("label").after(path);
  const datasetHint = () => {
    const d = meta.datasets.find((x) => x.name === $("#f-dataset").value);
    dataset.querySelector(".hint").textContent = d
      ? `${d.description}: ${d.num_classes} classes, input ${d.input_shape.join("×")}; ${d.available_offline ? "available offline on the server" : "not on the server: it is downloaded when the job starts (needs network)"}`
      : "a folder of class subfolders of images, a Keras-layout .npz, or a .csv/.tsv of text and label";
  };
  dataset.querySelector("select").addEventListener("change", (e) => { path.hidden = e.target.value !== "__path"; datasetHint(); });
  const mode = field("mode", h("select", {}, meta.modes.map((m) => h("option", { value: m.name, text: m.name }))), " ");
  const objective = field("optimize_for", h("select"), "the objectives this mode accepts (GET /objectives)");
  const values = (name) => {
    const s = spec(name);
    const el = input(name);
    if (PRIMARY.includes(name) && el.tagName === "INPUT" && el.type === "text") el.value = String(initial(name, s.default));
    return field(name, el, name === "health_weight" ? `${s.description || ""} (health mode only)`.trim() : undefined);
  };
  const proxy = meta.health.gpu_proxy;
  // configured (credentials, an endpoint, or on by default): open; otherwise one line, folded
  const proxyConfigured = Boolean(proxy.credentials_configured || proxy.endpoint || proxy.enabled_by_default);
  replace(form, [
    h("div", { class: "form-grid" }, [dataset, mode, objective, ...PRIMARY.slice(3).map(values)]),
    h("details", { id: "gpu-settings", open: proxyConfigured || null }, [
      h("summary", { text: `GPU proxy (RunPod): ${proxyConfigured ? "configured" : "not configured"}` }),
      h("p", { class: "note", text: `client ${proxy.client_installed ? "installed" : "missing"}; credentials ${proxy.credentials_configured ? `configured (RUNPOD_API_KEY from ${proxy.api_key_source})` : "not configured (RUNPOD_API_KEY in the environment, .env or gpu-proxy/.env)"}${proxy.endpoint ? `; endpoint ${proxy.endpoint}` : ""}` }),
      h("div", { class: "form-grid" }, GPU.map(values))]),
    h("details", { id: "more-settings" }, [h("summary", { text: "More settings" }),
      h("div", { class: "form-grid" }, ADVANCED.filter((name) => name in meta.schema).map(values))]), // keys this server knows
    h("p", { id: "form-error", class: "error", role: "alert" }),
    h("div", { class: "actions" }, [h("button", { type: "submit", id: "launch", class: "primary" }, "Launch"),
      h("code", { id: "cli-preview", title: "the same run from the command line" })]),
  ]);
  if (proxy.enabled_by_default) $("#f-use_gpu_proxy").checked = true;
  $("#f-mode").addEventListener("change", fillObjectives);
  datasetHint();
  fillObjectives();
  form.addEventListener("submit", submit);
  preview();
}

// Only the objectives GET /objectives allows in the chosen mode.
function fillObjectives() {
  const mode = $("#f-mode").value;
  const select = $("#f-optimize_for");
  const previous = select.value || spec("optimize_for").default;
  const allowed = meta.objectives.filter((o) => o.modes.includes(mode));
  replace(select, allowed.map((o) => h("option", { value: o.name, selected: o.name === previous || null, text: o.health_only ? `${o.name} (health)` : o.name })));
  const description = meta.modes.find((m) => m.name === mode)?.description || "";
  $('[data-field="mode"] .hint').textContent = description;
  const weight = $("#f-health_weight");
  if (weight) weight.disabled = mode !== "health"; // only health mode blends health in: not sent otherwise
}

function valueOf(name) {
  const el = $(`#f-${name}`);
  if (!el) return undefined;
  if (el.type === "checkbox") return el.checked;
  if (name === "dataset" && el.value === "__path") return $("#f-dataset-path").value.trim();
  return el.value.trim();
}

function body() {
  const out = {};
  for (const name of [...PRIMARY, ...GPU, ...ADVANCED]) {
    if (!PRIMARY.includes(name) && !changed.has(name)) continue;
    const v = valueOf(name);
    if (v === "" || v === undefined) continue;
    if (name === "optimize_for" && $("#f-mode").value === "pareto") continue; // pareto fixes its objectives
    if (name === "health_weight" && $("#f-mode").value !== "health") continue;
    out[name] = v;
  }
  return out;
}

function preview() {
  const args = Object.entries(body()).map(([k, v]) => `${k}=${/\s/.test(String(v)) ? JSON.stringify(String(v)) : v}`);
  $("#cli-preview").textContent = `python src/optimizer.py ${args.join(" ")}`;
}

function clearErrors() {
  for (const el of document.querySelectorAll("#launch-form .field-error")) el.textContent = "";
  for (const el of document.querySelectorAll("#launch-form .invalid")) el.classList.remove("invalid");
  $("#form-error").textContent = "";
}

// The light first run: the LIGHT value unless the server's own default is lower.
function initial(name, serverDefault) {
  const light = LIGHT[name];
  if (light === undefined) return serverDefault ?? "";
  return typeof serverDefault === "number" ? Math.min(serverDefault, light) : light;
}

// The API speaks in CLI keys ("max_epochs_per_trial=0 ..."); the form in its labels ("max epochs = 0 ...").
function inFormWords(message) {
  const names = [...PRIMARY, ...GPU, ...ADVANCED, ...Object.keys(ALIASES)].sort((a, b) => b.length - a.length);
  let text = String(message);
  for (const key of names) {
    const words = label(ALIASES[key] || key);
    text = text.replace(new RegExp(`\\b${key}=`, "g"), `${words} = `).replace(new RegExp(`\\b${key}\\b`, "g"), words);
  }
  return text;
}

function showError(key, raw) {
  const name = ALIASES[key] || key;
  const message = inFormWords(raw);
  const slot = name && document.querySelector(`#launch-form [data-error-for="${name}"]`);
  if (!slot) {
    const general = $("#form-error");
    general.textContent = [general.textContent, message].filter(Boolean).join(" ");
    return null;
  }
  slot.textContent = message;
  slot.closest(".field").classList.add("invalid");
  const details = slot.closest("details");
  if (details) details.open = true;
  return slot;
}

async function submit(event) {
  event.preventDefault();
  clearErrors();
  const button = $("#launch");
  button.disabled = true;
  try {
    const job = await api("/optimize", { method: "POST", body: body() });
    changed.clear();
    location.hash = `#/job/${job.job_id}`;
  } catch (error) {
    if (!(error instanceof ApiError)) { $("#form-error").textContent = error.message; return; }
    if (Array.isArray(error.detail)) {
      const slots = error.detail.map((d) => showError(Array.isArray(d.loc) ? d.loc[1] : null, d.msg)).filter(Boolean);
      if (slots.length > 1) $("#form-error").textContent = `${slots.length} settings need a change: see the messages beside them.`;
      slots[0]?.closest(".field")?.querySelector("input, select")?.focus();
      slots[0]?.scrollIntoView({ block: "center" });
    } else {
      showError(error.status === 409 ? "run_name" : null, String(error.detail));
    }
  } finally {
    button.disabled = false;
  }
}
