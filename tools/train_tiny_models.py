#!/usr/bin/python3
"""Trains Keel's own tiny demo models from the local-research sample corpus.

What it builds
--------------
* ``keel-tiny-chat.gguf``  -- a llama-architecture decoder (about 4M parameters: width 256,
  4 layers, 4 heads, SwiGLU 688, tied output, context 1024) with a SentencePiece-style
  vocabulary learned from the corpus (<unk>, <s>, </s>, <|im_start|>, <|im_end|>, 256 byte
  tokens, then characters and learned merges; 3000 tokens).  It is trained on
    (i)  plain language modelling over the corpus, and
    (ii) synthetic grounded-QA conversations in exactly the ChatML prompt Keel's research
         assistant builds (src/assistant/research_assistant.cpp): the system prompt, a user
         turn "Sources:\\n[1] <excerpt>\\n...\\n\\nQuestion: <q>", then the assistant turn.
         The target is a sentence copied from the source that states the answer, followed
         by " [n]" and <|im_end|>, or "The sources do not say." (6% of examples) when no
         source holds the question's key words.  Sources are Keel's own chunks (read from a
         store that `keel index` builds), cut to excerpts the way Keel cuts them; 3-4 sources
         per example (k = 4 in 70%), the answer's source at a random position, distractors
         from other documents (in about a third of the examples one distractor is another
         chunk of the same document, as Keel's retrieval often returns).  Half of the
         examples are counterfactual: words of the chunks are swapped, consistently, for other
         corpus words, so the answer can only be produced by copying from the sources, not
         from memory of the (tiny) corpus.  Questions are generated from the answer sentence
         with templates (key words kept in varying amounts, other words dropped or replaced);
         the evaluation questions (examples/local-research/questions.json) are never used
         for training -- they are only read to drop any synthetic question too close to one.
* ``keel-tiny-embed.gguf`` -- a bert-architecture encoder (width 160, 2 layers, 4 heads,
  GELU 640, mean pooling, context 512) with a WordPiece vocabulary learned from the corpus
  (3982 tokens: the learner stops once every corpus word is one token), trained
  contrastively (in-batch negatives, cosine, temperature 0.05) on (pseudo-query, chunk) pairs
  made from the same chunks.

Both files are written with build/tools/gguf-assemble (2-D weights F16, 1-D tensors F32).

The Python tokenizers below re-implement Keel's (src/engine/tokenizer*.cpp) exactly, so the
token streams trained on are the ones Keel produces; ``--verify`` checks this against
``keel tokenize`` and compares the exported models with ``keel generate`` / ``keel embed``.

How to run (from the repository root; needs build/keel and build/tools/gguf-assemble)::

    /usr/bin/python3 tools/train_tiny_models.py --out models/            (add --verify to compare with keel)

Only Debian's python3 with torch (CPU) and numpy is needed; no network.  Training uses
``torch.set_num_threads(2)``; linear layers and attention are computed as 1x1 / grouped
convolutions, which run on oneDNN (Debian's torch links the slow reference BLAS for matmul,
about 15x slower here).  Run time on 2 cores of an AMD EPYC: about 1 minute of preparation
(vocabularies, checks), 1500 chat steps of 3072 tokens (about 25 minutes on idle cores; 46
minutes measured while a parallel C++ build shared the two cores) and 500 embedding steps
(3-6 minutes).  ``--chat-steps`` / ``--embed-steps`` scale this.  Data order and
initialisation are seeded (``--seed``); multithreaded oneDNN reductions can still make two
runs differ in the last bits (weights differ by ~1e-4 between runs).  The trained weights are
kept in the work folder (chat.pt, embed.pt): ``--work DIR --reuse`` re-exports them without
training.

The chat model is trained for the assistant's defaults (k = 4 sources of source_chars = 600);
shorter excerpts (200-450 characters) are mixed in early in training as a curriculum.
"""

import argparse
import collections
import glob
import heapq
import html.parser
import json
import math
import os
import random
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import unicodedata

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "local-research")
DOCS = os.path.join(EXAMPLE, "docs")

# Kept in sync with src/assistant/research_assistant.cpp.
SYSTEM_PROMPT = ("You answer questions using only the numbered sources. Cite the sources you use as [n]. If the "
                 "sources do not contain the answer, say that you do not know.")
NO_ANSWER = "The sources do not say."
CHATML_TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
                   "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
                   "{% endif %}")

SP = "\u2581"  # the SentencePiece / WordPiece space mark

STOPWORDS = set("""
a an and are as at be by can do does for from how i if in is it its of on or should that the their there this
to was what when where which who why will with you your my me we our about into than then so not no but also
any all each every one two some such these those they them he she his her has have had been being were would
could may might must only own same other more most less very just both either neither nor yet out up down over
under again further once here off too s t can't don't doesn't isn't it's that's there's let lets get gets got
per via like after before while during between through because until against among within without whose whom
""".split())


def log(msg):
    print("[train_tiny_models %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


# ----------------------------------------------------------------------------------------------
# Corpus
# ----------------------------------------------------------------------------------------------

class _HtmlText(html.parser.HTMLParser):
    """Visible text of an HTML page, the way src/context/extract.cpp lays it out: hidden
    elements (<script>, <style>, <head>, ...) dropped, whitespace collapsed, a blank line after
    each block element."""

    BLOCKS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "table", "tr", "td",
              "th", "section", "article", "header", "footer", "nav", "aside", "blockquote", "pre", "hr", "dl",
              "dt", "dd", "figure", "figcaption", "main", "title", "body"}
    HIDDEN = {"script", "style", "template", "noscript", "head"}
    VOID = {"br", "hr", "meta", "link", "img", "input", "area", "base", "col", "embed", "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out = []
        self.pending_space = False
        self.hidden = 0

    def _text(self):
        return "".join(self.out)

    def block_break(self):
        self.pending_space = False
        s = self._text().rstrip(" ")
        if s:
            if not s.endswith("\n"):
                s += "\n"
            if not s.endswith("\n\n"):
                s += "\n"
        self.out = [s]

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            if tag not in self.VOID:
                self.hidden += 1
            return
        if self.hidden == 0 and tag in self.BLOCKS:
            self.block_break()

    def handle_endtag(self, tag):
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
            return
        if self.hidden == 0 and tag in self.BLOCKS:
            self.block_break()

    def handle_data(self, data):
        if self.hidden:
            return
        for c in data:
            if c in " \t\n\r\f":
                cur = self.out[-1] if self.out else ""
                self.pending_space = bool(self.out) and bool(cur) and not cur.endswith("\n")
            else:
                if self.pending_space:
                    self.out.append(" ")
                self.pending_space = False
                self.out.append(c)

    def text(self):
        return self._text().rstrip("\n ") + "\n"


def read_corpus():
    """[(relative path, text)] for every document: Markdown and text as is, HTML as visible text,
    PDFs from their plain-text sources in pdf-src/."""
    pdf_sources = {
        "quantization-types.pdf": "quantization-types.txt",
        "mobile-vision-guide.pdf": "mobile-vision-field-guide.txt",
    }
    docs = []
    for path in sorted(glob.glob(os.path.join(DOCS, "**", "*"), recursive=True)):
        if not os.path.isfile(path):
            continue
        rel = os.path.relpath(path, DOCS)
        ext = os.path.splitext(path)[1].lower()
        if ext in (".md", ".txt"):
            text = open(path, encoding="utf-8").read()
        elif ext in (".html", ".htm"):
            p = _HtmlText()
            p.feed(open(path, encoding="utf-8").read())
            p.close()
            text = p.text()
        elif ext == ".pdf":
            src = os.path.join(EXAMPLE, "pdf-src", pdf_sources.get(os.path.basename(path), ""))
            if not os.path.isfile(src):
                continue
            text = open(src, encoding="utf-8").read()
            # the generator's header lines ("title: ...", "output: ...") and page markers are
            # not part of the page text; headings are set in bold without their '#' marks
            head, _, body = text.partition("\n\n")
            text = body if all(":" in ln for ln in head.splitlines()) else text
            text = re.sub(r"^=== page ===$\n?", "", text, flags=re.M)
            text = re.sub(r"^#+ ", "", text, flags=re.M)
        else:
            continue
        docs.append((rel, text))
    return docs


def keel_chunks(keel, work):
    """Chunks exactly as Keel indexes them: [{'text', 'start', 'end', 'doc_id', 'path'}]."""
    store = os.path.join(work, "chunks", "store.db")
    os.makedirs(os.path.dirname(store), exist_ok=True)
    if os.path.exists(store):
        os.remove(store)
    subprocess.run([keel, "index", "--docs", DOCS, "--store", store], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    db = sqlite3.connect(store)
    rows = db.execute("SELECT c.text, c.start, c.end, c.doc_id, d.path FROM chunks c JOIN documents d "
                      "ON d.id = c.doc_id ORDER BY d.path, c.ordinal").fetchall()
    db.close()
    return [{"text": r[0], "start": r[1], "end": r[2], "doc_id": r[3], "path": r[4]} for r in rows]


def excerpt(text, max_chars):
    """src/assistant/research_assistant.cpp excerpt(): newlines and tabs become spaces, cut at a
    word boundary near max_chars bytes, then ' ...'."""
    out = text.encode("utf-8")
    out = bytes(32 if c in (10, 13, 9) else c for c in out)
    if len(out) <= max_chars:
        return out.decode("utf-8")
    cut = out.rfind(b" ", 0, max_chars + 1)
    if cut == -1 or cut < max_chars // 2:
        cut = max_chars
    while cut > 0 and (out[cut] & 0xC0) == 0x80:
        cut -= 1
    return out[:cut].decode("utf-8") + " ..."


# ----------------------------------------------------------------------------------------------
# BPE merge learning (shared by both vocabularies)
# ----------------------------------------------------------------------------------------------

def learn_merges(word_counts, n_new_tokens, known, min_count=2):
    """Greedy BPE over {tuple of symbols: count}. Returns the new token texts in merge order,
    stopping after n_new_tokens texts not already in `known` (or when no pair occurs twice)."""
    words = [list(w) for w in word_counts]
    counts = [word_counts[w] for w in word_counts]
    pair_count = collections.Counter()
    where = collections.defaultdict(set)
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pair_count[(a, b)] += counts[i]
            where[(a, b)].add(i)
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)
    new_tokens = []
    seen = set(known)
    while heap and len(new_tokens) < n_new_tokens:
        negc, pair = heapq.heappop(heap)
        if pair_count.get(pair, 0) != -negc:
            continue  # stale entry
        if -negc < min_count:
            break
        a, b = pair
        merged = a + b
        if merged not in seen:
            seen.add(merged)
            new_tokens.append(merged)
        changed = collections.Counter()
        for i in sorted(where.pop(pair, ())):
            w = words[i]
            c = counts[i]
            for x, y in zip(w, w[1:]):
                changed[(x, y)] -= c
            out = []
            j = 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    out.append(merged)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i] = out
            for x, y in zip(out, out[1:]):
                changed[(x, y)] += c
                where[(x, y)].add(i)
        pair_count.pop(pair, None)
        for p, d in changed.items():
            if p == pair or d == 0:
                continue
            pair_count[p] += d
            if pair_count[p] <= 0:
                pair_count.pop(p, None)
            else:
                heapq.heappush(heap, (-pair_count[p], p))
    return new_tokens


