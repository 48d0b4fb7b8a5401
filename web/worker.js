// The classifier Worker (module Worker started by app.js; docs/browser-classifier.md).
//
// It verifies the signed manifest against the pinned signer, loads the model (Cache Storage,
// else the network; size and SHA-256 checked before use and before caching), picks the first
// local provider in the page's order that creates a session and passes a check inference,
// and classifies texts with the `keel-hashed-bow-v1` featurizer. Every ort.Tensor (inputs and
// outputs) is disposed after each batch.
//
// Message protocol (all messages are plain objects with a `type`):
//
// page -> worker
//   {type: 'init', config, providers: [names in order], forced: bool}
//       config is the page config (docs/browser-classifier.md); providers is config.providers,
//       possibly restricted by `?providers=` (then forced is true, and a software WebGPU
//       adapter is accepted). Sent once.
//   {type: 'classify', id, text}
//       Queued; texts waiting together run as one batch (at most MAX_BATCH).
//   {type: 'heap', id}                         -> {type: 'heap', id, used_js_heap_bytes}
//
// worker -> page
//   {type: 'status', stage, message}          stage: verifying | probing | downloading |
//                                              starting
//   {type: 'progress', what: 'model'|'runtime', loaded, total}   bytes, throttled
//   {type: 'ready', provider, provider_detail, provider_reasons: {name: reason}, labels,
//    model_sha256, timings: {verify_manifest_ms, download_ms, verify_ms, init_ms, check_ms,
//    bytes_fetched, model_bytes_fetched, runtime_bytes_fetched, from_cache,
//    runtime_from_cache}, notes: [strings]}
//   {type: 'unavailable', stage, reason, provider_reasons, timings, notes}
//       stage: manifest | providers | download | verification | runtime | session | error.
//       Nothing is classified after this; the page falls back to the form (and, with
//       consent, the remote classifier).
//   {type: 'result', id, label, confidence, labels, probabilities: [numbers], provider,
//    latency_ms (received -> answered), compute_ms (featurize + run of its batch), batch}
//   {type: 'error', id, message}              one classification failed
//
// Dependencies are imported from the hashed URLs in config.assets / config.ort (never by a
// relative path, which would name a stale hash).

const MAX_BATCH = 16;
// ONNX Runtime Web's files as web/vendor.sh vendors them, looked up in config.assets unless
// the page config names them (config.ort: {module, wasm: {mjs, wasm}}).
const ORT_FILES = {
  module: 'ort.min.mjs',
  mjs: 'ort-wasm-simd-threaded.jsep.mjs',
  wasm: 'ort-wasm-simd-threaded.jsep.wasm',
};
const MODEL_CACHE = 'keel-models-v1';
const RUNTIME_CACHE = 'keel-runtime-v1';

let ort = null;
let featurize = null;
let model = null; // {session, inputName, outputName, labels, featurizer, provider}
const queue = [];
let busy = false;

const post = (m) => self.postMessage(m);

self.onmessage = (e) => {
  const m = e.data;
  switch (m?.type) {
    case 'init':
      init(m).catch((err) => post({ type: 'unavailable', stage: 'error', reason: String(err?.message ?? err), provider_reasons: {}, timings: {}, notes: [] }));
      break;
    case 'classify':
      queue.push({ id: m.id, text: String(m.text ?? ''), received: performance.now() });
      pump();
      break;
    case 'heap':
      post({ type: 'heap', id: m.id, used_js_heap_bytes: self.performance?.memory?.usedJSHeapSize ?? null });
      break;
    default:
      break;
  }
};

function progressReporter(what) {
  let last = 0;
  return (loaded, total) => {
    const now = performance.now();
    if (now - last >= 100 || loaded === total) {
      last = now;
      post({ type: 'progress', what, loaded, total });
    }
  };
}

function hashedAssetPrefix(url) {
  const m = /\/assets\/([0-9a-f]{16})\//.exec(url);
  return m ? m[1] : null;
}

