#!/usr/bin/python3
"""Independent float64 reference forward pass for Keel's engine tests.

This is a deliberately simple, slow oracle written in numpy, separate from the
C++ engine: it reads a GGUF file itself, dequantizes the weights exactly
(F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q4_K, Q5_K, Q6_K) and runs the
transformer in float64 without any activation quantization.

Usage:
    /usr/bin/python3 tests/engine/reference_forward.py MODEL.gguf --tokens 1,403,407
        -> {"logits": [[n_vocab floats] for each position]}   (llama, qwen2)
    /usr/bin/python3 tests/engine/reference_forward.py MODEL.gguf --tokens 101,2023,102 --embed
        -> {"embedding": [n_embd floats]}   pooled + L2-normalised (bert)

The C++ engine tests run it as a subprocess on a fixture model and a token
sequence, parse the JSON from stdout and compare Keel's logits (or
log-probabilities) / embedding with it under a tolerance: tight for F32 models,
looser for quantized weights, since Keel quantizes activations to 8 bits as
llama.cpp does while this reference does not.

Only Python's standard library and numpy are used.
"""

import argparse
import json
import struct
import sys

import numpy as np

# ---------------------------------------------------------------------------
# GGUF reading
# ---------------------------------------------------------------------------

_SCALAR_FORMATS = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i",
    6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d",
}

# type id -> (values per block, bytes per block)
_BLOCK_LAYOUT = {
    0: (1, 4),       # F32
    1: (1, 2),       # F16
    30: (1, 2),      # BF16
    2: (32, 18),     # Q4_0
    3: (32, 20),     # Q4_1
    6: (32, 22),     # Q5_0
    8: (32, 34),     # Q8_0
    12: (256, 144),  # Q4_K
    13: (256, 176),  # Q5_K
    14: (256, 210),  # Q6_K
}


class GGUFError(Exception):
    pass


class _Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise GGUFError("unexpected end of file")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def scalar(self, fmt):
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.take(size))[0]

    def string(self):
        n = self.scalar("<Q")
        return bytes(self.take(n)).decode("utf-8", errors="replace")

    def value(self, vtype):
        if vtype in _SCALAR_FORMATS:
            return self.scalar(_SCALAR_FORMATS[vtype])
        if vtype == 8:
            return self.string()
        if vtype == 9:
            etype = self.scalar("<I")
            count = self.scalar("<Q")
            if etype in _SCALAR_FORMATS and etype != 7:
                fmt = _SCALAR_FORMATS[etype]
                size = struct.calcsize(fmt)
                arr = np.frombuffer(self.take(size * count), dtype=np.dtype(fmt))
                return arr.tolist()
            return [self.value(etype) for _ in range(count)]
        raise GGUFError("unknown metadata value type %d" % vtype)


class GGUFFile:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        r = _Reader(self.data)
        if bytes(r.take(4)) != b"GGUF":
            raise GGUFError("%s: not a GGUF file" % path)
        version = r.scalar("<I")
        if version not in (2, 3):
            raise GGUFError("%s: unsupported GGUF version %d" % (path, version))
        n_tensors = r.scalar("<Q")
        n_kv = r.scalar("<Q")
        self.kv = {}
        for _ in range(n_kv):
            key = r.string()
            vtype = r.scalar("<I")
            self.kv[key] = r.value(vtype)
        self.infos = {}
        for _ in range(n_tensors):
            name = r.string()
            n_dims = r.scalar("<I")
            dims = [r.scalar("<Q") for _ in range(n_dims)]
            ttype = r.scalar("<I")
            offset = r.scalar("<Q")
            self.infos[name] = (dims, ttype, offset)
        align = int(self.kv.get("general.alignment", 32))
        self.data_start = (r.pos + align - 1) // align * align

    def get(self, key, default=None):
        return self.kv.get(key, default)

    def has(self, name):
        return name in self.infos

    def tensor(self, name):
        """Dequantized tensor as float64, shape = reversed GGUF dims (row-major)."""
        if name not in self.infos:
            raise GGUFError("missing tensor %s" % name)
        dims, ttype, offset = self.infos[name]
        if ttype not in _BLOCK_LAYOUT:
            raise GGUFError("tensor %s: unsupported type %d" % (name, ttype))
        n = 1
        for d in dims:
            n *= d
        block_values, block_bytes = _BLOCK_LAYOUT[ttype]
        if n % block_values:
            raise GGUFError("tensor %s: %d values is not a whole number of blocks" % (name, n))
        nbytes = n // block_values * block_bytes
        start = self.data_start + offset
        if start + nbytes > len(self.data):
            raise GGUFError("tensor %s: data runs past end of file" % name)
        raw = np.frombuffer(self.data, dtype=np.uint8, count=nbytes, offset=start)
        values = dequantize(raw, ttype, n)
        return values.reshape(tuple(reversed(dims)) if dims else ())