# ----------------------------------------------------------------------------------------------
# SentencePiece-style vocabulary and tokenizer (src/engine/tokenizer.cpp, tokenizer_spm.cpp)
# ----------------------------------------------------------------------------------------------

SPM_SPECIALS = [("<unk>", 2), ("<s>", 3), ("</s>", 3), ("<|im_start|>", 3), ("<|im_end|>", 3)]
_SPM_RUN = re.compile(SP + "?(?:[A-Za-z]+|[0-9]+|[^A-Za-z0-9" + SP + "\n]+)|" + SP)


def spm_segments(escaped):
    """Splits escaped text before each U+2581 and around newlines. No vocabulary token contains
    a newline or a U+2581 after its first character, so SPM merging never crosses these points
    and each segment can be tokenized (and cached) on its own with identical results."""
    return [s for s in re.split("(?=" + SP + ")|(\n)", escaped) if s]


class SpmTokenizer:
    def __init__(self, tokens, scores, types):
        self.tokens, self.scores, self.types = tokens, scores, types
        self.ids = {}
        for i, t in enumerate(tokens):
            self.ids.setdefault(t, i)
        special = [i for i, k in enumerate(types) if k in (2, 3, 4)]
        self.special = sorted(special, key=lambda i: -len(tokens[i].encode("utf-8")))  # stable
        self.user_defined = [i for i in self.special if types[i] == 4]
        self.bos = self.ids["<s>"]
        self.unk = self.ids["<unk>"]
        self.cache = {}

    @classmethod
    def train(cls, texts, vocab_size):
        counts = collections.Counter()
        for text, weight in texts:
            for line in text.split("\n"):
                esc = line.replace(" ", SP)
                for seg in spm_segments(esc):
                    for run in _SPM_RUN.findall(seg):
                        counts[run] += weight
        tokens = [t for t, _ in SPM_SPECIALS] + ["<0x%02X>" % b for b in range(256)]
        types = [k for _, k in SPM_SPECIALS] + [6] * 256
        chars = collections.Counter()
        for w, c in counts.items():
            for ch in w:
                chars[ch] += c
        base = sorted(ch for ch, c in chars.items() if c >= 2 or ch == SP)
        for ch in [chr(c) for c in range(0x20, 0x7F)]:
            if ch != " " and ch not in base:
                base.append(ch)
        base = sorted(set(base))
        tokens += base
        types += [1] * len(base)
        n_new = vocab_size - len(tokens)
        merges = learn_merges({tuple(w): c for w, c in counts.items()}, n_new, set(tokens))
        scores = [0.0] * len(tokens)
        for i, m in enumerate(merges):
            tokens.append(m)
            types.append(1)
            scores.append(-float(i + 1))
        return cls(tokens, scores, types)

    def _merge(self, seg):
        """Keel's encode_spm on one segment: repeatedly merge the adjacent pair whose
        concatenation is the highest-scoring vocabulary token (leftmost on ties)."""
        hit = self.cache.get(seg)
        if hit is not None:
            return hit
        sym = list(seg)
        n = len(sym)
        prev = list(range(-1, n - 1))
        nxt = list(range(1, n + 1))
        nxt[-1] = -1
        heap = []

        def try_add(left, right):
            if left < 0 or right < 0:
                return
            merged = sym[left] + sym[right]
            i = self.ids.get(merged)
            if i is not None:
                heapq.heappush(heap, (-self.scores[i], left, right, len(merged)))

        for i in range(1, n):
            try_add(i - 1, i)
        while heap:
            _, left, right, size = heapq.heappop(heap)
            if not sym[left] or not sym[right] or len(sym[left]) + len(sym[right]) != size:
                continue
            sym[left] += sym[right]
            sym[right] = ""
            nxt[left] = nxt[right]
            if nxt[right] >= 0:
                prev[nxt[right]] = left
            try_add(prev[left], left)
            try_add(left, nxt[left])
        out = []
        i = 0
        while i >= 0:
            piece = sym[i]
            t = self.ids.get(piece)
            if t is not None:
                out.append(t)
            else:
                for byte in piece.encode("utf-8"):
                    t = self.ids.get("<0x%02X>" % byte)
                    if t is None:
                        t = self.ids.get(chr(byte)) if byte < 0x80 else None
                    out.append(t if t is not None else self.unk)
            i = nxt[i]
        out = tuple(out)
        self.cache[seg] = out
        return out

    def encode_fragment(self, text, after_special):
        esc = (SP if after_special else "") + text.replace(" ", SP)
        out = []
        for seg in spm_segments(esc):
            out.extend(self._merge(seg))
        return out

    def encode(self, text, add_special=True, parse_special=False):
        frags = [(None, text)] if text else []
        for sid in self.special:
            if not parse_special and self.types[sid] != 4:
                continue
            needle = self.tokens[sid]
            nxt = []
            for tok, s in frags:
                if tok is not None:
                    nxt.append((tok, s))
                    continue
                parts = s.split(needle)
                for j, part in enumerate(parts):
                    if j > 0:
                        nxt.append((sid, ""))
                    if part:
                        nxt.append((None, part))
            frags = nxt
        out = [self.bos] if add_special else []
        prev_special = True
        for tok, s in frags:
            if tok is not None:
                out.append(tok)
                prev_special = True
            else:
                out.extend(self.encode_fragment(s, prev_special))
                prev_special = False
        return out

    def piece(self, i):
        t = self.tokens[i]
        if self.types[i] == 6:
            return bytes([int(t[3:5], 16)])
        if self.types[i] != 1:
            return b""
        return t.replace(SP, " ").encode("utf-8")


