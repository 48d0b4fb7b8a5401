// Verified, cached downloads for the Worker: the model (and the ONNX Runtime .wasm) are
// looked up in Cache Storage, else fetched with progress; every byte string is checked
// (size and SHA-256) BEFORE it is used or cached, whether it came from the network or from
// the cache. A cached copy that fails the check is deleted and fetched again, once.
// No imports: served under a hashed URL, a relative import would name a stale hash.
//
//   loadVerified({url, cacheName, cacheKey, what, maxBytes?, check, onProgress?(loaded, total)})
//     check(bytes, what) -> Promise<ms spent>: throws when the bytes are not the expected ones
//     (manifest.js checkBytes). Returns Promise<{bytes: Uint8Array, fromCache, bytesFetched,
//     downloadMs, verifyMs, notes: [strings]}>; throws check's error for bad bytes from the
//     network, or an Error for an HTTP/network failure or a body over maxBytes.
//   pruneCache(cacheName, keepKeys) -> deletes every other entry (old model versions)
//
// Cache Storage may be missing (e.g. storage disabled) or full: then the bytes are used
// without caching, and `notes` says so. Fetches bypass the HTTP cache when Cache Storage
// holds the copy, so the bytes are not stored twice.

async function openCache(cacheName, notes) {
  if (typeof caches === 'undefined') {
    notes.push('Cache Storage is not available: the download is not kept');
    return null;
  }
  try {
    return await caches.open(cacheName);
  } catch (e) {
    notes.push(`Cache Storage cannot be opened (${e.message}): the download is not kept`);
    return null;
  }
}

async function download(url, maxBytes, onProgress, fetchMode) {
  const t0 = performance.now();
  const res = await fetch(url, { cache: fetchMode, credentials: 'same-origin' });
  if (!res.ok) throw new Error(`GET ${url} answered HTTP ${res.status}`);
  const header = Number(res.headers.get('Content-Length'));
  const total = Number.isFinite(header) && header > 0 ? header : (maxBytes ?? 0);
  const limit = maxBytes ?? Infinity;
  const chunks = [];
  let loaded = 0;
  const reader = res.body.getReader();
  onProgress?.(0, total);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    loaded += value.byteLength;
    if (loaded > limit) {
      await reader.cancel();
      throw new Error(`${url} is larger than the ${limit} bytes expected`);
    }
    chunks.push(value);
    onProgress?.(loaded, total);
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return { bytes, downloadMs: performance.now() - t0 };
}

export async function loadVerified({ url, cacheName, cacheKey, what = url, maxBytes, check, onProgress }) {
  const notes = [];
  const cache = await openCache(cacheName, notes);
  if (cache) {
    const hit = await cache.match(cacheKey);
    if (hit) {
      const bytes = new Uint8Array(await hit.arrayBuffer());
      try {
        const verifyMs = await check(bytes, `the cached ${what}`);
        return { bytes, fromCache: true, bytesFetched: 0, downloadMs: 0, verifyMs, notes };
      } catch (e) {
        await cache.delete(cacheKey);
        notes.push(`${e.message}: deleted it and fetched it again`);
      }
    }
  }
  const { bytes, downloadMs } = await download(url, maxBytes, onProgress, cache ? 'no-store' : 'default');
  const verifyMs = await check(bytes, what);
  if (cache) {
    try {
      await cache.put(cacheKey, new Response(bytes, { headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.byteLength) } }));
    } catch (e) {
      notes.push(`could not keep ${what} in Cache Storage (${e.message})`);
    }
  }
  return { bytes, fromCache: false, bytesFetched: bytes.byteLength, downloadMs, verifyMs, notes };
}

export async function pruneCache(cacheName, keepKeys) {
  if (typeof caches === 'undefined') return;
  try {
    const cache = await caches.open(cacheName);
    const keep = new Set(keepKeys.map((k) => new URL(k, self.location.href).href));
    for (const req of await cache.keys()) {
      if (!keep.has(req.url)) await cache.delete(req);
    }
  } catch {
    // pruning is housekeeping: a failure leaves old entries, nothing else
  }
}
