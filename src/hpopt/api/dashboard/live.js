// A job as the page knows it, kept current by the server's WebSocket stream.
// Every (re)connect first rebuilds the state from the API (the job and its trials, replacing
// what the page held: a server restart may have ended the job and its running trial), then
// opens the stream, whose first message ("state") carries everything so far; later messages
// are folded in one by one. While the server is away the connection banner says so and a
// retry follows, backing off up to 5 s. Views redraw at most once per animation frame.

import { ApiError, api, streamUrl } from "./api.js";
import { connection } from "./connection.js";

export const TERMINAL = new Set(["completed", "failed", "cancelled", "interrupted"]);
export const FINISHED_STATES = new Set(["complete", "pruned", "no_learning", "failed"]); // hpopt.trial_record

export class JobLive {
  constructor(jobId, onChange) {
    this.jobId = jobId;
    this.onChange = onChange;
    this.job = null;
    this.trials = new Map(); // number -> summary row (finished trials)
    this.current = null; // {number, params, epochs: [], architecture: []} while a trial trains
    this.architectures = new Map(); // number -> layers, from model_built events
    this.details = new Map(); // number -> GET /trials/{n} answer (finished trials only)
    this.best = null;
    this.direction = "maximize";
    this.pareto = null;
    this.testAccuracy = null;
    this.warnings = []; // {time, level, logger, message}: what went wrong without stopping the run
    this.warningsDropped = 0;
    this.events = 0;
    this.connected = false;
    this.closed = false;
    this.retry = 0;
    this.pending = new Set();
  }

  get terminal() {
    return TERMINAL.has(this.job?.status);
  }

  async start() {
    await this.resync();
    this.refreshBest();
  }

