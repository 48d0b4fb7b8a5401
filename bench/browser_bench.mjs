// Browser-classifier bench (docs/browser-classifier.md): the page's own measurements of a cold
// and a warm visit per provider, and the model math of Keel's server-side graph runtime
// against ONNX Runtime (onnxruntime-web's Node/Wasm build), all measured in this run on this
// machine. bench/browser_bench.sh is the entry point:
//
//   bench/browser_bench.sh [--rounds N]            (default 5; build/keel and web/ vendored)
//
// One `keel web serve --spec examples/browser-classifier.yaml --measurements FILE` for the run.
// Each round:
//   1. per provider configuration, in a FRESH Chromium profile (tests/web/lib/browser.mjs):
//      wasm          the page's own choice with no GPU flags (it picks Wasm here);
//      webgpu        `?providers=webgpu` with SwiftShader WebGPU (--enable-unsafe-swiftshader
//                    --enable-unsafe-webgpu); when it cannot run, the page's reason is kept and
//                    the provider is left out of the table (and of later rounds), with a note.
//      cold visit (wait for ready), JS heap after gc, CLASSIFY_DOCS held-out documents through
//      window.keelApp.suggest (the page's test hook: Worker, rendering, measurements), heap
//      after gc, flush; then a warm visit in the same profile (wait for ready, flush).
//      Numbers come from the page's reports as the server received them (GET
//      /api/measurements, merged per session): bytes_fetched, download_ms, init_ms, ready_ms,
//      latencies_ms (Worker side), roundtrip_ms (page), long_tasks. The bench adds what a
//      report cannot hold: navigation start -> ready (an init script watches
//      data-keel-state), heap growth across the classifications (after window.gc(), read with
//      the page's own keelApp.heap()), the server's byte counters (/metrics) per visit.
//   2. the same PEER_DOCS held-out documents, one at a time, (a) through POST /api/classify
//      (X-Keel-Consent: granted; `latency_ms` = the server's compute, and the HTTP round trip)
//      and (b) through ONNX Runtime Web's Node build (Wasm, 1 thread) on web/featurizer.js
//      features (featurize + run, as the Worker does), the order alternating per round. The
//      labels of both must agree on every document.
// Medians across rounds; a table on stdout; bench/results/browser-<time>.{json,svg}.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

import { REPO, requireBinary, startServer, metrics, counter } from '../tests/web/lib/server.mjs';
import { launch, waitForClassifier, WEBGPU_ARGS } from '../tests/web/lib/browser.mjs';

const { summary } = await import(pathToFileURL(path.join(REPO, 'web/stats.js')).href);
const { featurize } = await import(pathToFileURL(path.join(REPO, 'web/featurizer.js')).href);

const SPEC = path.join(REPO, 'examples/browser-classifier.yaml');
const HELDOUT = path.join(REPO, 'examples/browser-classifier/heldout.jsonl');
const CLASSIFY_DOCS = 50;
const PEER_DOCS = 600;
const PEER_WARMUP = 30;
const READY_TIMEOUT_MS = 120000;
const SETTLE_MS = 1000;

// ---- arguments, progress, cleanup ------------------------------------------------------

function parseArgs(argv) {
  const a = { rounds: 5, out: path.join(REPO, 'bench/results') };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--rounds') a.rounds = Number(argv[++i]);
    else if (argv[i] === '--out') a.out = path.resolve(argv[++i]);
    else if (argv[i] === '-h' || argv[i] === '--help') {
      console.log('bench/browser_bench.sh [--rounds N] [--out DIR]');
      process.exit(0);
    } else throw new Error(`unknown argument ${argv[i]} (bench/browser_bench.sh [--rounds N])`);
  }
  if (!Number.isInteger(a.rounds) || a.rounds < 1) throw new Error('--rounds takes a positive integer');
  return a;
}

const t00 = performance.now();
const log = (msg) => process.stderr.write(`browser_bench [${((performance.now() - t00) / 1000).toFixed(0).padStart(3)} s] ${msg}\n`);

const open = new Set(); // browsers to close
let server = null;
let tmp = null;
let stopping = false; // a signal arrived: main() gives up at its next step
let cleaning = null;

