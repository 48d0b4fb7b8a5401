// The page's measurements, posted to POST /api/measurements (docs/browser-classifier.md,
// "Measurements"). A page visit is a `session`; it posts reports 1, 2, ... (`report`): when
// the model is ready or found unusable, a short while after classifications, and when the
// page is hidden. Each report carries the session's current state (provider, load, timings,
// reasons, cumulative p50/p95) and, so that the server counts each observation once, only the
// NEW observations since the previous report: `latencies_ms` and `long_tasks`.
//
//   createReporter({endpoint, summary, collect}) -> {session, set(fields), addClassification(r),
//                                                    record(), flush(), schedule()}
//     summary(values) -> {n, p50, p95, max} (stats.js); collect() -> fields read when a report
//     is made (heap; long_tasks_total, the session's long tasks so far, of which the report
//     posts the new ones as `long_tasks`). record() is the cumulative view (all latencies) for
//     the page itself and tests; flush() posts a report.
//
// No imports: served under a hashed URL, a relative import would name a stale hash.

const MAX_LATENCIES = 2000;
const SETTLE_MS = 1500;

function newSessionId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

const round3 = (v) => Math.round(v * 1000) / 1000;

export function createReporter({ endpoint = '/api/measurements', summary, collect }) {
  const base = {
    scenario: 'browser-classifier',
    session: newSessionId(),
    started_at: new Date().toISOString(),
    user_agent: navigator.userAgent,
  };
  const fields = {};
  const latencies = []; // local: Worker latency (received -> answered); remote: round trip
  const roundtrips = []; // page: request -> answer rendered
  const byProvider = {};
  let count = 0;
  let reported = 0; // latencies[0, reported) went out in earlier reports
  let dropped = 0; // latencies trimmed from the front (MAX_LATENCIES)
  let longTasksReported = 0;
  let report = 0;
  let timer = null;
  let dirty = false;
  let inFlight = Promise.resolve();

  const snapshot = () => ({
    ...base,
    ...fields,
    ...collect(),
    classifications: count,
    classifications_by_provider: { ...byProvider },
    latency_ms: summary(latencies),
    roundtrip_ms: summary(roundtrips),
  });

  const record = () => ({ ...snapshot(), latencies_ms: latencies.map(round3) });

  const flush = () => {
    clearTimeout(timer);
    timer = null;
    dirty = false;
    const s = snapshot();
    const fresh = latencies.slice(Math.max(0, reported - dropped)).map(round3);
    reported = dropped + latencies.length;
    const longTasksTotal = s.long_tasks_total ?? 0;
    const body = JSON.stringify({
      ...s,
      report: ++report,
      latencies_ms: fresh,
      long_tasks: longTasksTotal - longTasksReported,
      posted_at: new Date().toISOString(),
    });
    longTasksReported = longTasksTotal;
    inFlight = inFlight.then(() =>
      fetch(endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
        keepalive: body.length < 60000,
        credentials: 'same-origin',
      }).then(
        (r) => r.ok,
        () => false,
      ),
    );
    return inFlight;
  };

  addEventListener('pagehide', () => {
    if (dirty) flush();
  });

  return {
    session: base.session,
    set(f) {
      Object.assign(fields, f);
      dirty = true;
    },
    addClassification({ provider, latency_ms, roundtrip_ms }) {
      count += 1;
      byProvider[provider] = (byProvider[provider] ?? 0) + 1;
      if (Number.isFinite(latency_ms)) latencies.push(latency_ms);
      if (Number.isFinite(roundtrip_ms)) roundtrips.push(roundtrip_ms);
      if (latencies.length > MAX_LATENCIES) {
        const n = latencies.length - MAX_LATENCIES;
        latencies.splice(0, n);
        dropped += n;
      }
      if (roundtrips.length > MAX_LATENCIES) roundtrips.splice(0, roundtrips.length - MAX_LATENCIES);
      dirty = true;
    },
    record,
    flush,
    schedule() {
      dirty = true;
      clearTimeout(timer);
      timer = setTimeout(flush, SETTLE_MS);
    },
  };
}