  stop() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.socket?.close();
  }

  // After a resume: the old stream ended with the job; open a new one.
  async restart() {
    this.socket?.close();
    this.socket = null;
    this.closed = false;
    this.retry = 0;
    await this.resync();
  }

  // The job and its trials from the API, replacing the page's: a trial shown running that the
  // server has since finished, stopped or failed is corrected here. Then the stream, if it runs.
  async resync() {
    const [job, answer] = await Promise.all([api(`/jobs/${this.jobId}`), api(`/jobs/${this.jobId}/trials`)]);
    this.job = job;
    this.trials = new Map(answer.trials.map((row) => [row.number, row]));
    if (this.current && (job.status !== "running" || this.trials.has(this.current.number))) this.current = null;
    this.changed("state");
    if (!this.socket && !this.terminal && !this.closed) this.connect(); // its "state" brings the running trial
  }

  connect() {
    if (this.closed) return;
    const socket = new WebSocket(streamUrl(this.jobId));
    this.socket = socket;
    socket.onopen = () => { this.connected = true; this.retry = 0; this.changed("socket"); };
    socket.onmessage = (message) => {
      try { this.apply(JSON.parse(message.data)); } catch (error) { console.error("bad event", error); }
    };
    socket.onclose = () => {
      if (this.socket !== socket) return; // replaced (restart): not a drop
      this.socket = null;
      this.connected = false;
      this.changed("socket");
      if (!this.closed && !this.terminal) this.reconnect(0);
    };
  }

  // Dropped (server restart, slow client, refused key): rebuild from the API, which asks for
  // the key on 401 and tells whether the job still runs; retry, backing off up to 5 s, until
  // it answers. Without a key (the dialog was cancelled) nothing is retried until one is given.
  reconnect(delay = Math.min(5_000, 500 * 2 ** this.retry++)) {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.closed || this.socket) return;
      this.resync().then(() => { this.retry = 0; }).catch((error) => {
        if (error instanceof ApiError && error.status === 401) return;
        if (!(error instanceof ApiError)) connection.lost(); // the network refused: the server is away
        this.reconnect();
      });
    }, delay);
  }

  apply(event) {
    this.events += 1;
    switch (event.type) {
      case "state":
        this.job = event.job;
        this.trials = new Map((event.trials || []).map((row) => [row.number, row]));
        this.current = event.current_trial ? { architecture: [], ...event.current_trial } : null;
        if (this.current?.architecture?.length) this.architectures.set(this.current.number, this.current.architecture);
        this.warnings = event.warnings || [];
        this.warningsDropped = event.warnings_dropped || 0;
        this.changed("state");
        break;
      case "job_status":
        this.job = { ...this.job, status: event.status, error: event.error, stop_requested: event.stop_requested };
        this.changed("status");
        break;
      case "trial_started":
        this.current = { number: event.trial, params: event.params || {}, epochs: [], architecture: [], started_at: event.time };
        this.changed("trial");
        break;
      case "model_built":
        this.architectures.set(event.trial, event.architecture || []);
        if (this.current?.number === event.trial) this.current.architecture = event.architecture || [];
        this.changed("model");
        break;
      case "epoch":
        if (this.current?.number === event.trial) this.current.epochs.push(event.record || {});
        this.changed("epoch");
        break;
      case "best_so_far":
        this.bestSoFar = event.point || null;
        this.changed("best");
        break;
      case "trial_finished":
        if (event.row && Number.isInteger(event.row.number)) this.trials.set(event.row.number, event.row);
        if (this.current?.number === event.trial) this.current = null;
        this.changed("trials");
        this.refreshBest();
        break;
      case "warning":
        if (this.warnings.length < 100) this.warnings.push(event);
        else this.warningsDropped += 1;
        this.changed("warning");
        break;
      case "run_finished":
        this.current = null;
        this.changed("trials");
        break;
      case "job_finished":
        this.job = { ...this.job, status: event.status, error: event.error };
        this.current = null;
        this.details.clear(); // the run's end wrote plots and final details: fetch them anew
        this.changed("status");
        // summary.json is now the truth: take its rows, the best trial and the final progress
        this.resync().then(() => this.refreshBest()).catch(() => {});
        break;
      default:
        this.changed(event.type);
    }
  }

  // Several trials can finish at once: one request in flight, one more queued at most.
  refreshBest() {
    if (this.bestBusy) { this.bestAgain = true; return; }
    this.bestBusy = true;
    api(`/jobs/${this.jobId}/best-trial`).then((answer) => {
      this.best = answer.best_trial;
      this.direction = answer.direction;
      this.pareto = answer.pareto_front;
      this.testAccuracy = answer.test_accuracy;
      this.changed("best");
    }).catch(() => {}).finally(() => {
      this.bestBusy = false;
      if (this.bestAgain) { this.bestAgain = false; this.refreshBest(); }
    });
  }

  // A trial in full (history with health, architecture, plots); finished ones are cached.
  async detail(number) {
    if (this.details.has(number)) return this.details.get(number);
    const answer = await api(`/jobs/${this.jobId}/trials/${number}`);
    if (!answer.running && this.trials.has(number)) this.details.set(number, answer);
    if (answer.architecture?.length) this.architectures.set(number, answer.architecture);
    return answer;
  }

  rows() {
    return [...this.trials.values()].sort((a, b) => a.number - b.number);
  }

  // Trials that count towards the job's total, as the API's progress counts them (a trial
  // stopped by the user or the server is listed, not counted: a resume runs another).
  finishedCount() {
    const counted = this.rows().filter((row) => FINISHED_STATES.has(row.state)).length;
    return Math.max(this.job?.progress?.trials_finished ?? 0, counted);
  }

  changed(reason) {
    this.pending.add(reason);
    if (this.frame) return;
    const flush = () => {
      this.frame = null;
      const reasons = this.pending;
      this.pending = new Set();
      this.onChange(reasons);
    };
    // rAF pauses in background tabs; a timer keeps the state moving there
    this.frame = document.hidden ? setTimeout(flush, 250) : requestAnimationFrame(flush);
  }
}
