// Fuzz target: OpenAI request bodies whose known fields get values of every JSON type. Byte
// mutations alone rarely turn `"include_usage": true` into `"include_usage": "1"` while keeping
// the JSON valid, so here the input bytes are choices: which endpoint, then which known field
// to replace (or which unknown key to add) with which type of value. Each resulting body goes
// through the parser of its endpoint, which must neither throw nor accept a type the API does
// not define; a refusal must be a 400 that names a parameter or says what is wrong.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "serve/openai_api.h"

namespace {

using keel::Json;

struct Input {
  const uint8_t* data;
  size_t size;
  size_t at = 0;
  bool empty() const { return at >= size; }
  uint8_t byte() { return at < size ? data[at++] : 0; }
  uint64_t u64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | byte();
    return v;
  }
  std::string text() {
    size_t n = byte() % 12;
    std::string s;
    for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(byte()));
    return s;
  }
};

Json value_of_some_type(Input& in, int depth) {
  switch (in.byte() % 12) {
    case 0:
      return nullptr;
    case 1:
      return static_cast<bool>(in.byte() & 1);
    case 2:
      return static_cast<int64_t>(in.u64());
    case 3:
      return in.u64();
    case 4:
      return static_cast<int64_t>(static_cast<int8_t>(in.byte()));
    case 5: {
      double d =
          static_cast<double>(static_cast<int64_t>(in.u64())) / static_cast<double>(1 + in.byte());
      return d;
    }
    case 6:
      return in.text();
    case 7:
      return std::string(in.byte() & 1 ? "text" : "float");
    case 8: {
      Json a = Json::array();
      if (depth < 3) {
        for (int n = in.byte() % 4; n > 0; --n) a.push_back(value_of_some_type(in, depth + 1));
      }
      return a;
    }
    case 9: {
      Json o = Json::object();
      if (depth < 3) {
        for (int n = in.byte() % 3; n > 0; --n) {
          static const char* kKeys[] = {"type", "text", "include_usage", "role", "content", "x"};
          o[kKeys[in.byte() % 6]] = value_of_some_type(in, depth + 1);
        }
      }
      return o;
    }
    case 10:
      return 1e308 * (in.byte() & 1 ? 10 : -10);  // serialised as null: out of range
    default:
      return in.byte();
  }
}

struct Endpoint {
  int kind;  // 0 chat, 1 completions, 2 embeddings
  Json base;
  std::vector<std::string> fields;  // JSON pointers
};

const std::vector<Endpoint>& endpoints() {
  static const std::vector<Endpoint> kEndpoints = [] {
    std::vector<Endpoint> e;
    e.push_back({0,
                 {{"model", "m"},
                  {"messages",
                   Json::array({{{"role", "system"}, {"content", "be brief"}},
                                {{"role", "user"},
                                 {"content", Json::array({{{"type", "text"}, {"text", "hi"}}})}}})},
                  {"max_tokens", 5},
                  {"temperature", 0.5},
                  {"stop", Json::array({"a"})},
                  {"stream", true},
                  {"stream_options", {{"include_usage", true}}},
                  {"logprobs", true},
                  {"top_logprobs", 2},
                  {"seed", 1}},
                 {"/model",
                  "/messages",
                  "/messages/0",
                  "/messages/0/role",
                  "/messages/0/content",
                  "/messages/1/content/0",
                  "/messages/1/content/0/type",
                  "/messages/1/content/0/text",
                  "/max_tokens",
                  "/max_completion_tokens",
                  "/temperature",
                  "/top_p",
                  "/top_k",
                  "/min_p",
                  "/presence_penalty",
                  "/frequency_penalty",
                  "/seed",
                  "/n",
                  "/stop",
                  "/stop/0",
                  "/stream",
                  "/stream_options",
                  "/stream_options/include_usage",
                  "/logprobs",
                  "/top_logprobs",
                  "/user"}});
    e.push_back(
        {1,
         {{"model", "m"},
          {"prompt", "once"},
          {"max_tokens", 3},
          {"logprobs", 2},
          {"stream", true},
          {"stream_options", {{"include_usage", true}}}},
         {"/model", "/prompt", "/prompt/0", "/max_tokens", "/logprobs", "/seed", "/temperature",
          "/stop", "/stream", "/stream_options", "/stream_options/include_usage", "/user", "/n"}});
    e.push_back({2,
                 {{"model", "e"}, {"input", Json::array({"a", "b"})}, {"encoding_format", "float"}},
                 {"/model", "/input", "/input/0", "/encoding_format", "/user"}});
    return e;
  }();
  return kEndpoints;
}

void check(bool ok, const keel::serve::ApiError& e) {
  if (ok) return;
  if (e.status != 400 || e.type != "invalid_request_error" || e.message.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in{data, size};
  const Endpoint& ep = endpoints()[in.byte() % endpoints().size()];
  Json body = ep.base;
  for (int edits = 1 + in.byte() % 4; edits > 0 && !in.empty(); --edits) {
    const std::string& field = ep.fields[in.byte() % ep.fields.size()];
    Json::json_pointer pointer(field);
    // Only replace where the parent exists as a container of the right kind, as a client
    // would send it; setting a path through a scalar would throw in the harness, not the parser.
    const Json::json_pointer parent = pointer.parent_pointer();
    if (!body.contains(parent)) continue;
    const Json& p = body.at(parent);
    const bool index = !pointer.back().empty() &&
                       pointer.back().find_first_not_of("0123456789") == std::string::npos;
    if (index ? !(p.is_array() && std::stoul(pointer.back()) < p.size()) : !p.is_object()) continue;
    body[pointer] = value_of_some_type(in, 0);
  }
  const std::string text = keel::dump_json(body);
  keel::serve::RequestLimits limits;
  if (ep.kind == 2) {
    auto p = keel::serve::parse_embedding_request(text, limits);
    check(p.ok(), p.ok() ? keel::serve::ApiError{} : p.error());
  } else {
    auto p = keel::serve::parse_completion_request(text, ep.kind == 0, limits);
    check(p.ok(), p.ok() ? keel::serve::ApiError{} : p.error());
    // What was accepted has the types the server relies on.
    if (p.ok() && p->max_tokens && *p->max_tokens < 1) std::abort();
  }
  return 0;
}
