// Small statistics shared by the page (app.js) and the results page (results.js).
//
//   percentile(values, p) -> the nearest-rank p-th percentile (p in [0, 100]) of the finite
//                            values, or null when there are none
//   summary(values)       -> {n, p50, p95, max} (null fields when empty)
//   median(values)        -> percentile(values, 50)
//
// Nearest rank: the smallest value such that at least p% of the values are <= it.

export function percentile(values, p) {
  const xs = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * xs.length));
  return xs[Math.min(rank, xs.length) - 1];
}

export const median = (values) => percentile(values, 50);

export function summary(values) {
  const xs = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
  return {
    n: xs.length,
    p50: percentile(xs, 50),
    p95: percentile(xs, 95),
    max: xs.length ? Math.max(...xs) : null,
  };
}
