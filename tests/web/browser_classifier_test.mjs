// Browser tests of the browser-classifier scenario (docs/browser-classifier.md): the web app
// in web/, served by `keel web serve`, in Debian's Chromium driven by playwright-core.
//
//   (cd web && npm ci && ./vendor.sh)           # once: playwright-core, ONNX Runtime Web
//   KEEL_BIN=build/keel node --test tests/web/  # from the repository root
//
// What it checks (letters as in the scenario's test plan):
//   (a) a first visit downloads and verifies the model and labels a sample invoice `invoice`
//   (b) a second visit in the same browser fetches only the page; the model comes from cache
//   (c) a model with one byte flipped is refused; the form stays, with the reason;
//       a corrupted cached copy is deleted and fetched again
//   (d) a manifest signed by a key the deployment does not pin is refused
//   (e) providers: ?providers=wasm forces Wasm; without a GPU WebGPU is skipped with its
//       reason; a software WebGPU adapter (SwiftShader) is skipped for Wasm unless forced,
//       and forced (?providers=webgpu,wasm) it runs, or the page records why it could not
//   (f) low memory (navigator.deviceMemory 0.25): no Worker, no download, the form and why
//   (g) JavaScript off: the plain form files the document
//   (h) remote fallback: nothing is sent before consent; after it the server's label is the
//       local model's label for the same text
//   (i) 100 classifications leave the JS heap flat; (j) no long tasks during classification
//   plus: measurements reach GET /api/measurements, --measurements FILE and /results.
//
// Environment: KEEL_BIN (default build/keel), KEEL_CHROMIUM (default /usr/bin/chromium).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { REPO, requireBinary, startServer, metrics, counter, specVariant } from './lib/server.mjs';
import { launch, waitForClassifier, lowMemory, recordRequests } from './lib/browser.mjs';
import { tempDir, removeTempDirs, fetchPublished, tamperedCopy, wrongKeyCopy } from './lib/models.mjs';

const SPEC = path.join(REPO, 'examples/browser-classifier.yaml');
const INVOICE = `INVOICE No. INV-2024-0457
Date: 12 March 2024    Due date: 11 April 2024
Bill to: Northwind Traders GmbH, Hauptstrasse 12, 10115 Berlin
Description                         Qty   Unit price     Amount
Consulting services (March)          12     EUR 95.00   EUR 1,140.00
Software licence, annual              1    EUR 480.00     EUR 480.00
Subtotal EUR 1,620.00   VAT 19% EUR 307.80   Total due EUR 1,927.80
Please pay by bank transfer within 30 days quoting the invoice number.
IBAN DE44 5001 0517 5407 3249 31`;
const CONTRACT = 'This agreement is made between the parties named below. The term of this contract is 12 months.';

const kinds = ['page', 'asset', 'model', 'manifest', 'api', 'other'];
async function requestCounts(url) {
  const m = await metrics(url);
  return Object.fromEntries(kinds.map((k) => [k, counter(m, 'keel_web_requests_total', { kind: k })]));
}
const delta = (after, before) => Object.fromEntries(kinds.map((k) => [k, after[k] - before[k]]));

async function suggestion(page) {
  await page.waitForFunction(() => document.getElementById('suggestion')?.dataset.label, null, { timeout: 60000 });
  return page.evaluate(() => {
    const out = document.getElementById('suggestion');
    return {
      label: out.dataset.label,
      confidence: Number(out.dataset.confidence),
      text: out.textContent,
      category: document.getElementById('category').value,
      suggested: document.getElementById('suggested').value,
      provider: document.getElementById('provider-used').value,
      confidenceField: document.getElementById('confidence').value,
    };
  });
}

async function fileWithForm(page, text, category) {
  await page.fill('#document', text);
  await page.selectOption('#category', category);
  await Promise.all([page.waitForURL(/\/api\/submit$/), page.click('#file')]);
  return page.textContent('body');
}

