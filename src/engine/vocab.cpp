#include "engine/vocab.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/log.h"

namespace keel::engine {

namespace {

// Pre-tokenizers whose whole pre-tokens are looked up before merging (llama.cpp's
// ignore_merges), and which add BOS by default.
bool is_llama3_family(std::string_view pre) {
  return pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3";
}

// A special token id from the file, if the key is there. 0xFFFFFFFF is what converters write for
// "no such token"; an id outside the vocabulary keeps the default.
Status read_token_id(const GgufFile& file, const char* key, size_t n, TokenId* out) {
  if (!file.find(key)) return Status();
  KEEL_ASSIGN_OR_RETURN(uint64_t id, file.get_uint(key));
  if (id == 0xFFFFFFFFu) {
    *out = kNoToken;
  } else if (id >= n) {
    log_warn("{}: {} = {} is outside the vocabulary of {}; using the default", file.path(), key,
             id, n);
  } else {
    *out = static_cast<TokenId>(id);
  }
  return Status();
}

}  // namespace

std::optional<TokenId> Vocab::find(std::string_view text) const {
  auto it = ids_.find(text);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

int Vocab::merge_rank(std::string_view left, std::string_view right) const {
  thread_local std::string key;
  key.assign(left);
  key += ' ';
  key += right;
  auto it = merges_.find(std::string_view(key));
  return it == merges_.end() ? -1 : it->second;
}

bool Vocab::is_end_of_generation(TokenId id) const {
  return std::find(end_of_generation_.begin(), end_of_generation_.end(), id) !=
         end_of_generation_.end();
}

Result<Vocab> Vocab::load(const GgufFile& file) {
  Vocab v;
  KEEL_RETURN_IF_ERROR(v.read_model(file));
  KEEL_RETURN_IF_ERROR(v.read_tokens(file));
  KEEL_RETURN_IF_ERROR(v.read_scores_and_kinds(file));
  if (v.type_ == VocabType::bpe) KEEL_RETURN_IF_ERROR(v.read_merges(file));
  v.set_model_defaults();
  KEEL_RETURN_IF_ERROR(v.read_special_ids_and_flags(file));
  v.collect_end_of_generation();
  KEEL_RETURN_IF_ERROR(v.set_strip_attributes(file));
  v.collect_special_tokens();
  return v;
}

Status Vocab::read_model(const GgufFile& file) {
  KEEL_ASSIGN_OR_RETURN(std::string model, file.get_string("tokenizer.ggml.model"));
  if (model == "llama") {
    type_ = VocabType::spm;
  } else if (model == "gpt2") {
    type_ = VocabType::bpe;
  } else if (model == "bert") {
    type_ = VocabType::wpm;
  } else {
    return Status::unimplemented(fmt::format(
        "{}: tokenizer.ggml.model '{}' is not supported (llama, gpt2 and bert are)", file.path(),
        model));
  }
  KEEL_ASSIGN_OR_RETURN(pre_, file.get_string_or("tokenizer.ggml.pre", "default"));
  return Status();
}

Status Vocab::read_tokens(const GgufFile& file) {
  const std::string& path = file.path();
  const GgufValue* tokens = file.find("tokenizer.ggml.tokens");
  if (!tokens || !tokens->is_array() || tokens->element_type != GgufValueType::string) {
    return Status::invalid_argument(
        fmt::format("{}: tokenizer.ggml.tokens is missing or not a string array", path));
  }
  const size_t n = tokens->strings().size();
  if (n == 0) return Status::invalid_argument(fmt::format("{}: the vocabulary is empty", path));
  texts_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string text(tokens->strings()[i]);
    if (text.empty()) text = fmt::format("[EMPTY_{}]", i);
    max_token_bytes_ = std::max(max_token_bytes_, text.size());
    ids_.emplace(text, static_cast<TokenId>(i));  // the first of duplicate texts wins
    texts_.push_back(std::move(text));
  }
  return Status();
}

Status Vocab::read_scores_and_kinds(const GgufFile& file) {
  const std::string& path = file.path();
  const size_t n = texts_.size();
  if (const GgufValue* scores = file.find("tokenizer.ggml.scores")) {
    auto f = scores->floats();
    if (!f || f->size() != n) {
      return Status::invalid_argument(
          fmt::format("{}: tokenizer.ggml.scores must be a number array of {} entries", path, n));
    }
    scores_.assign(f->begin(), f->end());
  }
  kinds_.assign(n, TokenKind::normal);
  if (const GgufValue* types = file.find("tokenizer.ggml.token_type")) {
    auto t = types->ints();
    if (!t || t->size() != n) {
      return Status::invalid_argument(fmt::format(
          "{}: tokenizer.ggml.token_type must be an integer array of {} entries", path, n));
    }
    for (size_t i = 0; i < n; ++i) {
      int64_t k = (*t)[i];
      kinds_[i] = k >= 0 && k <= 6 ? static_cast<TokenKind>(k) : TokenKind::undefined;
    }
  }
  return Status();
}

Status Vocab::read_merges(const GgufFile& file) {
  const std::string& path = file.path();
  const GgufValue* merges = file.find("tokenizer.ggml.merges");
  if (!merges || merges->element_type != GgufValueType::string) {
    return Status::invalid_argument(
        fmt::format("{}: a gpt2 tokenizer needs tokenizer.ggml.merges", path));
  }
  int rank = 0;
  for (auto m : merges->strings()) {
    size_t space = m.find(' ', 1);
    if (space == std::string_view::npos) {
      return Status::invalid_argument(
          fmt::format("{}: merge #{} '{}' has no space separating its two parts", path, rank, m));
    }
    merges_.emplace(std::string(m), rank++);
  }
  return Status();
}

// Defaults per tokenizer model; the file's own settings come after.
void Vocab::set_model_defaults() {
  switch (type_) {
    case VocabType::spm:
      bos_ = 1, eos_ = 2, unk_ = 0;
      add_bos_ = true, add_space_prefix_ = true;
      break;
    case VocabType::bpe:
      bos_ = 11, eos_ = 11;
      clean_spaces_ = true;
      if (is_llama3_family(pre_)) {
        ignore_merges_ = true;
        add_bos_ = true;
      } else if (pre_ == "qwen2" || pre_ == "deepseek-llm" || pre_ == "deepseek-coder") {
        clean_spaces_ = false;
      }
      break;
    case VocabType::wpm:
      bos_ = 101, unk_ = 100, sep_ = 102, pad_ = 0;
      add_bos_ = true;
      clean_spaces_ = true;
      break;
  }
}

Status Vocab::read_special_ids_and_flags(const GgufFile& file) {
  const size_t n = texts_.size();
  KEEL_RETURN_IF_ERROR(read_token_id(file, "tokenizer.ggml.bos_token_id", n, &bos_));
  KEEL_RETURN_IF_ERROR(read_token_id(file, "tokenizer.ggml.eos_token_id", n, &eos_));
  KEEL_RETURN_IF_ERROR(read_token_id(file, "tokenizer.ggml.eot_token_id", n, &eot_));
  KEEL_RETURN_IF_ERROR(read_token_id(file, "tokenizer.ggml.unknown_token_id", n, &unk_));
  KEEL_RETURN_IF_ERROR(read_token_id(file, "tokenizer.ggml.seperator_token_id", n, &sep_));
  KEEL_RETURN_IF_ERROR(read_token_id(file, "tokenizer.ggml.padding_token_id", n, &pad_));
  KEEL_ASSIGN_OR_RETURN(add_bos_, file.get_bool_or("tokenizer.ggml.add_bos_token", add_bos_));
  KEEL_ASSIGN_OR_RETURN(add_eos_, file.get_bool_or("tokenizer.ggml.add_eos_token", add_eos_));
  KEEL_ASSIGN_OR_RETURN(add_space_prefix_,
                        file.get_bool_or("tokenizer.ggml.add_space_prefix", add_space_prefix_));
  for (TokenId* id : {&bos_, &eos_, &unk_, &sep_, &pad_}) {
    if (*id != kNoToken && static_cast<size_t>(*id) >= n) *id = kNoToken;
  }
  if (add_bos_ && bos_ == kNoToken) {
    return Status::invalid_argument(
        fmt::format("{}: add_bos_token is set but there is no BOS", file.path()));
  }
  return Status();
}

// End of generation: eos, eot, and the end-of-turn tokens of common chat formats.
void Vocab::collect_end_of_generation() {
  static constexpr std::string_view kEndTexts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>",
                                                   "<|endoftext|>", "<end_of_turn>",
                                                   "<|end_of_text|>", "<EOT>", "<|eom_id|>"};
  for (TokenId id : {eos_, eot_}) {
    if (id != kNoToken) end_of_generation_.push_back(id);
  }
  for (auto text : kEndTexts) {
    if (auto id = find(text)) {
      end_of_generation_.push_back(*id);
      if (kinds_[*id] == TokenKind::normal) kinds_[*id] = TokenKind::control;
    }
  }
}

