// Main-thread performance observations for the measurements (app.js).
//
//   createLongTaskMonitor() -> {supported, begin() -> token, end(token), stats()}
//     Observes PerformanceObserver('longtask') (tasks over 50 ms on the main thread) and
//     counts those that overlap a classification window (begin .. end, end included the
//     rendering of the answer). stats() -> {long_tasks_supported, long_tasks_total,
//     long_task_max_ms, long_tasks_observed_total}: total/max during classification,
//     observed_total since the page loaded.
//   usedJsHeapBytes() -> performance.memory.usedJSHeapSize (Chromium), else null
//
// No imports: served under a hashed URL, a relative import would name a stale hash.

const MAX_WINDOWS = 2000;

export function createLongTaskMonitor() {
  const windows = []; // [start, end|Infinity]
  const counted = { count: 0, max_ms: 0, observed_total: 0 };
  const supported =
    typeof PerformanceObserver === 'function' && (PerformanceObserver.supportedEntryTypes ?? []).includes('longtask');

  const overlaps = (start, end) => windows.some(([s, e]) => start < e && end > s);

  if (supported) {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        counted.observed_total += 1;
        if (overlaps(entry.startTime, entry.startTime + entry.duration)) {
          counted.count += 1;
          counted.max_ms = Math.max(counted.max_ms, entry.duration);
        }
      }
    }).observe({ type: 'longtask', buffered: true });
  }

  return {
    supported,
    begin() {
      const w = [performance.now(), Infinity];
      windows.push(w);
      if (windows.length > MAX_WINDOWS) windows.splice(0, windows.length - MAX_WINDOWS);
      return w;
    },
    end(w) {
      w[1] = performance.now();
    },
    stats() {
      return {
        long_tasks_supported: supported,
        long_tasks_total: counted.count,
        long_task_max_ms: counted.max_ms,
        long_tasks_observed_total: counted.observed_total,
      };
    },
  };
}

export function usedJsHeapBytes() {
  return performance.memory?.usedJSHeapSize ?? null;
}
