// The API client: every request carries the API key when the server wants one.
// The key lives in localStorage (asked once per browser); a 401 asks again and retries.
// Cancel on that dialog blocks the client: no request leaves (pollers pause) and no dialog
// opens again until a key is given (the "API key needed" banner offers one button for it).
// A request the network refuses shows the connection banner; the next answer hides it.

import { connection } from "./connection.js";

const KEY_STORE = "hpopt.apiKey";

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : `HTTP ${status}`);
    this.status = status;
    this.detail = detail; // a string, or FastAPI's list of {loc, msg, type} for 422
  }
}

// askKey(reason) -> Promise<string|null>; installed by app.js (it owns the dialog).
let askKey = async () => null;
let asking = null; // one dialog at a time, however many requests got a 401

export const auth = {
  required: false,
  blocked: false, // the user cancelled the key dialog: nothing is sent until a key is given
  get key() {
    try { return localStorage.getItem(KEY_STORE) || ""; } catch { return ""; }
  },
  set(key) {
    try { key ? localStorage.setItem(KEY_STORE, key) : localStorage.removeItem(KEY_STORE); } catch { /* private mode */ }
  },
  onPrompt(fn) { askKey = fn; },
  // Ask for a key (again); resolves true when the user gave one, blocks the client when not.
  // refused: the server just answered 401 (a dismissed dialog then blocks even with a key stored).
  async prompt(reason, refused = false) {
    if (!asking) {
      asking = askKey(reason).finally(() => { asking = null; });
    }
    const key = await asking;
    if (key) auth.set(key);
    if (key) setBlocked(false);
    else if (refused || !auth.key) setBlocked(true);
    return Boolean(key);
  },
};

const blockListeners = new Set();

// fn(blocked) runs whenever the client becomes blocked or unblocked.
export function onAuthChange(fn) {
  blockListeners.add(fn);
}

function setBlocked(blocked) {
  if (auth.blocked === blocked) return;
  auth.blocked = blocked;
  for (const fn of blockListeners) fn(blocked);
}

export const KEY_NEEDED = "API key needed";

function headers(extra = {}) {
  const out = { ...extra };
  if (auth.key) out["X-API-Key"] = auth.key;
  return out;
}

// fetch with the key; on 401 ask for the key once and retry.
async function send(path, options = {}, retried = false) {
  const init = { method: options.method || "GET", headers: headers(options.headers) };
  if (options.body !== undefined) {
    init.body = JSON.stringify(options.body);
    init.headers["Content-Type"] = "application/json";
  }
  if (auth.blocked) throw new ApiError(401, KEY_NEEDED); // no request, and no dialog, until a key is given
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    connection.lost();
    throw error;
  }
  connection.back();
  if (response.status === 401 && !retried && !auth.blocked) {
    const reason = auth.key ? "The server refused this API key." : "This server needs an API key.";
    if (await auth.prompt(reason, true)) return send(path, options, true);
  }
  if (!response.ok) {
    let detail = `HTTP ${response.status}`;
    try { detail = (await response.json()).detail ?? detail; } catch { /* not JSON */ }
    throw new ApiError(response.status, detail);
  }
  return response;
}

export async function api(path, options = {}) {
  const response = await send(path, options);
  return response.status === 204 ? null : response.json();
}

// Files are fetched with the key and shown through blob: URLs (an <img src> cannot send headers).
export async function fetchBlob(path) {
  return (await send(path)).blob();
}

export function fileUrl(jobId, path) {
  return `/jobs/${encodeURIComponent(jobId)}/files/${path.split("/").map(encodeURIComponent).join("/")}`;
}

// Browsers cannot set headers on a WebSocket: the stream route takes ?api_key= instead.
export function streamUrl(jobId) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = auth.key ? `?api_key=${encodeURIComponent(auth.key)}` : "";
  return `${scheme}//${location.host}/jobs/${encodeURIComponent(jobId)}/stream${query}`;
}

// Save a blob under a name (the browser's download, e.g. the results ZIP).
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