// Strip attributes: llama.cpp gives Phi-3's special tokens RSTRIP (by model name).
Status Vocab::set_strip_attributes(const GgufFile& file) {
  const size_t n = texts_.size();
  lstrip_.assign(n, false);
  rstrip_.assign(n, false);
  KEEL_ASSIGN_OR_RETURN(std::string name, file.get_string_or("general.name", ""));
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  if (name.find("phi-3") == std::string::npos && name.find("phi3") == std::string::npos) {
    return Status();
  }
  for (size_t i = 0; i < n; ++i) {
    TokenKind k = kinds_[i];
    if (k == TokenKind::control || k == TokenKind::user_defined || k == TokenKind::unknown ||
        texts_[i] == "</s>") {
      rstrip_[i] = true;
    }
  }
  for (const char* text : {"<unk>", "<s>", "<|endoftext|>"}) {
    if (auto id = find(text)) rstrip_[*id] = false;
  }
  return Status();
}

void Vocab::collect_special_tokens() {
  for (size_t i = 0; i < texts_.size(); ++i) {
    TokenKind k = kinds_[i];
    if (k == TokenKind::control || k == TokenKind::user_defined || k == TokenKind::unknown) {
      special_tokens_.push_back(static_cast<TokenId>(i));
    }
  }
  std::stable_sort(special_tokens_.begin(), special_tokens_.end(), [&](TokenId a, TokenId b) {
    return texts_[a].size() > texts_[b].size();
  });
}

}  // namespace keel::engine
