// Model calls from a case: the in-process engine, or any OpenAI-compatible endpoint (such as
// `keel serve`). A model call is side-effect free, so a case that loses its model mid-call
// simply calls again when it resumes.
//
// Contract: a model that cannot be reached (server restarting, connection refused) is
// `unavailable`: the case pauses and resumes later. Replies carry token counts for the
// case's cost accounting.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/result.h"

namespace keel::agent {

struct ModelRequest {
  std::string system;
  std::string user;
  int64_t max_tokens = 128;
  uint64_t seed = 1;  //!< with temperature 0 the reply is deterministic anyway
};

struct ModelReply {
  std::string text;
  std::string model;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  double seconds = 0;
};

class ModelClient {
 public:
  virtual ~ModelClient() = default;
  virtual std::string describe() const = 0;
  [[nodiscard]] virtual Result<ModelReply> complete(const ModelRequest& request) = 0;
};

//! Loads a GGUF model into this process (lazily, on the first call).
std::unique_ptr<ModelClient> make_in_process_model(const std::string& path, const std::string& model_id);

//! Calls POST {base_url}/chat/completions; base_url like "http://127.0.0.1:8080/v1".
std::unique_ptr<ModelClient> make_openai_model(const std::string& base_url, const std::string& model,
                                               const std::string& api_key = "", int64_t timeout_ms = 120000);

}  // namespace keel::agent