# ----------------------------------------------------------------------------------------------
# WordPiece vocabulary and tokenizer (src/engine/tokenizer_wpm.cpp)
# ----------------------------------------------------------------------------------------------

WPM_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _cls(ch):
    cat = unicodedata.category(ch)
    if cat == "Cn":
        return "undefined"
    return {"L": "letter", "N": "number", "P": "punct", "S": "symbol", "M": "mark", "Z": "sep",
            "C": "control"}[cat[0]]


def _is_ws(cp):
    if cp < 0x80:
        return 0x09 <= cp <= 0x0D or cp == 0x20
    return cp in (0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000) or 0x2000 <= cp <= 0x200A


def _is_cjk(c):
    return (0x4E00 <= c <= 0x9FFF or 0x3400 <= c <= 0x4DBF or 0x20000 <= c <= 0x2A6DF or 0x2A700 <= c <= 0x2B73F
            or 0x2B740 <= c <= 0x2B81F or 0x2B920 <= c <= 0x2CEAF or 0xF900 <= c <= 0xFAFF
            or 0x2F800 <= c <= 0x2FA1F)


def wpm_words(text):
    """Keel's WordPiece pre-tokenization: first code point of NFD, controls dropped,
    lower-cased, split on whitespace, punctuation, ASCII symbols and CJK characters."""
    words, cur = [], []
    for ch in text:
        cp = ord(ch)
        if cp >= 0xC0 and not 0xD800 <= cp <= 0xDFFF:
            d = unicodedata.normalize("NFD", ch)
            if d:
                cp = ord(d[0])
        if _is_ws(cp):
            if cur:
                words.append("".join(cur))
                cur = []
            continue
        c = _cls(chr(cp))
        if cp == 0 or cp == 0xFFFD or c == "control":
            continue
        lo = chr(cp).lower()
        if lo and not 0xD800 <= cp <= 0xDFFF:
            cp = ord(lo[0])
        c = _cls(chr(cp))
        if c == "punct" or (cp < 0x7F and c == "symbol") or _is_cjk(cp):
            if cur:
                words.append("".join(cur))
                cur = []
            words.append(chr(cp))
            continue
        cur.append(chr(cp))
    if cur:
        words.append("".join(cur))
    return words


class WpmTokenizer:
    def __init__(self, tokens):
        self.tokens = tokens
        self.ids = {}
        for i, t in enumerate(tokens):
            self.ids.setdefault(t, i)
        self.max_len = max(len(t.encode("utf-8")) for t in tokens)
        self.pad, self.unk, self.cls, self.sep = 0, 1, 2, 3
        self.cache = {}

    @classmethod
    def train(cls, texts, vocab_size):
        counts = collections.Counter()
        for text, weight in texts:
            for w in wpm_words(text):
                counts[w] += weight
        tokens = list(WPM_SPECIALS)
        chars = collections.Counter()
        for w, c in counts.items():
            for ch in w:
                chars[ch] += c
        base = set(ch for ch in chars)
        base |= set(chr(c) for c in range(0x21, 0x7F) if chr(c).lower() == chr(c))
        for ch in sorted(base):
            tokens.append(SP + ch)
            tokens.append(ch)
        symbols = {tuple([SP + w[0]] + list(w[1:])): c for w, c in counts.items()}
        # min_count=1: once frequent pieces are exhausted, whole rare words join the vocabulary
        merges = learn_merges(symbols, vocab_size - len(tokens), set(tokens), min_count=1)
        return cls(tokens + merges)

    def _word(self, w):
        hit = self.cache.get(w)
        if hit is not None:
            return hit
        word = (SP + w).encode("utf-8")
        pieces, i = [], 0
        while i < len(word):
            for j in range(min(len(word), i + self.max_len + 1), i, -1):
                t = self.ids.get(word[i:j].decode("utf-8", errors="surrogateescape"))
                if t is not None:
                    pieces.append(t)
                    i = j
                    break
            else:
                pieces = None
                break
        out = tuple(pieces) if pieces else (self.unk,)
        self.cache[w] = out
        return out

    def encode(self, text, add_special=True):
        out = [self.cls] if add_special else []
        for w in wpm_words(text):
            out.extend(self._word(w))
        if add_special:
            out.append(self.sep)
        return out


# ----------------------------------------------------------------------------------------------
# Synthetic data
# ----------------------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-/']*[A-Za-z0-9]|[A-Za-z0-9]")


def words_of(s):
    return _WORD.findall(s)


def content_words(s):
    return [w for w in words_of(s) if w.lower() not in STOPWORDS and (len(w) > 2 or any(c.isdigit() for c in w))]


def key_terms(s):
    """Lower-case terms the way Keel's query_terms sees them (alnum runs, >= 2 chars, no stopwords)."""
    return set(t for t in re.findall(r"[a-z0-9_\x80-\uffff]+", s.lower()) if len(t) >= 2 and t not in STOPWORDS)


_BOUNDARY = re.compile(r"\n[ \t]*\n\s*"                       # paragraph break
                       r"|\n(?=[ \t]*(?:[-*] |\d+\. |#+ ))"        # list item or heading starts
                       r"|(?<=[.!?])[ \t\n]+(?=[A-Z0-9`*\"(\[])")   # sentence end


def sentences_of(text, source_chars):
    """Complete sentences of the excerpt Keel shows for this chunk, usable as answers: each is
    an exact substring of the excerpt. Boundaries are found on the chunk's own text (where the
    line structure is still visible); the excerpt has the same characters at the same offsets."""
    ex = excerpt(text, source_chars)
    body = ex[:-4] if ex.endswith(" ...") and not text.endswith(" ...") else ex
    if len(body) > len(text):
        body = ex
    out = []
    pos = 0
    raw = text[:len(body)]
    for m in list(_BOUNDARY.finditer(raw)) + [None]:
        end = m.start() if m else len(raw)
        seg_start, pos = pos, (m.end() if m else len(raw))
        s = body[seg_start:end].strip()
        lead = re.match(r"^(?:#+ |[-*] |\d+\. )+", s)
        if lead and lead.group(0).startswith("#"):
            continue  # a heading
        if lead:
            s = s[lead.end():]
        if not (30 <= len(s) <= 220) or not re.search(r"[.!?:][\"')`*]*$", s):
            continue
        if len(content_words(s)) < 3 or not re.search(r"[a-z]", s):
            continue
        assert s in ex
        out.append(s)
    return out


WH_PREFIXES = ["What", "How", "Why", "When", "Which", "What does", "How does", "What is", "How do", "Where",
               "Who", "In which case", "What happens when", "How many", "Is it true that", "Which part of",
               "What do the documents say about", "Explain", "Tell me", "Does", "What are", "How is", "Why does",
               "When does", "Which one of"]
FILLERS = ["in Keel", "by default", "exactly", "according to the documents", "in practice", "for a model",
           "at run time", "in the spec", "on a typical run", "in this setup", "for the assistant", "here"]
PAIR_TEMPLATES = ["What does {a} do with {b}?", "How is {a} related to {b}?", "Why does {a} {b}?",
                  "When does {a} {b}?", "What happens to {a} when {b}?", "Which {a} does {b} use?",
                  "How many {a} does {b} have?", "What does {a} mean for {b}?", "How does {a} affect {b}?",
                  "What is the {a} of {b}?", "Which {a} are used by {b}?", "Who {a} {b}?",
                  "How does {a} handle {b}?", "What {a} does {b} need?"]
