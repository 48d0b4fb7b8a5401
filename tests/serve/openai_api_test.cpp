// The OpenAI wire format: request parsing (valid, invalid, hostile) and response shapes as the
// official clients read them.
#include <gtest/gtest.h>

#include "core/json.h"
#include "serve/openai_api.h"

namespace keel::serve {
namespace {

Result<CompletionRequest, ApiError> chat(const Json& body, RequestLimits limits = {}) {
  return parse_completion_request(dump_json(body), true, limits);
}

TEST(OpenAIApi, ParsesAChatRequest) {
  auto p = chat({{"model", "m"},
                 {"messages", Json::array({{{"role", "system"}, {"content", "be brief"}},
                                           {{"role", "user"}, {"content", Json::array({{{"type", "text"}, {"text", "hi"}}})}}})},
                 {"max_tokens", 12},
                 {"temperature", 0.5},
                 {"stop", "END"},
                 {"stream", true},
                 {"stream_options", {{"include_usage", true}}},
                 {"logprobs", true},
                 {"top_logprobs", 3},
                 {"seed", 7},
                 {"some_vendor_extension", {{"x", 1}}}});
  ASSERT_TRUE(p.ok()) << p.error().message;
  const auto& r = *p;
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1].content, "hi");
  EXPECT_EQ(r.max_tokens, 12);
  EXPECT_FLOAT_EQ(r.temperature, 0.5f);
  EXPECT_EQ(r.stop, std::vector<std::string>{"END"});
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 3);
  EXPECT_EQ(r.seed, 7u);
}

TEST(OpenAIApi, MaxCompletionTokensIsAccepted) {
  auto p = chat({{"model", "m"}, {"messages", Json::array({{{"role", "user"}, {"content", "x"}}})}, {"max_completion_tokens", 5}});
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->max_tokens, 5);
}

struct Bad {
  std::string body;
  std::string param;
  std::string fragment;
};

TEST(OpenAIApi, InvalidRequestsNameTheParameterAndTheFix) {
  RequestLimits limits;
  limits.max_tokens_limit = 100;
  const std::string msgs = R"("messages":[{"role":"user","content":"x"}])";
  const std::vector<Bad> cases = {
      {"{not json", "", "not valid JSON"},
      {"[1,2]", "", "JSON object"},
      {R"({"messages":[{"role":"user","content":"x"}]})", "model", "'model' is required"},
      {R"({"model":"m"})", "messages", "non-empty array"},
      {R"({"model":"m","messages":[]})", "messages", "non-empty array"},
      {R"({"model":"m","messages":[{"content":"x"}]})", "messages[0]", "'role'"},
      {R"({"model":"m","messages":[{"role":"wizard","content":"x"}]})", "messages[0].role", "not supported"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url"}]}]})", "messages[0].content[0].type", "text"},
      {R"({"model":"m",)" + msgs + R"(,"max_tokens":0})", "max_tokens", "positive integer"},
      {R"({"model":"m",)" + msgs + R"(,"max_tokens":1000})", "max_tokens", "at most 100"},
      {R"({"model":"m",)" + msgs + R"(,"temperature":3})", "temperature", ""},
      {R"({"model":"m",)" + msgs + R"(,"top_p":"high"})", "top_p", ""},
      {R"({"model":"m",)" + msgs + R"(,"n":2})", "n", "n = 1"},
      {R"({"model":"m",)" + msgs + R"(,"stop":["a","b","c","d","e"]})", "stop", "at most 4"},
      {R"({"model":"m",)" + msgs + R"(,"stop":[""]})", "stop", "empty"},
      {R"({"model":"m",)" + msgs + R"(,"stop":5})", "stop", ""},
      {R"({"model":"m",)" + msgs + R"(,"stream":"yes"})", "stream", "boolean"},
      {R"({"model":"m",)" + msgs + R"(,"top_logprobs":21})", "top_logprobs", ""},
      {R"({"model":"m",)" + msgs + R"(,"seed":1.5})", "seed", "integer"},
      {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}", "", "JSON"},
  };
  for (const auto& c : cases) {
    auto p = parse_completion_request(c.body, true, limits);
    EXPECT_FALSE(p.ok()) << c.body;
    EXPECT_EQ(p.error().status, 400) << c.body;
    EXPECT_EQ(p.error().type, "invalid_request_error");
    EXPECT_EQ(p.error().param, c.param) << c.body << " -> " << p.error().message;
    EXPECT_NE(p.error().message.find(c.fragment), std::string::npos) << c.body << " -> " << p.error().message;
  }
}

