// The OpenAI-compatible wire format: request bodies of /v1/chat/completions, /v1/completions and
// /v1/embeddings into typed requests, and responses, stream chunks and errors back to JSON as
// the OpenAI API spells them.
//
// Contract: parse_* never throws; every problem is an ApiError with the HTTP status, the
// OpenAI error type ("invalid_request_error", ...), the offending parameter and a message that
// says what to change. Unknown fields are ignored (clients send vendor extensions).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/result.h"
#include "engine/chat_template.h"
#include "core/serving_defaults.h"

namespace keel::serve {

struct ApiError {
  int status = 400;
  std::string type = "invalid_request_error";
  std::string message;
  std::string param;  //!< "" when not about one parameter
  std::string code;   //!< stable machine code, e.g. "context_length_exceeded"
};

//! {"error": {"message", "type", "param", "code"}}
std::string error_body(const ApiError& e);

struct RequestLimits {
  int64_t max_tokens_limit = serving_defaults::kMaxTokensLimit;  //!< the largest max_tokens a request may ask for
  size_t max_messages = 1024;
  size_t max_stop = 4;
  size_t max_embedding_inputs = 256;
};

struct CompletionRequest {
  bool chat = true;
  std::string model;
  std::vector<engine::ChatMessage> messages;  //!< chat
  std::string prompt;                         //!< completions
  std::optional<int64_t> max_tokens;
  float temperature = 1.0f;
  float top_p = 1.0f;
  int top_k = 0;
  float min_p = 0.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;
  int top_logprobs = 0;  //!< chat: logprobs=true + top_logprobs; completions: logprobs=N
  bool logprobs = false;
  std::string user;
};

struct EmbeddingRequest {
  std::string model;
  std::vector<std::string> inputs;
  bool base64 = false;
};

//! The request, or the 400 that names the first field in error (never throws).
[[nodiscard]] Result<CompletionRequest, ApiError> parse_completion_request(
    std::string_view body, bool chat, const RequestLimits& limits);
//! The request, or the 400 that names the first field in error (never throws).
[[nodiscard]] Result<EmbeddingRequest, ApiError> parse_embedding_request(
    std::string_view body, const RequestLimits& limits);

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;  //!< prompt tokens served from the prefix cache
};
Json usage_json(const Usage& u);

struct TokenLogprobJson {
  std::string token;
  float logprob;
  std::vector<std::pair<std::string, float>> top;
};

//! Who answers: the model name clients use, and the `system_fingerprint` that says exactly
//! which build and model file ("keel-<version>+sha256:<the file's hash>"; "keel" when unknown),
//! so a client can compare what answered it with what it runs itself.
struct ModelLabel {
  std::string id;
  std::string fingerprint = "keel";
};

//! The fingerprint of a Keel build serving a model file with this SHA-256 (hex).
std::string model_fingerprint(std::string_view sha256_hex);

//! A whole (non-streamed) response.
std::string completion_response(const CompletionRequest& req, const std::string& id, int64_t created,
                                 const ModelLabel& model, const std::string& text,
                                 const std::string& finish_reason, const Usage& usage,
                                 const std::vector<TokenLogprobJson>& logprobs);
//! One streamed chunk: content delta (first chunk of a chat also carries the role), or the
//! final chunk with finish_reason; usage chunk when include_usage.
std::string completion_chunk(const CompletionRequest& req, const std::string& id, int64_t created,
                             const ModelLabel& model, std::string_view delta, bool first,
                             const std::string* finish_reason,
                             const std::vector<TokenLogprobJson>& logprobs = {});
std::string usage_chunk(const CompletionRequest& req, const std::string& id, int64_t created,
                        const ModelLabel& model, const Usage& usage);

std::string embedding_response(const EmbeddingRequest& req, const std::string& model,
                               const std::vector<std::vector<float>>& vectors, int64_t prompt_tokens);
std::string models_response(const std::vector<std::string>& model_ids, int64_t created);

}  // namespace keel::serve