async function init({ config, providers, forced }) {
  const abs = (u) => new URL(u, self.location.href).href;
  const [manifestMod, store, probes, feat] = await Promise.all([
    import(abs(config.assets['manifest.js'])),
    import(abs(config.assets['model-store.js'])),
    import(abs(config.assets['providers.js'])),
    import(abs(config.assets['featurizer.js'])),
  ]);
  featurize = feat.featurize;
  const timings = {};
  const notes = [];
  const reasons = {};
  const unavailable = (stage, reason) => post({ type: 'unavailable', stage, reason, provider_reasons: reasons, timings, notes });

  // 1. The manifest, against the pinned key.
  post({ type: 'status', stage: 'verifying', message: 'Checking the model signature' });
  let t0 = performance.now();
  let payload;
  try {
    payload = await manifestMod.verifyManifest(config.manifest, config.signer);
  } catch (e) {
    return unavailable('manifest', e.message);
  }
  timings.verify_manifest_ms = performance.now() - t0;
  const asset = manifestMod.modelAsset(payload);

  // 2. Which providers may work here (nothing is downloaded when none can).
  post({ type: 'status', stage: 'probing', message: 'Looking for a local backend' });
  const candidates = [];
  for (const name of providers) {
    const r = await probes.probeProvider(name, { allowFallbackAdapter: forced === true });
    if (r.ok) candidates.push({ name, ...r });
    else reasons[name] = r.reason;
  }
  if (candidates.length === 0) {
    const list = providers.length ? providers.map((p) => `${p}: ${reasons[p]}`).join('; ') : 'none allowed';
    return unavailable('providers', `no local backend can run the model (${list})`);
  }

  // 3. The model and the ONNX Runtime binary, verified, from Cache Storage or the network.
  post({ type: 'status', stage: 'downloading', message: 'Loading the model' });
  const ortFiles = {
    module: config.ort?.module ?? config.assets[ORT_FILES.module],
    mjs: config.ort?.wasm?.mjs ?? config.assets[ORT_FILES.mjs],
    wasm: config.ort?.wasm?.wasm ?? config.assets[ORT_FILES.wasm],
  };
  const missing = Object.entries(ORT_FILES).filter(([k]) => !ortFiles[k]).map(([, name]) => name);
  if (missing.length) return unavailable('runtime', `the server does not serve ONNX Runtime Web (${missing.join(', ')}): run web/vendor.sh`);
  const modelUrl = abs(config.model_base + asset.path);
  const runtimeUrl = abs(ortFiles.wasm);
  const runtimePrefix = hashedAssetPrefix(runtimeUrl);
  t0 = performance.now();
  let modelLoad;
  let runtimeLoad = null;
  try {
    const modelPromise = store.loadVerified({
      url: modelUrl,
      cacheName: MODEL_CACHE,
      cacheKey: modelUrl,
      what: 'model file',
      maxBytes: asset.size,
      check: (bytes, what) => manifestMod.checkBytes(bytes, { size: asset.size, sha256: asset.sha256 }, what),
      onProgress: progressReporter('model'),
    });
    // Only a content-addressed runtime URL can be checked and cached; otherwise ONNX Runtime
    // fetches it itself (through the HTTP cache).
    const runtimePromise = runtimePrefix
      ? store.loadVerified({
          url: runtimeUrl,
          cacheName: RUNTIME_CACHE,
          cacheKey: runtimeUrl,
          what: 'ONNX Runtime WebAssembly file',
          check: (bytes, what) => manifestMod.checkBytes(bytes, { sha256Prefix: runtimePrefix }, what),
          onProgress: progressReporter('runtime'),
        })
      : Promise.resolve(null);
    [modelLoad, runtimeLoad] = await Promise.all([modelPromise, runtimePromise]);
  } catch (e) {
    return unavailable(e instanceof manifestMod.VerificationError ? 'verification' : 'download', e.message);
  }
  notes.push(...modelLoad.notes, ...(runtimeLoad?.notes ?? []));
  timings.download_ms = performance.now() - t0;
  timings.verify_ms = modelLoad.verifyMs + (runtimeLoad?.verifyMs ?? 0);
  timings.model_bytes_fetched = modelLoad.bytesFetched;
  timings.runtime_bytes_fetched = runtimeLoad?.bytesFetched ?? null;
  timings.bytes_fetched = modelLoad.bytesFetched + (runtimeLoad?.bytesFetched ?? 0);
  timings.from_cache = modelLoad.fromCache;
  timings.runtime_from_cache = runtimeLoad?.fromCache ?? null;
  store.pruneCache(MODEL_CACHE, [modelUrl]);
  if (runtimePrefix) store.pruneCache(RUNTIME_CACHE, [runtimeUrl]);

  // 4. ONNX Runtime, configured before its first session.
  post({ type: 'status', stage: 'starting', message: 'Starting the model' });
  try {
    ort = await import(abs(ortFiles.module));
  } catch (e) {
    return unavailable('runtime', `ONNX Runtime Web could not be loaded: ${e.message}`);
  }
  const wasmCandidate = candidates.find((c) => c.name === 'wasm');
  ort.env.logLevel = 'error';
  ort.env.wasm.proxy = false; // already off the main thread
  // Threads only where the page is cross-origin isolated; else ONNX Runtime's default.
  const threads = wasmCandidate?.threads ?? (probes.wasmThreadsAvailable() ? undefined : 1);
  if (threads) ort.env.wasm.numThreads = threads;
  ort.env.wasm.wasmPaths = { mjs: abs(ortFiles.mjs), wasm: runtimeUrl };
  if (runtimeLoad) ort.env.wasm.wasmBinary = runtimeLoad.bytes.buffer;

  // 5. The first candidate that creates a session and answers a check inference.
  const inputName = payload.inputs[0].name;
  const outputName = payload.outputs[0].name;
  for (const c of candidates) {
    let session = null;
    try {
      t0 = performance.now();
      session = await ort.InferenceSession.create(modelLoad.bytes, {
        executionProviders: [c.ep],
        graphOptimizationLevel: 'all',
        preferredOutputLocation: 'cpu',
      });
      timings.init_ms = performance.now() - t0;
      ort.env.wasm.wasmBinary = undefined; // read once, when the runtime started
      t0 = performance.now();
      await checkInference(session, inputName, outputName, payload);
      timings.check_ms = performance.now() - t0;
      model = { session, inputName, outputName, labels: payload.labels, featurizer: payload.featurizer, provider: c.name };
      post({
        type: 'ready',
        provider: c.name,
        provider_detail: c.detail,
        provider_reasons: reasons,
        labels: payload.labels,
        model_sha256: asset.sha256,
        timings,
        notes,
      });
      pump();
      return;
    } catch (e) {
      reasons[c.name] = `${c.detail} was detected but ONNX Runtime could not run the model on it: ${e?.message ?? e}`;
      try {
        await session?.release();
      } catch {
        // a session that failed its check may not release cleanly; nothing more to do
      }
    }
  }
  const list = candidates.map((c) => `${c.name}: ${reasons[c.name]}`).join('; ');
  return unavailable('session', `no local backend could run the model (${list})`);
}

