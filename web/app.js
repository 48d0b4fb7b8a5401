// The browser-classifier page controller (ES module; docs/browser-classifier.md).
//
// The form in index.html works on its own; this module adds suggestions on top of it:
// - reads the page config (<script type="application/json" id="keel-config">);
// - checks memory on the main thread (navigator.deviceMemory GB * 1024 against
//   config.memory.min_device_memory_mb and model_mb): too low -> no Worker, no download, the
//   form and the reason;
// - honours the developer override `?providers=a,b` (restricts config.providers; recorded as
//   forced);
// - starts worker.js (module Worker, URL config.worker; protocol at the top of worker.js),
//   shows download progress, the provider in use and why the others were skipped;
// - classifies as the user types (debounced) or on "Suggest", pre-selects the suggested
//   category unless the user chose one, and fills the hidden suggested/provider/confidence;
// - when local classification is unavailable and config.remote.mode is "opt-in", uses the
//   server only after the user's consent (remote.js);
// - posts measurements (report.js) and observes main-thread long tasks (perf.js).
//
// Test hook: window.keelApp = {config, state(), suggest(text), classify(text),
// flushMeasurements(), record(), heap()}; document.body.dataset.keelState is one of
// starting | loading | ready | unavailable, and data-keel-provider names the provider.
// Modules are imported from config.assets (hashed URLs), never by relative path.

const DEBOUNCE_MS = 300;
const PROVIDER_NAMES = { webnn: 'WebNN', webgpu: 'WebGPU', wasm: 'WebAssembly', server: 'the server' };

const config = JSON.parse(document.getElementById('keel-config').textContent);
const load = (name) => import(new URL(config.assets[name], location.href).href);
const [stats, perf, remoteMod, providersMod, reportMod] = await Promise.all([
  load('stats.js'),
  load('perf.js'),
  load('remote.js'),
  load('providers.js'),
  load('report.js'),
]);

const $ = (id) => document.getElementById(id);
const el = {
  panel: $('classifier'),
  status: $('status'),
  progress: $('progress'),
  provider: $('provider'),
  reasons: $('provider-reasons'),
  text: $('document'),
  suggestRow: $('suggest-row'),
  suggest: $('suggest'),
  suggestion: $('suggestion'),
  category: $('category'),
  suggested: $('suggested'),
  providerUsed: $('provider-used'),
  confidence: $('confidence'),
  remoteBox: $('remote'),
  remoteConsent: $('remote-consent'),
  remoteNote: $('remote-note'),
};

const state = {
  phase: 'starting', // starting | loading | ready | unavailable
  provider: null,
  providerDetail: null,
  reasons: {},
  unavailable: null, // {stage, reason}
  userChoseCategory: false,
  seq: 0,
  lastResult: null,
};

const longTasks = perf.createLongTaskMonitor();
let workerHeap = null;
const reporter = reportMod.createReporter({
  endpoint: '/api/measurements',
  summary: stats.summary,
  collect: () => ({
    js_heap_bytes: perf.usedJsHeapBytes(),
    worker_js_heap_bytes: workerHeap,
    ...longTasks.stats(),
  }),
});

// ---- rendering -------------------------------------------------------------------------

function setPhase(phase) {
  state.phase = phase;
  document.body.dataset.keelState = phase;
  el.panel.classList.toggle('unavailable', phase === 'unavailable');
}

function setStatus(text) {
  el.status.textContent = text;
}

function showReasons(reasons) {
  el.reasons.replaceChildren();
  for (const [name, reason] of Object.entries(reasons)) {
    const li = document.createElement('li');
    li.textContent = `${PROVIDER_NAMES[name] ?? name} not used: ${reason}`;
    el.reasons.append(li);
  }
  el.reasons.hidden = el.reasons.childElementCount === 0;
}

function formatMb(bytes) {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

function renderSuggestionControls() {
  const remoteUsable = state.phase === 'unavailable' && remote.usable(false);
  el.suggestRow.hidden = !(state.phase === 'loading' || state.phase === 'ready' || remoteUsable);
  el.suggest.disabled = !(state.phase === 'ready' || remoteUsable);
  if (remote.mode === 'opt-in') {
    el.remoteNote.textContent =
      state.phase === 'unavailable'
        ? remote.consented()
          ? 'Suggestions come from the server, because this browser cannot compute them.'
          : 'Nothing is sent until you allow it.'
        : 'Not needed now: this browser computes the suggestions itself.';
  }
}

function renderResult(r) {
  const pct = Math.round(r.confidence * 100);
  el.suggestion.textContent = `Suggested: ${r.label} (${pct}% confidence, ${PROVIDER_NAMES[r.provider] ?? r.provider})`;
  el.suggestion.dataset.label = r.label;
  el.suggestion.dataset.confidence = String(r.confidence);
  el.suggested.value = r.label;
  el.providerUsed.value = r.provider;
  el.confidence.value = r.confidence.toFixed(4);
  if (!state.userChoseCategory && [...el.category.options].some((o) => o.value === r.label)) {
    el.category.value = r.label;
  }
}

// ---- classification --------------------------------------------------------------------

let worker = null;
let nextId = 1;
const pending = new Map(); // id -> {resolve, reject}

function classifyLocal(text) {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    worker.postMessage({ type: 'classify', id, text });
  });
}

