#include "agent/model_client.h"

#include <fmt/format.h>

#include <chrono>

#include "net/http_client.h"
#include "core/json.h"
#include "engine/chat_template.h"
#include "engine/context.h"
#include "engine/generator.h"
#include "engine/model.h"

namespace keel::agent {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

class InProcessModel : public ModelClient {
 public:
  InProcessModel(std::string path, std::string id) : path_(std::move(path)), id_(std::move(id)) {}
  std::string describe() const override { return "in-process " + path_; }

  Result<ModelReply> complete(const ModelRequest& request) override {
    auto start = std::chrono::steady_clock::now();
    if (!model_) {
      auto m = engine::Model::load(path_);
      if (!m.ok()) return Status::unavailable(fmt::format("the model {} cannot be loaded: {}", path_, m.status().message()));
      model_ = std::move(*m);
      auto t = engine::chat_template_of(model_->file());
      template_ = t.ok() ? *t : engine::ChatTemplate::raw;
      engine::ContextOptions o;
      o.n_ctx = std::min<int64_t>(2048, model_->config().n_ctx_train);
      KEEL_ASSIGN_OR_RETURN(context_, engine::Context::create(*model_, o));
    }
    std::string prompt = engine::format_chat(template_, {{"system", request.system}, {"user", request.user}});
    auto tokens = model_->tokenizer().encode(prompt, true, template_ != engine::ChatTemplate::raw);
    const int64_t n_ctx = context_->options().n_ctx;
    if (static_cast<int64_t>(tokens.size()) + request.max_tokens > n_ctx) {
      return Status::invalid_argument(fmt::format("the prompt has {} tokens; with {} to generate it exceeds the context of {}",
                                                  tokens.size(), request.max_tokens, n_ctx));
    }
    KEEL_ASSIGN_OR_RETURN(int32_t seq, context_->add_sequence());
    engine::GenerateOptions g;
    g.max_tokens = request.max_tokens;
    g.sampling.temperature = 0;
    g.sampling.seed = request.seed;
    if (auto eot = engine::end_of_turn(template_); !eot.empty()) g.stop.emplace_back(eot);
    auto result = engine::generate(*context_, seq, tokens, g);
    context_->remove_sequence(seq);
    if (!result.ok()) return result.status();
    return ModelReply{result->text, id_, static_cast<int64_t>(tokens.size()), result->timings.generated_tokens,
                      seconds_since(start)};
  }

 private:
  std::string path_, id_;
  std::unique_ptr<engine::Model> model_;
  std::unique_ptr<engine::Context> context_;
  engine::ChatTemplate template_ = engine::ChatTemplate::raw;
};

class OpenAIModel : public ModelClient {
 public:
  OpenAIModel(std::string base_url, std::string model, std::string api_key, int64_t timeout_ms)
      : base_url_(std::move(base_url)), model_(std::move(model)), api_key_(std::move(api_key)), timeout_ms_(timeout_ms) {
    while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  }
  std::string describe() const override { return base_url_ + " (" + model_ + ")"; }

  Result<ModelReply> complete(const ModelRequest& request) override {
    auto start = std::chrono::steady_clock::now();
    net::HttpClientRequest http;
    http.method = "POST";
    http.url = base_url_ + "/chat/completions";
    http.timeout_ms = timeout_ms_;
    http.headers.emplace_back("Content-Type", "application/json");
    if (!api_key_.empty()) http.headers.emplace_back("Authorization", "Bearer " + api_key_);
    Json body = {{"model", model_},
                 {"messages", {{{"role", "system"}, {"content", request.system}}, {{"role", "user"}, {"content", request.user}}}},
                 {"max_tokens", request.max_tokens},
                 {"temperature", 0},
                 {"seed", request.seed}};
    http.body = dump_json(body);
    auto response = net::http_fetch(http);
    if (!response.ok()) {
      // The egress policy refusing the endpoint is not an outage: retrying cannot help.
      if (response.status().code() == StatusCode::permission_denied) return response.status();
      // Nothing the model does has side effects: any failure to get an answer is a pause.
      return Status::unavailable(fmt::format("the model at {} did not answer: {}", base_url_, response.status().message()));
    }
    if (response->status == 429 || response->status >= 500) {
      return Status::unavailable(fmt::format("the model at {} answered {}: {}", base_url_, response->status, response->body.substr(0, 300)));
    }
    if (response->status != 200) {
      return Status::failed_precondition(fmt::format("the model at {} refused the request ({}): {}", base_url_, response->status,
                                                     response->body.substr(0, 300)));
    }
    auto j = parse_json(response->body);
    if (!j.ok() || !j->contains("choices") || !(*j)["choices"].is_array() || (*j)["choices"].empty()) {
      return Status::data_loss(fmt::format("the model at {} sent an answer that is not a chat completion", base_url_));
    }
    const Json& message = (*j)["choices"][0]["message"];
    ModelReply reply;
    reply.text = message.value("content", "");
    reply.model = j->value("model", model_);
    if (j->contains("usage") && (*j)["usage"].is_object()) {
      reply.prompt_tokens = (*j)["usage"].value("prompt_tokens", 0);
      reply.completion_tokens = (*j)["usage"].value("completion_tokens", 0);
    }
    reply.seconds = seconds_since(start);
    return reply;
  }

 private:
  std::string base_url_, model_, api_key_;
  int64_t timeout_ms_;
};

}  // namespace

std::unique_ptr<ModelClient> make_in_process_model(const std::string& path, const std::string& model_id) {
  return std::make_unique<InProcessModel>(path, model_id);
}

std::unique_ptr<ModelClient> make_openai_model(const std::string& base_url, const std::string& model, const std::string& api_key,
                                               int64_t timeout_ms) {
  return std::make_unique<OpenAIModel>(base_url, model, api_key, timeout_ms);
}

}  // namespace keel::agent
