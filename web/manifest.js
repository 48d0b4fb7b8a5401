// Signed model manifest verification (docs/browser-classifier.md, "Signed manifest").
//
//   verifyManifest(manifest, signer) -> Promise<payload object>
//     manifest: {payload: string, signature: "ed25519:<128 hex>", key: "ed25519:<64 hex>"}
//     signer:   the key the deployment pins ("ed25519:<64 hex>", page config `signer`)
//   Verifies the Ed25519 signature over the exact UTF-8 bytes of `payload` with the pinned
//   signer, never with the manifest's own `key` field (that only names the key used), then
//   checks the payload's shape. Throws VerificationError with a message for the user.
//
//   modelAsset(payload) -> the {role: "model", path, sha256, size, format: "onnx"} asset
//   sha256Hex(bytes)    -> Promise<lower-case hex SHA-256 of an ArrayBuffer/view>
//   checkBytes(bytes, {sha256?, sha256Prefix?, size?}, what) -> Promise<ms spent>; throws
//                          VerificationError naming `what` when size or hash differ
//
// No imports: served under a hashed URL, a relative import would name a stale hash.
//
// Uses WebCrypto only (crypto.subtle Ed25519, SHA-256): a secure context is required.

export const SUPPORTED_FEATURIZER = 'keel-hashed-bow-v1';

export class VerificationError extends Error {
  constructor(message) {
    super(message);
    this.name = 'VerificationError';
  }
}

function hexToBytes(hex, bytes, what) {
  if (typeof hex !== 'string' || hex.length !== bytes * 2 || !/^[0-9a-f]+$/.test(hex)) {
    throw new VerificationError(`${what} is not ${bytes * 2} lower-case hex digits`);
  }
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function ed25519Hex(text, bytes, what) {
  const prefix = 'ed25519:';
  if (typeof text !== 'string' || !text.startsWith(prefix)) {
    throw new VerificationError(`${what} does not start with "${prefix}"`);
  }
  return hexToBytes(text.slice(prefix.length), bytes, what);
}

export async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}

export async function checkBytes(bytes, expect, what) {
  const t0 = performance.now();
  if (expect.size !== undefined && bytes.byteLength !== expect.size) {
    throw new VerificationError(`${what} has ${bytes.byteLength} bytes, the signed manifest says ${expect.size}`);
  }
  const hex = await sha256Hex(bytes);
  if (expect.sha256 !== undefined && hex !== expect.sha256) {
    throw new VerificationError(`${what} failed verification: its SHA-256 is ${hex.slice(0, 12)}…, the signed manifest says ${expect.sha256.slice(0, 12)}…`);
  }
  if (expect.sha256Prefix !== undefined && !hex.startsWith(expect.sha256Prefix)) {
    throw new VerificationError(`${what} failed verification: its SHA-256 does not start with ${expect.sha256Prefix}`);
  }
  return performance.now() - t0;
}

export async function verifyManifest(manifest, signer) {
  if (!manifest || typeof manifest.payload !== 'string') {
    throw new VerificationError('the model manifest has no payload');
  }
  if (!crypto?.subtle) {
    throw new VerificationError('WebCrypto is not available (the page is not a secure context)');
  }
  const publicKey = ed25519Hex(signer, 32, 'the pinned signer key');
  const signature = ed25519Hex(manifest.signature, 64, 'the manifest signature');
  let key;
  try {
    key = await crypto.subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
  } catch (e) {
    throw new VerificationError(`this browser cannot verify Ed25519 signatures (${e.message})`);
  }
  const data = new TextEncoder().encode(manifest.payload);
  const ok = await crypto.subtle.verify({ name: 'Ed25519' }, key, signature, data);
  if (!ok) {
    const signedBy = typeof manifest.key === 'string' && manifest.key !== signer ? ` (it names key ${manifest.key.slice(0, 20)}…)` : '';
    throw new VerificationError(`the model manifest's signature does not verify with the pinned signer key${signedBy}`);
  }
  let payload;
  try {
    payload = JSON.parse(manifest.payload);
  } catch (e) {
    throw new VerificationError(`the signed manifest payload is not JSON (${e.message})`);
  }
  checkPayload(payload);
  return payload;
}

function checkPayload(p) {
  if (p?.keel_model_manifest !== 1) throw new VerificationError('the manifest is not a keel_model_manifest version 1');
  if (!Array.isArray(p.labels) || p.labels.length === 0 || !p.labels.every((l) => typeof l === 'string')) {
    throw new VerificationError('the manifest has no labels');
  }
  const f = p.featurizer;
  if (f?.name !== SUPPORTED_FEATURIZER || !Number.isInteger(f.dims) || f.dims <= 0 || !Number.isInteger(f.max_tokens) || f.max_tokens <= 0) {
    throw new VerificationError(`the manifest's featurizer is not ${SUPPORTED_FEATURIZER} with integer dims and max_tokens`);
  }
  const input = p.inputs?.[0];
  const output = p.outputs?.[0];
  if (!input?.name || !output?.name) throw new VerificationError('the manifest names no model input or output');
  if (input.shape?.[1] !== f.dims) throw new VerificationError(`the model input is not [batch, ${f.dims}]`);
  if (output.shape?.[1] !== p.labels.length) throw new VerificationError(`the model output is not [batch, ${p.labels.length}]`);
  modelAsset(p);
}

export function modelAsset(payload) {
  const assets = (payload.assets ?? []).filter((a) => a.role === 'model');
  if (assets.length !== 1) throw new VerificationError('the manifest does not have exactly one model asset');
  const a = assets[0];
  if (a.format !== 'onnx') throw new VerificationError(`the model asset's format is ${a.format}, not onnx`);
  if (!/^[0-9a-f]{64}$/.test(a.sha256 ?? '')) throw new VerificationError("the model asset's sha256 is not 64 hex digits");
  if (!Number.isSafeInteger(a.size) || a.size <= 0) throw new VerificationError("the model asset's size is not a positive integer");
  if (a.path !== `sha256-${a.sha256}.onnx`) throw new VerificationError(`the model asset's path is not sha256-<its hash>.onnx`);
  return a;
}