# ---------------------------------------------------------------------------
# Dequantization (vectorized over blocks)
# ---------------------------------------------------------------------------

def _f16(blocks, lo):
    """fp16 field at byte offset lo of every block, as float64 column (nb, 1)."""
    return np.ascontiguousarray(blocks[:, lo:lo + 2]).view("<f2").astype(np.float64)


def _kquant_scales_mins(scales):
    """6-bit scales/mins of Q4_K/Q5_K from the 12 packed bytes: two (nb, 8) arrays."""
    s = scales.astype(np.int64)
    sc = np.empty((s.shape[0], 8), dtype=np.int64)
    mn = np.empty((s.shape[0], 8), dtype=np.int64)
    sc[:, 0:4] = s[:, 0:4] & 63
    mn[:, 0:4] = s[:, 4:8] & 63
    sc[:, 4:8] = (s[:, 8:12] & 0xF) | ((s[:, 0:4] >> 6) << 4)
    mn[:, 4:8] = (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)
    return sc, mn


def dequantize(raw, ttype, n):
    if ttype == 0:
        return raw.view("<f4").astype(np.float64)
    if ttype == 1:
        return raw.view("<f2").astype(np.float64)
    if ttype == 30:
        bits = raw.view("<u2").astype(np.uint32) << 16
        return bits.view(np.float32).astype(np.float64)

    block_values, block_bytes = _BLOCK_LAYOUT[ttype]
    b = raw.reshape(-1, block_bytes)
    nb = b.shape[0]

    if ttype == 8:  # Q8_0
        d = _f16(b, 0)
        qs = b[:, 2:34].view(np.int8).astype(np.float64)
        return (qs * d).reshape(n)

    if ttype in (2, 3, 6):  # Q4_0, Q4_1, Q5_0
        d = _f16(b, 0)
        qs_at = {2: 2, 3: 4, 6: 6}[ttype]
        qs = b[:, qs_at:qs_at + 16].astype(np.int64)
        q = np.concatenate([qs & 15, qs >> 4], axis=1)  # (nb, 32)
        if ttype == 2:
            return ((q - 8) * d).reshape(n)
        if ttype == 3:
            m = _f16(b, 2)
            return (q * d + m).reshape(n)
        qh = np.ascontiguousarray(b[:, 2:6]).view("<u4").astype(np.int64)  # (nb, 1)
        high = (qh >> np.arange(32, dtype=np.int64)[None, :]) & 1
        return (((q | (high << 4)) - 16) * d).reshape(n)

    if ttype in (12, 13):  # Q4_K, Q5_K
        d = _f16(b, 0)
        dmin = _f16(b, 2)
        sc, mn = _kquant_scales_mins(b[:, 4:16])
        qs_at = 16 if ttype == 12 else 48
        qs = b[:, qs_at:qs_at + 128].astype(np.int64).reshape(nb, 4, 32)
        q = np.stack([qs & 15, qs >> 4], axis=2)  # (nb, chunk 4, half 2, 32)
        if ttype == 13:
            qh = b[:, 16:48].astype(np.int64)  # (nb, 32)
            shifts = np.arange(8, dtype=np.int64).reshape(1, 4, 2, 1)
            q = q + (((qh[:, None, None, :] >> shifts) & 1) << 4)
        q = q.reshape(nb, 8, 32)  # sub-block s = 2*chunk + half
        y = d[:, :, None] * sc[:, :, None] * q - dmin[:, :, None] * mn[:, :, None]
        return y.reshape(n)

    if ttype == 14:  # Q6_K
        ql = b[:, 0:128].astype(np.int64).reshape(nb, 2, 64)
        qh = b[:, 128:192].astype(np.int64).reshape(nb, 2, 32)
        scales = b[:, 192:208].view(np.int8).astype(np.float64)  # (nb, 16)
        d = _f16(b, 208)
        ql_a = ql[:, :, 0:32]
        ql_b = ql[:, :, 32:64]
        low = np.stack([ql_a & 15, ql_b & 15, ql_a >> 4, ql_b >> 4], axis=2)  # (nb,2,4,32)
        shifts = np.array([0, 2, 4, 6], dtype=np.int64).reshape(1, 1, 4, 1)
        high = (qh[:, :, None, :] >> shifts) & 3
        q = (low | (high << 4)) - 32
        q = q.reshape(nb, 16, 16)  # element e -> group e // 16
        y = d[:, :, None] * scales[:, :, None] * q
        return y.reshape(n)

    raise GGUFError("unsupported type %d" % ttype)