/** Closes the browsers, stops the server, removes the temporary files (once). */
function cleanup() {
  cleaning ??= (async () => {
    for (const b of [...open]) {
      open.delete(b);
      await b.close().catch(() => {});
    }
    if (server) await server.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  })();
  return cleaning;
}
process.on('exit', () => {
  // Last resort (an exit before cleanup finished): never leave the server or files behind.
  if (server && server.proc.exitCode === null && server.proc.signalCode === null) server.proc.kill('SIGKILL');
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: closing the browsers and stopping the server`);
    cleanup().finally(() => process.exit(130));
  });
}
const checkStop = () => {
  if (stopping) throw new Error('interrupted');
};

// ---- small helpers ---------------------------------------------------------------------

const loadDocs = () =>
  fs.readFileSync(HELDOUT, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));

const mid = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x));
  if (!v.length) return null;
  v.sort((a, b) => a - b);
  const n = v.length;
  return n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
};

const KINDS = ['page', 'asset', 'model', 'manifest'];
async function bytesSent(url) {
  const m = await metrics(url);
  return Object.fromEntries(KINDS.map((k) => [k, counter(m, 'keel_web_bytes_sent_total', { kind: k })]));
}
const sumDelta = (after, before) => KINDS.reduce((a, k) => a + (after[k] - before[k]), 0);

/** The server's view of one page visit: its reports merged (latest state, every latency). */
async function sessionReports(url, session, { wantLatencies = 0, timeout = 10000 } = {}) {
  const until = Date.now() + timeout;
  for (;;) {
    const all = await (await fetch(new URL('/api/measurements', url))).json();
    const reports = all.filter((r) => r.session === session).sort((a, b) => a.report - b.report);
    const latencies = reports.flatMap((r) => r.latencies_ms ?? []);
    if ((reports.length && latencies.length >= wantLatencies) || Date.now() > until) {
      if (!reports.length) throw new Error(`no measurement report of session ${session} reached the server`);
      const last = reports.at(-1);
      return {
        reports: reports.length,
        last,
        latencies,
        long_tasks: reports.reduce((a, r) => a + (r.long_tasks ?? 0), 0),
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Records when the page reaches ready/unavailable, from navigation start (performance.now()).
function watchReady() {
  const mark = () => {
    const s = document.body?.dataset.keelState;
    if ((s === 'ready' || s === 'unavailable') && window.__keelBenchReadyAt === undefined) {
      window.__keelBenchReadyAt = performance.now();
    }
  };
  new MutationObserver(mark).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-keel-state'] });
}

async function gcHeap(page) {
  return page.evaluate(async () => {
    for (let i = 0; i < 3; i++) {
      window.gc();
      await new Promise((r) => setTimeout(r, 50));
    }
    return window.keelApp.heap().main;
  });
}

// ---- one provider configuration, one round ---------------------------------------------

const PROVIDERS = {
  wasm: { label: 'wasm', query: '', launch: {}, expect: 'wasm' },
  webgpu: { label: 'webgpu-swiftshader', query: '?providers=webgpu', launch: { webgpu: true }, expect: 'webgpu' },
};

async function visit(page, url) {
  const before = await bytesSent(url);
  const t0 = performance.now();
  await page.goto(url);
  const st = await waitForClassifier(page, READY_TIMEOUT_MS);
  const benchWallMs = performance.now() - t0;
  const navToReady = await page.evaluate(() => window.__keelBenchReadyAt ?? null);
  const session = await page.evaluate(() => window.keelApp.record().session);
  return { st, before, navToReady, benchWallMs, session };
}

async function browserRound(url, key, docs) {
  const p = PROVIDERS[key];
  const browser = await launch(p.launch);
  open.add(browser);
  try {
    await browser.context.addInitScript(watchReady);
    const page = await browser.context.newPage();
    const target = url + p.query;

    // Cold visit.
    const cold = await visit(page, target);
    if (cold.st.phase !== 'ready' || cold.st.provider !== p.expect) {
      const why =
        cold.st.phase !== 'ready'
          ? `${cold.st.unavailable?.stage}: ${cold.st.unavailable?.reason}`
          : `the page ran on ${cold.st.provider} instead: ${cold.st.provider_reasons?.[p.expect] ?? 'no reason given'}`;
      return { ok: false, why, state: cold.st };
    }
    const heap0 = await gcHeap(page);
    const workerHeap0 = await page.evaluate(() => window.keelApp.workerHeap());
    const texts = docs.map((d) => d.text);
    const run = await page.evaluate(async (texts) => {
      const labels = [];
      const t0 = performance.now();
      for (const t of texts) labels.push((await window.keelApp.suggest(t)).label);
      return { labels, wall_ms: performance.now() - t0 };
    }, texts);
    const heap1 = await gcHeap(page);
    const workerHeap1 = await page.evaluate(() => window.keelApp.workerHeap());
    const pageRecord = await page.evaluate(() => window.keelApp.record());
    await page.evaluate(() => window.keelApp.flushMeasurements());
    const coldBytesServed = sumDelta(await bytesSent(url), cold.before);
    const coldRep = await sessionReports(url, cold.session, { wantLatencies: docs.length });

    // Warm visit, same profile.
    const warm = await visit(page, target);
    if (warm.st.phase !== 'ready') throw new Error(`warm visit (${key}) not ready: ${JSON.stringify(warm.st.unavailable)}`);
    await page.evaluate(() => window.keelApp.flushMeasurements());
    const warmBytesServed = sumDelta(await bytesSent(url), warm.before);
    const warmRep = await sessionReports(url, warm.session);

    const c = coldRep.last;
    const w = warmRep.last;
    const lat = summary(coldRep.latencies);
    const agree = run.labels.filter((l, i) => l === docs[i].label).length;
    return {
      ok: true,
      provider: c.provider,
      provider_detail: c.provider_detail,
      provider_reasons: c.provider_reasons,
      forced: c.forced,
      cold: {
        session: cold.session,
        reports: coldRep.reports,
        load: c.load,
        bytes_fetched: c.bytes_fetched,
        model_bytes_fetched: c.model_bytes_fetched,
        runtime_bytes_fetched: c.runtime_bytes_fetched,
        download_ms: c.download_ms,
        verify_ms: c.verify_ms,
        init_ms: c.init_ms,
        check_ms: c.check_ms,
        ready_ms: c.ready_ms,
        nav_to_ready_ms: cold.navToReady,
        bench_goto_to_ready_ms: cold.benchWallMs,
        server_bytes_sent: coldBytesServed,
      },
      warm: {
        session: warm.session,
        load: w.load,
        from_cache: w.from_cache,
        bytes_fetched: w.bytes_fetched,
        download_ms: w.download_ms,
        init_ms: w.init_ms,
        ready_ms: w.ready_ms,
        nav_to_ready_ms: warm.navToReady,
        bench_goto_to_ready_ms: warm.benchWallMs,
        server_bytes_sent: warmBytesServed,
      },
      classify: {
        documents: docs.length,
        reported_latencies: coldRep.latencies.length,
        classifications: c.classifications,
        worker_ms: { p50: lat.p50, p95: lat.p95, max: lat.max },
        roundtrip_ms: c.roundtrip_ms,
        wall_ms: run.wall_ms,
        heldout_accuracy: agree / docs.length,
        long_tasks: coldRep.long_tasks,
        long_task_max_ms: c.long_task_max_ms,
        long_tasks_observed_total: c.long_tasks_observed_total,
        heap_before: heap0,
        heap_after: heap1,
        heap_growth: heap1 - heap0,
        worker_heap_before: workerHeap0,
        worker_heap_after: workerHeap1,
        reported_js_heap_bytes: c.js_heap_bytes,
        page_record_matches: pageRecord.classifications === c.classifications,
      },
    };
  } finally {
    open.delete(browser);
    await browser.close();
  }
}

// ---- the peer comparison: Keel's server-side runtime against ONNX Runtime -------------

async function publishedModel(url) {
  const manifest = await (await fetch(new URL('/models/manifest.json', url))).json();
  const payload = JSON.parse(manifest.payload);
  const asset = payload.assets.find((a) => a.role === 'model');
  const bytes = Buffer.from(await (await fetch(new URL(`/models/${asset.path}`, url))).arrayBuffer());
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== asset.sha256 || bytes.length !== asset.size) throw new Error(`the published model does not match its manifest (${sha})`);
  return { payload, asset, bytes };
}

async function keelPass(url, docs) {
  const endpoint = new URL('/api/classify', url);
  const compute = [];
  const roundtrip = [];
  const labels = [];
  let sha = null;
  for (const d of docs) {
    const t0 = performance.now();
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Keel-Consent': 'granted' },
      body: JSON.stringify({ text: d.text }),
    });
    const j = await res.json();
    roundtrip.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`POST /api/classify answered ${res.status}: ${JSON.stringify(j)}`);
    compute.push(j.latency_ms);
    labels.push(j.label);
    sha = j.model_sha256;
  }
  return { compute, roundtrip, labels, model_sha256: sha };
}

async function ortPass(ort, session, payload, docs) {
  const dims = payload.featurizer.dims;
  const n = payload.labels.length;
  const [inputName] = session.inputNames;
  const [outputName] = session.outputNames;
  const compute = [];
  const labels = [];
  for (const d of docs) {
    const t0 = performance.now();
    const input = new ort.Tensor('float32', featurize(d.text, payload.featurizer), [1, dims]);
    const out = await session.run({ [inputName]: input });
    const data = out[outputName].data;
    let best = 0;
    for (let k = 1; k < n; k++) if (data[k] > data[best]) best = k;
    compute.push(performance.now() - t0);
    labels.push(payload.labels[best]);
    input.dispose();
    for (const t of Object.values(out)) t.dispose();
  }
  return { compute, labels };
}

// ---- the report: table, JSON, SVG ------------------------------------------------------

const fmt = (v, d = 1) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d));
const fmtBytes = (b) => (b === null || b === undefined || !Number.isFinite(b) ? '-' : b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : b >= 1e3 ? `${(b / 1e3).toFixed(1)} kB` : `${Math.round(b)} B`);
const fmtSigned = (b) => (b === null || b === undefined || !Number.isFinite(b) ? '-' : `${b >= 0 ? '+' : '-'}${fmtBytes(Math.abs(b))}`);

function printTable(rows) {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  rows.forEach((r, n) => {
    console.log(r.map((c, i) => (i ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  '));
    if (n === 0) console.log(w.map((x) => '-'.repeat(x)).join('  '));
  });
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function chart(file, report) {
  const rows = report.table.filter((r) => r.classify_p50_ms !== null);
  const browsers = report.table.filter((r) => r.ready_cold_ms !== null);
  const W = 1100;
  const H = 480;
  const top = 74;
  const bottom = H - 104;
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">Browser classifier: classification latency and time to ready</text>`,
    `<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">${esc(`median of ${report.rounds} rounds, this machine, ${report.date}; ${report.cpu}`)}</text>`,
  ];
  // Left: classify p50/p95 per provider, log scale (SwiftShader is ~100x slower than Wasm).
  const L = { x0: 70, x1: 700 };
  const vals = rows.flatMap((r) => [r.classify_p50_ms, r.classify_p95_ms]).filter((v) => v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...vals, 1)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...vals, 1) * 1.5));
  const ly = (v) => bottom - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (bottom - top);
  svg.push(`<text x="${(L.x0 + L.x1) / 2}" y="${top - 12}" text-anchor="middle">classify, ms per document (log scale)</text>`);
  for (let v = lo; v <= hi * 1.0001; v *= 10) {
    svg.push(`<line x1="${L.x0}" y1="${ly(v).toFixed(1)}" x2="${L.x1}" y2="${ly(v).toFixed(1)}" stroke="#ddd"/>`);
    svg.push(`<text x="${L.x0 - 6}" y="${(ly(v) + 4).toFixed(1)}" text-anchor="end">${v >= 1 ? v : v.toPrecision(1)}</text>`);
  }
  const group = (L.x1 - L.x0) / Math.max(rows.length, 1);
  const bar = Math.min(44, group / 2.6);
  rows.forEach((r, i) => {
    const gx = L.x0 + i * group + (group - 2 * bar) / 2;
    [
      ['p50', r.classify_p50_ms, '#1f77b4'],
      ['p95', r.classify_p95_ms, '#9ecae1'],
    ].forEach(([, v, color], k) => {
      if (!(v > 0)) return;
      const x = gx + k * bar;
      svg.push(`<rect x="${x.toFixed(1)}" y="${ly(v).toFixed(1)}" width="${(bar - 3).toFixed(1)}" height="${(bottom - ly(v)).toFixed(1)}" fill="${color}"/>`);
      svg.push(`<text x="${(x + bar / 2 - 1.5).toFixed(1)}" y="${(ly(v) - 4).toFixed(1)}" text-anchor="middle" font-size="11">${v < 10 ? v.toFixed(2) : v.toFixed(1)}</text>`);
    });
    svg.push(`<text x="${(gx + bar).toFixed(1)}" y="${bottom + 18}" text-anchor="middle">${esc(r.provider)}</text>`);
    svg.push(`<text x="${(gx + bar).toFixed(1)}" y="${bottom + 33}" text-anchor="middle" fill="#555" font-size="11">${esc(r.latency_kind)}</text>`);
  });
  svg.push(`<line x1="${L.x0}" y1="${bottom}" x2="${L.x1}" y2="${bottom}" stroke="black"/>`);
  svg.push(`<rect x="${L.x0 + 8}" y="${top + 4}" width="12" height="12" fill="#1f77b4"/><text x="${L.x0 + 26}" y="${top + 14}">p50</text>`);
  svg.push(`<rect x="${L.x0 + 66}" y="${top + 4}" width="12" height="12" fill="#9ecae1"/><text x="${L.x0 + 84}" y="${top + 14}">p95</text>`);

  // Right: time to ready (the page's ready_ms), cold vs warm, per browser provider.
  const R = { x0: 790, x1: 1070 };
  const rv = browsers.flatMap((r) => [r.ready_cold_ms, r.ready_warm_ms]).filter((v) => v > 0);
  const rmax = Math.max(...rv, 100) * 1.2;
  const step = [50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000].find((s) => rmax / s <= 6) ?? 50000;
  const ry = (v) => bottom - (v / rmax) * (bottom - top);
  svg.push(`<text x="${(R.x0 + R.x1) / 2}" y="${top - 12}" text-anchor="middle">time to ready, ms (page's ready_ms)</text>`);
  for (let v = 0; v <= rmax; v += step) {
    svg.push(`<line x1="${R.x0}" y1="${ry(v).toFixed(1)}" x2="${R.x1}" y2="${ry(v).toFixed(1)}" stroke="#ddd"/>`);
    svg.push(`<text x="${R.x0 - 6}" y="${(ry(v) + 4).toFixed(1)}" text-anchor="end">${v}</text>`);
  }
  const rgroup = (R.x1 - R.x0) / Math.max(browsers.length, 1);
  const rbar = Math.min(44, rgroup / 2.6);
  browsers.forEach((r, i) => {
    const gx = R.x0 + i * rgroup + (rgroup - 2 * rbar) / 2;
    [
      [r.ready_cold_ms, '#d62728'],
      [r.ready_warm_ms, '#2ca02c'],
    ].forEach(([v, color], k) => {
      if (!(v > 0)) return;
      const x = gx + k * rbar;
      svg.push(`<rect x="${x.toFixed(1)}" y="${ry(v).toFixed(1)}" width="${(rbar - 3).toFixed(1)}" height="${(bottom - ry(v)).toFixed(1)}" fill="${color}"/>`);
      svg.push(`<text x="${(x + rbar / 2 - 1.5).toFixed(1)}" y="${(ry(v) - 4).toFixed(1)}" text-anchor="middle" font-size="11">${v.toFixed(0)}</text>`);
    });
    svg.push(`<text x="${(gx + rbar).toFixed(1)}" y="${bottom + 18}" text-anchor="middle">${esc(r.provider)}</text>`);
  });
  svg.push(`<line x1="${R.x0}" y1="${bottom}" x2="${R.x1}" y2="${bottom}" stroke="black"/>`);
  svg.push(`<rect x="${R.x0 + 8}" y="${top + 4}" width="12" height="12" fill="#d62728"/><text x="${R.x0 + 26}" y="${top + 14}">cold</text>`);
  svg.push(`<rect x="${R.x0 + 70}" y="${top + 4}" width="12" height="12" fill="#2ca02c"/><text x="${R.x0 + 88}" y="${top + 14}">warm</text>`);
  const foot = [
    'browser rows: Worker-side latency (featurize + inference), from the page\'s measurement reports; server: keel web serve\'s own latency_ms;',
    'onnxruntime: featurize + session.run in Node, one document at a time. ' +
      (report.peer.ratio_p50 ? `peer p50 / Keel p50 = ${report.peer.ratio_p50.toFixed(2)}; labels agree on ${report.peer.agreement.agree}/${report.peer.agreement.total}` : ''),
  ];
  foot.forEach((t, i) => svg.push(`<text x="${W / 2}" y="${H - 32 + i * 15}" text-anchor="middle" fill="#555" font-size="11">${esc(t)}</text>`));
  svg.push('</svg>');
  fs.writeFileSync(file, svg.join('\n') + '\n');
}