KEYWORD_TEMPLATES = ["What does the documentation say about {}?", "How does {} work?", "What is {}?", "Why {}?",
                     "Which {}?", "When is {} used?", "How is {} done?", "What about {}?", "{}?",
                     "What happens with {}?", "How many {}?", "What is the role of {}?", "What are {}?",
                     "Where does {} come from?", "How do I use {}?", "What should I know about {}?"]


def _span(cws, rng, max_len=3):
    n = rng.randint(1, min(max_len, len(cws)))
    st = rng.randint(0, len(cws) - n)
    return cws[st:st + n], st


def make_question(sentence, rng):
    """A question built from the answer sentence: some of its key words kept (in varying
    amounts, so that questions overlap the sentence more or less), other words dropped or
    replaced, wrapped in one of several templates, sometimes with filler words the sentence
    does not contain."""
    ws = words_of(sentence)
    cws = content_words(sentence)
    if len(cws) < 2:
        return None
    form = rng.random()
    if form < 0.3:
        # a window of the sentence, some function words dropped, a wh-prefix
        n = len(ws)
        span = rng.randint(min(3, n), min(n, 10))
        start = rng.randint(0, n - span)
        part = [w for w in ws[start:start + span] if w.lower() not in STOPWORDS or rng.random() < 0.8]
        while part and part[-1].lower() in STOPWORDS:
            part.pop()
        if len(part) < 2:
            return None
        if part[0][0].isupper() and part[0].lower() in STOPWORDS:
            part[0] = part[0].lower()
        q = rng.choice(WH_PREFIXES) + " " + " ".join(part)
        if rng.random() < 0.4:
            q += " " + rng.choice(FILLERS)
        q += "?"
    elif form < 0.55:
        k = rng.randint(1, min(4, len(cws)))
        idx = sorted(rng.sample(range(len(cws)), k))
        kw = [cws[i] for i in idx]
        joiner = rng.choice([" ", " ", " and ", " of "])
        q = rng.choice(KEYWORD_TEMPLATES).format(joiner.join(kw))
    elif form < 0.8:
        a, ia = _span(cws, rng)
        rest = cws[:ia] + cws[ia + len(a):]
        if not rest:
            return None
        b, _ = _span(rest, rng)
        q = rng.choice(PAIR_TEMPLATES).format(a=" ".join(a), b=" ".join(b))
        if rng.random() < 0.3:
            q = q[:-1] + " " + rng.choice(FILLERS) + "?"
    else:
        # the sentence itself turned into a question: one word replaced by a wh-word, some
        # function words dropped
        k = rng.randrange(len(ws))
        words = [w if (i == k or w.lower() not in STOPWORDS or rng.random() < 0.7) else None
                 for i, w in enumerate(ws)]
        words[k] = rng.choice(["what", "which", "how", "how many", "who", "when"])
        q = " ".join(w for w in words[:20] if w) + "?"
    if rng.random() < 0.5:
        q = q[0].upper() + q[1:]
    return q


class QuestionFilter:
    """Drops synthetic questions that are close to a held-out evaluation question (same text,
    or mostly the same key terms). The evaluation questions are never trained on."""

    def __init__(self, path):
        self.evals = []
        if os.path.exists(path):
            for q in json.load(open(path, encoding="utf-8")):
                self.evals.append((q["question"].strip().lower(), key_terms(q["question"])))

    def ok(self, q):
        ql = q.strip().lower()
        terms = key_terms(q)
        for text, et in self.evals:
            if ql == text:
                return False
            if terms and et and len(terms & et) / len(terms | et) > 0.5:
                return False
        return True


_PERTURB_WORD = re.compile(r"\b[A-Za-z][a-z]{3,}\b|\b\d+\b")


def perturb(text, rng, vocab_words, rate):
    """Counterfactual copy of a chunk: some words (and numbers) replaced, consistently, by other
    corpus words (numbers by other numbers). A model that answers from memorised corpus
    sentences gets these wrong; only copying from the source gets them right."""
    mapping = {}

    def sub(m):
        w = m.group(0)
        if w.lower() in STOPWORDS:
            return w
        if w not in mapping:
            if rng.random() >= rate:
                mapping[w] = w
            elif w.isdigit():
                mapping[w] = str(rng.randint(0, 10 ** len(w) + 9))
            else:
                r = rng.choice(vocab_words)
                mapping[w] = r[0].upper() + r[1:] if w[0].isupper() else r
        return mapping[w]

    return _PERTURB_WORD.sub(sub, text)


def chat_prompt(question, excerpts):
    user = "Sources:\n" + "".join("[%d] %s\n" % (i + 1, e) for i, e in enumerate(excerpts))
    user += "\nQuestion: %s" % question
    return ("<|im_start|>system\n%s<|im_end|>\n<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n"
            % (SYSTEM_PROMPT, user))


def qa_example(chunks, by_doc, rng, source_chars, k, qfilter, no_answer=False, tries=20, args_same_doc=0.35,
               perturb_share=0.0, vocab_words=None, perturb_rate=0.25):
    """One (prompt, answer) pair in Keel's format, or None. With probability perturb_share the
    sources are counterfactual copies of the chunks (see perturb())."""
    for _ in range(tries):
        ci = rng.randrange(len(chunks))
        ch = chunks[ci]
        counterfactual = vocab_words is not None and perturb_share > 0 and rng.random() < perturb_share
        text_of = {}

        def chunk_text(j):
            if j not in text_of:
                text_of[j] = (perturb(chunks[j]["text"], rng, vocab_words, perturb_rate) if counterfactual
                              else chunks[j]["text"])
            return text_of[j]

        ex = excerpt(chunk_text(ci), source_chars)
        sents = sentences_of(chunk_text(ci), source_chars)
        if not sents:
            continue
        sent = rng.choice(sents)
        q = make_question(sent, rng)
        if not q or not qfilter.ok(q):
            continue
        qterms = key_terms(q)
        others = [j for j in range(len(chunks)) if chunks[j]["path"] != ch["path"]]
        # Keel's retrieval often returns neighbouring chunks of the same document: sometimes
        # one distractor comes from there (never one holding most of the question's terms).
        same = [j for j in range(len(chunks)) if chunks[j]["path"] == ch["path"] and j != ci]
        # Distractors: half chosen by word overlap with the question (what retrieval returns),
        # half at random -- always from other documents, never holding most of the key terms.
        rng.shuffle(others)
        scored = sorted(others[:40], key=lambda j: -len(qterms & key_terms(chunks[j]["text"])))
        picks = []
        for j in scored[:6] + others[40:]:
            if len(picks) >= (k if no_answer else k - 1):
                break
            if j in picks:
                continue
            if qterms and len(qterms & key_terms(excerpt(chunk_text(j), source_chars))) / len(qterms) >= 0.5:
                continue
            if rng.random() < 0.5 or j in others[40:]:
                picks.append(j)
        need = k if no_answer else k - 1
        if len(picks) < need:
            continue
        if same and not no_answer and rng.random() < args_same_doc:
            j = rng.choice(same)
            if not (qterms and len(qterms & key_terms(excerpt(chunk_text(j), source_chars))) / len(qterms) >= 0.5):
                picks[rng.randrange(len(picks))] = j
        sources = [excerpt(chunk_text(j), source_chars) for j in picks]
        if no_answer:
            return chat_prompt(q, sources), NO_ANSWER
        pos = rng.randrange(k)
        sources.insert(pos, ex)
        return chat_prompt(q, sources), "%s [%d]" % (sent, pos + 1)
    return None


# ----------------------------------------------------------------------------------------------
# Models (torch). Linear maps and attention run as convolutions: oneDNN makes them ~15x faster
# than Debian torch's reference-BLAS matmul on CPU.
# ----------------------------------------------------------------------------------------------

