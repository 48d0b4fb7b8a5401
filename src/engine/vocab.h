// A model's vocabulary as GGUF metadata describes it (tokenizer.ggml.*): token texts, scores,
// types, merges, special ids and the flags that steer tokenization.
//
// Contract: load() validates what tokenization relies on (arrays of equal length, special ids
// inside the vocabulary, a known tokenizer model and pre-tokenizer) and reports the key at
// fault. Lookups are read-only and thread-safe after load.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "engine/gguf.h"

namespace keel::engine {

using TokenId = int32_t;
inline constexpr TokenId kNoToken = -1;

enum class VocabType { spm, bpe, wpm };

//! tokenizer.ggml.token_type values.
enum class TokenKind : uint8_t {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

struct TransparentStringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class Vocab {
 public:
  [[nodiscard]] static Result<Vocab> load(const GgufFile& file);

  VocabType type() const { return type_; }
  const std::string& pre() const { return pre_; }
  size_t size() const { return texts_.size(); }

  const std::string& text(TokenId id) const { return texts_[id]; }
  float score(TokenId id) const { return scores_.empty() ? 0.0f : scores_[id]; }
  TokenKind kind(TokenId id) const { return kinds_[id]; }
  bool lstrip(TokenId id) const { return lstrip_[id]; }
  bool rstrip(TokenId id) const { return rstrip_[id]; }
  bool valid(TokenId id) const { return id >= 0 && static_cast<size_t>(id) < texts_.size(); }
  //! The id of a token by exact text.
  std::optional<TokenId> find(std::string_view text) const;
  //! BPE merge rank of "left right", or -1.
  int merge_rank(std::string_view left, std::string_view right) const;
  size_t max_token_bytes() const { return max_token_bytes_; }

  TokenId bos() const { return bos_; }
  TokenId eos() const { return eos_; }
  TokenId eot() const { return eot_; }
  TokenId unk() const { return unk_; }
  TokenId sep() const { return sep_; }
  TokenId pad() const { return pad_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  bool add_space_prefix() const { return add_space_prefix_; }
  bool clean_spaces() const { return clean_spaces_; }
  bool ignore_merges() const { return ignore_merges_; }
  //! Tokens that end a generation (eos, eot and the usual end-of-turn texts).
  bool is_end_of_generation(TokenId id) const;
  //! Control, user-defined and unknown tokens, longest text first: split out of raw text.
  const std::vector<TokenId>& special_tokens() const { return special_tokens_; }

 private:
  // The steps of load(), in order.
  [[nodiscard]] Status read_model(const GgufFile& file);
  [[nodiscard]] Status read_tokens(const GgufFile& file);
  [[nodiscard]] Status read_scores_and_kinds(const GgufFile& file);
  [[nodiscard]] Status read_merges(const GgufFile& file);
  void set_model_defaults();
  [[nodiscard]] Status read_special_ids_and_flags(const GgufFile& file);
  void collect_end_of_generation();
  [[nodiscard]] Status set_strip_attributes(const GgufFile& file);
  void collect_special_tokens();

  VocabType type_ = VocabType::spm;
  std::string pre_;
  std::vector<std::string> texts_;
  std::vector<float> scores_;
  std::vector<TokenKind> kinds_;
  std::vector<bool> lstrip_, rstrip_;
  std::unordered_map<std::string, TokenId, TransparentStringHash, std::equal_to<>> ids_;
  std::unordered_map<std::string, int, TransparentStringHash, std::equal_to<>> merges_;
  size_t max_token_bytes_ = 0;
  TokenId bos_ = kNoToken, eos_ = kNoToken, eot_ = kNoToken, unk_ = kNoToken;
  TokenId sep_ = kNoToken, pad_ = kNoToken;
  bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = false;
  bool clean_spaces_ = false, ignore_merges_ = false;
  std::vector<TokenId> end_of_generation_;
  std::vector<TokenId> special_tokens_;
};

}  // namespace keel::engine
