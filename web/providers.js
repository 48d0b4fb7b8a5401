// Local execution-provider detection for the Worker (docs/browser-classifier.md).
//
//   probeProvider(name, {allowFallbackAdapter}) -> Promise<{ok: true, ep, detail} | {ok: false, reason}>
//     webnn:  navigator.ml exists and navigator.ml.createContext() succeeds; ep passes that
//             MLContext to ONNX Runtime.
//     webgpu: navigator.gpu exists and requestAdapter() returns an adapter that is not a
//             software fallback (e.g. SwiftShader: far slower than Wasm for this model), unless
//             allowFallbackAdapter (the developer forced providers with ?providers=).
//     wasm:   WebAssembly with SIMD; threads only when the page is cross-origin isolated and
//             SharedArrayBuffer exists (else one thread). `threads` says how many to ask for.
//   ep is the executionProviders entry for ort.InferenceSession.create; detail is a short
//   human description ("WebAssembly, SIMD, 2 threads").
//   parseProviderOverride(search, allowed) -> {providers, forced, ignored} for `?providers=a,b`
//
// Detection only says a provider may work: the caller still creates a session and runs a
// check inference on each candidate, falling through to the next on failure.
// No imports: served under a hashed URL, a relative import would name a stale hash.

export const KNOWN_PROVIDERS = ['webnn', 'webgpu', 'wasm'];

// A module with one SIMD instruction (i8x16.splat of 0): validates only where SIMD exists.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

export function wasmThreadsAvailable() {
  return self.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';
}

async function probeWebnn() {
  const ml = navigator.ml;
  if (!ml || typeof ml.createContext !== 'function') {
    return { ok: false, reason: 'navigator.ml is not available (this browser has no WebNN, or it is not enabled)' };
  }
  try {
    const context = await ml.createContext();
    return { ok: true, ep: { name: 'webnn', context }, detail: 'WebNN' };
  } catch (e) {
    return { ok: false, reason: `navigator.ml.createContext() failed: ${e.message}` };
  }
}

async function probeWebgpu({ allowFallbackAdapter = false } = {}) {
  const gpu = navigator.gpu;
  if (!gpu || typeof gpu.requestAdapter !== 'function') {
    return { ok: false, reason: 'navigator.gpu is not available (this browser has no WebGPU, or it is disabled)' };
  }
  let adapter;
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    return { ok: false, reason: `navigator.gpu.requestAdapter() failed: ${e.message}` };
  }
  if (!adapter) return { ok: false, reason: 'navigator.gpu.requestAdapter() returned no adapter (no usable GPU)' };
  const info = adapter.info ?? {};
  const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
  const software = info.isFallbackAdapter === true || adapter.isFallbackAdapter === true;
  if (software && !allowFallbackAdapter) {
    return {
      ok: false,
      reason: `the WebGPU adapter is a software fallback (${name || 'unnamed'}), slower than WebAssembly; ?providers=webgpu forces it`,
    };
  }
  const what = [name, software ? 'software' : ''].filter(Boolean).join(', ');
  return { ok: true, ep: { name: 'webgpu' }, detail: `WebGPU${what ? ` (${what})` : ''}` };
}

function probeWasm() {
  if (typeof WebAssembly !== 'object') return { ok: false, reason: 'WebAssembly is not available' };
  if (!WebAssembly.validate(SIMD_PROBE)) return { ok: false, reason: 'WebAssembly SIMD is not supported' };
  const threadsOk = wasmThreadsAvailable();
  const hc = navigator.hardwareConcurrency || 1;
  // ONNX Runtime's own default: half the logical cores, at most 4.
  const threads = threadsOk ? Math.min(4, Math.ceil(hc / 2)) : 1;
  const why = threadsOk ? '' : ' (not cross-origin isolated: no threads)';
  return {
    ok: true,
    ep: { name: 'wasm' },
    threads,
    detail: `WebAssembly, SIMD, ${threads} thread${threads === 1 ? '' : 's'}${why}`,
  };
}

export async function probeProvider(name, options = {}) {
  switch (name) {
    case 'webnn':
      return probeWebnn();
    case 'webgpu':
      return probeWebgpu(options);
    case 'wasm':
      return probeWasm();
    default:
      return { ok: false, reason: `unknown provider "${name}"` };
  }
}

export function parseProviderOverride(search, allowed) {
  const raw = new URLSearchParams(search).get('providers');
  if (raw === null) return { providers: allowed.slice(), forced: false, ignored: [] };
  const asked = raw.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const providers = asked.filter((p, i) => allowed.includes(p) && asked.indexOf(p) === i);
  const ignored = asked.filter((p) => !allowed.includes(p));
  return { providers, forced: true, ignored };
}
