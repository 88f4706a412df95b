// Restricting the trials table from elsewhere on the page (a brushed chart, a clicked point).
//
// Contract: dispatch on `document` a CustomEvent "hpopt:trial-filter" with
//   detail = { source: string, numbers: number[] | null }
// - source names who restricts ("parallel coordinates", "slice: lr", …); it is shown in a
//   "filtered by <source>" chip with a clear button above the table;
// - numbers: the trial numbers to keep visible; null clears that source's restriction.
// Several sources combine (a row must pass all of them). publishTrialFilter(source, numbers)
// dispatches the event for you. Restrictions belong to the open job: job.js clears them when
// another job opens (clearTrialFilters), and clearing a chip publishes {source, numbers: null},
// so a chart can listen for the same event to drop its brush.

export const TRIAL_FILTER_EVENT = "hpopt:trial-filter";

const restrictions = new Map(); // source -> Set of trial numbers
const listeners = new Set();

export function publishTrialFilter(source, numbers) {
  const detail = { source: String(source), numbers: numbers === null || numbers === undefined ? null : [...numbers] };
  document.dispatchEvent(new CustomEvent(TRIAL_FILTER_EVENT, { detail }));
}

// The table subscribes here: fn() is called after every change.
export function onTrialFilterChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// [[source, Set]] in the order they were set.
export function trialRestrictions() {
  return [...restrictions.entries()];
}

export function passesRestrictions(number) {
  for (const numbers of restrictions.values()) if (!numbers.has(number)) return false;
  return true;
}

export function clearTrialFilters() {
  if (!restrictions.size) return;
  restrictions.clear();
  for (const fn of listeners) fn();
}

document.addEventListener(TRIAL_FILTER_EVENT, (event) => {
  const { source, numbers } = event.detail || {};
  if (typeof source !== "string" || !source) return;
  if (Array.isArray(numbers)) restrictions.set(source, new Set(numbers.map(Number)));
  else restrictions.delete(source);
  for (const fn of listeners) fn();
});
