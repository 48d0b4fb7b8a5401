#include "engine/context.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <thread>

namespace keel::engine {

namespace {

int default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ContextOptions resolved(const ModelConfig& config, ContextOptions o) {
  if (o.n_threads <= 0) o.n_threads = default_threads();
  if (o.n_seq_max <= 0) o.n_seq_max = 1;
  if (o.max_outputs <= 0) o.max_outputs = o.n_seq_max;
  if (config.arch == Architecture::bert) {
    o.n_ctx = std::min(o.n_ctx, config.n_ctx_train);
    o.n_batch = std::max(o.n_batch, o.n_ctx);  // texts are packed; each fits the context
    o.n_seq_max = 1;
    o.kv_blocks = 0;
    o.max_outputs = 1;
  } else if (o.kv_blocks <= 0) {
    o.kv_blocks = o.n_seq_max * ((o.n_ctx + o.kv_block_size - 1) / o.kv_block_size);
  }
  o.n_batch = std::max<int64_t>(1, o.n_batch);
  return o;
}

}  // namespace

size_t Context::memory_bytes(const ModelConfig& config, const ContextOptions& options) {
  ContextOptions o = resolved(config, options);
  size_t kv = KvCache::bytes_for(config, o.kv_blocks * o.kv_block_size, o.kv_type);
  size_t per_token = config.n_embd * 2 + config.q_dim() * 2 + config.kv_dim() * 2 + config.n_ff * 2 +
                     config.n_rot;
  size_t scratch = sizeof(float) * (o.n_batch * per_token + o.max_outputs * config.n_vocab +
                                    o.n_threads * (o.n_ctx + config.head_dim * 2));
  size_t activations = o.n_batch * std::max(config.n_embd, config.n_ff) * 4 * 6;
  return kv + scratch + activations;
}

Context::Context(const Model& model, const ContextOptions& options)
    : model_(model),
      options_(resolved(model.config(), options)),
      pool_(options_.n_threads),
      kv_(model.config(), {model.config().arch == Architecture::bert ? 0 : options_.kv_blocks,
                           options_.kv_block_size, options_.kv_type}),
      matmul_(pool_, options_.n_batch, std::max(model.config().n_embd,
                                                std::max(model.config().n_ff, model.config().q_dim()))) {
  const ModelConfig& c = model.config();
  const int64_t b = options_.n_batch;
  x_.resize(b * c.n_embd);
  xb_.resize(b * std::max(c.n_embd, c.q_dim()));
  q_.resize(b * c.q_dim());
  k_.resize(b * c.kv_dim());
  v_.resize(b * c.kv_dim());
  attn_.resize(b * c.q_dim());
  ffn_a_.resize(b * c.n_ff);
  ffn_b_.resize(b * std::max(c.n_ff, c.n_embd));
  rope_cos_.resize(b * std::max<int64_t>(1, c.n_rot / 2));
  rope_sin_.resize(b * std::max<int64_t>(1, c.n_rot / 2));
  logits_.resize(options_.max_outputs * c.n_vocab);
  sequences_.resize(options_.n_seq_max);
  next_position_.resize(options_.n_seq_max);
  scores_.resize(options_.n_threads, std::vector<float>(options_.n_ctx));
  query_f16_.resize(options_.n_threads, std::vector<uint16_t>(c.head_dim));
  row_f32_.resize(options_.n_threads, std::vector<float>(c.head_dim));
  if (c.arch == Architecture::bert) {
    bert_begin_.resize(b);
    bert_end_.resize(b);
  }
}

Result<std::unique_ptr<Context>> Context::create(const Model& model, const ContextOptions& options) {
  const ModelConfig& c = model.config();
  if (options.n_ctx < 1) return Status::invalid_argument("context size must be at least 1");
  if (options.kv_block_size < 1) return Status::invalid_argument("KV block size must be at least 1");
  if (options.kv_type == KvCacheType::q8_0 && c.head_dim % 32 != 0) {
    return Status::invalid_argument(
        fmt::format("a Q8_0 KV cache needs a head size divisible by 32; this model's is {}", c.head_dim));
  }
  return std::unique_ptr<Context>(new Context(model, options));
}

Result<int32_t> Context::add_sequence() {
  for (size_t i = 0; i < sequences_.size(); ++i) {
    if (!sequences_[i].alive) {
      sequences_[i] = Sequence{true, 0, {}};
      return static_cast<int32_t>(i);
    }
  }
  return Status::resource_exhausted(
      fmt::format("all {} sequences of this context are in use", sequences_.size()));
}

void Context::remove_sequence(int32_t seq) {
  if (seq < 0 || static_cast<size_t>(seq) >= sequences_.size() || !sequences_[seq].alive) return;
  for (int32_t block : sequences_[seq].blocks) kv_.release(block);
  sequences_[seq] = Sequence{};
}

int64_t Context::sequence_length(int32_t seq) const {
  if (seq < 0 || static_cast<size_t>(seq) >= sequences_.size() || !sequences_[seq].alive) return -1;
  return sequences_[seq].length;
}

Status Context::adopt_prefix(int32_t seq, std::span<const int32_t> blocks, int64_t n_tokens) {
  if (sequence_length(seq) != 0) {
    return Status::failed_precondition("a prefix can only start an empty sequence");
  }
  // Only whole blocks are shared: new tokens then always go to blocks of this sequence alone.
  if (n_tokens != static_cast<int64_t>(blocks.size()) * kv_.block_size() || n_tokens > options_.n_ctx) {
    return Status::invalid_argument("a shared prefix must fill its blocks exactly");
  }
  for (int32_t block : blocks) kv_.retain(block);
  sequences_[seq].blocks.assign(blocks.begin(), blocks.end());
  sequences_[seq].length = n_tokens;
  return Status();
}

Status Context::check_batch(std::span<const BatchToken> batch, int64_t* n_outputs,
                            int64_t* new_blocks) {
  if (batch.empty()) return Status::invalid_argument("empty batch");
  if (static_cast<int64_t>(batch.size()) > options_.n_batch) {
    return Status::invalid_argument(
        fmt::format("batch of {} tokens exceeds n_batch {}", batch.size(), options_.n_batch));
  }
  const int64_t n_vocab = model_.config().n_vocab;
  std::vector<int64_t>& next = next_position_;
  for (size_t s = 0; s < sequences_.size(); ++s) next[s] = sequences_[s].length;
  *n_outputs = 0;
  *new_blocks = 0;
  for (const BatchToken& t : batch) {
    if (t.token < 0 || t.token >= n_vocab) {
      return Status::invalid_argument(fmt::format("token id {} is outside the vocabulary", t.token));
    }
    if (t.seq < 0 || static_cast<size_t>(t.seq) >= sequences_.size() || !sequences_[t.seq].alive) {
      return Status::invalid_argument(fmt::format("sequence {} does not exist", t.seq));
    }
    if (t.pos != next[t.seq]) {
      return Status::invalid_argument(fmt::format("sequence {} continues at position {}, not {}",
                                                  t.seq, next[t.seq], t.pos));
    }
    if (t.pos >= options_.n_ctx) {
      return Status::resource_exhausted(
          fmt::format("sequence {} would exceed the context of {} tokens", t.seq, options_.n_ctx));
    }
    if (t.pos % kv_.block_size() == 0 &&
        t.pos / kv_.block_size() >= static_cast<int64_t>(sequences_[t.seq].blocks.size())) {
      ++*new_blocks;
    }
    ++next[t.seq];
    *n_outputs += t.logits;
  }
  if (*n_outputs > options_.max_outputs) {
    return Status::invalid_argument(fmt::format("{} logits rows requested; this context returns at "
                                                "most {} per step",
                                                *n_outputs, options_.max_outputs));
  }
  if (*new_blocks > kv_.free_blocks()) {
    return Status::resource_exhausted(fmt::format(
        "the KV cache has {} free blocks; this batch needs {}", kv_.free_blocks(), *new_blocks));
  }
  return Status();
}

Status Context::decode(std::span<const BatchToken> batch) {
  if (model_.config().arch == Architecture::bert) {
    return Status::failed_precondition("an embedding model has no decode(); use embed()");
  }
  int64_t n_outputs = 0, new_blocks = 0;
  KEEL_RETURN_IF_ERROR(check_batch(batch, &n_outputs, &new_blocks));
  for (const BatchToken& t : batch) {
    Sequence& s = sequences_[t.seq];
    if (t.pos / kv_.block_size() >= static_cast<int64_t>(s.blocks.size())) {
      s.blocks.push_back(kv_.allocate());  // cannot fail: counted above
    }
  }
  forward_llama(batch);
  for (const BatchToken& t : batch) sequences_[t.seq].length = t.pos + 1;
  return Status();
}

std::span<const float> Context::logits(size_t i) const {
  const int64_t n_vocab = model_.config().n_vocab;
  if (static_cast<int64_t>(i) >= n_outputs_) return {};
  return {logits_.data() + i * n_vocab, static_cast<size_t>(n_vocab)};
}

}  // namespace keel::engine
