// Every field the OpenAI request parsers read, given a value of every JSON type: the parser
// never throws (an uncaught nlohmann::json type error used to abort `keel serve`), accepts the
// types the API defines and answers anything else with a 400 that names the field.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <set>

#include "core/json.h"
#include "serve/openai_api.h"

namespace keel::serve {
namespace {

enum class Kind { null, boolean, integer, number, string, array, object };

Kind kind_of(const Json& v) {
  if (v.is_null()) return Kind::null;
  if (v.is_boolean()) return Kind::boolean;
  if (v.is_number_integer()) return Kind::integer;
  if (v.is_number()) return Kind::number;
  if (v.is_string()) return Kind::string;
  if (v.is_array()) return Kind::array;
  return Kind::object;
}

// One value of each JSON type, and the edges of the numeric ones.
std::vector<Json> type_mutations() {
  return {nullptr,
          true,
          false,
          0,
          -1,
          7,
          Json(std::numeric_limits<uint64_t>::max()),
          Json(std::numeric_limits<int64_t>::min()),
          1.5,
          -0.0,
          1e308,
          "",
          "text",
          Json::array(),
          Json::array({1}),
          Json::array({"a"}),
          Json::array({nullptr}),
          Json::array({Json::object()}),
          Json::object(),
          Json{{"type", 1}},
          Json{{"a", "b"}}};
}

// "/messages/0/content/1/type" -> "messages[0].content[1].type", as errors name parameters.
std::string param_of(const std::string& pointer) {
  std::string out;
  size_t pos = 1;
  while (pos <= pointer.size()) {
    size_t next = pointer.find('/', pos);
    std::string part =
        pointer.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    if (!part.empty() && std::all_of(part.begin(), part.end(), ::isdigit)) {
      out += "[" + part + "]";
    } else {
      out += (out.empty() ? "" : ".") + part;
    }
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  return out;
}

// Whether `param` names the mutated field, one of its parents or one of its children.
bool same_branch(const std::string& param, const std::string& field) {
  auto prefix = [](const std::string& a, const std::string& b) {
    return b.rfind(a, 0) == 0 && (b.size() == a.size() || b[a.size()] == '.' || b[a.size()] == '[');
  };
  return !param.empty() && (prefix(param, field) || prefix(field, param));
}

struct Field {
  std::string pointer;
  std::set<Kind> accepted;
};

using Parse = std::function<std::pair<bool, ApiError>(const std::string&)>;

void check_every_type(const std::string& endpoint, const Json& base,
                      const std::vector<Field>& fields, const Parse& parse) {
  {
    auto [ok, err] = parse(dump_json(base));
    ASSERT_TRUE(ok) << endpoint << ": the base body must parse: " << err.message;
  }
  int checked = 0;
  for (const auto& f : fields) {
    for (const Json& value : type_mutations()) {
      Json body = base;
      body[Json::json_pointer(f.pointer)] = value;
      const std::string text = dump_json(body);
      std::pair<bool, ApiError> result;
      ASSERT_NO_THROW(result = parse(text)) << endpoint << " " << text;
      const auto& [ok, err] = result;
      ++checked;
      if (ok) {
        EXPECT_TRUE(f.accepted.count(kind_of(value)))
            << endpoint << ": " << f.pointer << " = " << dump_json(value)
            << " was accepted, but that type is not";
        continue;
      }
      EXPECT_EQ(err.status, 400) << text;
      EXPECT_EQ(err.type, "invalid_request_error") << text;
      EXPECT_TRUE(same_branch(err.param, param_of(f.pointer)))
          << endpoint << ": " << f.pointer << " = " << dump_json(value) << " was refused naming '"
          << err.param << "': " << err.message;
      EXPECT_FALSE(err.message.empty());
    }
  }
  EXPECT_EQ(checked, static_cast<int>(fields.size() * type_mutations().size()));
}

const std::set<Kind> kInteger = {Kind::integer, Kind::null};
const std::set<Kind> kNumber = {Kind::integer, Kind::number, Kind::null};
const std::set<Kind> kBoolean = {Kind::boolean, Kind::null};
const std::set<Kind> kOptionalString = {Kind::string, Kind::null};

TEST(OpenAIApiTypes, ChatFieldsOfEveryTypeAreCheckedNeverThrown) {
  Json base = {{"model", "m"},
               {"messages",
                Json::array({{{"role", "system"}, {"content", "be brief"}},
                             {{"role", "user"},
                              {"content", Json::array({{{"type", "text"}, {"text", "hi"}},
                                                       {{"type", "text"}, {"text", "there"}}})}}})},
               {"max_tokens", 5},
               {"max_completion_tokens", 5},
               {"temperature", 0.5},
               {"top_p", 0.9},
               {"top_k", 4},
               {"min_p", 0.1},
               {"presence_penalty", 0},
               {"frequency_penalty", 0},
               {"seed", 1},
               {"n", 1},
               {"stop", Json::array({"a", "b"})},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}},
               {"logprobs", true},
               {"top_logprobs", 2},
               {"user", "u"}};
  std::vector<Field> fields = {
      {"/model", {Kind::string}},
      {"/messages", {Kind::array}},
      {"/messages/0", {Kind::object}},
      {"/messages/0/role", {Kind::string}},
      {"/messages/0/content", {Kind::string, Kind::null, Kind::array}},
      {"/messages/1/content/0", {Kind::object}},
      {"/messages/1/content/1/type", {Kind::string}},
      {"/messages/1/content/1/text", {Kind::string}},
      {"/max_tokens", kInteger},
      {"/max_completion_tokens", kInteger},
      {"/temperature", kNumber},
      {"/top_p", kNumber},
      {"/top_k", kInteger},
      {"/min_p", kNumber},
      {"/presence_penalty", kNumber},
      {"/frequency_penalty", kNumber},
      {"/seed", kInteger},
      {"/n", kInteger},
      {"/stop", {Kind::string, Kind::array, Kind::null}},
      {"/stop/1", {Kind::string}},
      {"/stream", kBoolean},
      {"/stream_options", {Kind::object, Kind::null}},
      {"/stream_options/include_usage", kBoolean},
      {"/logprobs", kBoolean},
      {"/top_logprobs", kInteger},
      {"/user", kOptionalString},
  };
  check_every_type("chat", base, fields, [](const std::string& body) {
    auto p = parse_completion_request(body, true, {});
    return std::make_pair(p.ok(), p.ok() ? keel::serve::ApiError{} : p.error());
  });
}

TEST(OpenAIApiTypes, CompletionFieldsOfEveryTypeAreCheckedNeverThrown) {
  Json base = {{"model", "m"},  {"prompt", "once"}, {"max_tokens", 3},
               {"logprobs", 2}, {"seed", 1},        {"temperature", 0.5},
               {"stop", "x"},   {"stream", false},  {"stream_options", {{"include_usage", false}}},
               {"user", "u"},   {"echo", false}};
  std::vector<Field> fields = {
      {"/model", {Kind::string}},
      {"/prompt", {Kind::string, Kind::array}},
      {"/max_tokens", kInteger},
      {"/logprobs", kInteger},
      {"/seed", kInteger},
      {"/temperature", kNumber},
      {"/stop", {Kind::string, Kind::array, Kind::null}},
      {"/stream", kBoolean},
      {"/stream_options", {Kind::object, Kind::null}},
      {"/stream_options/include_usage", kBoolean},
      {"/user", kOptionalString},
  };
  check_every_type("completions", base, fields, [](const std::string& body) {
    auto p = parse_completion_request(body, false, {});
    return std::make_pair(p.ok(), p.ok() ? keel::serve::ApiError{} : p.error());
  });
}

TEST(OpenAIApiTypes, EmbeddingFieldsOfEveryTypeAreCheckedNeverThrown) {
  Json base = {{"model", "e"},
               {"input", Json::array({"a", "b"})},
               {"encoding_format", "float"},
               {"user", "u"}};
  std::vector<Field> fields = {
      {"/model", {Kind::string}},   {"/input", {Kind::string, Kind::array}},
      {"/input/1", {Kind::string}}, {"/encoding_format", kOptionalString},
      {"/user", kOptionalString},
  };
  check_every_type("embeddings", base, fields, [](const std::string& body) {
    auto p = parse_embedding_request(body, {});
    return std::make_pair(p.ok(), p.ok() ? keel::serve::ApiError{} : p.error());
  });
}

// The bodies that aborted the server, by name.
TEST(OpenAIApiTypes, TheBodiesThatAbortedTheServerAreClear400s) {
  struct Case {
    std::string body;
    bool chat;
    std::string param;
  };
  const std::string msgs = R"("messages":[{"role":"user","content":"x"}])";
  const std::vector<Case> cases = {
      {R"({"model":"m",)" + msgs + R"(,"stream":true,"stream_options":{"include_usage":"yes"}})",
       true, "stream_options.include_usage"},
      {R"({"model":"m",)" + msgs + R"(,"stream":true,"stream_options":{"include_usage":1}})", true,
       "stream_options.include_usage"},
      {R"({"model":"m","prompt":"x","stream":true,"stream_options":{"include_usage":[]}})", false,
       "stream_options.include_usage"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":1,"text":"x"}]}]})", true,
       "messages[0].content[0].type"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":null,"text":"x"}]}]})", true,
       "messages[0].content[0].type"},
      {R"({"model":"m",)" + msgs + R"(,"stream_options":"usage"})", true, "stream_options"},
      {R"({"model":"m",)" + msgs + R"(,"logprobs":"yes"})", true, "logprobs"},
      {R"({"model":"m",)" + msgs + R"(,"user":5})", true, "user"},
      {R"({"model":"m",)" + msgs + R"(,"max_tokens":18446744073709551615})", true, "max_tokens"},
  };
  for (const auto& c : cases) {
    std::optional<Result<CompletionRequest, ApiError>> parsed;
    ASSERT_NO_THROW(parsed.emplace(parse_completion_request(c.body, c.chat, {}))) << c.body;
    const auto& p = *parsed;
    EXPECT_FALSE(p.ok()) << c.body;
    EXPECT_EQ(p.error().status, 400) << c.body;
    EXPECT_EQ(p.error().param, c.param) << c.body << " -> " << p.error().message;
  }
  std::optional<Result<EmbeddingRequest, ApiError>> embedding;
  ASSERT_NO_THROW(embedding.emplace(
      parse_embedding_request(R"({"model":"e","input":"x","encoding_format":7})", {})));
  const auto& e = *embedding;
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.error().param, "encoding_format");
}

}  // namespace
}  // namespace keel::serve
