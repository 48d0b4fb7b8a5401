#include "engine/model_config.h"

#include <fmt/format.h>

#include <cmath>

namespace keel::engine {

namespace {

// Epsilons, rope bases and scales divide or exponentiate: infinite, NaN or non-positive values
// would poison every number the model computes.
Status positive_finite(const std::string& path, const std::string& key, double value) {
  if (std::isfinite(value) && value > 0) return Status();
  return Status::invalid_argument(fmt::format("{}: {} is {}, not a positive finite number", path, key, value));
}

// A size or count: at least `min` and at most 2^24.
Status read_count(const GgufFile& file, const std::string& key, int64_t* out, int64_t min) {
  KEEL_ASSIGN_OR_RETURN(uint64_t v, file.get_uint(key));
  if (v < static_cast<uint64_t>(min) || v > (1u << 24)) {
    return Status::invalid_argument(
        fmt::format("{}: {} = {} is out of range", file.path(), key, v));
  }
  *out = static_cast<int64_t>(v);
  return Status();
}

Status read_architecture(const GgufFile& file, ModelConfig& c) {
  KEEL_ASSIGN_OR_RETURN(c.arch_name, file.get_string("general.architecture"));
  if (c.arch_name == "llama") {
    c.arch = Architecture::llama;
    c.rope_type = RopeType::normal;
  } else if (c.arch_name == "qwen2") {
    c.arch = Architecture::qwen2;
    c.rope_type = RopeType::neox;
  } else if (c.arch_name == "bert") {
    c.arch = Architecture::bert;
    c.rope_type = RopeType::none;
    c.causal = false;
  } else {
    return Status::unimplemented(fmt::format(
        "{}: architecture '{}' is not supported (llama, qwen2 and bert are)", file.path(),
        c.arch_name));
  }
  KEEL_ASSIGN_OR_RETURN(c.name, file.get_string_or("general.name", ""));
  return Status();
}

// Widths, depth and heads; `a` is the architecture's key prefix ("llama.").
Status read_shape(const GgufFile& file, const std::string& a, ModelConfig& c) {
  const std::string& path = file.path();
  KEEL_RETURN_IF_ERROR(read_count(file, a + "embedding_length", &c.n_embd, 1));
  KEEL_RETURN_IF_ERROR(read_count(file, a + "block_count", &c.n_layer, 1));
  KEEL_RETURN_IF_ERROR(read_count(file, a + "feed_forward_length", &c.n_ff, 1));
  KEEL_RETURN_IF_ERROR(read_count(file, a + "attention.head_count", &c.n_head, 1));
  KEEL_RETURN_IF_ERROR(read_count(file, a + "context_length", &c.n_ctx_train, 1));
  c.n_head_kv = c.n_head;
  if (file.find(a + "attention.head_count_kv")) {
    KEEL_RETURN_IF_ERROR(read_count(file, a + "attention.head_count_kv", &c.n_head_kv, 1));
  }
  if (c.n_embd % c.n_head != 0) {
    return Status::invalid_argument(fmt::format("{}: {} heads do not divide the width {}", path,
                                                c.n_head, c.n_embd));
  }
  if (c.n_head % c.n_head_kv != 0) {
    return Status::invalid_argument(fmt::format("{}: {} KV heads do not divide {} heads", path,
                                                c.n_head_kv, c.n_head));
  }
  c.head_dim = c.n_embd / c.n_head;
  if (file.find(a + "attention.key_length")) {
    KEEL_RETURN_IF_ERROR(read_count(file, a + "attention.key_length", &c.head_dim, 1));
  }
  c.n_rot = c.head_dim;
  if (file.find(a + "rope.dimension_count")) {
    KEEL_RETURN_IF_ERROR(read_count(file, a + "rope.dimension_count", &c.n_rot, 0));
  }
  if (c.n_rot > c.head_dim || c.n_rot % 2 != 0) {
    return Status::invalid_argument(fmt::format("{}: rope dimension {} does not fit head size {}",
                                                path, c.n_rot, c.head_dim));
  }
  return Status();
}

// BERT: LayerNorm epsilon, pooling, attention mask and token types.
Status read_bert_hyperparameters(const GgufFile& file, const std::string& a, ModelConfig& c) {
  const std::string& path = file.path();
  KEEL_ASSIGN_OR_RETURN(double eps, file.get_float(a + "attention.layer_norm_epsilon"));
  KEEL_RETURN_IF_ERROR(positive_finite(path, a + "attention.layer_norm_epsilon", eps));
  c.norm_eps = static_cast<float>(eps);
  KEEL_ASSIGN_OR_RETURN(uint64_t pooling, file.get_uint_or(a + "pooling_type", 1));
  if (pooling > 3) {
    return Status::invalid_argument(fmt::format("{}: unknown pooling type {}", path, pooling));
  }
  c.pooling = static_cast<Pooling>(pooling);
  KEEL_ASSIGN_OR_RETURN(bool causal, file.get_bool_or(a + "attention.causal", false));
  c.causal = causal;
  KEEL_ASSIGN_OR_RETURN(uint64_t types, file.get_uint_or("tokenizer.ggml.token_type_count", 2));
  c.n_token_types = static_cast<int64_t>(types);
  return Status();
}

// Llama and Qwen2: RMS norm epsilon and rope base and scaling.
Status read_decoder_hyperparameters(const GgufFile& file, const std::string& a, ModelConfig& c) {
  const std::string& path = file.path();
  KEEL_ASSIGN_OR_RETURN(double eps, file.get_float(a + "attention.layer_norm_rms_epsilon"));
  KEEL_RETURN_IF_ERROR(positive_finite(path, a + "attention.layer_norm_rms_epsilon", eps));
  c.norm_eps = static_cast<float>(eps);
  KEEL_ASSIGN_OR_RETURN(double base, file.get_float_or(a + "rope.freq_base", 10000.0));
  KEEL_RETURN_IF_ERROR(positive_finite(path, a + "rope.freq_base", base));
  c.rope_freq_base = static_cast<float>(base);
  KEEL_ASSIGN_OR_RETURN(std::string scaling, file.get_string_or(a + "rope.scaling.type", "none"));
  if (scaling == "linear") {
    KEEL_ASSIGN_OR_RETURN(double factor, file.get_float(a + "rope.scaling.factor"));
    if (!(factor > 0) || !std::isfinite(factor)) {
      return Status::invalid_argument(fmt::format("{}: rope scaling factor must be > 0", path));
    }
    c.rope_freq_scale = static_cast<float>(1.0 / factor);
  } else if (scaling != "none") {
    return Status::unimplemented(
        fmt::format("{}: rope scaling '{}' is not supported (none, linear, and Llama-3 "
                    "frequency factors are)",
                    path, scaling));
  }
  return Status();
}

// The architecture's own vocab_size, else the length of the token list.
Status read_vocab_size(const GgufFile& file, const std::string& a, ModelConfig& c) {
  const std::string& path = file.path();
  if (const GgufValue* vocab = file.find(a + "vocab_size")) {
    auto n = vocab->as_uint();
    if (!n) return Status::invalid_argument(fmt::format("{}: {}vocab_size is not a count", path, a));
    c.n_vocab = static_cast<int64_t>(*n);
  } else if (const GgufValue* tokens = file.find("tokenizer.ggml.tokens")) {
    c.n_vocab = static_cast<int64_t>(tokens->array_size);
  }
  if (c.n_vocab <= 0) {
    return Status::invalid_argument(fmt::format("{}: cannot tell the vocabulary size", path));
  }
  return Status();
}

}  // namespace

Result<ModelConfig> ModelConfig::from_gguf(const GgufFile& file) {
  ModelConfig c;
  KEEL_RETURN_IF_ERROR(read_architecture(file, c));
  const std::string a = c.arch_name + ".";
  KEEL_RETURN_IF_ERROR(read_shape(file, a, c));
  if (c.arch == Architecture::bert) {
    KEEL_RETURN_IF_ERROR(read_bert_hyperparameters(file, a, c));
  } else {
    KEEL_RETURN_IF_ERROR(read_decoder_hyperparameters(file, a, c));
  }
  KEEL_RETURN_IF_ERROR(read_vocab_size(file, a, c));
  return c;
}

}  // namespace keel::engine