# ---------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------

def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def layer_norm(x, w, b, eps):
    mean = np.mean(x, axis=-1, keepdims=True)
    xc = x - mean
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    return xc / np.sqrt(var + eps) * w + b


def linear(x, w, b=None):
    """x: (n, in), w: (out, in) -> (n, out)."""
    y = x @ w.T
    if b is not None:
        y = y + b
    return y


def softmax(s, axis=-1):
    s = s - np.max(s, axis=axis, keepdims=True)
    e = np.exp(s)
    return e / np.sum(e, axis=axis, keepdims=True)


def attention(q, k, v, n_head, n_head_kv, head_dim, causal):
    """q: (n, n_head*hd), k/v: (n, n_head_kv*hd) -> (n, n_head*hd)."""
    n = q.shape[0]
    q = q.reshape(n, n_head, head_dim)
    k = k.reshape(n, n_head_kv, head_dim)
    v = v.reshape(n, n_head_kv, head_dim)
    group = n_head // n_head_kv
    out = np.empty_like(q)
    scale = 1.0 / np.sqrt(head_dim)
    mask = np.triu(np.ones((n, n), dtype=bool), k=1) if causal else None
    for h in range(n_head):
        kh = h // group
        scores = (q[:, h, :] @ k[:, kh, :].T) * scale  # (n query, n key)
        if causal:
            scores = np.where(mask, -np.inf, scores)
        p = softmax(scores, axis=-1)
        out[:, h, :] = p @ v[:, kh, :]
    return out.reshape(n, n_head * head_dim)


def rope(x, n_heads, head_dim, n_rot, base, factors, neox):
    """Rotate the first n_rot dims of every head of x (n, n_heads*hd) in place-safe copy."""
    n = x.shape[0]
    x = x.reshape(n, n_heads, head_dim).copy()
    half = n_rot // 2
    i = np.arange(half, dtype=np.float64)
    inv_freq = base ** (-2.0 * i / n_rot)
    if factors is not None:
        inv_freq = inv_freq / factors
    theta = np.arange(n, dtype=np.float64)[:, None] * inv_freq[None, :]  # (n, half)
    cos = np.cos(theta)[:, None, :]
    sin = np.sin(theta)[:, None, :]
    if neox:
        i0 = np.arange(half)
        i1 = i0 + half
    else:
        i0 = 2 * np.arange(half)
        i1 = i0 + 1
    x0 = x[:, :, i0].copy()
    x1 = x[:, :, i1].copy()
    x[:, :, i0] = x0 * cos - x1 * sin
    x[:, :, i1] = x0 * sin + x1 * cos
    return x.reshape(n, n_heads * head_dim)


def silu(g):
    return g / (1.0 + np.exp(-g))


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))


def _opt(f, name):
    return f.tensor(name) if f.has(name) else None


# ---------------------------------------------------------------------------
# Architectures
# ---------------------------------------------------------------------------

