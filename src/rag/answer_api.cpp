#include "rag/answer_api.h"

#include <fmt/format.h>

#include <set>

#include "core/utf8.h"

namespace keel::rag {
namespace {

const std::set<std::string> kIgnoredChatFields = {
    "model", "temperature", "top_p", "max_tokens", "max_completion_tokens", "n", "user", "seed",
    "stop", "presence_penalty", "frequency_penalty", "metadata", "store", "stream_options",
    "logprobs", "top_logprobs", "parallel_tool_calls", "service_tier"};

ApiFailure bad(std::string param, std::string message) {
  ApiFailure f;
  f.code = "invalid_request";
  f.param = std::move(param);
  f.message = std::move(message);
  return f;
}

Result<Json, ApiFailure> object_of(std::string_view body) {
  auto parsed = parse_json(body);
  if (!parsed.ok()) return bad("", "the body is not JSON: " + parsed.status().message());
  if (!parsed->is_object()) return bad("", "the body must be a JSON object");
  return *std::move(parsed);
}

std::optional<ApiFailure> check_question(const std::string& question, const std::string& param) {
  if (question.size() > kMaxQuestionBytes)
    return bad(param, fmt::format("the question is {} bytes; at most {} are accepted", question.size(), kMaxQuestionBytes));
  if (!is_valid_utf8(question)) return bad(param, "the question is not valid UTF-8");
  return std::nullopt;
}

// A message's text: a string, or the text parts of a content array.
Result<std::string, ApiFailure> content_text(const Json& message, size_t index) {
  const std::string param = fmt::format("messages[{}].content", index);
  auto content = message.find("content");
  if (content == message.end() || content->is_null()) return std::string();
  if (content->is_string()) return content->get<std::string>();
  if (!content->is_array()) return bad(param, "must be a string or an array of text parts");
  std::string text;
  for (const auto& part : *content) {
    if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
      return bad(param, "only text parts ({\"type\": \"text\", \"text\": ...}) are accepted");
    text += part["text"].get<std::string>();
  }
  return text;
}

// A user message that is a typed metric request rather than a question.
std::optional<Json> typed_request_in(const std::string& text) {
  if (text.empty() || text.find_first_not_of(" \n\t") == std::string::npos || text[text.find_first_not_of(" \n\t")] != '{')
    return std::nullopt;
  auto parsed = parse_json(text);
  if (!parsed.ok() || !parsed->is_object() || !parsed->contains("metric")) return std::nullopt;
  return *parsed;
}

}  // namespace

Result<AnswerRequest, ApiFailure> parse_answer_request(std::string_view body) {
  auto object = object_of(body);
  if (!object.ok()) return object.error();
  const Json& j = *object;
  AnswerRequest request;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "question") {
      if (!it->is_string()) return bad("question", "must be a string");
      request.question = it->get<std::string>();
      if (auto f = check_question(request.question, "question")) return *f;
    } else if (it.key() == "metric_request") {
      if (!it->is_object()) return bad("metric_request", "must be an object (a typed metric request)");
      request.metric_request = *it;
    } else {
      return bad(it.key(), fmt::format("unknown field '{}' (expected question or metric_request)", it.key()));
    }
  }
  if (request.question.empty() && !request.metric_request)
    return bad("question", "give a question or a metric_request");
  return request;
}

Result<ChatRequest, ApiFailure> parse_chat_request(std::string_view body) {
  auto object = object_of(body);
  if (!object.ok()) return object.error();
  const Json& j = *object;
  ChatRequest chat;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "messages" || it.key() == "stream") continue;
    if (!kIgnoredChatFields.count(it.key()))
      return bad(it.key(), fmt::format("unknown field '{}'", it.key()));
  }
  if (auto m = j.find("model"); m != j.end() && m->is_string()) chat.model = m->get<std::string>();
  if (auto s = j.find("stream"); s != j.end()) {
    if (!s->is_boolean()) return bad("stream", "must be true or false");
    chat.stream = s->get<bool>();
  }
  auto messages = j.find("messages");
  if (messages == j.end() || !messages->is_array() || messages->empty())
    return bad("messages", "must be a non-empty array of messages");
  std::optional<std::string> last_user;
  for (size_t i = 0; i < messages->size(); ++i) {
    const Json& m = (*messages)[i];
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      return bad(fmt::format("messages[{}]", i), "each message needs a string role");
    auto text = content_text(m, i);
    if (!text.ok()) return text.error();
    if (m["role"] == "user") last_user = *std::move(text);
  }
  if (!last_user || last_user->empty()) return bad("messages", "no user message to answer");
  if (auto f = check_question(*last_user, "messages")) return *f;
  chat.request.question = *last_user;
  chat.request.metric_request = typed_request_in(*last_user);
  return chat;
}

Json chat_completion(const Json& answer, const std::string& model, int64_t created_s) {
  return {{"id", "chatcmpl-" + answer["answer_id"].get<std::string>()},
          {"object", "chat.completion"},
          {"created", created_s},
          {"model", model},
          {"choices", Json::array({{{"index", 0},
                                    {"message", {{"role", "assistant"}, {"content", answer["text"]}}},
                                    {"logprobs", nullptr},
                                    {"finish_reason", "stop"}}})},
          {"usage", {{"prompt_tokens", 0}, {"completion_tokens", 0}, {"total_tokens", 0}}},
          {"keel", answer}};
}

std::vector<std::string> chat_stream_payloads(const Json& answer, const std::string& model, int64_t created_s) {
  const std::string id = "chatcmpl-" + answer["answer_id"].get<std::string>();
  auto chunk = [&](Json delta, Json finish) {
    return Json{{"id", id},
                {"object", "chat.completion.chunk"},
                {"created", created_s},
                {"model", model},
                {"choices", Json::array({{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish)}}})}};
  };
  Json last = chunk(Json::object(), "stop");
  last["keel"] = answer;
  return {dump_json(chunk({{"role", "assistant"}, {"content", ""}}, nullptr)),
          dump_json(chunk({{"content", answer["text"]}}, nullptr)), dump_json(last)};
}

std::string error_body(const ApiFailure& f) {
  return dump_json({{"error",
                     {{"message", f.message},
                      {"type", f.type},
                      {"param", f.param.empty() ? Json(nullptr) : Json(f.param)},
                      {"code", f.code.empty() ? Json(nullptr) : Json(f.code)}}}});
}

}  // namespace keel::rag
