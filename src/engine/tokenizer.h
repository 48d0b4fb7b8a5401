// Text <-> token ids for the three tokenizer families GGUF files carry: SentencePiece-style
// (SPM, `llama`), byte-level BPE (`gpt2`, with the pre-tokenizer named by tokenizer.ggml.pre)
// and WordPiece (`bert`). Results match llama.cpp's tokenizer id for id.
//
// Contract:
// - encode(text, add_special, parse_special): with add_special, BOS/EOS (CLS/SEP for WordPiece)
//   are added as the file's metadata says; with parse_special, special-token texts in `text`
//   become their ids, otherwise they are plain text (user-defined tokens are always split out,
//   as llama.cpp does). Invalid UTF-8 never fails: SPM keeps the bytes (byte fallback), BPE
//   and WordPiece see U+FFFD.
// - decode() inverts encode() for normal text: decode(encode(t, false, false)) == t for SPM and
//   BPE vocabularies whose pieces cover t.
// - Thread-safe after creation.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "engine/gguf.h"
#include "engine/regex_split.h"
#include "engine/vocab.h"

namespace keel::engine {

class Tokenizer {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Tokenizer>> create(const GgufFile& file);

  std::vector<TokenId> encode(std::string_view text, bool add_special = true,
                              bool parse_special = false) const;

  //! The text of one token. Control tokens render as "" unless render_special.
  std::string token_to_piece(TokenId id, bool render_special = false) const;
  //! The text of a sequence; remove_special drops a leading BOS and trailing EOS.
  std::string decode(std::span<const TokenId> ids, bool remove_special = true,
                     bool render_special = false) const;

  const Vocab& vocab() const { return vocab_; }
  bool is_end_of_generation(TokenId id) const { return vocab_.is_end_of_generation(id); }

 private:
  explicit Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {}
  void encode_fragment(std::string_view text, bool first, std::vector<TokenId>& out) const;
  void encode_spm(std::string_view text, std::vector<TokenId>& out) const;
  void encode_bpe(std::string_view text, std::vector<TokenId>& out) const;
  void encode_wpm(std::string_view text, std::vector<TokenId>& out) const;
  void emit_bpe_word(std::string_view word, std::vector<TokenId>& out) const;

  Vocab vocab_;
  std::vector<Regex> pre_regexes_;
  std::vector<const Regex*> pre_regex_ptrs_;
  std::vector<std::string> byte_to_unicode_;  // GPT-2 byte encoding, as UTF-8
  std::unordered_map<uint32_t, uint8_t> unicode_to_byte_;
};

//! The pre-tokenizer regexes llama.cpp uses for a tokenizer.ggml.pre value; unimplemented for
//! an unknown name.
[[nodiscard]] Result<std::vector<std::string>> pre_tokenizer_regexes(std::string_view pre);

}  // namespace keel::engine