def build_torch():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    def lin(x, w, b=None):
        """x (B, in, T) -> (B, out, T) with weight w (out, in)."""
        return F.conv1d(x, w.unsqueeze(-1), b)

    def attend(q, k, v, mask):
        """q, k, v: (B, H, hd, T) (q already scaled); mask (B or 1, Tk, Tq) additive.
        Returns (B, H*hd, T). Scores are laid out [key, query]."""
        B, H, hd, T = q.shape
        G = B * H
        sc = F.conv2d(q.reshape(1, G * hd, 1, T), k.transpose(2, 3).reshape(G * T, hd, 1, 1), groups=G)
        sc = sc.view(B, H, T, T) + mask.unsqueeze(1)
        p = sc.softmax(2)
        o = F.conv2d(p.reshape(1, G * T, 1, T), v.reshape(G * hd, T, 1, 1), groups=G)
        return o.view(B, H * hd, T)

    class LlamaBlock(nn.Module):
        def __init__(self, d, h, ff):
            super().__init__()
            self.h = h
            self.attn_norm = nn.Parameter(torch.ones(d))
            self.ffn_norm = nn.Parameter(torch.ones(d))
            std = 0.02
            self.wq = nn.Parameter(torch.randn(d, d) * std)
            self.wk = nn.Parameter(torch.randn(d, d) * std)
            self.wv = nn.Parameter(torch.randn(d, d) * std)
            self.wo = nn.Parameter(torch.randn(d, d) * std)
            self.w_gate = nn.Parameter(torch.randn(ff, d) * std)
            self.w_up = nn.Parameter(torch.randn(ff, d) * std)
            self.w_down = nn.Parameter(torch.randn(d, ff) * std)

        def forward(self, x, cos, sin, mask, eps):
            B, D, T = x.shape
            H = self.h
            hd = D // H
            h = x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + eps) * self.attn_norm[:, None]
            qkv = lin(h, torch.cat([self.wq, self.wk, self.wv], 0)).view(B, 3, H, hd, T)
            q, k, v = qkv.unbind(1)

            def rope(t):  # Keel's "normal" rope: pairs (2i, 2i+1) of each head
                t = t.reshape(B, H, hd // 2, 2, T)
                t0, t1 = t[:, :, :, 0], t[:, :, :, 1]
                return torch.stack([t0 * cos - t1 * sin, t0 * sin + t1 * cos], 3).reshape(B, H, hd, T)

            q = rope(q) * (1.0 / math.sqrt(hd))
            k = rope(k)
            x = x + lin(attend(q, k, v, mask), self.wo)
            h = x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + eps) * self.ffn_norm[:, None]
            gu = lin(h, torch.cat([self.w_gate, self.w_up], 0))
            g, u = gu.chunk(2, 1)
            return x + lin(F.silu(g) * u, self.w_down)

    class Llama(nn.Module):
        def __init__(self, vocab, d, layers, heads, ff, ctx, eps=1e-5, base=10000.0):
            super().__init__()
            self.d, self.heads, self.ff, self.ctx, self.eps, self.base = d, heads, ff, ctx, eps, base
            self.tok = nn.Parameter(torch.randn(vocab, d) * 0.02)
            self.blocks = nn.ModuleList([LlamaBlock(d, heads, ff) for _ in range(layers)])
            self.out_norm = nn.Parameter(torch.ones(d))
            hd = d // heads
            inv = base ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)
            ang = inv[:, None] * torch.arange(ctx, dtype=torch.float64)[None]
            self.register_buffer("cos", ang.cos().float(), persistent=False)
            self.register_buffer("sin", ang.sin().float(), persistent=False)
            with torch.no_grad():  # scaled residual projections
                for b in self.blocks:
                    b.wo.mul_(1 / math.sqrt(2 * layers))
                    b.w_down.mul_(1 / math.sqrt(2 * layers))

        def forward(self, ids):
            B, T = ids.shape
            x = self.tok[ids].transpose(1, 2)
            mask = torch.triu(torch.full((T, T), float("-inf")), 1).t().unsqueeze(0)  # key > query
            cos, sin = self.cos[:, :T], self.sin[:, :T]
            for b in self.blocks:
                x = b(x, cos, sin, mask, self.eps)
            x = x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + self.eps) * self.out_norm[:, None]
            return lin(x, self.tok)  # (B, V, T), tied output

        def gguf_tensors(self):
            t = [("token_embd.weight", self.tok), ("output_norm.weight", self.out_norm)]
            for i, b in enumerate(self.blocks):
                p = "blk.%d." % i
                t += [(p + "attn_norm.weight", b.attn_norm), (p + "attn_q.weight", b.wq),
                      (p + "attn_k.weight", b.wk), (p + "attn_v.weight", b.wv),
                      (p + "attn_output.weight", b.wo), (p + "ffn_norm.weight", b.ffn_norm),
                      (p + "ffn_gate.weight", b.w_gate), (p + "ffn_up.weight", b.w_up),
                      (p + "ffn_down.weight", b.w_down)]
            return t

    def layer_norm(x, w, b, eps):  # x (B, D, T)
        mu = x.mean(1, keepdim=True)
        xc = x - mu
        var = xc.pow(2).mean(1, keepdim=True)
        return xc * torch.rsqrt(var + eps) * w[:, None] + b[:, None]

    class BertBlock(nn.Module):
        def __init__(self, d, h, ff):
            super().__init__()
            self.h = h
            std = 0.02
            self.wq = nn.Parameter(torch.randn(d, d) * std)
            self.wk = nn.Parameter(torch.randn(d, d) * std)
            self.wv = nn.Parameter(torch.randn(d, d) * std)
            self.wo = nn.Parameter(torch.randn(d, d) * std)
            self.bq, self.bk, self.bv, self.bo = [nn.Parameter(torch.zeros(d)) for _ in range(4)]
            self.attn_norm_w = nn.Parameter(torch.ones(d))
            self.attn_norm_b = nn.Parameter(torch.zeros(d))
            self.w_up = nn.Parameter(torch.randn(ff, d) * std)
            self.b_up = nn.Parameter(torch.zeros(ff))
            self.w_down = nn.Parameter(torch.randn(d, ff) * std)
            self.b_down = nn.Parameter(torch.zeros(d))
            self.out_norm_w = nn.Parameter(torch.ones(d))
            self.out_norm_b = nn.Parameter(torch.zeros(d))

        def forward(self, x, mask, eps):
            B, D, T = x.shape
            H = self.h
            hd = D // H
            qkv = lin(x, torch.cat([self.wq, self.wk, self.wv], 0), torch.cat([self.bq, self.bk, self.bv]))
            q, k, v = qkv.view(B, 3, H, hd, T).unbind(1)
            a = attend(q * (1.0 / math.sqrt(hd)), k, v, mask)
            h = layer_norm(lin(a, self.wo, self.bo) + x, self.attn_norm_w, self.attn_norm_b, eps)
            f = lin(F.gelu(lin(h, self.w_up, self.b_up), approximate="tanh"), self.w_down, self.b_down)
            return layer_norm(f + h, self.out_norm_w, self.out_norm_b, eps)

    class Bert(nn.Module):
        def __init__(self, vocab, d, layers, heads, ff, ctx, eps=1e-12):
            super().__init__()
            self.d, self.heads, self.ff, self.ctx, self.eps = d, heads, ff, ctx, eps
            self.tok = nn.Parameter(torch.randn(vocab, d) * 0.02)
            self.pos = nn.Parameter(torch.randn(ctx, d) * 0.02)
            self.types = nn.Parameter(torch.randn(2, d) * 0.02)
            self.norm_w = nn.Parameter(torch.ones(d))
            self.norm_b = nn.Parameter(torch.zeros(d))
            self.blocks = nn.ModuleList([BertBlock(d, heads, ff) for _ in range(layers)])

        def forward(self, ids, lengths):
            """ids (B, T) padded; lengths (B,). Returns L2-normalised mean-pooled (B, D)."""
            B, T = ids.shape
            valid = (torch.arange(T)[None, :] < lengths[:, None]).float()  # (B, T)
            x = self.tok[ids] + self.pos[:T][None] + self.types[0][None, None]
            x = layer_norm(x.transpose(1, 2), self.norm_w, self.norm_b, self.eps)
            mask = torch.zeros(B, T, T)
            mask = mask.masked_fill(valid[:, :, None] == 0, float("-inf"))  # padded keys
            for b in self.blocks:
                x = b(x, mask, self.eps)
            pooled = (x * valid[:, None, :]).sum(2) / lengths[:, None].float()
            return F.normalize(pooled, dim=1)

        def gguf_tensors(self):
            t = [("token_embd.weight", self.tok), ("position_embd.weight", self.pos),
                 ("token_types.weight", self.types), ("token_embd_norm.weight", self.norm_w),
                 ("token_embd_norm.bias", self.norm_b)]
            for i, b in enumerate(self.blocks):
                p = "blk.%d." % i
                t += [(p + "attn_q.weight", b.wq), (p + "attn_q.bias", b.bq), (p + "attn_k.weight", b.wk),
                      (p + "attn_k.bias", b.bk), (p + "attn_v.weight", b.wv), (p + "attn_v.bias", b.bv),
                      (p + "attn_output.weight", b.wo), (p + "attn_output.bias", b.bo),
                      (p + "attn_output_norm.weight", b.attn_norm_w), (p + "attn_output_norm.bias", b.attn_norm_b),
                      (p + "ffn_up.weight", b.w_up), (p + "ffn_up.bias", b.b_up),
                      (p + "ffn_down.weight", b.w_down), (p + "ffn_down.bias", b.b_down),
                      (p + "layer_output_norm.weight", b.out_norm_w), (p + "layer_output_norm.bias", b.out_norm_b)]
            return t

    return torch, F, Llama, Bert


