// The analysis views' data, from GET /jobs/{id}/analysis: pure functions (no DOM, no
// Plotly), so what each chart shows and says can be checked on its own.
// A parameter's axis follows the distribution it was sampled from: log scale, integer
// range or the categorical choices in their order.

export const PRUNED_STYLE = { color: "#6b7480", dash: "dash", width: 1.5 };
const STATE_STYLE = {
  complete: { color: "#1f4e79", dash: "solid", width: 1.5 },
  pruned: PRUNED_STYLE,
  running: { color: "#1b8a5a", dash: "solid", width: 2 },
};
const OTHER_STYLE = { color: "#b4541b", dash: "dot", width: 1.5 }; // no_learning, failed

export function fmt(v) {
  if (typeof v !== "number" || !Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return String(+v.toPrecision(4));
}

// Complete trials with a value: what the value charts draw.
export function scored(data) {
  return data.trials.filter((t) => t.state === "complete" && typeof t.value === "number");
}

export function bestOf(trials, maximize) {
  let best = null;
  for (const t of trials) if (!best || (maximize ? t.value > best.value : t.value < best.value)) best = t;
  return best;
}

function bestText(trials, maximize) {
  const best = bestOf(trials, maximize);
  return best ? `best value ${fmt(best.value)} at trial ${best.number}` : "no value yet";
}

// Parameters any scored trial has, most common first (ties by name).
export function paramsByUse(data) {
  const trials = scored(data);
  const count = (p) => trials.filter((t) => p.name in t.params).length;
  return data.params.map((p) => ({ p, n: count(p) })).filter((x) => x.n > 0)
    .sort((a, b) => b.n - a.n || a.p.name.localeCompare(b.p.name)).map((x) => x.p);
}

// The default parallel-coordinates axes: the parameters every scored trial has.
export function sharedParams(data) {
  const trials = scored(data);
  return paramsByUse(data).filter((p) => trials.every((t) => p.name in t.params)).map((p) => p.name);
}

// The contour's default axes: the two parameters with the most distinct values.
export function contourDefaults(data) {
  const trials = scored(data);
  const distinct = (p) => new Set(trials.filter((t) => p.name in t.params).map((t) => String(t.params[p.name]))).size;
  return paramsByUse(data).map((p) => ({ name: p.name, n: distinct(p) })).sort((a, b) => b.n - a.n).slice(0, 2).map((x) => x.name);
}

function choiceIndex(dist, v) {
  const i = dist.choices.findIndex((c) => c === v);
  return i >= 0 ? i : dist.choices.findIndex((c) => String(c) === String(v));
}

function logTicks(lo, hi) {
  const n = 5;
  return Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
}

// One parallel-coordinates axis: values in the axis' own space (log10 for log parameters,
// the choice's index for categorical ones) with the ticks that label them.
export function paramDimension(dist, trials) {
  const raw = trials.map((t) => t.params[dist.name]);
  if (dist.kind === "categorical") {
    const idx = dist.choices.map((_, i) => i);
    return { label: dist.name, values: raw.map((v) => choiceIndex(dist, v)), tickvals: idx,
             ticktext: dist.choices.map(String), range: [0, Math.max(1, dist.choices.length - 1)] };
  }
  if (dist.log) {
    const range = [Math.log10(dist.low), Math.log10(dist.high)];
    const ticks = logTicks(...range);
    return { label: `${dist.name} (log)`, values: raw.map((v) => Math.log10(v)), range,
             tickvals: ticks, ticktext: ticks.map((t) => fmt(10 ** t)) };
  }
  return { label: dist.name, values: raw, range: [dist.low, dist.high] };
}

// Parallel coordinates of the scored trials that have every chosen parameter; the value
// is the last axis. Returns {trials, dimensions, summary}.
export function parallelCoordinates(data, chosen, maximize) {
  const dists = chosen.map((name) => data.params.find((p) => p.name === name)).filter(Boolean);
  const trials = scored(data).filter((t) => dists.every((d) => d.name in t.params));
  const dimensions = dists.map((d) => paramDimension(d, trials));
  dimensions.push({ label: "value", values: trials.map((t) => t.value) });
  const summary = `Parallel coordinates of ${trials.length} trial${trials.length === 1 ? "" : "s"} over `
    + `${dists.length} parameter${dists.length === 1 ? "" : "s"}; ${bestText(trials, maximize)}`;
  return { trials, dimensions, summary };
}

function ranges(constraint) {
  if (!Array.isArray(constraint) || !constraint.length) return null;
  return Array.isArray(constraint[0]) ? constraint : [constraint];
}

// The trial numbers inside every axis' constraint range (Plotly's constraintrange: one
// [lo, hi] or a list of them); null when no axis is constrained.
export function insideConstraints(trials, dimensions) {
  const active = dimensions.map((d, i) => ({ i, r: ranges(d.constraintrange) })).filter((x) => x.r);
  if (!active.length) return null;
  const eps = 1e-9;
  return trials.filter((_, k) => active.every(({ i, r }) => {
    const v = dimensions[i].values[k];
    return r.some(([lo, hi]) => v >= Math.min(lo, hi) - eps && v <= Math.max(lo, hi) + eps);
  })).map((t) => t.number);
}

// x values and axis settings of one parameter for slice and contour plots.
export function paramAxis(dist, trials) {
  const raw = trials.map((t) => t.params[dist.name]);
  if (dist.kind === "categorical") {
    return { values: raw.map((v) => choiceIndex(dist, v)),
             axis: { title: { text: dist.name }, tickvals: dist.choices.map((_, i) => i), ticktext: dist.choices.map(String),
                     range: [-0.5, dist.choices.length - 0.5] } };
  }
  return { values: raw, axis: { title: { text: dist.name }, type: dist.log ? "log" : "linear" } };
}

export function slice(data, name, maximize) {
  const dist = data.params.find((p) => p.name === name);
  const trials = dist ? scored(data).filter((t) => name in t.params) : [];
  const best = bestOf(trials, maximize);
  const at = best ? ` at ${name} = ${String(best.params[name])} (trial ${best.number})` : "";
  return { dist, trials, summary: `Slice plot of the value against ${name} for ${trials.length} trials; `
    + (best ? `best value ${fmt(best.value)}${at}` : "no value yet") };
}

export function contour(data, xName, yName, maximize) {
  const [dx, dy] = [xName, yName].map((n) => data.params.find((p) => p.name === n));
  const trials = dx && dy && xName !== yName ? scored(data).filter((t) => xName in t.params && yName in t.params) : [];
  const best = bestOf(trials, maximize);
  const distinct = (n) => new Set(trials.map((t) => String(t.params[n]))).size;
  const drawable = trials.length >= 3 && distinct(xName) >= 2 && distinct(yName) >= 2;
  const summary = `Contour of the value over ${xName} and ${yName} from ${trials.length} trials; `
    + (best ? `best value ${fmt(best.value)} at trial ${best.number} (${xName} = ${String(best.params[xName])}, `
      + `${yName} = ${String(best.params[yName])})` : "no value yet");
  return { dx, dy, trials, drawable, summary };
}

// Empirical distribution: the share of scored trials with a value at most x.
export function edf(data) {
  const values = scored(data).map((t) => t.value).sort((a, b) => a - b);
  const n = values.length;
  const y = values.map((_, i) => (i + 1) / n);
  const median = n ? (n % 2 ? values[(n - 1) / 2] : (values[n / 2 - 1] + values[n / 2]) / 2) : null;
  const summary = n ? `Empirical distribution of ${n} trial values from ${fmt(values[0])} to ${fmt(values[n - 1])}; `
    + `median ${fmt(median)}` : "Empirical distribution: no complete trial yet";
  return { x: values, y, summary };
}

export function styleOf(state) {
  return STATE_STYLE[state] || OTHER_STYLE;
}

function groupName(state) {
  return STATE_STYLE[state] ? state : "no learning / failed";
}

// One line per trial over its epochs; pruned trials grey and dashed. One legend entry per
// state (clicking it hides or shows all of that state's trials).
export function intermediateTraces(data) {
  const trials = data.trials.filter((t) => t.intermediate?.length);
  const seen = new Set();
  const traces = trials.map((t) => {
    const group = groupName(t.state);
    const first = !seen.has(group);
    seen.add(group);
    const style = styleOf(t.state);
    return { type: "scatter", mode: "lines+markers", x: t.intermediate.map((p) => p.step), y: t.intermediate.map((p) => p.value),
             name: group, legendgroup: group, showlegend: first, customdata: t.intermediate.map(() => t.number),
             line: { color: style.color, dash: style.dash, width: style.width }, marker: { size: 4, color: style.color },
             opacity: t.state === "pruned" ? 0.8 : 1,
             hovertemplate: `trial ${t.number} (${t.state})<br>epoch %{x}: %{y:.4g}<extra></extra>` };
  });
  const count = (s) => trials.filter((t) => t.state === s).length;
  const epochs = Math.max(0, ...trials.map((t) => Math.max(...t.intermediate.map((p) => p.step))));
  const summary = `Per-epoch values of ${trials.length} trials (${count("complete")} complete, ${count("pruned")} pruned) `
    + `over up to ${epochs} epoch${epochs === 1 ? "" : "s"}`;
  return { traces, summary };
}

// Value per trial and the running best, in trial order.
export function history(data, maximize) {
  const trials = scored(data).sort((a, b) => a.number - b.number);
  const bestLine = [];
  let best = null;
  for (const t of trials) {
    if (best === null || (maximize ? t.value > best : t.value < best)) best = t.value;
    bestLine.push(best);
  }
  const positive = trials.every((t) => t.value > 0);
  const summary = `Optimization history of ${trials.length} complete trials; ${bestText(trials, maximize)}`;
  return { trials, bestLine, positive, summary };
}
