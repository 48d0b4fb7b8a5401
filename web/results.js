// The measurements page (results.html): fetches GET /api/measurements (a JSON array of the
// reports app.js posts, see report.js), merges the reports of each page visit (`session`:
// the latest state, every latency and long task), groups visits by provider ("none" when suggestions were unavailable, "server"
// when they came from the remote classifier) and shows per provider: visits, p50/p95
// latency (over every kept latency), median init, cold/warm loads, bytes fetched, JS heap,
// long tasks during classification, fallback rate and reasons; and an inline SVG bar chart
// of p50/p95 latency drawn into the DOM (no external libraries, no inline styles).
// Modules are imported from config.assets (hashed URLs).

const config = JSON.parse(document.getElementById('keel-config').textContent);
const stats = await import(new URL(config.assets['stats.js'], location.href).href);

const SVG = 'http://www.w3.org/2000/svg';
const $ = (id) => document.getElementById(id);

/**
 * One record per page visit: the latest report's state, with the observations of all its
 * reports (each report carries only its new `latencies_ms` and `long_tasks`).
 */
function mergeSessions(records) {
  const bySession = new Map();
  records.forEach((r, i) => {
    if (!r || typeof r !== 'object') return;
    const key = r.session ?? `anonymous-${i}`;
    if (!bySession.has(key)) bySession.set(key, []);
    bySession.get(key).push(r);
  });
  return [...bySession.values()].map((reports) => {
    reports.sort((a, b) => (a.report ?? 0) - (b.report ?? 0));
    const latest = reports[reports.length - 1];
    return {
      ...latest,
      latencies_ms: reports.flatMap((r) => (Array.isArray(r.latencies_ms) ? r.latencies_ms : [])),
      long_tasks: reports.reduce((a, r) => a + (Number.isFinite(r.long_tasks) ? r.long_tasks : 0), 0),
    };
  });
}

function providerOf(r) {
  if (typeof r.provider === 'string' && r.provider) return r.provider;
  return r.classifications_by_provider?.server ? 'server' : 'none';
}

function group(records) {
  const groups = new Map();
  for (const r of records) {
    const p = providerOf(r);
    if (!groups.has(p)) groups.set(p, []);
    groups.get(p).push(r);
  }
  return groups;
}

const fmt = (v, digits = 1) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));
const mb = (v) => (Number.isFinite(v) ? (v / 1048576).toFixed(1) : '–');

function rowFor(provider, rs) {
  const latencies = rs.flatMap((r) => (Array.isArray(r.latencies_ms) ? r.latencies_ms : []));
  const s = stats.summary(latencies);
  const cold = rs.filter((r) => r.cold === true);
  const warm = rs.filter((r) => r.cold === false);
  // A fallback: the visit could not classify locally, or skipped a preferred provider.
  const fallbacks = rs.filter((r) => r.fallback_reason || r.provider_fallback);
  const longTasks = rs.reduce((a, r) => a + r.long_tasks, 0);
  const longMax = Math.max(0, ...rs.map((r) => r.long_task_max_ms ?? 0));
  return {
    provider,
    visits: rs.length,
    classifications: rs.reduce((a, r) => a + (r.classifications ?? 0), 0),
    p50: s.p50,
    p95: s.p95,
    init: stats.median(rs.map((r) => r.init_ms)),
    coldLoad: stats.median(cold.map((r) => r.download_ms)),
    warmLoad: stats.median(warm.map((r) => r.download_ms)),
    coldWarm: `${cold.length}/${warm.length}`,
    bytes: stats.median(cold.map((r) => r.bytes_fetched)),
    heap: stats.median(rs.map((r) => r.js_heap_bytes)),
    longTasks: `${longTasks}${longTasks ? ` (max ${fmt(longMax, 0)} ms)` : ''}`,
    fallbackRate: rs.length ? fallbacks.length / rs.length : 0,
    reasons: fallbacks.map((r) => r.fallback_reason || r.provider_fallback),
  };
}