# ----------------------------------------------------------------------------------------------
# GGUF export through gguf-assemble
# ----------------------------------------------------------------------------------------------

def write_gguf(assemble, work, name, metadata, tensors, out_path, matrix_type="F16"):
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    entries = []
    offset = 0
    with open(os.path.join(d, "weights.bin"), "wb") as f:
        for tname, arr in tensors:
            a = np.ascontiguousarray(arr, dtype="<f4")
            dims = list(reversed(a.shape))  # ne0 (row length) first
            entries.append({"name": tname, "dims": dims, "type": matrix_type if a.ndim == 2 else "F32",
                            "offset": offset})
            f.write(a.tobytes())
            offset += a.nbytes
    manifest = {"metadata": metadata, "data": "weights.bin", "tensors": entries}
    mpath = os.path.join(d, "manifest.json")
    with open(mpath, "w", encoding="utf-8") as f:
        json.dump(manifest, f)
    subprocess.run([assemble, mpath, out_path], check=True, stdout=subprocess.DEVNULL)
    return out_path


def md(key, typ, value):
    return {"key": key, "type": typ, "value": value}


def spm_metadata(tok):
    return [
        md("tokenizer.ggml.model", "string", "llama"),
        md("tokenizer.ggml.tokens", "string[]", tok.tokens),
        md("tokenizer.ggml.scores", "f32[]", tok.scores),
        md("tokenizer.ggml.token_type", "i32[]", tok.types),
        md("tokenizer.ggml.unknown_token_id", "u32", 0),
        md("tokenizer.ggml.bos_token_id", "u32", 1),
        md("tokenizer.ggml.eos_token_id", "u32", 2),
        md("tokenizer.ggml.add_bos_token", "bool", True),
        md("tokenizer.ggml.add_eos_token", "bool", False),
        md("tokenizer.ggml.add_space_prefix", "bool", True),
        md("tokenizer.chat_template", "string", CHATML_TEMPLATE),
    ]


def wpm_metadata(tok):
    types = [3] * len(WPM_SPECIALS) + [1] * (len(tok.tokens) - len(WPM_SPECIALS))
    types[1] = 2
    return [
        md("tokenizer.ggml.model", "string", "bert"),
        md("tokenizer.ggml.tokens", "string[]", tok.tokens),
        md("tokenizer.ggml.token_type", "i32[]", types),
        md("tokenizer.ggml.token_type_count", "u32", 2),
        md("tokenizer.ggml.padding_token_id", "u32", 0),
        md("tokenizer.ggml.unknown_token_id", "u32", 1),
        md("tokenizer.ggml.bos_token_id", "u32", 2),
        md("tokenizer.ggml.seperator_token_id", "u32", 3),
        md("tokenizer.ggml.mask_token_id", "u32", 4),
    ]


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------

