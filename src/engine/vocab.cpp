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
  const std::string& path = file.path();
  KEEL_ASSIGN_OR_RETURN(std::string model, file.get_string("tokenizer.ggml.model"));
  if (model == "llama") {
    v.type_ = VocabType::spm;
  } else if (model == "gpt2") {
    v.type_ = VocabType::bpe;
  } else if (model == "bert") {
    v.type_ = VocabType::wpm;
  } else {
    return Status::unimplemented(fmt::format(
        "{}: tokenizer.ggml.model '{}' is not supported (llama, gpt2 and bert are)", path, model));
  }
  KEEL_ASSIGN_OR_RETURN(v.pre_, file.get_string_or("tokenizer.ggml.pre", "default"));

  const GgufValue* tokens = file.find("tokenizer.ggml.tokens");
  if (!tokens || !tokens->is_array() || tokens->element_type != GgufValueType::string) {
    return Status::invalid_argument(
        fmt::format("{}: tokenizer.ggml.tokens is missing or not a string array", path));
  }
  const size_t n = tokens->strings().size();
  if (n == 0) return Status::invalid_argument(fmt::format("{}: the vocabulary is empty", path));
  v.texts_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string text(tokens->strings()[i]);
    if (text.empty()) text = fmt::format("[EMPTY_{}]", i);
    v.max_token_bytes_ = std::max(v.max_token_bytes_, text.size());
    v.ids_.emplace(text, static_cast<TokenId>(i));  // the first of duplicate texts wins
    v.texts_.push_back(std::move(text));
  }
  if (const GgufValue* scores = file.find("tokenizer.ggml.scores")) {
    auto f = scores->floats();
    if (!f || f->size() != n) {
      return Status::invalid_argument(
          fmt::format("{}: tokenizer.ggml.scores must be a number array of {} entries", path, n));
    }
    v.scores_.assign(f->begin(), f->end());
  }
  v.kinds_.assign(n, TokenKind::normal);
  if (const GgufValue* types = file.find("tokenizer.ggml.token_type")) {
    auto t = types->ints();
    if (!t || t->size() != n) {
      return Status::invalid_argument(fmt::format(
          "{}: tokenizer.ggml.token_type must be an integer array of {} entries", path, n));
    }
    for (size_t i = 0; i < n; ++i) {
      int64_t k = (*t)[i];
      v.kinds_[i] = k >= 0 && k <= 6 ? static_cast<TokenKind>(k) : TokenKind::undefined;
    }
  }
  if (v.type_ == VocabType::bpe) {
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
      v.merges_.emplace(std::string(m), rank++);
    }
  }

  // Defaults per tokenizer model, then the file's own settings.
  switch (v.type_) {
    case VocabType::spm:
      v.bos_ = 1, v.eos_ = 2, v.unk_ = 0;
      v.add_bos_ = true, v.add_space_prefix_ = true;
      break;
    case VocabType::bpe:
      v.bos_ = 11, v.eos_ = 11;
      v.clean_spaces_ = true;
      if (is_llama3_family(v.pre_)) {
        v.ignore_merges_ = true;
        v.add_bos_ = true;
      } else if (v.pre_ == "qwen2" || v.pre_ == "deepseek-llm" || v.pre_ == "deepseek-coder") {
        v.clean_spaces_ = false;
      }
      break;
    case VocabType::wpm:
      v.bos_ = 101, v.unk_ = 100, v.sep_ = 102, v.pad_ = 0;
      v.add_bos_ = true;
      v.clean_spaces_ = true;
      break;
  }
  auto id_key = [&](const char* key, TokenId* out) -> Status {
    if (!file.find(key)) return Status();
    KEEL_ASSIGN_OR_RETURN(uint64_t id, file.get_uint(key));
    if (id == 0xFFFFFFFFu) {
      *out = kNoToken;  // written by converters for "no such token"
    } else if (id >= n) {
      log_warn("{}: {} = {} is outside the vocabulary of {}; using the default", path, key, id, n);
    } else {
      *out = static_cast<TokenId>(id);
    }
    return Status();
  };
  KEEL_RETURN_IF_ERROR(id_key("tokenizer.ggml.bos_token_id", &v.bos_));
  KEEL_RETURN_IF_ERROR(id_key("tokenizer.ggml.eos_token_id", &v.eos_));
  KEEL_RETURN_IF_ERROR(id_key("tokenizer.ggml.eot_token_id", &v.eot_));
  KEEL_RETURN_IF_ERROR(id_key("tokenizer.ggml.unknown_token_id", &v.unk_));
  KEEL_RETURN_IF_ERROR(id_key("tokenizer.ggml.seperator_token_id", &v.sep_));
  KEEL_RETURN_IF_ERROR(id_key("tokenizer.ggml.padding_token_id", &v.pad_));
  KEEL_ASSIGN_OR_RETURN(v.add_bos_, file.get_bool_or("tokenizer.ggml.add_bos_token", v.add_bos_));
  KEEL_ASSIGN_OR_RETURN(v.add_eos_, file.get_bool_or("tokenizer.ggml.add_eos_token", v.add_eos_));
  KEEL_ASSIGN_OR_RETURN(v.add_space_prefix_,
                        file.get_bool_or("tokenizer.ggml.add_space_prefix", v.add_space_prefix_));
  for (TokenId* id : {&v.bos_, &v.eos_, &v.unk_, &v.sep_, &v.pad_}) {
    if (*id != kNoToken && static_cast<size_t>(*id) >= n) *id = kNoToken;
  }
  if (v.add_bos_ && v.bos_ == kNoToken) {
    return Status::invalid_argument(fmt::format("{}: add_bos_token is set but there is no BOS", path));
  }

  // End of generation: eos, eot, and the end-of-turn tokens of common chat formats.
  static constexpr std::string_view kEndTexts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>",
                                                   "<|endoftext|>", "<end_of_turn>",
                                                   "<|end_of_text|>", "<EOT>", "<|eom_id|>"};
  for (TokenId id : {v.eos_, v.eot_}) {
    if (id != kNoToken) v.end_of_generation_.push_back(id);
  }
  for (auto text : kEndTexts) {
    if (auto id = v.find(text)) {
      v.end_of_generation_.push_back(*id);
      if (v.kinds_[*id] == TokenKind::normal) v.kinds_[*id] = TokenKind::control;
    }
  }

  // Strip attributes: llama.cpp gives Phi-3's special tokens RSTRIP (by model name).
  v.lstrip_.assign(n, false);
  v.rstrip_.assign(n, false);
  KEEL_ASSIGN_OR_RETURN(std::string name, file.get_string_or("general.name", ""));
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (size_t i = 0; i < n; ++i) {
      TokenKind k = v.kinds_[i];
      if (k == TokenKind::control || k == TokenKind::user_defined || k == TokenKind::unknown ||
          v.texts_[i] == "</s>") {
        v.rstrip_[i] = true;
      }
    }
    for (const char* text : {"<unk>", "<s>", "<|endoftext|>"}) {
      if (auto id = v.find(text)) v.rstrip_[*id] = false;
    }
  }

  for (size_t i = 0; i < n; ++i) {
    TokenKind k = v.kinds_[i];
    if (k == TokenKind::control || k == TokenKind::user_defined || k == TokenKind::unknown) {
      v.special_tokens_.push_back(static_cast<TokenId>(i));
    }
  }
  std::stable_sort(v.special_tokens_.begin(), v.special_tokens_.end(), [&](TokenId a, TokenId b) {
    return v.texts_[a].size() > v.texts_[b].size();
  });
  return v;
}

}  // namespace keel::engine
