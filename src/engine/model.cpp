#include "engine/model.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>

#include "engine/quants.h"

namespace keel::engine {

namespace {

class Binder {
 public:
  explicit Binder(const GgufFile& file) : file_(file) {}

  Status matrix(const std::string& name, int64_t cols, int64_t rows, WeightMatrix* out,
                bool optional = false) {
    const GgufTensor* t = file_.tensor(name);
    if (!t) {
      if (optional) return Status();
      return Status::invalid_argument(fmt::format("{}: tensor '{}' is missing", file_.path(), name));
    }
    if (t->dims.size() != 2 || static_cast<int64_t>(t->dims[0]) != cols ||
        static_cast<int64_t>(t->dims[1]) != rows) {
      return Status::invalid_argument(fmt::format("{}: tensor '{}' has shape [{}], expected [{}, {}]",
                                                  file_.path(), name, fmt::join(t->dims, ", "), cols,
                                                  rows));
    }
    if (!tensor_type_info(t->type).computable) {
      return Status::unimplemented(fmt::format("{}: tensor '{}' has type {}, which Keel cannot "
                                               "compute with yet",
                                               file_.path(), name, tensor_type_name(t->type)));
    }
    ActivationType at = activation_type_for(t->type);
    if (cols % activation_block_size(at) != 0) {
      return Status::invalid_argument(fmt::format("{}: tensor '{}': row length {} does not fit {} "
                                                  "activation blocks",
                                                  file_.path(), name, cols,
                                                  activation_block_size(at)));
    }
    out->type = t->type;
    out->data = t->data;
    out->cols = cols;
    out->rows = rows;
    out->row_bytes = t->n_bytes / static_cast<size_t>(rows);
    out->name = name;
    return Status();
  }

  Status vector(const std::string& name, int64_t n, std::vector<float>* out, bool optional = false) {
    const GgufTensor* t = file_.tensor(name);
    if (!t) {
      if (optional) return Status();
      return Status::invalid_argument(fmt::format("{}: tensor '{}' is missing", file_.path(), name));
    }
    if (static_cast<int64_t>(t->n_elements) != n || t->dims[0] != static_cast<uint64_t>(n)) {
      return Status::invalid_argument(fmt::format("{}: tensor '{}' has shape [{}], expected [{}]",
                                                  file_.path(), name, fmt::join(t->dims, ", "), n));
    }
    if (!tensor_type_info(t->type).computable) {
      return Status::unimplemented(fmt::format("{}: tensor '{}' has type {}", file_.path(), name,
                                               tensor_type_name(t->type)));
    }
    if (t->type != TensorType::f32 && t->type != TensorType::f16 && t->type != TensorType::bf16 &&
        n % tensor_type_info(t->type).block_size != 0) {
      return Status::invalid_argument(fmt::format("{}: tensor '{}' cannot be read", file_.path(), name));
    }
    out->resize(n);
    dequantize_row(t->type, t->data, out->data(), n);
    return Status();
  }