/** One inference on a zero vector: the output must be [1, labels] finite probabilities. */
async function checkInference(session, inputName, outputName, payload) {
  const dims = payload.featurizer.dims;
  const input = new ort.Tensor('float32', new Float32Array(dims), [1, dims]);
  let out = null;
  try {
    out = await session.run({ [inputName]: input });
    const t = out[outputName];
    if (!t) throw new Error(`the model has no output "${outputName}"`);
    const data = t.location === 'cpu' ? t.data : await t.getData();
    const n = payload.labels.length;
    if (t.dims.length !== 2 || t.dims[0] !== 1 || t.dims[1] !== n) throw new Error(`the output is [${t.dims}], not [1, ${n}]`);
    let sum = 0;
    for (const v of data) {
      if (!Number.isFinite(v) || v < 0) throw new Error('the output is not probabilities');
      sum += v;
    }
    if (Math.abs(sum - 1) > 1e-3) throw new Error(`the probabilities sum to ${sum}, not 1`);
  } finally {
    input.dispose();
    if (out) for (const t of Object.values(out)) t.dispose();
  }
}

async function pump() {
  if (busy || !model) return;
  busy = true;
  try {
    while (queue.length) await runBatch(queue.splice(0, MAX_BATCH));
  } finally {
    busy = false;
  }
}

async function runBatch(batch) {
  const { session, inputName, outputName, labels, featurizer, provider } = model;
  const dims = featurizer.dims;
  const t0 = performance.now();
  let input = null;
  let out = null;
  try {
    const x = new Float32Array(batch.length * dims);
    batch.forEach((m, i) => featurize(m.text, featurizer, x.subarray(i * dims, (i + 1) * dims)));
    input = new ort.Tensor('float32', x, [batch.length, dims]);
    out = await session.run({ [inputName]: input });
    const t = out[outputName];
    const data = t.location === 'cpu' ? t.data : await t.getData();
    const computeMs = performance.now() - t0;
    const n = labels.length;
    batch.forEach((m, i) => {
      const probabilities = Array.from(data.subarray(i * n, (i + 1) * n));
      let best = 0;
      for (let k = 1; k < n; k++) if (probabilities[k] > probabilities[best]) best = k;
      post({
        type: 'result',
        id: m.id,
        label: labels[best],
        confidence: probabilities[best],
        labels,
        probabilities,
        provider,
        latency_ms: performance.now() - m.received,
        compute_ms: computeMs,
        batch: batch.length,
      });
    });
  } catch (e) {
    for (const m of batch) post({ type: 'error', id: m.id, message: String(e?.message ?? e) });
  } finally {
    input?.dispose();
    if (out) for (const t of Object.values(out)) t.dispose();
  }
}
