// The HTTP bodies of the answer API: fields checked and named, OpenAI's request fields accepted,
// a JSON user message read as a typed request, and answers shaped as chat completions.
#include "rag/answer_api.h"

#include <gtest/gtest.h>

namespace keel::rag {
namespace {

TEST(AnswerApi, AnswerRequestsNameTheFieldAtFault) {
  auto ok = parse_answer_request(R"({"question": "revenue in 2026"})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->question, "revenue in 2026");
  auto typed = parse_answer_request(R"({"metric_request": {"metric": "revenue"}})");
  ASSERT_TRUE(typed.ok());
  EXPECT_EQ((*typed->metric_request)["metric"], "revenue");
  struct Case {
    const char* body;
    const char* param;
  };
  for (const Case& c : {Case{R"({"question": 3})", "question"}, Case{R"({"sql": "x", "question": "q"})", "sql"},
                        Case{R"({"metric_request": "revenue"})", "metric_request"}, Case{R"({})", "question"},
                        Case{R"([1])", ""}, Case{R"({"question": )", ""},
                        Case{"{\"question\": \"\xff\"}", ""}}) {
    auto r = parse_answer_request(c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.error().status, 400);
    EXPECT_EQ(r.error().param, c.param) << c.body << ": " << r.error().message;
  }
  EXPECT_FALSE(parse_answer_request(dump_json({{"question", std::string(kMaxQuestionBytes + 1, 'q')}})).ok());
}

TEST(AnswerApi, ChatRequestsTakeTheLastUserMessage) {
  auto r = parse_chat_request(R"({"model": "m", "temperature": 0, "stream": true, "messages": [
      {"role": "system", "content": "Be brief."}, {"role": "user", "content": "first"},
      {"role": "assistant", "content": "x"},
      {"role": "user", "content": [{"type": "text", "text": "revenue "}, {"type": "text", "text": "in 2026"}]}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->stream);
  EXPECT_EQ(r->model, "m");
  EXPECT_EQ(r->request.question, "revenue in 2026");
  EXPECT_FALSE(r->request.metric_request);
  auto typed = parse_chat_request(R"({"messages": [{"role": "user", "content": "{\"metric\": \"revenue\"}"}]})");
  ASSERT_TRUE(typed.ok());
  ASSERT_TRUE(typed->request.metric_request);
  EXPECT_EQ((*typed->request.metric_request)["metric"], "revenue");
  for (const char* bad : {R"({"messages": []})", R"({"messages": [{"role": "system", "content": "x"}]})",
                          R"({"messages": [{"content": "x"}]})", R"({"messages": [{"role": "user", "content": 1}]})",
                          R"({"messages": [{"role": "user", "content": "x"}], "tools": []})",
                          R"({"messages": [{"role": "user", "content": "x"}], "stream": "yes"})"}) {
    EXPECT_FALSE(parse_chat_request(bad).ok()) << bad;
  }
}

TEST(AnswerApi, AnswersBecomeChatCompletions) {
  const Json answer = {{"answer_id", "ans_1"}, {"text", "revenue (EUR): 12.00"}, {"status", "answered"}};
  Json c = chat_completion(answer, "keel-enterprise-rag", 7);
  EXPECT_EQ(c["id"], "chatcmpl-ans_1");
  EXPECT_EQ(c["choices"][0]["message"]["content"], "revenue (EUR): 12.00");
  EXPECT_EQ(c["keel"], answer);
  auto events = chat_stream_payloads(answer, "m", 7);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ((*parse_json(events[0]))["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ((*parse_json(events[1]))["choices"][0]["delta"]["content"], "revenue (EUR): 12.00");
  EXPECT_EQ((*parse_json(events[2]))["choices"][0]["finish_reason"], "stop");
  Json e = *parse_json(error_body({401, "authentication_error", "invalid_token", "expired", ""}));
  EXPECT_EQ(e["error"]["code"], "invalid_token");
  EXPECT_TRUE(e["error"]["param"].is_null());
}

}  // namespace
}  // namespace keel::rag