 private:
  const GgufFile& file_;
};

Status bind_llama(const GgufFile& file, const ModelConfig& c, ModelWeights& w) {
  Binder b(file);
  const int64_t e = c.n_embd;
  KEEL_RETURN_IF_ERROR(b.matrix("token_embd.weight", e, c.n_vocab, &w.token_embd));
  KEEL_RETURN_IF_ERROR(b.vector("output_norm.weight", e, &w.output_norm));
  KEEL_RETURN_IF_ERROR(b.matrix("output.weight", e, c.n_vocab, &w.output, /*optional=*/true));
  if (!w.output.present()) w.output = w.token_embd;  // tied embeddings
  KEEL_RETURN_IF_ERROR(b.vector("rope_freqs.weight", c.n_rot / 2, &w.rope_freqs, true));
  const bool qwen2 = c.arch == Architecture::qwen2;
  w.layers.resize(c.n_layer);
  for (int64_t i = 0; i < c.n_layer; ++i) {
    LayerWeights& l = w.layers[i];
    const std::string p = fmt::format("blk.{}.", i);
    KEEL_RETURN_IF_ERROR(b.vector(p + "attn_norm.weight", e, &l.attn_norm));
    KEEL_RETURN_IF_ERROR(b.matrix(p + "attn_q.weight", e, c.q_dim(), &l.wq));
    KEEL_RETURN_IF_ERROR(b.matrix(p + "attn_k.weight", e, c.kv_dim(), &l.wk));
    KEEL_RETURN_IF_ERROR(b.matrix(p + "attn_v.weight", e, c.kv_dim(), &l.wv));
    KEEL_RETURN_IF_ERROR(b.matrix(p + "attn_output.weight", c.q_dim(), e, &l.wo));
    KEEL_RETURN_IF_ERROR(b.vector(p + "attn_q.bias", c.q_dim(), &l.bq, !qwen2));
    KEEL_RETURN_IF_ERROR(b.vector(p + "attn_k.bias", c.kv_dim(), &l.bk, !qwen2));
    KEEL_RETURN_IF_ERROR(b.vector(p + "attn_v.bias", c.kv_dim(), &l.bv, !qwen2));
    KEEL_RETURN_IF_ERROR(b.vector(p + "attn_output.bias", e, &l.bo, true));
    KEEL_RETURN_IF_ERROR(b.vector(p + "ffn_norm.weight", e, &l.ffn_norm));
    KEEL_RETURN_IF_ERROR(b.matrix(p + "ffn_gate.weight", e, c.n_ff, &l.w_gate));
    KEEL_RETURN_IF_ERROR(b.matrix(p + "ffn_up.weight", e, c.n_ff, &l.w_up));
    KEEL_RETURN_IF_ERROR(b.matrix(p + "ffn_down.weight", c.n_ff, e, &l.w_down));
  }
  return Status();
}

Status bind_bert(const GgufFile& file, const ModelConfig& c, ModelWeights& w) {
  Binder b(file);
  const int64_t e = c.n_embd;
  KEEL_RETURN_IF_ERROR(b.matrix("token_embd.weight", e, c.n_vocab, &w.token_embd));
  KEEL_RETURN_IF_ERROR(b.matrix("position_embd.weight", e, c.n_ctx_train, &w.position_embd));
  KEEL_RETURN_IF_ERROR(b.matrix("token_types.weight", e, c.n_token_types, &w.token_types, true));
  KEEL_RETURN_IF_ERROR(b.vector("token_embd_norm.weight", e, &w.embd_norm));
  KEEL_RETURN_IF_ERROR(b.vector("token_embd_norm.bias", e, &w.embd_norm_bias));
  w.layers.resize(c.n_layer);
  for (int64_t i = 0; i < c.n_layer; ++i) {
    LayerWeights& l = w.layers[i];
    const std::string p = fmt::format("blk.{}.", i);
    KEEL_RETURN_IF_ERROR(b.matrix(p + "attn_q.weight", e, c.q_dim(), &l.wq));
    KEEL_RETURN_IF_ERROR(b.matrix(p + "attn_k.weight", e, c.kv_dim(), &l.wk));
    KEEL_RETURN_IF_ERROR(b.matrix(p + "attn_v.weight", e, c.kv_dim(), &l.wv));
    KEEL_RETURN_IF_ERROR(b.matrix(p + "attn_output.weight", c.q_dim(), e, &l.wo));
    KEEL_RETURN_IF_ERROR(b.vector(p + "attn_q.bias", c.q_dim(), &l.bq));
    KEEL_RETURN_IF_ERROR(b.vector(p + "attn_k.bias", c.kv_dim(), &l.bk));
    KEEL_RETURN_IF_ERROR(b.vector(p + "attn_v.bias", c.kv_dim(), &l.bv));
    KEEL_RETURN_IF_ERROR(b.vector(p + "attn_output.bias", e, &l.bo));
    KEEL_RETURN_IF_ERROR(b.vector(p + "attn_output_norm.weight", e, &l.attn_norm));
    KEEL_RETURN_IF_ERROR(b.vector(p + "attn_output_norm.bias", e, &l.attn_norm_bias));
    KEEL_RETURN_IF_ERROR(b.matrix(p + "ffn_up.weight", e, c.n_ff, &l.w_up));
    KEEL_RETURN_IF_ERROR(b.vector(p + "ffn_up.bias", c.n_ff, &l.b_up));
    KEEL_RETURN_IF_ERROR(b.matrix(p + "ffn_down.weight", c.n_ff, e, &l.w_down));
    KEEL_RETURN_IF_ERROR(b.vector(p + "ffn_down.bias", e, &l.b_down));
    KEEL_RETURN_IF_ERROR(b.vector(p + "layer_output_norm.weight", e, &l.ffn_norm));
    KEEL_RETURN_IF_ERROR(b.vector(p + "layer_output_norm.bias", e, &l.ffn_norm_bias));
  }
  return Status();
}

}  // namespace

Result<std::unique_ptr<Model>> Model::load(const std::string& path, const ModelLoadOptions& options) {
  std::unique_ptr<Model> m(new Model());
  KEEL_ASSIGN_OR_RETURN(m->file_, GgufFile::open(path));
  KEEL_ASSIGN_OR_RETURN(m->config_, ModelConfig::from_gguf(*m->file_));
  KEEL_ASSIGN_OR_RETURN(m->tokenizer_, Tokenizer::create(*m->file_));
  if (static_cast<int64_t>(m->tokenizer_->vocab().size()) != m->config_.n_vocab) {
    return Status::invalid_argument(fmt::format("{}: the tokenizer has {} tokens but the model {}",
                                                path, m->tokenizer_->vocab().size(),
                                                m->config_.n_vocab));
  }
  if (m->config_.arch == Architecture::bert) {
    KEEL_RETURN_IF_ERROR(bind_bert(*m->file_, m->config_, m->weights_));
  } else {
    KEEL_RETURN_IF_ERROR(bind_llama(*m->file_, m->config_, m->weights_));
  }
  for (const auto& t : m->file_->tensors()) m->weight_bytes_ += t.n_bytes;
  if (options.prefetch) m->file_->prefetch();
  return m;
}

std::string Model::type_summary() const {
  std::map<std::string, uint64_t> bytes_by_type;
  for (const auto& t : file_->tensors()) {
    if (t.dims.size() >= 2) bytes_by_type[std::string(tensor_type_name(t.type))] += t.n_bytes;
  }
  std::string best;
  uint64_t most = 0;
  for (const auto& [name, bytes] : bytes_by_type) {
    if (bytes > most) {
      most = bytes;
      best = name;
    }
  }
  return best;
}

}  // namespace keel::engine