/** The classification the page would show for `text`, without rendering it. */
async function classify(text) {
  if (state.phase === 'ready') return classifyLocal(text);
  if (state.phase === 'unavailable' && remote.usable(false)) return remote.classify(text);
  return null;
}

/** Classifies, renders the answer (unless a newer request overtook it) and records it. */
async function suggest(text) {
  const seq = ++state.seq;
  const span = longTasks.begin();
  const t0 = performance.now();
  try {
    const r = await classify(text);
    if (!r) return null;
    if (seq === state.seq) {
      renderResult(r);
      state.lastResult = r;
    }
    const roundtrip = performance.now() - t0;
    if (r.provider === 'server') reporter.set({ provider: 'server' });
    reporter.addClassification({
      provider: r.provider,
      latency_ms: r.provider === 'server' ? roundtrip : r.latency_ms,
      roundtrip_ms: roundtrip,
    });
    reporter.schedule();
    return r;
  } catch (e) {
    if (seq === state.seq) el.suggestion.textContent = `No suggestion: ${e.message}`;
    reporter.set({ last_error: String(e.message) });
    throw e;
  } finally {
    longTasks.end(span);
  }
}

let debounce = null;
el.text.addEventListener('input', () => {
  clearTimeout(debounce);
  debounce = setTimeout(() => {
    const text = el.text.value;
    if (text.trim() && (state.phase === 'ready' || remote.usable(false))) suggest(text).catch(() => {});
  }, DEBOUNCE_MS);
});
el.suggest.addEventListener('click', () => {
  clearTimeout(debounce);
  if (el.text.value.trim()) suggest(el.text.value).catch(() => {});
});
el.category.addEventListener('change', () => {
  state.userChoseCategory = true; // only the user fires 'change'; the suggestion never overrides it
});

const remote = remoteMod.createRemote(
  config.remote,
  { box: el.remoteBox, checkbox: el.remoteConsent, note: el.remoteNote },
  (granted) => {
    reporter.set({ remote_consent: granted });
    renderSuggestionControls();
    if (granted && state.phase === 'unavailable' && el.text.value.trim()) suggest(el.text.value).catch(() => {});
  },
);

// ---- start-up --------------------------------------------------------------------------

function checkMemory(memory) {
  const gb = navigator.deviceMemory;
  const need = Math.max(memory?.min_device_memory_mb ?? 0, memory?.model_mb ?? 0);
  if (typeof gb !== 'number') return { ok: true, device_memory_mb: null };
  const mb = gb * 1024;
  if (mb < need) {
    return {
      ok: false,
      device_memory_mb: mb,
      reason: `this device reports ${mb} MB of memory (navigator.deviceMemory), less than the ${need} MB the in-browser classifier needs`,
    };
  }
  return { ok: true, device_memory_mb: mb };
}

function becomeUnavailable(stage, reason, extra = {}) {
  state.unavailable = { stage, reason };
  setPhase('unavailable');
  el.progress.hidden = true;
  setStatus(`In-browser suggestions are off: ${reason}. Choose the category yourself; filing works as usual.`);
  showReasons(state.reasons);
  renderSuggestionControls();
  reporter.set({
    state: 'unavailable',
    provider: 'none',
    load: 'none',
    fallback_stage: stage,
    fallback_reason: `${stage}: ${reason}`,
    ...extra,
  });
  reporter.flush();
}

