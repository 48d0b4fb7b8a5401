// The tokenizer's front end (special-token splitting, BOS/EOS, dispatch) and detokenization.
// The three algorithms live in tokenizer_spm.cpp, tokenizer_bpe.cpp and tokenizer_wpm.cpp.
#include "engine/tokenizer.h"

#include <fmt/format.h>

#include "engine/unicode.h"

namespace keel::engine {

Result<std::vector<std::string>> pre_tokenizer_regexes(std::string_view pre) {
  const std::string gpt2 =
      R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
  const std::string llama3_head =
      R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|)";
  const std::string llama3_tail = R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  if (pre == "default") {
    return std::vector<std::string>{R"([\p{P}\$\+<=>\^~\|]+)", gpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"};
  }
  if (pre == "gpt-2" || pre == "gpt2" || pre == "phi-2" || pre == "jina-es" || pre == "jina-de" ||
      pre == "gigachat" || pre == "jina-v2-es" || pre == "jina-v2-de" || pre == "roberta-bpe") {
    return std::vector<std::string>{gpt2};
  }
  if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3") {
    return std::vector<std::string>{llama3_head + R"(\p{N}{1,3})" + llama3_tail};
  }
  if (pre == "qwen2" || pre == "deepseek-r1-qwen") {
    return std::vector<std::string>{llama3_head + R"(\p{N})" + llama3_tail};
  }
  if (pre == "deepseek-llm") {
    // Cased letters as hex ranges (literal characters here would be at the mercy of
    // normalizing editors).
    const std::string letters =
        R"(A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293})"
        R"(\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386})"
        R"(\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F})"
        R"(\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA})"
        R"(\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15})"
        R"(\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B})"
        R"(\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4})"
        R"(\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4})"
        R"(\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124})"
        R"(\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F})"
        R"(\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4})"
        R"(\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F})"
        R"(\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17})"
        R"(\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3})"
        R"(\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF})"
        R"(\x{1E900}-\x{1E943})";
    return std::vector<std::string>{
        R"([\r\n])",
        R"(\s?[)" + letters + "]+",
        R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)",
        R"(\s+$)",
        R"([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)",
        R"(\p{N}+)"};
  }
  return Status::unimplemented(fmt::format(
      "pre-tokenizer '{}' is not supported (default, gpt-2, llama-bpe/llama3, qwen2 and "
      "deepseek-llm are)",
      pre));
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::create(const GgufFile& file) {
  KEEL_ASSIGN_OR_RETURN(Vocab vocab, Vocab::load(file));
  std::unique_ptr<Tokenizer> t(new Tokenizer(std::move(vocab)));
  if (t->vocab_.type() == VocabType::bpe) {
    auto patterns = pre_tokenizer_regexes(t->vocab_.pre());
    if (!patterns.ok()) return patterns.status().with_context(file.path());
    for (const auto& p : *patterns) {
      auto regex = Regex::compile(p);
      if (!regex.ok()) return regex.status().with_context("pre-tokenizer " + t->vocab_.pre());
      t->pre_regexes_.push_back(std::move(*regex));
    }
    for (const auto& r : t->pre_regexes_) t->pre_regex_ptrs_.push_back(&r);
    // GPT-2's reversible byte -> code point map: printable bytes map to themselves, the others
    // to U+0100 onwards in byte order.
    t->byte_to_unicode_.resize(256);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      uint32_t cp = printable ? static_cast<uint32_t>(b) : next++;
      append_utf8(cp, t->byte_to_unicode_[b]);
      t->unicode_to_byte_[cp] = static_cast<uint8_t>(b);
    }
  }
  return t;
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  // Split special-token texts out of the raw text first, longest first; the rest are raw
  // fragments tokenized one by one (merges never cross a special token).
  struct Fragment {
    TokenId token;  // kNoToken for raw text
    std::string_view text;
  };
  std::vector<Fragment> fragments;
  if (!text.empty()) fragments.push_back({kNoToken, text});
  for (TokenId special : vocab_.special_tokens()) {
    TokenKind kind = vocab_.kind(special);
    if (!parse_special && kind != TokenKind::user_defined) continue;
    const std::string& needle = vocab_.text(special);
    std::vector<Fragment> next;
    for (const Fragment& f : fragments) {
      if (f.token != kNoToken) {
        next.push_back(f);
        continue;
      }
      std::string_view rest = f.text;
      size_t found;
      while ((found = rest.find(needle)) != std::string_view::npos) {
        std::string_view left = rest.substr(0, found);
        if (vocab_.lstrip(special)) {
          while (!left.empty() && std::isspace(static_cast<unsigned char>(left.back()))) left.remove_suffix(1);
        }
        if (!left.empty()) next.push_back({kNoToken, left});
        next.push_back({special, {}});
        rest.remove_prefix(found + needle.size());
        if (vocab_.rstrip(special)) {
          while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front()))) rest.remove_prefix(1);
        }
      }
      if (!rest.empty()) next.push_back({kNoToken, rest});
    }
    fragments = std::move(next);
  }

  std::vector<TokenId> out;
  const bool wpm = vocab_.type() == VocabType::wpm;
  if (add_special && (vocab_.add_bos() || wpm) && vocab_.bos() != kNoToken) out.push_back(vocab_.bos());
  bool previous_was_special = true;
  for (const Fragment& f : fragments) {
    if (f.token != kNoToken) {
      out.push_back(f.token);
      previous_was_special = true;
    } else {
      encode_fragment(f.text, previous_was_special, out);
      previous_was_special = false;
    }
  }
  if (add_special) {
    if (wpm && vocab_.sep() != kNoToken) {
      out.push_back(vocab_.sep());
    } else if (!wpm && vocab_.add_eos() && vocab_.eos() != kNoToken) {
      out.push_back(vocab_.eos());
    }
  }
  return out;
}