def lr_at(step, total, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def train_chat(args, spm, corpus, chunks, qfilter, work):
    torch, F, Llama, _ = build_torch()
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed + 1)
    cfg = dict(d=256, layers=4, heads=4, ff=688, ctx=1024)
    model = Llama(len(spm.tokens), cfg["d"], cfg["layers"], cfg["heads"], cfg["ff"], cfg["ctx"])
    n_params = sum(p.numel() for p in model.parameters())
    log("chat model: %s, %d parameters" % (cfg, n_params))
    saved = os.path.join(work, "chat.pt")
    if args.reuse and os.path.exists(saved):
        model.load_state_dict(torch.load(saved))
        log("reusing the trained chat model in %s" % saved)
        return model, cfg, n_params

    # Language-modelling rows: the corpus in windows of up to 512 tokens, BOS first.
    lm_rows = []
    for rel, text in corpus:
        ids = spm.encode(text, add_special=False)
        for s in range(0, len(ids), 384):
            part = ids[s:s + 511]
            if len(part) > 32:
                lm_rows.append([spm.bos] + part)
    log("LM rows: %d (%d tokens)" % (len(lm_rows), sum(len(r) for r in lm_rows)))

    im_end = spm.ids["<|im_end|>"]
    vocab_words = sorted(set(w.lower() for _, text in corpus for w in re.findall(r"\b[A-Za-z][a-z]{3,}\b", text)
                             if w.lower() not in STOPWORDS))

    def qa_row(progress):
        # curriculum: shorter excerpts early, the assistant's 600 characters later
        if progress < 0.3:
            chars = rng.choice([200, 250, 300, 350, 400])
        elif progress < 0.55:
            chars = rng.choice([300, 400, 500, 600, 600])
        else:
            chars = rng.choice([450, 600, 600, 600, 600])
        k = 4 if rng.random() < 0.7 else 3
        ex = qa_example(chunks, None, rng, chars, k, qfilter, no_answer=rng.random() < args.no_answer_share,
                        perturb_share=args.counterfactual_share, vocab_words=vocab_words)
        if ex is None:
            return None
        prompt, answer = ex
        p = spm.encode(prompt, add_special=True, parse_special=True)
        a = spm.encode_fragment(answer, False) + [im_end]
        ids = p + a
        w = [0.0] * len(ids)
        # the user turn's sources (text after the system prompt) get a small LM weight
        for i in range(40, len(p) - 1):
            w[i] = args.source_lm_weight
        for i in range(len(p) - 1, len(ids) - 1):
            w[i] = 1.0  # position i predicts token i+1
        return ids[:cfg["ctx"]], w[:cfg["ctx"]]

    params = list(model.parameters())
    decay = [p for p in params if p.dim() == 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.chat_lr, betas=(0.9, 0.95), eps=1e-8)
    steps = args.chat_steps
    budget = args.chat_tokens_per_step
    t0 = time.time()
    ema = None
    lm_i = 0
    lm_order = list(range(len(lm_rows)))
    rng.shuffle(lm_order)
    for step in range(steps):
        progress = step / steps
        rows = []
        total = 0
        # one corpus LM row every other step, QA rows for the rest of the token budget
        if step % 2 == 0:
            r = lm_rows[lm_order[lm_i % len(lm_order)]]
            lm_i += 1
            rows.append((r, [args.lm_weight] * (len(r) - 1) + [0.0]))
            total += len(r)
        while total < budget:
            r = qa_row(progress)
            if r is None:
                continue
            rows.append(r)
            total += len(r[0])
        T = max(len(r[0]) for r in rows)
        ids = torch.zeros(len(rows), T, dtype=torch.long)
        tgt = torch.zeros(len(rows), T, dtype=torch.long)
        wt = torch.zeros(len(rows), T)
        for b, (r, w) in enumerate(rows):
            n = len(r)
            ids[b, :n] = torch.tensor(r)
            tgt[b, :n - 1] = torch.tensor(r[1:])
            wt[b, :n] = torch.tensor(w[:n])
        lr = lr_at(step, steps, args.chat_lr, 150)
        for g in opt.param_groups:
            g["lr"] = lr
        logits = model(ids)
        ce = F.cross_entropy(logits, tgt, reduction="none")
        loss = (ce * wt).sum() / wt.sum()
        ans = (wt == 1.0)
        ans_loss = (ce * ans).sum() / ans.sum().clamp(min=1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        ema = ans_loss.item() if ema is None else 0.95 * ema + 0.05 * ans_loss.item()
        if step % 25 == 0 or step == steps - 1:
            el = time.time() - t0
            log("chat step %d/%d  loss %.3f  answer-loss(ema) %.3f  lr %.2e  rows %d x %d  %.0fs (%.0f tok/s)"
                % (step, steps, loss.item(), ema, lr, len(rows), T, el, (step + 1) * budget / max(el, 1e-9)))
    log("chat training took %.1f min" % ((time.time() - t0) / 60))
    torch.save(model.state_dict(), saved)
    return model, cfg, n_params


def embed_queries(chunk_text, rng):
    """Pseudo-queries for a chunk: key words, a shortened sentence, or a templated question."""
    flat = excerpt(chunk_text, 100000)
    sents = re.split(r"(?<=[.!?:])\s+|\s{2,}", flat)
    sents = [s for s in sents if len(content_words(s)) >= 2] or [flat]
    s = rng.choice(sents)
    cws = content_words(s)
    form = rng.random()
    if form < 0.35 and len(cws) >= 2:
        k = rng.randint(2, min(5, len(cws)))
        q = " ".join(cws[i] for i in sorted(rng.sample(range(len(cws)), k)))
    elif form < 0.7:
        q = make_question(s, rng) or s
    else:
        ws = words_of(s)
        n = rng.randint(min(4, len(ws)), min(len(ws), 12))
        st = rng.randint(0, len(ws) - n)
        q = " ".join(ws[st:st + n])
    return q


def train_embed(args, wpm, chunks, qfilter, work):
    torch, F, _, Bert = build_torch()
    torch.manual_seed(args.seed + 10)
    rng = random.Random(args.seed + 11)
    cfg = dict(d=160, layers=2, heads=4, ff=640, ctx=512)
    model = Bert(len(wpm.tokens), cfg["d"], cfg["layers"], cfg["heads"], cfg["ff"], cfg["ctx"])
    n_params = sum(p.numel() for p in model.parameters())
    log("embed model: %s, %d parameters" % (cfg, n_params))
    saved = os.path.join(work, "embed.pt")
    if args.reuse and os.path.exists(saved):
        model.load_state_dict(torch.load(saved))
        log("reusing the trained embedding model in %s" % saved)
        return model, cfg, n_params
    chunk_ids = []
    for c in chunks:
        ids = wpm.encode(c["text"])
        if len(ids) > cfg["ctx"]:
            ids = ids[:cfg["ctx"] - 1] + [ids[-1]]
        chunk_ids.append(ids)
    log("chunk lengths (WordPiece): mean %.0f, max %d" % (np.mean([len(i) for i in chunk_ids]),
                                                          max(len(i) for i in chunk_ids)))

    def batch(seqs):
        T = max(len(s) for s in seqs)
        ids = torch.zeros(len(seqs), T, dtype=torch.long)
        for b, s in enumerate(seqs):
            ids[b, :len(s)] = torch.tensor(s)
        return ids, torch.tensor([len(s) for s in seqs])

    params = list(model.parameters())
    opt = torch.optim.AdamW([{"params": [p for p in params if p.dim() == 2], "weight_decay": 0.01},
                             {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
                            lr=args.embed_lr, betas=(0.9, 0.98))
    steps = args.embed_steps
    scale = 1.0 / 0.05
    t0 = time.time()
    order = []
    for step in range(steps):
        if len(order) < args.embed_batch:
            extra = list(range(len(chunks)))
            rng.shuffle(extra)
            order += extra
        pick, order = order[:args.embed_batch], order[args.embed_batch:]
        pick = list(dict.fromkeys(pick))
        queries = []
        for i in pick:
            for _ in range(20):
                q = embed_queries(chunks[i]["text"], rng)
                if qfilter.ok(q):
                    break
            queries.append(wpm.encode(q))
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, args.embed_lr, 50)
        qv = model(*batch(queries))
        dv = model(*batch([chunk_ids[i] for i in pick]))
        sim = qv @ dv.t() * scale
        labels = torch.arange(len(pick))
        loss = 0.5 * (F.cross_entropy(sim, labels) + F.cross_entropy(sim.t(), labels))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % 25 == 0 or step == steps - 1:
            acc = (sim.argmax(1) == labels).float().mean().item()
            log("embed step %d/%d  loss %.3f  in-batch acc %.2f  %.0fs" % (step, steps, loss.item(), acc,
                                                                           time.time() - t0))
    log("embedding training took %.1f min" % ((time.time() - t0) / 60))
    torch.save(model.state_dict(), saved)
    return model, cfg, n_params


# ----------------------------------------------------------------------------------------------
# Verification against Keel
# ----------------------------------------------------------------------------------------------

def keel_tokenize(keel, model, text):
    r = subprocess.run([keel, "tokenize", "--model", model, "--json", "--no-special", text], check=True,
                       capture_output=True, text=True)
    return json.loads(r.stdout)["tokens"]


def verify_tokenizer(keel, path, encode, samples, label):
    bad = 0
    for s in samples:
        ours = encode(s)
        theirs = keel_tokenize(keel, path, s)
        if ours != theirs:
            bad += 1
            if bad <= 3:
                log("%s MISMATCH on %r:\n  ours  %s\n  keel  %s" % (label, s[:80], ours[:40], theirs[:40]))
    log("%s tokenizer: %d/%d samples identical to keel tokenize" % (label, len(samples) - bad, len(samples)))
    return bad == 0


def tokenizer_samples(corpus, chunks, rng, n=60):
    samples = []
    for _ in range(n):
        rel, text = rng.choice(corpus)
        a = rng.randrange(len(text))
        samples.append(text[a:a + rng.randint(20, 400)])
    samples += [c["text"] for c in chunks[:10]]
    samples += [SYSTEM_PROMPT, NO_ANSWER, "Hello world. The quick brown fox jumps over the lazy dog.",
                "  two  spaces and\ttabs\nnew lines\n\n", "Unicode: café, naïve, Ünïcödé — “quotes” 東京 😀",
                "K002 Q8_0 keel-check.json 6928 RFC AF_INET <s> </s> <|im_start|>"]
    return [s for s in samples if s]


def verify_models(args, spm, wpm, chat, embed, chat_path, embed_path, chunks):
    import torch
    report = {}
    if chat is not None:
        prompts = ["The KV cache stores keys and values in blocks of",
                   "A citation is valid only when",
                   "Sources:\n[1] The WAL file grows until a checkpoint runs.\n\nQuestion: When does a checkpoint run?",
                   chunks[5]["text"][:300]]
        diffs = []
        for p in prompts:
            ids = spm.encode(p, add_special=True, parse_special=False)
            with torch.no_grad():
                lp = torch.log_softmax(chat(torch.tensor([ids]))[0, :, -1].double(), 0)
            r = subprocess.run([args.keel, "generate", "-m", chat_path, "-p", p, "-n", "1", "--temp", "0", "--json",
                                "--logprobs", "5", "--threads", str(args.threads)],
                               check=True, capture_output=True, text=True)
            out = json.loads(r.stdout)
            assert out["prompt_tokens"] == ids, "prompt tokens differ from keel's"
            step = out["logprobs"][0]
            pairs = [(step["id"], step["logprob"])] + [(t["id"], t["logprob"]) for t in step["top_logprobs"]]
            d = max(abs(lp[i].item() - l) for i, l in pairs)
            top_torch = int(lp.argmax())
            diffs.append(d)
            log("logprobs %r: keel top %d (%.4f) torch top %d (%.4f), max |diff| over keel's top-5 %.4f"
                % (p[:40], step["id"], step["logprob"], top_torch, lp[top_torch].item(), d))
        report["chat_max_logprob_diff"] = max(diffs)
    if embed is not None:
        texts = ["How does Keel check that a citation is valid?", "KV cache block size", chunks[0]["text"],
                 chunks[40]["text"]]
        r = subprocess.run([args.keel, "embed", "-m", embed_path, "--json", "--threads", str(args.threads)] + texts,
                           check=True, capture_output=True, text=True)
        theirs = json.loads(r.stdout)["embeddings"]
        cos = []
        for t, v in zip(texts, theirs):
            ids = wpm.encode(t)
            with torch.no_grad():
                ours = embed(torch.tensor([ids]), torch.tensor([len(ids)]))[0].double().numpy()
            v = np.array(v, dtype=np.float64)
            cos.append(float(ours @ v / (np.linalg.norm(ours) * np.linalg.norm(v))))
        log("embedding cosine torch vs keel: %s" % ", ".join("%.6f" % c for c in cos))
        report["embed_min_cosine"] = min(cos)
    return report


# ----------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="models", help="output folder for the two .gguf files")
    ap.add_argument("--keel", default=os.path.join(ROOT, "build", "keel"))
    ap.add_argument("--assemble", default=os.path.join(ROOT, "build", "tools", "gguf-assemble"))
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chat-vocab", type=int, default=3000)
    ap.add_argument("--embed-vocab", type=int, default=4000)
    ap.add_argument("--chat-steps", type=int, default=1500)
    ap.add_argument("--chat-tokens-per-step", type=int, default=3072)
    ap.add_argument("--chat-lr", type=float, default=2e-3)
    ap.add_argument("--lm-weight", type=float, default=0.1, help="loss weight of corpus LM tokens")
    ap.add_argument("--source-lm-weight", type=float, default=0.03,
                    help="loss weight of the source tokens inside QA prompts")
    ap.add_argument("--no-answer-share", type=float, default=0.06,
                    help="share of QA examples whose sources do not hold the answer")
    ap.add_argument("--counterfactual-share", type=float, default=0.5,
                    help="share of QA examples whose sources have words swapped (forces copying)")
    ap.add_argument("--embed-steps", type=int, default=500)
    ap.add_argument("--embed-batch", type=int, default=32)
    ap.add_argument("--embed-lr", type=float, default=2e-3)
    ap.add_argument("--only", choices=["chat", "embed", "tokenizers"], default=None)
    ap.add_argument("--verify", action="store_true", help="compare tokenizers and exported models with keel")
    ap.add_argument("--reuse", action="store_true",
                    help="with --work: load chat.pt / embed.pt saved there by an earlier run instead of training")
    args = ap.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    out_dir = os.path.abspath(args.out)
    os.makedirs(out_dir, exist_ok=True)
    work = args.work or tempfile.mkdtemp(prefix="keel-tiny-")
    os.makedirs(work, exist_ok=True)
    t_start = time.time()

    # A private copy of the keel binary, so that a rebuild of build/ while this runs cannot
    # pull it away mid-way.
    snapshot = os.path.join(work, "keel")
    shutil.copy2(args.keel, snapshot)
    args.keel = snapshot

    corpus = read_corpus()
    chunks = keel_chunks(args.keel, work)
    qfilter = QuestionFilter(os.path.join(EXAMPLE, "questions.json"))
    log("corpus: %d documents, %d characters; %d Keel chunks" % (len(corpus), sum(len(t) for _, t in corpus),
                                                                 len(chunks)))

    # Vocabularies. The chat vocabulary also sees the fixed strings of the prompt format.
    fixed = [(SYSTEM_PROMPT, 50), ("Sources:\nQuestion:\n" + NO_ANSWER, 50),
             (" ".join(WH_PREFIXES) + " What How Why When Which Who Where", 5)]
    spm = SpmTokenizer.train([(t, 1) for _, t in corpus] + fixed, args.chat_vocab)
    wpm = WpmTokenizer.train([(t, 1) for _, t in corpus], args.embed_vocab)
    n_chars = sum(len(t) for _, t in corpus)
    n_spm = sum(len(spm.encode(t, add_special=False)) for _, t in corpus)
    n_wpm = sum(len(wpm.encode(t, add_special=False)) for _, t in corpus)
    log("SPM vocabulary %d tokens (%.2f chars/token on the corpus); WordPiece vocabulary %d tokens "
        "(%.2f chars/token)" % (len(spm.tokens), n_chars / n_spm, len(wpm.tokens), n_chars / n_wpm))

    chat_path = os.path.join(out_dir, "keel-tiny-chat.gguf")
    embed_path = os.path.join(out_dir, "keel-tiny-embed.gguf")
    if args.only == "tokenizers" or args.verify:
        vocab_dir = os.path.join(work, "vocab-only")
        os.makedirs(vocab_dir, exist_ok=True)
        sp_path = write_gguf(args.assemble, work, "spm-vocab",
                             [md("general.architecture", "string", "llama")] + spm_metadata(spm), [],
                             os.path.join(vocab_dir, "spm.gguf"))
        wp_path = write_gguf(args.assemble, work, "wpm-vocab",
                             [md("general.architecture", "string", "bert")] + wpm_metadata(wpm), [],
                             os.path.join(vocab_dir, "wpm.gguf"))
        srng = random.Random(args.seed + 99)
        samples = tokenizer_samples(corpus, chunks, srng)
        ok1 = verify_tokenizer(args.keel, sp_path, lambda s: spm.encode(s, add_special=False), samples, "SPM")
        ok2 = verify_tokenizer(args.keel, wp_path, lambda s: wpm.encode(s, add_special=False), samples, "WordPiece")
        if not (ok1 and ok2):
            sys.exit("tokenizer mismatch with keel")
        if args.only == "tokenizers":
            return

    chat = embed = None
    if args.only in (None, "chat"):
        chat, cfg, n_params = train_chat(args, spm, corpus, chunks, qfilter, work)
        meta = [md("general.architecture", "string", "llama"), md("general.name", "string", "keel-tiny-chat"),
                md("general.description", "string",
                   "Keel's tiny demo chat model, trained by tools/train_tiny_models.py on the local-research "
                   "sample corpus (grounded QA with [n] citations; k=4 sources of 600 characters)."),
                md("llama.context_length", "u32", cfg["ctx"]), md("llama.embedding_length", "u32", cfg["d"]),
                md("llama.block_count", "u32", cfg["layers"]), md("llama.feed_forward_length", "u32", cfg["ff"]),
                md("llama.attention.head_count", "u32", cfg["heads"]),
                md("llama.attention.head_count_kv", "u32", cfg["heads"]),
                md("llama.attention.layer_norm_rms_epsilon", "f32", 1e-5),
                md("llama.rope.freq_base", "f32", 10000.0),
                md("llama.vocab_size", "u32", len(spm.tokens))] + spm_metadata(spm)
        tensors = [(n, p.detach().float().numpy()) for n, p in chat.gguf_tensors()]
        write_gguf(args.assemble, work, "chat", meta, tensors, chat_path)
        log("wrote %s (%.2f MB, %d parameters)" % (chat_path, os.path.getsize(chat_path) / 1e6, n_params))
    if args.only in (None, "embed"):
        embed, cfg, n_params = train_embed(args, wpm, chunks, qfilter, work)
        meta = [md("general.architecture", "string", "bert"), md("general.name", "string", "keel-tiny-embed"),
                md("general.description", "string",
                   "Keel's tiny demo embedding model, trained by tools/train_tiny_models.py on the local-research "
                   "sample corpus (contrastive, mean pooling)."),
                md("bert.context_length", "u32", cfg["ctx"]), md("bert.embedding_length", "u32", cfg["d"]),
                md("bert.block_count", "u32", cfg["layers"]), md("bert.feed_forward_length", "u32", cfg["ff"]),
                md("bert.attention.head_count", "u32", cfg["heads"]),
                md("bert.attention.layer_norm_epsilon", "f32", 1e-12),
                md("bert.attention.causal", "bool", False), md("bert.pooling_type", "u32", 1)] + wpm_metadata(wpm)
        tensors = [(n, p.detach().float().numpy()) for n, p in embed.gguf_tensors()]
        write_gguf(args.assemble, work, "embed", meta, tensors, embed_path)
        log("wrote %s (%.2f MB, %d parameters)" % (embed_path, os.path.getsize(embed_path) / 1e6, n_params))

    if args.verify:
        report = verify_models(args, spm, wpm, chat, embed, chat_path, embed_path, chunks)
        log("verification: %s" % json.dumps(report))
    log("done in %.1f min" % ((time.time() - t_start) / 60))


if __name__ == "__main__":
    main()