function onWorkerMessage(m) {
  switch (m.type) {
    case 'status':
      setStatus(`${m.message}…`);
      break;
    case 'progress': {
      progress[m.what] = m;
      const loaded = Object.values(progress).reduce((a, p) => a + p.loaded, 0);
      const total = Object.values(progress).reduce((a, p) => a + (p.total || p.loaded), 0);
      el.progress.hidden = false;
      el.progress.max = total || 1;
      el.progress.value = loaded;
      setStatus(`Downloading the classifier: ${formatMb(loaded)} of ${formatMb(total)}…`);
      break;
    }
    case 'ready': {
      state.provider = m.provider;
      state.providerDetail = m.provider_detail;
      state.reasons = m.provider_reasons;
      el.progress.hidden = true;
      const t = m.timings;
      const from = t.from_cache
        ? 'Model loaded from this browser’s cache'
        : `Model downloaded (${formatMb(t.model_bytes_fetched)}${t.runtime_bytes_fetched ? `, runtime ${formatMb(t.runtime_bytes_fetched)}` : ''})`;
      setStatus(`Ready: suggestions run in this browser. ${from} and verified.`);
      el.provider.hidden = false;
      el.provider.textContent =
        `Running on ${m.provider_detail}` +
        (forced ? ` — forced by ?providers=${effective.join(',')}` : '') +
        (Object.keys(m.provider_reasons).length ? ', after skipping:' : ', the first choice.');
      el.provider.dataset.provider = m.provider;
      document.body.dataset.keelProvider = m.provider;
      showReasons(m.provider_reasons);
      setPhase('ready');
      renderSuggestionControls();
      const first = effective[0];
      reporter.set({
        state: 'ready',
        provider: m.provider,
        provider_detail: m.provider_detail,
        provider_reasons: m.provider_reasons,
        load: t.from_cache ? 'warm' : 'cold',
        from_cache: t.from_cache,
        cold: !t.from_cache,
        runtime_from_cache: t.runtime_from_cache,
        bytes_fetched: t.bytes_fetched,
        model_bytes_fetched: t.model_bytes_fetched,
        runtime_bytes_fetched: t.runtime_bytes_fetched,
        download_ms: t.download_ms,
        verify_ms: t.verify_ms,
        verify_manifest_ms: t.verify_manifest_ms,
        init_ms: t.init_ms,
        check_ms: t.check_ms,
        model_sha256: m.model_sha256,
        fallback_reason: null,
        provider_fallback:
          m.provider === first ? null : effective.slice(0, effective.indexOf(m.provider)).map((p) => `${p}: ${m.provider_reasons[p]}`).join('; '),
        notes: m.notes,
        ready_ms: performance.now() - startedAt,
      });
      reporter.flush();
      if (el.text.value.trim()) suggest(el.text.value).catch(() => {});
      break;
    }
    case 'unavailable':
      state.reasons = m.provider_reasons;
      if (worker) worker.terminate();
      worker = null;
      becomeUnavailable(m.stage, m.reason, {
        provider_reasons: m.provider_reasons,
        notes: m.notes,
        bytes_fetched: m.timings?.bytes_fetched ?? 0,
      });
      break;
    case 'result':
    case 'error': {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (!p) break;
      if (m.type === 'result') p.resolve(m);
      else p.reject(new Error(m.message));
      break;
    }
    case 'heap': {
      const p = pending.get(m.id);
      pending.delete(m.id);
      workerHeap = m.used_js_heap_bytes;
      p?.resolve(workerHeap);
      break;
    }
    default:
      break;
  }
}

const progress = {};
const startedAt = performance.now();
const override = providersMod.parseProviderOverride(location.search, config.providers ?? []);
const effective = override.providers;
const forced = override.forced;

el.panel.hidden = false;
setPhase('starting');
reporter.set({
  state: 'loading',
  provider: 'none',
  load: 'none',
  forced,
  forced_providers: forced ? effective : null,
  providers_allowed: config.providers,
  remote_mode: remote.mode,
  remote_consent: remote.consented(),
  cross_origin_isolated: self.crossOriginIsolated === true,
});

const memory = checkMemory(config.memory);
reporter.set({ device_memory_mb: memory.device_memory_mb });
if (!memory.ok) {
  becomeUnavailable('memory', memory.reason);
} else if (effective.length === 0) {
  becomeUnavailable('providers', `?providers=${new URLSearchParams(location.search).get('providers')} allows none of ${config.providers.join(', ')}`);
} else {
  setPhase('loading');
  setStatus('Starting the classifier…');
  renderSuggestionControls();
  try {
    worker = new Worker(new URL(config.worker, location.href), { type: 'module', name: 'keel-classifier' });
    worker.onmessage = (e) => onWorkerMessage(e.data);
    worker.onerror = (e) => {
      e.preventDefault?.();
      if (state.phase !== 'unavailable') becomeUnavailable('worker', `the classifier Worker failed to start (${e.message || 'script error'})`);
    };
    worker.postMessage({ type: 'init', config, providers: effective, forced });
  } catch (e) {
    becomeUnavailable('worker', `the classifier Worker could not be started (${e.message})`);
  }
}

function workerHeapBytes() {
  if (!worker) return Promise.resolve(null);
  return new Promise((resolve) => {
    const id = nextId++;
    pending.set(id, { resolve, reject: () => resolve(null) });
    worker.postMessage({ type: 'heap', id });
  });
}

window.keelApp = {
  config,
  state: () => ({
    phase: state.phase,
    provider: state.provider,
    provider_detail: state.providerDetail,
    provider_reasons: state.reasons,
    unavailable: state.unavailable,
    forced,
    providers: effective,
    remote_mode: remote.mode,
    remote_consent: remote.consented(),
  }),
  suggest: (text) => {
    el.text.value = text;
    return suggest(text);
  },
  classify,
  flushMeasurements: async () => {
    await workerHeapBytes();
    return reporter.flush();
  },
  record: () => reporter.record(),
  heap: () => ({ main: perf.usedJsHeapBytes(), worker: workerHeap }),
  workerHeap: workerHeapBytes,
};