def forward_llama(f, arch, tokens):
    p = arch + "."
    n_embd = int(f.get(p + "embedding_length"))
    n_layer = int(f.get(p + "block_count"))
    n_head = int(f.get(p + "attention.head_count"))
    n_head_kv = int(f.get(p + "attention.head_count_kv", n_head))
    eps = float(f.get(p + "attention.layer_norm_rms_epsilon"))
    base = float(f.get(p + "rope.freq_base", 10000.0))
    head_dim = n_embd // n_head
    n_rot = int(f.get(p + "rope.dimension_count", head_dim))
    neox = arch == "qwen2"
    if n_head % n_head_kv:
        raise GGUFError("head_count %d is not a multiple of head_count_kv %d" % (n_head, n_head_kv))

    tok_embd = f.tensor("token_embd.weight")  # (n_vocab, n_embd)
    n_vocab = tok_embd.shape[0]
    for t in tokens:
        if t < 0 or t >= n_vocab:
            raise GGUFError("token id %d outside vocabulary of %d" % (t, n_vocab))
    factors = _opt(f, "rope_freqs.weight")
    if factors is not None:
        factors = factors.reshape(-1)[: n_rot // 2]

    x = tok_embd[np.asarray(tokens, dtype=np.int64)].copy()  # (n, n_embd)
    for il in range(n_layer):
        bp = "blk.%d." % il
        h = rms_norm(x, f.tensor(bp + "attn_norm.weight"), eps)
        q = linear(h, f.tensor(bp + "attn_q.weight"), _opt(f, bp + "attn_q.bias"))
        k = linear(h, f.tensor(bp + "attn_k.weight"), _opt(f, bp + "attn_k.bias"))
        v = linear(h, f.tensor(bp + "attn_v.weight"), _opt(f, bp + "attn_v.bias"))
        q = rope(q, n_head, head_dim, n_rot, base, factors, neox)
        k = rope(k, n_head_kv, head_dim, n_rot, base, factors, neox)
        a = attention(q, k, v, n_head, n_head_kv, head_dim, causal=True)
        x = x + linear(a, f.tensor(bp + "attn_output.weight"), _opt(f, bp + "attn_output.bias"))
        h = rms_norm(x, f.tensor(bp + "ffn_norm.weight"), eps)
        g = linear(h, f.tensor(bp + "ffn_gate.weight"))
        u = linear(h, f.tensor(bp + "ffn_up.weight"))
        x = x + linear(silu(g) * u, f.tensor(bp + "ffn_down.weight"))

    h = rms_norm(x, f.tensor("output_norm.weight"), eps)
    out_w = f.tensor("output.weight") if f.has("output.weight") else tok_embd
    return linear(h, out_w)  # (n, n_vocab)


def forward_bert(f, tokens):
    p = "bert."
    n_embd = int(f.get(p + "embedding_length"))
    n_layer = int(f.get(p + "block_count"))
    n_head = int(f.get(p + "attention.head_count"))
    eps = float(f.get(p + "attention.layer_norm_epsilon"))
    pooling = int(f.get(p + "pooling_type", 1))
    head_dim = n_embd // n_head

    tok_embd = f.tensor("token_embd.weight")
    n_vocab = tok_embd.shape[0]
    for t in tokens:
        if t < 0 or t >= n_vocab:
            raise GGUFError("token id %d outside vocabulary of %d" % (t, n_vocab))
    pos_embd = f.tensor("position_embd.weight")
    n = len(tokens)
    if n > pos_embd.shape[0]:
        raise GGUFError("%d tokens exceed the %d positions" % (n, pos_embd.shape[0]))

    x = tok_embd[np.asarray(tokens, dtype=np.int64)] + pos_embd[:n]
    if f.has("token_types.weight"):
        x = x + f.tensor("token_types.weight")[0]
    x = layer_norm(x, f.tensor("token_embd_norm.weight"), f.tensor("token_embd_norm.bias"), eps)

    for il in range(n_layer):
        bp = "blk.%d." % il
        t = lambda name: f.tensor(bp + name)  # noqa: E731
        q = linear(x, t("attn_q.weight"), t("attn_q.bias"))
        k = linear(x, t("attn_k.weight"), t("attn_k.bias"))
        v = linear(x, t("attn_v.weight"), t("attn_v.bias"))
        a = attention(q, k, v, n_head, n_head, head_dim, causal=False)
        h = layer_norm(linear(a, t("attn_output.weight"), t("attn_output.bias")) + x,
                       t("attn_output_norm.weight"), t("attn_output_norm.bias"), eps)
        ff = linear(gelu_tanh(linear(h, t("ffn_up.weight"), t("ffn_up.bias"))),
                    t("ffn_down.weight"), t("ffn_down.bias"))
        x = layer_norm(ff + h, t("layer_output_norm.weight"), t("layer_output_norm.bias"), eps)

    if pooling == 2:
        pooled = x[0]
    elif pooling == 3:
        pooled = x[n - 1]
    elif pooling in (0, 1):
        pooled = np.mean(x, axis=0)
    else:
        raise GGUFError("unknown pooling type %d" % pooling)
    norm = np.sqrt(np.sum(pooled * pooled))
    return pooled / norm if norm > 0 else pooled


# ---------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description="float64 reference forward pass (numpy)")
    ap.add_argument("model", help="GGUF model file")
    ap.add_argument("--tokens", required=True, help="comma-separated token ids")
    ap.add_argument("--embed", action="store_true", help="bert: print the pooled embedding")
    args = ap.parse_args(argv)

    try:
        tokens = [int(t) for t in args.tokens.split(",") if t.strip() != ""]
    except ValueError:
        ap.error("--tokens must be comma-separated integers")
    if not tokens:
        ap.error("--tokens is empty")

    try:
        f = GGUFFile(args.model)
        arch = f.get("general.architecture")
        if args.embed:
            if arch != "bert":
                raise GGUFError("--embed needs a bert model, got %r" % arch)
            result = {"embedding": forward_bert(f, tokens).tolist()}
        else:
            if arch not in ("llama", "qwen2"):
                raise GGUFError("unsupported architecture %r (llama, qwen2; bert with --embed)" % arch)
            result = {"logits": forward_llama(f, arch, tokens).tolist()}
    except (GGUFError, OSError) as e:
        print("reference_forward: %s" % e, file=sys.stderr)
        return 1
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