TEST(OpenAIApi, CompletionsTakeAPromptAndNumericLogprobs) {
  auto p = parse_completion_request(R"({"model":"m","prompt":"once","logprobs":2,"max_tokens":3})", false, {});
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_FALSE(p->chat);
  EXPECT_EQ(p->prompt, "once");
  EXPECT_EQ(p->top_logprobs, 2);
  auto bad = parse_completion_request(R"({"model":"m","prompt":["a","b"]})", false, {});
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().param, "prompt");
}

TEST(OpenAIApi, EmbeddingRequests) {
  auto one = parse_embedding_request(R"({"model":"e","input":"hello"})", {});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->inputs, std::vector<std::string>{"hello"});
  auto many = parse_embedding_request(R"({"model":"e","input":["a","b"],"encoding_format":"base64"})", {});
  ASSERT_TRUE(many.ok());
  EXPECT_EQ(many->inputs.size(), 2u);
  EXPECT_TRUE(many->base64);
  for (const char* body : {R"({"model":"e"})", R"({"model":"e","input":[]})", R"({"model":"e","input":[""]})",
                           R"({"model":"e","input":[1]})", R"({"model":"e","input":"x","encoding_format":"hex"})"}) {
    auto p = parse_embedding_request(body, {});
    EXPECT_FALSE(p.ok()) << body;
    EXPECT_FALSE(p.error().param.empty()) << body;
  }
}

TEST(OpenAIApi, ResponsesHaveTheShapeClientsRead) {
  CompletionRequest req;
  req.chat = true;
  Usage usage{10, 3, 8};
  auto whole = parse_json(completion_response(req, "chatcmpl-1", 1700000000, ModelLabel{"m", "keel-0.1.0+sha256:ab"}, "hi there", "stop", usage, {}));
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ((*whole)["object"], "chat.completion");
  EXPECT_EQ((*whole)["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ((*whole)["choices"][0]["message"]["content"], "hi there");
  EXPECT_EQ((*whole)["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ((*whole)["usage"]["total_tokens"], 13);
  EXPECT_EQ((*whole)["usage"]["prompt_tokens_details"]["cached_tokens"], 8);
  EXPECT_EQ((*whole)["system_fingerprint"], "keel-0.1.0+sha256:ab");

  auto first = parse_json(completion_chunk(req, "chatcmpl-1", 1, ModelLabel{"m"}, "hi", true, nullptr));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ((*first)["object"], "chat.completion.chunk");
  EXPECT_EQ((*first)["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ((*first)["choices"][0]["delta"]["content"], "hi");
  EXPECT_TRUE((*first)["choices"][0]["finish_reason"].is_null());
  std::string reason = "length";
  auto last = parse_json(completion_chunk(req, "chatcmpl-1", 1, ModelLabel{"m"}, "", false, &reason));
  ASSERT_TRUE(last.ok());
  EXPECT_EQ((*last)["choices"][0]["finish_reason"], "length");

  CompletionRequest text_req;
  text_req.chat = false;
  auto text = parse_json(completion_response(text_req, "cmpl-1", 1, ModelLabel{"m"}, "abc", "length", usage, {}));
  ASSERT_TRUE(text.ok());
  EXPECT_EQ((*text)["object"], "text_completion");
  EXPECT_EQ((*text)["choices"][0]["text"], "abc");

  auto err = parse_json(error_body({429, "overloaded", "busy", "", "queue_full"}));
  ASSERT_TRUE(err.ok());
  EXPECT_EQ((*err)["error"]["type"], "overloaded");
  EXPECT_EQ((*err)["error"]["code"], "queue_full");
  EXPECT_TRUE((*err)["error"]["param"].is_null());

  EmbeddingRequest e;
  e.inputs = {"a"};
  auto emb = parse_json(embedding_response(e, "e", {{0.5f, -0.25f}}, 2));
  ASSERT_TRUE(emb.ok());
  EXPECT_EQ((*emb)["object"], "list");
  EXPECT_EQ((*emb)["data"][0]["object"], "embedding");
  EXPECT_FLOAT_EQ((*emb)["data"][0]["embedding"][1].get<float>(), -0.25f);
  e.base64 = true;
  auto b64 = parse_json(embedding_response(e, "e", {{0.5f, -0.25f}}, 2));
  ASSERT_TRUE(b64.ok());
  // Two little-endian floats: 0x3f000000, 0xbe800000.
  EXPECT_EQ((*b64)["data"][0]["embedding"], "AAAAPwAAgL4=");
}

}  // namespace
}  // namespace keel::serve
