// Featurizer `keel-hashed-bow-v1` (docs/browser-classifier.md, "Featurizer"): the same
// function in Python (tools/train_doc_classifier.py), JavaScript (this file) and C++.
//
//   featurize(text, {dims = 4096, max_tokens = 4096}) -> Float32Array(dims)
//
// 1. UTF-8 bytes of the text (TextEncoder; lone surrogates become U+FFFD, as in every encoder).
// 2. Tokens: maximal runs of token bytes (a-z, 0-9, any byte >= 0x80, A-Z lower-cased);
//    every other byte separates; stop after max_tokens tokens.
// 3. FNV-1a 32-bit over a token's bytes; counts[h % dims] += 1 for each token, and for each
//    token after the first also for the bigram (previous token's bytes, 0x20, this token's).
// 4. x = log1p(counts) in double, L2-normalised when the norm is > 0, returned as float32.
//
// No imports, no DOM: it runs in the page, in the Worker and in Node (tests/web/).

export const FEATURIZER_NAME = 'keel-hashed-bow-v1';

const FNV_OFFSET = 2166136261;
const FNV_PRIME = 16777619;

const encoder = new TextEncoder();

/** Byte class: the lower-cased token byte, or -1 for a separator. */
function tokenByte(b) {
  if (b >= 0x61 && b <= 0x7a) return b; // a-z
  if (b >= 0x30 && b <= 0x39) return b; // 0-9
  if (b >= 0x80) return b; // any UTF-8 lead or continuation byte
  if (b >= 0x41 && b <= 0x5a) return b + 0x20; // A-Z -> a-z
  return -1;
}

/** FNV-1a 32-bit of bytes[start, end), continuing from `h` (unsigned 32-bit). */
function fnv1a(bytes, start, end, h = FNV_OFFSET) {
  for (let i = start; i < end; i++) {
    h = Math.imul(h ^ bytes[i], FNV_PRIME) >>> 0;
  }
  return h >>> 0;
}

/**
 * Tokenises the UTF-8 bytes of `text`: returns {bytes, starts, ends} where token i is the
 * lower-cased bytes[starts[i], ends[i]). At most maxTokens tokens.
 */
export function tokenize(text, maxTokens = 4096) {
  const raw = encoder.encode(String(text));
  const bytes = new Uint8Array(raw.length);
  const starts = [];
  const ends = [];
  let start = -1;
  for (let i = 0; i < raw.length; i++) {
    const t = tokenByte(raw[i]);
    if (t >= 0) {
      bytes[i] = t;
      if (start < 0) start = i;
    } else if (start >= 0) {
      starts.push(start);
      ends.push(i);
      start = -1;
      if (starts.length >= maxTokens) return { bytes, starts, ends };
    }
  }
  if (start >= 0 && starts.length < maxTokens) {
    starts.push(start);
    ends.push(raw.length);
  }
  return { bytes, starts, ends };
}

/** Raw hashed counts (Float64Array(dims)) before log1p and normalisation. */
export function hashedCounts(text, dims = 4096, maxTokens = 4096) {
  const { bytes, starts, ends } = tokenize(text, maxTokens);
  const counts = new Float64Array(dims);
  const SPACE = [0x20];
  for (let i = 0; i < starts.length; i++) {
    const h = fnv1a(bytes, starts[i], ends[i]);
    counts[h % dims] += 1;
    if (i >= 1) {
      let b = fnv1a(bytes, starts[i - 1], ends[i - 1]);
      b = fnv1a(SPACE, 0, 1, b);
      b = fnv1a(bytes, starts[i], ends[i], b);
      counts[b % dims] += 1;
    }
  }
  return counts;
}

/**
 * The feature vector for one text (Float32Array(dims)). `out`, when given, is filled and
 * returned instead of allocating (it must have length dims).
 */
export function featurize(text, { dims = 4096, max_tokens = 4096 } = {}, out = undefined) {
  const counts = hashedCounts(text, dims, max_tokens);
  let sum = 0;
  for (let j = 0; j < dims; j++) {
    if (counts[j] !== 0) {
      counts[j] = Math.log1p(counts[j]);
      sum += counts[j] * counts[j];
    }
  }
  const norm = Math.sqrt(sum);
  const x = out ?? new Float32Array(dims);
  for (let j = 0; j < dims; j++) {
    x[j] = norm > 0 ? counts[j] / norm : 0;
  }
  return x;
}

/** Exported for tests: the 32-bit FNV-1a of a string's UTF-8 bytes. */
export function fnv1aString(s) {
  const b = encoder.encode(s);
  return fnv1a(b, 0, b.length);
}
