// The enterprise-rag HTTP API's bodies: parsing what clients send to /v1/answers and
// /v1/chat/completions, and shaping answers as chat completions. Pure functions over untrusted
// text (a fuzz target drives them); the server (answer_server.h) does the I/O.
//
// Contract:
// - parse_answer_request() reads {"question": string, "metric_request": object}: at least one
//   of them, the question valid UTF-8 of at most kMaxQuestionBytes; any other field, a wrong
//   type or a body that is not a JSON object is an ApiFailure (400) naming the field.
// - parse_chat_request() reads an OpenAI chat request: "messages" (a non-empty array of
//   {"role", "content": string | [{"type": "text", "text"}]}) and "stream"; the fields in
//   kIgnoredChatFields are accepted and change nothing; any other field is a 400. The question
//   is the last user message; a user message that parses as a JSON object with a "metric"
//   field is a typed request.
// - chat_completion() / chat_stream_payloads() shape an answer (answer_service.h) as OpenAI's
//   chat.completion / chat.completion.chunk objects, the whole answer under "keel".
// - error_body() is OpenAI's error shape: {"error": {"message", "type", "param", "code"}}.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/result.h"
#include "rag/answer_service.h"

namespace keel::rag {

constexpr size_t kMaxQuestionBytes = 4000;

struct ApiFailure {
  int status = 400;
  std::string type = "invalid_request_error";
  std::string code;
  std::string message;
  std::string param;  //!< the field at fault ("" when none)
  int retry_after_s = 0;  //!< for overloaded
};

struct ChatRequest {
  AnswerRequest request;
  std::string model;
  bool stream = false;
};

[[nodiscard]] Result<AnswerRequest, ApiFailure> parse_answer_request(std::string_view body);
[[nodiscard]] Result<ChatRequest, ApiFailure> parse_chat_request(std::string_view body);

Json chat_completion(const Json& answer, const std::string& model, int64_t created_s);
//! The JSON payloads of the SSE events, in order (the caller adds "[DONE]").
std::vector<std::string> chat_stream_payloads(const Json& answer, const std::string& model, int64_t created_s);

std::string error_body(const ApiFailure& failure);

}  // namespace keel::rag