describe('browser-classifier in Chromium', { timeout: 20 * 60 * 1000 }, () => {
  let server;
  let measurementsFile;
  const stops = [];

  before(async () => {
    requireBinary();
    measurementsFile = path.join(tempDir('keel-web-measurements-'), 'measurements.jsonl');
    server = await startServer({ spec: SPEC, measurements: measurementsFile });
  });
  after(async () => {
    for (const stop of stops.reverse()) await stop();
    await server?.stop();
    removeTempDirs();
  });

  describe('first and second visit', () => {
    let browser;
    let page;
    before(async () => {
      browser = await launch();
      page = await browser.context.newPage();
    });
    after(async () => browser?.close());

    it('(a) downloads and verifies the model, then labels an invoice', async (t) => {
      const before = await requestCounts(server.url);
      await page.goto(server.url);
      const st = await waitForClassifier(page);
      assert.equal(st.phase, 'ready', `not ready: ${JSON.stringify(st.unavailable)}`);
      assert.ok(['webnn', 'webgpu', 'wasm'].includes(st.provider), st.provider);
      assert.match(await page.textContent('#provider'), /Running on/);
      assert.match(await page.textContent('#status'), /Model downloaded .* verified/);

      await page.fill('#document', INVOICE); // classified as the user types (debounced)
      const s = await suggestion(page);
      assert.equal(s.label, 'invoice', s.text);
      assert.ok(s.confidence > 0.5 && s.confidence <= 1, String(s.confidence));
      assert.equal(s.category, 'invoice', 'the suggestion pre-selects the category');
      assert.equal(s.suggested, 'invoice');
      assert.equal(s.provider, st.provider);
      assert.equal(Number(s.confidenceField).toFixed(2), s.confidence.toFixed(2));

      const d = delta(await requestCounts(server.url), before);
      assert.equal(d.model, 1, 'the model is fetched once');
      assert.equal(d.manifest, 0, 'the manifest comes embedded in the page');
      const rec = await page.evaluate(() => window.keelApp.record());
      assert.equal(rec.cold, true);
      assert.equal(rec.from_cache, false);
      const { asset } = await fetchPublished(server.url, tempDir());
      assert.equal(rec.model_bytes_fetched, asset.size);
      assert.ok(rec.init_ms > 0 && rec.download_ms > 0);
      t.diagnostic(`provider ${st.provider} (${st.provider_detail}); skipped ${JSON.stringify(st.provider_reasons)}`);
      t.diagnostic(`cold: ${rec.bytes_fetched} bytes in ${rec.download_ms.toFixed(0)} ms, init ${rec.init_ms.toFixed(0)} ms, first classification ${rec.latency_ms.p50?.toFixed(2)} ms`);

      // The user can override the suggestion, and the form files what the user chose.
      await page.selectOption('#category', 'report');
      await page.click('#suggest');
      await page.waitForTimeout(500);
      assert.equal(await page.inputValue('#category'), 'report', 'a suggestion never overrides the user');
      await page.evaluate(() => window.keelApp.flushMeasurements());
    });

    it('(b) a second visit fetches only the page and loads the model from cache', async (t) => {
      // Counted by the server: the browser also reports requests its caches answer.
      const before = await requestCounts(server.url);
      await page.goto(server.url);
      const st = await waitForClassifier(page);
      assert.equal(st.phase, 'ready', JSON.stringify(st.unavailable));
      await page.fill('#document', INVOICE);
      assert.equal((await suggestion(page)).label, 'invoice');
      await page.evaluate(() => window.keelApp.flushMeasurements());
      const d = delta(await requestCounts(server.url), before);
      assert.deepEqual(
        { page: d.page, asset: d.asset, model: d.model, manifest: d.manifest },
        { page: 1, asset: 0, model: 0, manifest: 0 },
        `server counted ${JSON.stringify(d)}`,
      );
      const rec = await page.evaluate(() => window.keelApp.record());
      assert.equal(rec.from_cache, true);
      assert.equal(rec.cold, false);
      assert.equal(rec.bytes_fetched, 0);
      assert.match(await page.textContent('#status'), /from this browser.s cache/);
      t.diagnostic(`warm: init ${rec.init_ms.toFixed(0)} ms, load ${rec.download_ms.toFixed(0)} ms, ready after ${rec.ready_ms.toFixed(0)} ms`);
    });

    it('(c) a corrupted cached copy is deleted and fetched again', async () => {
      const model = await page.evaluate(async () => {
        const cache = await caches.open('keel-models-v1');
        const [key] = await cache.keys();
        await cache.put(key, new Response(new Uint8Array(16)));
        return key.url;
      });
      assert.match(model, /\/models\/sha256-[0-9a-f]{64}\.onnx$/);
      const before = await requestCounts(server.url);
      await page.goto(server.url);
      const st = await waitForClassifier(page);
      assert.equal(st.phase, 'ready', JSON.stringify(st.unavailable));
      const rec = await page.evaluate(() => window.keelApp.record());
      assert.equal(rec.from_cache, false);
      assert.ok(rec.notes.some((n) => /cached model file .*deleted it and fetched it again/.test(n)), JSON.stringify(rec.notes));
      assert.equal(delta(await requestCounts(server.url), before).model, 1);
    });
  });

  it('(c) a tampered model is refused and the form stays usable', async () => {
    const dir = await tamperedCopy(server.url);
    const tampered = await startServer({ spec: SPEC, models: dir });
    stops.push(tampered.stop);
    const browser = await launch();
    try {
      const page = await browser.context.newPage();
      await page.goto(tampered.url);
      const st = await waitForClassifier(page);
      assert.equal(st.phase, 'unavailable');
      assert.equal(st.unavailable.stage, 'verification');
      const status = await page.textContent('#status');
      assert.match(status, /In-browser suggestions are off: model file failed verification: its SHA-256/);
      assert.equal(await page.isVisible('#suggest-row'), false);
      const cached = await page.evaluate(async () => (await (await caches.open('keel-models-v1')).keys()).length);
      assert.equal(cached, 0, 'a file that failed verification is never cached');
      assert.match(await fileWithForm(page, INVOICE, 'invoice'), /Filed as invoice/);
    } finally {
      await browser.close();
    }
  });

  it('(d) a manifest signed by another key is refused before any download', async () => {
    const dir = await wrongKeyCopy(server.url);
    const other = await startServer({ spec: SPEC, models: dir });
    stops.push(other.stop);
    const browser = await launch();
    try {
      const page = await browser.context.newPage();
      const before = await requestCounts(other.url);
      await page.goto(other.url);
      const st = await waitForClassifier(page);
      assert.equal(st.phase, 'unavailable');
      assert.equal(st.unavailable.stage, 'manifest');
      assert.match(await page.textContent('#status'), /signature does not verify with the pinned signer key/);
      assert.equal(delta(await requestCounts(other.url), before).model, 0, 'nothing is downloaded');
      assert.match(await fileWithForm(page, CONTRACT, 'contract'), /Filed as contract/);
    } finally {
      await browser.close();
    }
  });

  describe('(e) providers', () => {
    it('?providers=wasm forces WebAssembly and says so', async () => {
      const browser = await launch();
      try {
        const page = await browser.context.newPage();
        await page.goto(`${server.url}?providers=wasm`);
        const st = await waitForClassifier(page);
        assert.equal(st.phase, 'ready', JSON.stringify(st.unavailable));
        assert.equal(st.provider, 'wasm');
        assert.equal(st.forced, true);
        assert.deepEqual(st.providers, ['wasm']);
        assert.match(await page.textContent('#provider'), /Running on WebAssembly.*forced by \?providers=wasm/);
        await page.fill('#document', INVOICE);
        assert.equal((await suggestion(page)).provider, 'wasm');
        const rec = await page.evaluate(() => window.keelApp.record());
        assert.equal(rec.forced, true);
        assert.deepEqual(rec.forced_providers, ['wasm']);
        assert.equal(rec.fallback_reason, null);
        assert.equal(rec.provider_fallback, null, 'the first allowed provider was used');
      } finally {
        await browser.close();
      }
    });

    it('without a GPU, WebNN and WebGPU are skipped with reasons and Wasm is used', async () => {
      const browser = await launch({ args: ['--disable-gpu'] });
      try {
        const page = await browser.context.newPage();
        await page.goto(server.url);
        const st = await waitForClassifier(page);
        assert.equal(st.phase, 'ready', JSON.stringify(st.unavailable));
        assert.equal(st.provider, 'wasm');
        assert.match(st.provider_reasons.webnn, /navigator\.ml/);
        assert.match(st.provider_reasons.webgpu, /navigator\.gpu/);
        const reasons = await page.textContent('#provider-reasons');
        assert.match(reasons, /WebNN not used: navigator\.ml/);
        assert.match(reasons, /WebGPU not used: navigator\.gpu/);
        const rec = await page.evaluate(() => window.keelApp.record());
        assert.match(rec.provider_fallback, /webgpu: navigator\.gpu/);
        assert.equal(rec.fallback_reason, null, 'it still classifies locally');
      } finally {
        await browser.close();
      }
    });

    it('a software WebGPU adapter (SwiftShader) is skipped for Wasm, with the reason', async () => {
      const browser = await launch({ webgpu: true, webnn: true });
      try {
        const page = await browser.context.newPage();
        await page.goto(server.url);
        const st = await waitForClassifier(page);
        assert.equal(st.phase, 'ready', JSON.stringify(st.unavailable));
        assert.match(st.provider_reasons.webnn, /navigator\.ml/, 'WebNN: capability detection only here');
        assert.equal(st.provider, 'wasm');
        assert.match(st.provider_reasons.webgpu, /software fallback .*swiftshader/);
        assert.match(await page.textContent('#provider-reasons'), /WebGPU not used: the WebGPU adapter is a software fallback/);
      } finally {
        await browser.close();
      }
    });

    it('?providers=webgpu,wasm runs on SwiftShader WebGPU, or records why it could not', async (t) => {
      const browser = await launch({ webgpu: true });
      try {
        const page = await browser.context.newPage();
        await page.goto(`${server.url}?providers=webgpu,wasm`);
        const st = await waitForClassifier(page);
        assert.equal(st.phase, 'ready', JSON.stringify(st.unavailable));
        if (st.provider === 'webgpu') {
          t.diagnostic(`WebGPU works here: ${st.provider_detail}`);
          assert.match(await page.textContent('#provider'), /Running on WebGPU .*forced by \?providers=webgpu,wasm/);
        } else {
          t.diagnostic(`WebGPU did not work here: ${st.provider_reasons.webgpu}`);
          assert.equal(st.provider, 'wasm');
          assert.ok(st.provider_reasons.webgpu, 'the page records why WebGPU was not used');
        }
        await page.fill('#document', INVOICE);
        const s = await suggestion(page);
        assert.equal(s.label, 'invoice');
        assert.equal(s.provider, st.provider);
        for (let i = 0; i < 20; i++) await page.evaluate((x) => window.keelApp.suggest(x), `${INVOICE} ${i}`);
        const rec = await page.evaluate(() => window.keelApp.record());
        t.diagnostic(`${st.provider}: init ${rec.init_ms.toFixed(0)} ms, p50 ${rec.latency_ms.p50.toFixed(2)} ms, p95 ${rec.latency_ms.p95.toFixed(2)} ms`);
        await page.evaluate(() => window.keelApp.flushMeasurements());
      } finally {
        await browser.close();
      }
    });
  });

  it('(f) low memory shows the form with the reason and never starts the Worker', async () => {
    const browser = await launch();
    try {
      await lowMemory(browser.context, 0.25);
      const page = await browser.context.newPage();
      const workers = [];
      page.on('worker', (w) => workers.push(w.url()));
      const seen = recordRequests(page);
      const before = await requestCounts(server.url);
      await page.goto(server.url);
      const st = await waitForClassifier(page);
      assert.equal(st.phase, 'unavailable');
      assert.equal(st.unavailable.stage, 'memory');
      assert.match(await page.textContent('#status'), /reports 256 MB of memory/);
      const optIn = (await page.evaluate(() => window.keelApp.config.remote?.mode)) === 'opt-in';
      assert.equal(await page.isVisible('#remote'), optIn, 'the consent switch only in opt-in mode');
      if (optIn) assert.equal(await page.isChecked('#remote-consent'), false);
      await page.fill('#document', INVOICE);
      await page.waitForTimeout(800);
      assert.deepEqual(workers, []);
      assert.equal(delta(await requestCounts(server.url), before).model, 0);
      assert.equal(seen.filter((r) => /worker\.js|\/models\/|\/api\/classify/.test(r.url)).length, 0);
      assert.match(await fileWithForm(page, INVOICE, 'invoice'), /Filed as invoice/);
    } finally {
      await browser.close();
    }
  });

  it('(g) with JavaScript off, the plain form files the document', async () => {
    const browser = await launch({ javaScriptEnabled: false });
    try {
      const page = await browser.context.newPage();
      const before = counter(await metrics(server.url), 'keel_web_form_submissions_total', { category: 'contract' });
      await page.goto(server.url);
      assert.equal(await page.isVisible('#classifier'), false);
      assert.match(await fileWithForm(page, CONTRACT, 'contract'), /Filed as contract/);
      const afterCount = counter(await metrics(server.url), 'keel_web_form_submissions_total', { category: 'contract' });
      assert.equal(afterCount - before, 1);
    } finally {
      await browser.close();
    }
  });

  it('(h) remote fallback: nothing is sent before consent; then the server agrees with the local model', async () => {
    const spec = specVariant(SPEC, tempDir('keel-web-remote-'), { remote: 'opt-in' });
    const remote = await startServer({ spec });
    stops.push(remote.stop);

    // The local label for the text, on the same server (local is available: remote unused).
    const local = await launch();
    let localLabel;
    try {
      const page = await local.context.newPage();
      const seen = recordRequests(page);
      await page.goto(remote.url);
      const st = await waitForClassifier(page);
      assert.equal(st.phase, 'ready', JSON.stringify(st.unavailable));
      assert.equal(st.remote_mode, 'opt-in');
      assert.equal(await page.isVisible('#remote'), true, 'the consent switch is shown in opt-in mode');
      await page.check('#remote-consent');
      await page.fill('#document', INVOICE);
      localLabel = (await suggestion(page)).label;
      assert.equal(seen.filter((r) => r.url.includes('/api/classify')).length, 0, 'local works: remote unused');
    } finally {
      await local.close();
    }

    const browser = await launch();
    try {
      await lowMemory(browser.context, 0.25);
      const page = await browser.context.newPage();
      const seen = recordRequests(page);
      await page.goto(remote.url);
      const st = await waitForClassifier(page);
      assert.equal(st.phase, 'unavailable');
      assert.equal(await page.isVisible('#remote'), true);
      assert.equal(await page.isChecked('#remote-consent'), false);
      await page.fill('#document', INVOICE);
      await page.waitForTimeout(1500); // longer than the typing debounce
      const classifyCalls = () => seen.filter((r) => new URL(r.url).pathname === '/api/classify').length;
      assert.equal(classifyCalls(), 0, 'nothing is sent before consent');
      assert.equal(counter(await metrics(remote.url), 'keel_web_remote_classifications_total'), 0);

      await page.check('#remote-consent');
      const s = await suggestion(page);
      assert.equal(s.provider, 'server');
      assert.equal(s.label, localLabel, 'the server labels the text as the local model did');
      assert.equal(classifyCalls(), 1);
      assert.equal(counter(await metrics(remote.url), 'keel_web_remote_classifications_total'), 1);

      await page.reload(); // the consent is remembered
      await waitForClassifier(page);
      assert.equal(await page.isChecked('#remote-consent'), true);
    } finally {
      await browser.close();
    }
  });

  it('(h) remote fallback "disabled": no consent switch, nothing sent, the endpoint refuses', async () => {
    const spec = specVariant(SPEC, tempDir('keel-web-noremote-'), { remote: 'disabled' });
    const server2 = await startServer({ spec });
    stops.push(server2.stop);
    const res = await fetch(new URL('/api/classify', server2.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Keel-Consent': 'granted' },
      body: JSON.stringify({ text: INVOICE }),
    });
    assert.equal(res.status, 403);
    const browser = await launch();
    try {
      await lowMemory(browser.context, 0.25);
      const page = await browser.context.newPage();
      const seen = recordRequests(page);
      await page.goto(server2.url);
      const st = await waitForClassifier(page);
      assert.equal(st.phase, 'unavailable');
      assert.equal(st.remote_mode, 'disabled');
      assert.equal(await page.isVisible('#remote'), false);
      assert.equal(await page.isVisible('#suggest-row'), false);
      await page.fill('#document', INVOICE);
      await page.waitForTimeout(1000);
      assert.equal(seen.filter((r) => new URL(r.url).pathname === '/api/classify').length, 0);
      assert.match(await fileWithForm(page, INVOICE, 'invoice'), /Filed as invoice/);
    } finally {
      await browser.close();
    }
  });

  it('(i) 100 classifications leave the JS heap flat and (j) cause no long tasks', async (t) => {
    const browser = await launch();
    try {
      const page = await browser.context.newPage();
      await page.goto(server.url);
      const st = await waitForClassifier(page);
      assert.equal(st.phase, 'ready', JSON.stringify(st.unavailable));
      const run = (n, offset) =>
        page.evaluate(
          async ([n, offset, text]) => {
            const labels = [];
            for (let i = 0; i < n; i++) labels.push((await window.keelApp.suggest(`${text}\nref ${offset + i}`)).label);
            return labels;
          },
          [n, offset, INVOICE],
        );
      const heap = () =>
        page.evaluate(async () => {
          for (let i = 0; i < 3; i++) {
            window.gc();
            await new Promise((r) => setTimeout(r, 50));
          }
          return performance.memory.usedJSHeapSize;
        });
      await run(10, 0);
      const heap0 = await heap();
      const labels = await run(100, 10);
      const heap1 = await heap();
      assert.ok(labels.every((l) => l === 'invoice'), `labels: ${[...new Set(labels)]}`);
      const growth = heap1 - heap0;
      t.diagnostic(`JS heap ${heap0} -> ${heap1} bytes (${growth >= 0 ? '+' : ''}${growth}) after 100 classifications on ${st.provider}`);
      assert.ok(growth < 5 * 1024 * 1024, `the JS heap grew by ${growth} bytes`);

      const rec = await page.evaluate(() => window.keelApp.record());
      assert.equal(rec.classifications, 110);
      assert.equal(rec.long_tasks_supported, true);
      t.diagnostic(`long tasks during classification: ${rec.long_tasks_total} (max ${rec.long_task_max_ms} ms); p50 ${rec.latency_ms.p50.toFixed(2)} ms, p95 ${rec.latency_ms.p95.toFixed(2)} ms, round trip p95 ${rec.roundtrip_ms.p95.toFixed(2)} ms`);
      assert.equal(rec.long_tasks_total, 0, `long tasks over 50 ms during classification: max ${rec.long_task_max_ms} ms`);
      await page.evaluate(() => window.keelApp.flushMeasurements());
    } finally {
      await browser.close();
    }
  });

  it('measurements reach the server, the --measurements file and /results', async () => {
    const res = await fetch(new URL('/api/measurements', server.url));
    const records = await res.json();
    assert.ok(Array.isArray(records) && records.length > 0);
    const ready = records.filter((r) => r.state === 'ready');
    assert.ok(ready.some((r) => r.cold === true) && ready.some((r) => r.cold === false), 'cold and warm visits');
    for (const r of ready) {
      assert.ok(typeof r.provider === 'string' && r.provider_reasons && typeof r.forced === 'boolean');
      assert.ok(Number.isFinite(r.init_ms) && Number.isFinite(r.bytes_fetched));
    }
    assert.ok(records.some((r) => r.state === 'unavailable' && /^memory: /.test(r.fallback_reason) && r.provider === 'none'));
    for (const r of records) {
      assert.ok(Number.isInteger(r.report) && r.report >= 1 && typeof r.session === 'string');
      assert.ok(Array.isArray(r.latencies_ms) && Number.isInteger(r.long_tasks));
      assert.ok(['cold', 'warm', 'none'].includes(r.load), r.load);
    }
    // Each latency is reported once: a session's reports never add up to more latencies than
    // it had classifications, and exactly as many when it posted after the last one ((i)).
    const bySession = new Map();
    for (const r of records) bySession.set(r.session, [...(bySession.get(r.session) ?? []), r]);
    let complete = 0;
    for (const reports of bySession.values()) {
      const last = reports.reduce((a, b) => (b.report > a.report ? b : a));
      const reported = reports.reduce((a, r) => a + r.latencies_ms.length, 0);
      assert.ok(reported <= last.classifications, `session ${last.session}: ${reported} > ${last.classifications}`);
      if (last.classifications === 110 && reported === 110) complete += 1;
    }
    assert.equal(complete, 1, 'the 110 classifications of (i) were reported exactly once');
    const lines = fs.readFileSync(measurementsFile, 'utf8').trim().split('\n');
    assert.equal(lines.length, records.length);

    const browser = await launch();
    try {
      const page = await browser.context.newPage();
      await page.goto(new URL('/results', server.url).href);
      await page.waitForFunction(() => document.body.dataset.keelState === 'ready');
      const providers = await page.$$eval('#results-table tbody tr', (rows) => rows.map((r) => r.dataset.provider));
      assert.ok(providers.includes('wasm'), JSON.stringify(providers));
      assert.ok(providers.includes('none'), 'visits without suggestions have a row');
      assert.ok((await page.$$('#results-chart svg rect')).length >= 2, 'the chart has bars');
    } finally {
      await browser.close();
    }
  });
});