// ---- main ------------------------------------------------------------------------------

async function main() {
  const a = parseArgs(process.argv.slice(2));
  requireBinary();
  const docs = loadDocs();
  if (docs.length < PEER_DOCS) throw new Error(`${HELDOUT} has ${docs.length} documents, fewer than ${PEER_DOCS}`);
  const step = Math.floor(docs.length / CLASSIFY_DOCS);
  const browserDocs = Array.from({ length: CLASSIFY_DOCS }, (_, i) => docs[i * step]); // spread over the file
  const peerDocs = docs.slice(0, PEER_DOCS);

  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'keel-browser-bench-'));
  const measurementsFile = path.join(tmp, 'measurements.jsonl');
  server = await startServer({ spec: SPEC, measurements: measurementsFile });
  const url = server.url;
  log(`keel web serve at ${url}, ${a.rounds} rounds`);

  // The peer: the published model (the bytes the server serves), in ONNX Runtime's Node build.
  const require = createRequire(path.join(REPO, 'web/package.json'));
  const ort = require('onnxruntime-web');
  const ortVersion = JSON.parse(fs.readFileSync(path.join(REPO, 'web/node_modules/onnxruntime-web/package.json'), 'utf8')).version;
  ort.env.wasm.numThreads = 1; // as Keel's classifier: one document, one thread
  ort.env.logLevel = 'error';
  const published = await publishedModel(url);
  let t0 = performance.now();
  const session = await ort.InferenceSession.create(published.bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const ortInitMs = performance.now() - t0;
  // Warm-up, not measured: first-call costs of both (JIT, allocations, connections).
  await keelPass(url, peerDocs.slice(0, PEER_WARMUP));
  await ortPass(ort, session, published.payload, peerDocs.slice(0, PEER_WARMUP));

  const keys = ['wasm', 'webgpu'];
  const browserRuns = { wasm: [], webgpu: [] };
  const skipped = {};
  const keelRuns = [];
  const ortRuns = [];
  let agree = 0;
  let compared = 0;
  const disagreements = [];
  for (let r = 1; r <= a.rounds; r++) {
    for (const key of keys) {
      checkStop();
      if (skipped[key]) continue;
      log(`round ${r}/${a.rounds}: ${PROVIDERS[key].label}: cold visit, ${CLASSIFY_DOCS} documents, warm visit`);
      let res;
      try {
        res = await browserRound(url, key, browserDocs);
      } catch (e) {
        if (key === 'wasm' || stopping) throw e; // the page's default must work
        res = { ok: false, why: `the bench could not drive it: ${e?.message ?? e}`.split('\n')[0] };
      }
      if (!res.ok) {
        skipped[key] = { round: r, why: res.why };
        log(`round ${r}/${a.rounds}: ${PROVIDERS[key].label} cannot run here: ${res.why} (left out from now on)`);
        continue;
      }
      browserRuns[key].push(res);
      log(
        `round ${r}/${a.rounds}: ${PROVIDERS[key].label}: cold ${fmtBytes(res.cold.bytes_fetched)}, ready ${fmt(res.cold.ready_ms, 0)} ms` +
          ` (warm ${fmt(res.warm.ready_ms, 0)} ms, ${fmtBytes(res.warm.bytes_fetched)}), classify p50 ${fmt(res.classify.worker_ms.p50, 2)}` +
          ` p95 ${fmt(res.classify.worker_ms.p95, 2)} ms, heap ${fmtSigned(res.classify.heap_growth)}, long tasks ${res.classify.long_tasks}`,
      );
    }
    const order = r % 2 ? ['keel', 'ort'] : ['ort', 'keel'];
    log(`round ${r}/${a.rounds}: ${PEER_DOCS} documents, ${order.join(' then ')}`);
    await new Promise((done) => setTimeout(done, SETTLE_MS)); // the closed browser's processes exit
    checkStop();
    let k = null;
    let o = null;
    for (const who of order) {
      globalThis.gc?.(); // each pass starts from a collected heap (node --expose-gc)
      if (who === 'keel') k = await keelPass(url, peerDocs);
      else o = await ortPass(ort, session, published.payload, peerDocs);
    }
    if (k.model_sha256 !== published.asset.sha256) throw new Error(`the server classifies with ${k.model_sha256}, the peer with ${published.asset.sha256}`);
    keelRuns.push({ compute: summary(k.compute), roundtrip: summary(k.roundtrip), first: order[0] === 'keel' });
    ortRuns.push({ compute: summary(o.compute), first: order[0] === 'ort' });
    k.labels.forEach((l, i) => {
      compared += 1;
      if (l === o.labels[i]) agree += 1;
      else if (disagreements.length < 20) disagreements.push({ round: r, doc: i, keel: l, onnxruntime: o.labels[i] });
    });
    log(
      `round ${r}/${a.rounds}: keel p50 ${fmt(keelRuns.at(-1).compute.p50, 3)} ms (HTTP ${fmt(keelRuns.at(-1).roundtrip.p50, 3)}),` +
        ` onnxruntime p50 ${fmt(ortRuns.at(-1).compute.p50, 3)} ms; labels agree ${k.labels.filter((l, i) => l === o.labels[i]).length}/${PEER_DOCS}`,
    );
  }
  await session.release();

  // Medians across rounds.
  const M = (runs, f) => mid(runs.map(f));
  const table = [];
  for (const key of keys) {
    const runs = browserRuns[key];
    if (!runs.length) continue;
    table.push({
      provider: PROVIDERS[key].label,
      latency_kind: 'Worker',
      detail: runs[0].provider_detail,
      cold_bytes: M(runs, (x) => x.cold.bytes_fetched),
      cold_download_ms: M(runs, (x) => x.cold.download_ms),
      init_ms: M(runs, (x) => x.cold.init_ms),
      init_warm_ms: M(runs, (x) => x.warm.init_ms),
      cache_load_warm_ms: M(runs, (x) => x.warm.download_ms),
      check_ms: M(runs, (x) => x.cold.check_ms),
      ready_cold_ms: M(runs, (x) => x.cold.ready_ms),
      ready_warm_ms: M(runs, (x) => x.warm.ready_ms),
      nav_ready_cold_ms: M(runs, (x) => x.cold.nav_to_ready_ms),
      nav_ready_warm_ms: M(runs, (x) => x.warm.nav_to_ready_ms),
      warm_bytes: M(runs, (x) => x.warm.bytes_fetched),
      server_bytes_cold: M(runs, (x) => x.cold.server_bytes_sent),
      server_bytes_warm: M(runs, (x) => x.warm.server_bytes_sent),
      classify_p50_ms: M(runs, (x) => x.classify.worker_ms.p50),
      classify_p95_ms: M(runs, (x) => x.classify.worker_ms.p95),
      roundtrip_p50_ms: M(runs, (x) => x.classify.roundtrip_ms.p50),
      roundtrip_p95_ms: M(runs, (x) => x.classify.roundtrip_ms.p95),
      heap_growth: M(runs, (x) => x.classify.heap_growth),
      long_tasks: M(runs, (x) => x.classify.long_tasks),
      long_tasks_max_round: Math.max(...runs.map((x) => x.classify.long_tasks)),
      heldout_accuracy: M(runs, (x) => x.classify.heldout_accuracy),
      documents: CLASSIFY_DOCS,
    });
  }
  const keelP50 = M(keelRuns, (x) => x.compute.p50);
  const ortP50 = M(ortRuns, (x) => x.compute.p50);
  table.push({
    provider: 'server/keel-runtime',
    latency_kind: 'server compute',
    detail: 'keel web serve, POST /api/classify (graph runtime, featurize + run)',
    init_ms: null,
    ready_cold_ms: null,
    ready_warm_ms: null,
    classify_p50_ms: keelP50,
    classify_p95_ms: M(keelRuns, (x) => x.compute.p95),
    roundtrip_p50_ms: M(keelRuns, (x) => x.roundtrip.p50),
    roundtrip_p95_ms: M(keelRuns, (x) => x.roundtrip.p95),
    documents: PEER_DOCS,
  });
  table.push({
    provider: 'onnxruntime-node-wasm',
    latency_kind: 'featurize + run',
    detail: `onnxruntime-web ${ortVersion}, Node ${process.version}, wasm, 1 thread`,
    init_ms: ortInitMs,
    ready_cold_ms: null,
    ready_warm_ms: null,
    classify_p50_ms: ortP50,
    classify_p95_ms: M(ortRuns, (x) => x.compute.p95),
    documents: PEER_DOCS,
  });

  const date = new Date();
  const report = {
    bench: 'browser-classifier',
    date: date.toISOString().replace(/\.\d+Z$/, 'Z'),
    rounds: a.rounds,
    cpu: `${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}`,
    node: process.version,
    chromium: (await chromiumVersion()) ?? null,
    spec: path.relative(REPO, SPEC),
    webgpu_flags: WEBGPU_ARGS,
    classify_documents: CLASSIFY_DOCS,
    peer_documents: PEER_DOCS,
    table,
    skipped,
    peer: {
      keel: { p50_ms: keelP50, p95_ms: M(keelRuns, (x) => x.compute.p95), http_p50_ms: M(keelRuns, (x) => x.roundtrip.p50), http_p95_ms: M(keelRuns, (x) => x.roundtrip.p95) },
      onnxruntime: { version: ortVersion, threads: 1, init_ms: ortInitMs, p50_ms: ortP50, p95_ms: M(ortRuns, (x) => x.compute.p95) },
      ratio_p50: ortP50 / keelP50,
      ratio_p95: M(ortRuns, (x) => x.compute.p95) / M(keelRuns, (x) => x.compute.p95),
      agreement: { agree, total: compared, documents: PEER_DOCS, rounds: a.rounds, disagreements },
      warmup_documents: PEER_WARMUP,
      keel_runs: keelRuns,
      onnxruntime_runs: ortRuns,
    },
    browser_runs: browserRuns,
    measurements: {
      // Every report the pages posted: kept by the server (GET /api/measurements) and appended
      // to the --measurements file; the two must hold the same number.
      api_reports: (await (await fetch(new URL('/api/measurements', url))).json()).length,
      file_reports: fs.existsSync(measurementsFile) ? fs.readFileSync(measurementsFile, 'utf8').trim().split('\n').length : 0,
    },
  };

  // What the bench expects of the app; a miss is printed, not hidden in the JSON.
  const warnings = [];
  for (const key of keys) {
    for (const [i, x] of browserRuns[key].entries()) {
      const where = `${PROVIDERS[key].label}, round ${i + 1}`;
      if (x.warm.load !== 'warm' || x.warm.bytes_fetched !== 0) warnings.push(`${where}: the warm visit fetched ${x.warm.bytes_fetched} bytes (load ${x.warm.load})`);
      if (x.classify.reported_latencies !== x.classify.documents) {
        warnings.push(`${where}: the reports hold ${x.classify.reported_latencies} latencies for ${x.classify.documents} classifications`);
      }
      if (!x.classify.page_record_matches) warnings.push(`${where}: the page's record and its last report count different classifications`);
    }
  }
  if (report.measurements.api_reports !== report.measurements.file_reports) {
    warnings.push(`GET /api/measurements holds ${report.measurements.api_reports} reports, the --measurements file ${report.measurements.file_reports}`);
  }
  if (agree !== compared) warnings.push(`Keel and ONNX Runtime disagree on ${compared - agree} of ${compared} labels`);
  report.warnings = warnings;

  // The table.
  console.log(
    `\nbrowser-classifier bench: median of ${a.rounds} rounds, this machine (${report.cpu}), this run; ` +
      `browser rows from the page's measurement reports (${CLASSIFY_DOCS} held-out documents per visit), peer rows ${PEER_DOCS} documents one at a time\n`,
  );
  const rows = [
    ['provider', 'cold bytes', 'cold dl ms', 'init ms', 'ready ms cold/warm', 'warm bytes', 'classify p50/p95 ms', 'round trip p50/p95 ms', 'heap growth', 'long tasks'],
  ];
  for (const t of table) {
    const browser = t.ready_cold_ms !== null;
    rows.push([
      t.provider,
      browser ? fmtBytes(t.cold_bytes) : '-',
      browser ? fmt(t.cold_download_ms, 0) : '-',
      fmt(t.init_ms, t.init_ms !== null && t.init_ms < 10 ? 2 : 0),
      browser ? `${fmt(t.ready_cold_ms, 0)} / ${fmt(t.ready_warm_ms, 0)}` : '-',
      browser ? fmtBytes(t.warm_bytes) : '-',
      `${fmt(t.classify_p50_ms, t.classify_p50_ms < 10 ? 3 : 1)} / ${fmt(t.classify_p95_ms, t.classify_p95_ms < 10 ? 3 : 1)}`,
      t.roundtrip_p50_ms != null ? `${fmt(t.roundtrip_p50_ms, 2)} / ${fmt(t.roundtrip_p95_ms, 2)}` : '-',
      browser ? fmtSigned(t.heap_growth) : '-',
      browser ? `${fmt(t.long_tasks, 0)}` : '-',
    ]);
  }
  printTable(rows);
  console.log('');
  for (const t of table.filter((x) => x.ready_cold_ms !== null)) {
    console.log(
      `${t.provider}: ${t.detail}; navigation start -> ready ${fmt(t.nav_ready_cold_ms, 0)} / ${fmt(t.nav_ready_warm_ms, 0)} ms cold/warm; ` +
        `warm: cache read + verify ${fmt(t.cache_load_warm_ms, 0)} ms, session ${fmt(t.init_warm_ms, 0)} ms; check inference ${fmt(t.check_ms, 1)} ms; ` +
        `server sent ${fmtBytes(t.server_bytes_cold)} / ${fmtBytes(t.server_bytes_warm)} cold/warm (page + assets + model); ` +
        `held-out accuracy ${(100 * t.heldout_accuracy).toFixed(0)}%; long tasks at most ${t.long_tasks_max_round} in a round`,
    );
  }
  for (const [key, s] of Object.entries(skipped)) console.log(`${PROVIDERS[key].label}: left out (round ${s.round}): ${s.why}`);
  const p = report.peer;
  console.log(
    `peer: ONNX Runtime p50 / Keel p50 = ${p.ratio_p50.toFixed(2)} (p95 ${p.ratio_p95.toFixed(2)}); ` +
      `> 1: Keel's runtime is faster. Labels agree on ${agree}/${compared} (${PEER_DOCS} documents x ${a.rounds} rounds)` +
      (agree === compared ? '' : ` -- DISAGREEMENT: ${JSON.stringify(disagreements.slice(0, 5))}`),
  );
  for (const w of warnings) console.log(`WARNING: ${w}`);
  console.log(
    'columns: ready = the page\'s ready_ms (app start -> model ready); init = session creation (browser) or InferenceSession.create (Node); ' +
      'classify = Worker-side (browser), server latency_ms (Keel), featurize + run (ONNX Runtime); round trip = page (browser) or HTTP (Keel); ' +
      'heap growth = main-thread JS heap after gc, after - before the classifications; long tasks = main-thread tasks > 50 ms during classification.',
  );

  fs.mkdirSync(a.out, { recursive: true });
  const pad = (n) => String(n).padStart(2, '0');
  const stamp = `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}-${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
  const base = path.join(a.out, `browser-${stamp}`);
  fs.writeFileSync(`${base}.json`, JSON.stringify(report, null, 2) + '\n');
  chart(`${base}.svg`, report);
  console.log(`\nwrote ${path.relative(process.cwd(), `${base}.json`)}\nwrote ${path.relative(process.cwd(), `${base}.svg`)}`);
  log(`done in ${((performance.now() - t00) / 1000).toFixed(0)} s`);
  return agree === compared ? 0 : 2;
}

async function chromiumVersion() {
  const { CHROMIUM } = await import('../tests/web/lib/browser.mjs');
  const { execFileSync } = await import('node:child_process');
  try {
    return execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8', timeout: 10000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

let code = 1;
try {
  code = await main();
} catch (e) {
  if (stopping) {
    code = 130;
  } else {
    log(`failed: ${e?.stack ?? e}`);
    if (server) log(`server log (tail):\n${server.log().split('\n').slice(-15).join('\n')}`);
    code = 1;
  }
} finally {
  await cleanup();
}
process.exit(code);