void Tokenizer::encode_fragment(std::string_view text, bool after_special,
                                std::vector<TokenId>& out) const {
  switch (vocab_.type()) {
    case VocabType::spm: {
      // A space before the first fragment and after each special token, then spaces -> U+2581.
      std::string escaped;
      escaped.reserve(text.size() * 3 + 3);
      if (vocab_.add_space_prefix() && after_special) escaped += "\xE2\x96\x81";
      for (char c : text) {
        if (c == ' ') {
          escaped += "\xE2\x96\x81";
        } else {
          escaped += c;
        }
      }
      encode_spm(escaped, out);
      return;
    }
    case VocabType::bpe: encode_bpe(text, out); return;
    case VocabType::wpm: encode_wpm(text, out); return;
  }
}

std::string Tokenizer::token_to_piece(TokenId id, bool render_special) const {
  if (!vocab_.valid(id)) return {};
  const std::string& text = vocab_.text(id);
  switch (vocab_.kind(id)) {
    case TokenKind::control:
    case TokenKind::unknown: return render_special ? text : std::string();
    case TokenKind::user_defined: return text;
    case TokenKind::unused:
    case TokenKind::undefined: return {};
    case TokenKind::byte:
      if (text.size() == 6 && text.rfind("<0x", 0) == 0) {
        return std::string(1, static_cast<char>(std::stoi(text.substr(3, 2), nullptr, 16)));
      }
      return text;
    case TokenKind::normal: break;
  }
  if (vocab_.type() == VocabType::bpe) {
    std::string bytes;
    for (uint32_t cp : utf8_to_codepoints(text)) {
      auto it = unicode_to_byte_.find(cp);
      if (it == unicode_to_byte_.end()) {
        bytes += fmt::format("[UNK_BYTE_0x{:02x}]", cp);
      } else {
        bytes += static_cast<char>(it->second);
      }
    }
    return bytes;
  }
  // SPM and WordPiece: U+2581 stands for a space.
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 3, "\xE2\x96\x81") == 0) {
      out += ' ';
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string Tokenizer::decode(std::span<const TokenId> ids, bool remove_special,
                              bool render_special) const {
  // The space the tokenizer put before the text comes off the first text piece. (llama.cpp
  // keeps it when it drops a BOS; Keel strips it so that decode(encode(t)) == t.)
  bool remove_space = vocab_.add_space_prefix();
  if (remove_special && vocab_.add_bos() && !ids.empty() && ids.front() == vocab_.bos()) {
    ids = ids.subspan(1);
  }
  if (remove_special && vocab_.add_eos() && !ids.empty() && ids.back() == vocab_.eos()) {
    ids = ids.first(ids.size() - 1);
  }
  std::string out;
  for (TokenId id : ids) {
    std::string piece = token_to_piece(id, render_special);
    TokenKind kind = vocab_.valid(id) ? vocab_.kind(id) : TokenKind::undefined;
    if (kind == TokenKind::control || kind == TokenKind::unknown) {
      out += piece;
      continue;
    }
    if (remove_space && !piece.empty() && piece.front() == ' ') piece.erase(0, 1);
    remove_space = false;
    out += piece;
  }
  if (vocab_.clean_spaces()) {
    // Undo the spaces a WordPiece/BPE tokenizer put before punctuation and contractions.
    std::string cleaned;
    cleaned.reserve(out.size());
    for (size_t i = 0; i < out.size(); ++i) {
      if (out[i] == ' ' && i + 1 < out.size()) {
        char next = out[i + 1];
        if (next == '?' || next == '!' || next == '.' || next == ',') continue;
        if (next == '\'' && i + 2 < out.size()) {
          std::string_view rest(out.data() + i + 2, out.size() - i - 2);
          if (rest.rfind("s", 0) == 0 || rest.rfind("m", 0) == 0 || rest.rfind("re", 0) == 0 ||
              rest.rfind("ve", 0) == 0) {
            continue;
          }
        }
      }
      cleaned += out[i];
    }
    out = std::move(cleaned);
  }
  return out;
}

}  // namespace keel::engine