function cell(tag, text, cls) {
  const c = document.createElement(tag);
  c.textContent = text;
  if (cls) c.className = cls;
  return c;
}

function renderTable(rows) {
  const table = document.createElement('table');
  const head = [
    'Provider', 'Visits', 'Classifications', 'p50 ms', 'p95 ms', 'Init ms (median)',
    'Cold load ms', 'Warm load ms', 'Cold/warm', 'Bytes fetched cold (MB)', 'JS heap (MB)',
    'Long tasks >50 ms', 'Fallback rate',
  ];
  const thead = table.createTHead().insertRow();
  for (const h of head) thead.append(cell('th', h));
  const body = table.createTBody();
  for (const r of rows) {
    const tr = body.insertRow();
    tr.dataset.provider = r.provider;
    for (const v of [
      r.provider, String(r.visits), String(r.classifications), fmt(r.p50, 2), fmt(r.p95, 2), fmt(r.init),
      fmt(r.coldLoad, 0), fmt(r.warmLoad, 0), r.coldWarm, mb(r.bytes), mb(r.heap), r.longTasks,
      `${Math.round(r.fallbackRate * 100)}%`,
    ]) tr.append(cell('td', v));
  }
  $('results-table').replaceChildren(table);
}

function renderChart(rows) {
  const data = rows.filter((r) => Number.isFinite(r.p50));
  const host = $('results-chart');
  if (!data.length) {
    host.replaceChildren(cell('p', 'No classifications yet.', 'note'));
    return;
  }
  const max = Math.max(...data.map((r) => r.p95 ?? r.p50)) || 1;
  const rowH = 34;
  const left = 90;
  const width = 560;
  const barW = width - left - 90;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('viewBox', `0 0 ${width} ${data.length * rowH + 24}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'p50 and p95 classification latency per provider');
  const add = (tag, attrs, text) => {
    const n = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
    if (text !== undefined) n.textContent = text;
    svg.append(n);
    return n;
  };
  data.forEach((r, i) => {
    const y = i * rowH + 4;
    add('text', { x: 0, y: y + 18 }, r.provider);
    add('rect', { class: 'p95', x: left, y, width: Math.max(1, (barW * (r.p95 ?? r.p50)) / max), height: 12 });
    add('rect', { class: 'p50', x: left, y: y + 13, width: Math.max(1, (barW * r.p50) / max), height: 12 });
    add('text', { x: left + barW + 6, y: y + 11 }, `p95 ${fmt(r.p95, 2)}`);
    add('text', { x: left + barW + 6, y: y + 24 }, `p50 ${fmt(r.p50, 2)}`);
  });
  add('text', { x: left, y: data.length * rowH + 20 }, `0 … ${fmt(max, 2)} ms`);
  host.replaceChildren(svg);
}

function renderReasons(rows) {
  const counts = new Map();
  for (const r of rows) for (const reason of r.reasons) counts.set(`${r.provider}: ${reason}`, (counts.get(`${r.provider}: ${reason}`) ?? 0) + 1);
  const list = $('results-reasons');
  list.replaceChildren();
  for (const [reason, n] of [...counts].sort((a, b) => b[1] - a[1])) list.append(cell('li', `${n} × ${reason}`));
  if (!counts.size) list.append(cell('li', 'No fallbacks.'));
}

try {
  const res = await fetch('/api/measurements', { cache: 'no-store' });
  if (!res.ok) throw new Error(`GET /api/measurements answered HTTP ${res.status}`);
  const records = mergeSessions(await res.json());
  const rows = [...group(records)].map(([p, rs]) => rowFor(p, rs)).sort((a, b) => b.visits - a.visits);
  renderTable(rows);
  renderChart(rows);
  renderReasons(rows);
  $('results-status').textContent = `${records.length} page visit${records.length === 1 ? '' : 's'}.`;
  document.body.dataset.keelState = 'ready';
} catch (e) {
  $('results-status').textContent = `Could not load the measurements: ${e.message}`;
  document.body.dataset.keelState = 'error';
}
