#include "serve/openai_api.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/version.h"

namespace keel::serve {

std::string error_body(const ApiError& e) {
  Json j = {{"error",
             {{"message", e.message},
              {"type", e.type},
              {"param", e.param.empty() ? Json(nullptr) : Json(e.param)},
              {"code", e.code.empty() ? Json(nullptr) : Json(e.code)}}}};
  return dump_json(j);
}

namespace {

ApiError bad(std::string param, std::string message, std::string code = "invalid_value") {
  return {400, "invalid_request_error", std::move(message), std::move(param), std::move(code)};
}

// Reads the fields of one JSON object with their types checked. Every accessor returns false
// after the first problem, which is kept as a 400 naming the field by its full path
// ("messages[1].content[0].type"), so a caller reads fields one after another and stops at the
// first false. Nothing here calls a nlohmann accessor that can throw: values are only taken
// with get<>() after their type was checked.
class Fields {
 public:
  Fields(const Json& object, std::string path, ApiError* error)
      : j_(object), path_(std::move(path)), error_(error) {}

  //! The value of `key`, nullptr when absent or null (absent and null mean the default).
  const Json* find(const char* key) const {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  std::string name(const char* key) const { return path_.empty() ? key : path_ + "." + key; }
  bool fail(const char* key, std::string message, std::string code = "invalid_value") {
    *error_ = bad(name(key), std::move(message), std::move(code));
    return false;
  }
  bool fail_type(const char* key, const char* what) {
    return fail(key, fmt::format("'{}' must be {}", name(key), what), "invalid_type");
  }

  bool string(const char* key, std::string* out, bool required = false) {
    const Json* v = find(key);
    if (!v)
      return required ? fail(key, fmt::format("'{}' is required and must be a string", name(key)),
                             "missing_field")
                      : true;
    if (!v->is_string()) return fail_type(key, "a string");
    *out = v->get<std::string>();
    return true;
  }
  bool boolean(const char* key, bool* out) {
    const Json* v = find(key);
    if (!v) return true;
    if (!v->is_boolean()) return fail_type(key, "a boolean (true or false)");
    *out = v->get<bool>();
    return true;
  }
  //! An integer in [lo, hi]; a number with a fraction, or one out of int64 range, is refused.
  bool integer(const char* key, int64_t lo, int64_t hi, std::optional<int64_t>* out) {
    const Json* v = find(key);
    if (!v) return true;
    if (!v->is_number_integer()) return fail_type(key, "an integer");
    if (v->is_number_unsigned() &&
        v->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return fail(key, fmt::format("'{}' must be between {} and {}", name(key), lo, hi));
    }
    const int64_t x = v->get<int64_t>();
    if (x < lo || x > hi)
      return fail(key, fmt::format("'{}' must be between {} and {}, got {}", name(key), lo, hi, x));
    *out = x;
    return true;
  }
  //! A finite number in [lo, hi].
  bool number(const char* key, double lo, double hi, std::optional<double>* out) {
    const Json* v = find(key);
    if (!v) return true;
    if (!v->is_number()) return fail_type(key, "a number");
    const double x = v->get<double>();
    if (!std::isfinite(x) || x < lo || x > hi) {
      return fail(key, fmt::format("'{}' must be between {} and {}, got {}", name(key), lo, hi, x));
    }
    *out = x;
    return true;
  }
  bool number(const char* key, double lo, double hi, float* out) {
    std::optional<double> v;
    if (!number(key, lo, hi, &v)) return false;
    if (v) *out = static_cast<float>(*v);
    return true;
  }
  //! An object, or nullptr when absent/null; a value of another type is an error (*ok false).
  const Json* object(const char* key, bool* ok) {
    const Json* v = find(key);
    *ok = true;
    if (v && !v->is_object()) {
      *ok = fail_type(key, "an object");
      return nullptr;
    }
    return v;
  }

 private:
  const Json& j_;
  std::string path_;
  ApiError* error_;
};

// Message content: a string, null, or an array of {"type": "text", "text": "..."} parts.
bool content_text(const Json* c, std::string* out, ApiError* err, const std::string& param) {
  out->clear();
  if (!c) return true;
  if (c->is_string()) {
    *out = c->get<std::string>();
    return true;
  }
  if (!c->is_array()) {
    *err = bad(param, fmt::format("'{}' must be a string or an array of text parts", param),
               "invalid_type");
    return false;
  }
  for (size_t i = 0; i < c->size(); ++i) {
    const Json& part = (*c)[i];
    const std::string part_param = fmt::format("{}[{}]", param, i);
    if (!part.is_object()) {
      *err =
          bad(part_param,
              fmt::format("'{}' must be an object like {{\"type\": \"text\", \"text\": \"...\"}}",
                          part_param),
              "invalid_type");
      return false;
    }
    Fields f(part, part_param, err);
    std::string type, text;
    if (!f.string("type", &type, true)) return false;
    if (type != "text") {
      *err = bad(part_param + ".type",
                 fmt::format("content parts of type '{}' are not supported; only 'text'", type),
                 "unsupported_content");
      return false;
    }
    if (!f.string("text", &text, true)) return false;
    *out += text;
  }
  return true;
}

// Chat: the messages, each a role and its text.
bool read_messages(Fields& f, const RequestLimits& limits, CompletionRequest* r, ApiError* err) {
  const Json* messages = f.find("messages");
  if (!messages || !messages->is_array() || messages->empty()) {
    *err = bad("messages", "'messages' must be a non-empty array");
    return false;
  }
  if (messages->size() > limits.max_messages) {
    *err = bad("messages", fmt::format("at most {} messages are accepted", limits.max_messages));
    return false;
  }
  for (size_t i = 0; i < messages->size(); ++i) {
    const Json& m = (*messages)[i];
    std::string param = fmt::format("messages[{}]", i);
    if (!m.is_object()) {
      *err = bad(param, "each message must be an object with a string 'role'", "invalid_type");
      return false;
    }
    Fields mf(m, param, err);
    std::string role;
    if (!mf.string("role", &role, true)) {
      err->message = "each message needs a string 'role'";
      err->param = param;
      return false;
    }
    if (role == "developer") role = "system";
    if (role != "system" && role != "user" && role != "assistant") {
      *err = bad(param + ".role",
                 fmt::format("role '{}' is not supported (system, user, assistant)", role));
      return false;
    }
    std::string text;
    if (!content_text(mf.find("content"), &text, err, param + ".content")) return false;
    r->messages.push_back({role, std::move(text)});
  }
  return true;
}

// Completions: one prompt, a string or a list of one string.
bool read_prompt(Fields& f, CompletionRequest* r, ApiError* err) {
  const Json* p = f.find("prompt");
  if (!p) {
    *err = bad("prompt", "'prompt' is required");
    return false;
  }
  if (p->is_string()) {
    r->prompt = p->get<std::string>();
  } else if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) {
    r->prompt = (*p)[0].get<std::string>();
  } else {
    *err = bad("prompt", "'prompt' must be a string (one prompt per request)");
    return false;
  }
  return true;
}

bool read_max_tokens(Fields& f, const RequestLimits& limits, CompletionRequest* r,
                     ApiError* err) {
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    const Json* x = f.find(key);
    if (!x) continue;
    if (!x->is_number_integer() ||
        (x->is_number_unsigned() ? x->get<uint64_t>() == 0 : x->get<int64_t>() < 1)) {
      *err = bad(key, fmt::format("'{}' must be a positive integer", key), "invalid_type");
      return false;
    }
    const uint64_t v =
        x->is_number_unsigned() ? x->get<uint64_t>() : static_cast<uint64_t>(x->get<int64_t>());
    if (v > static_cast<uint64_t>(limits.max_tokens_limit)) {
      *err = bad(
          key,
          fmt::format("'{}' is {}; this server allows at most {}", key, v, limits.max_tokens_limit),
          "max_tokens_too_large");
      return false;
    }
    r->max_tokens = static_cast<int64_t>(v);
  }
  return true;
}

// Sampling parameters: temperature, top_p, penalties, min_p, top_k, seed and n.
bool read_sampling(Fields& f, CompletionRequest* r, ApiError* err) {
  if (!f.number("temperature", 0, 2, &r->temperature) || !f.number("top_p", 0, 1, &r->top_p) ||
      !f.number("presence_penalty", -2, 2, &r->presence_penalty) ||
      !f.number("frequency_penalty", -2, 2, &r->frequency_penalty) ||
      !f.number("min_p", 0, 1, &r->min_p)) {
    return false;
  }
  std::optional<int64_t> top_k, n;
  if (!f.integer("top_k", 0, 1000, &top_k)) return false;
  if (top_k) r->top_k = static_cast<int>(*top_k);
  // Any integer is a seed (OpenAI's are int64; a uint64 is taken bit for bit).
  if (const Json* seed = f.find("seed")) {
    if (!seed->is_number_integer()) return f.fail_type("seed", "an integer");
    r->seed = seed->is_number_unsigned() ? seed->get<uint64_t>()
                                         : static_cast<uint64_t>(seed->get<int64_t>());
  }
  if (!f.integer("n", std::numeric_limits<int64_t>::min() + 1, std::numeric_limits<int64_t>::max(),
                 &n))
    return false;
  if (n && *n != 1) {
    *err = bad("n", "only n = 1 is supported");
    return false;
  }
  return true;
}

// Stop sequences: a string or a list of non-empty strings, at most limits.max_stop.
bool read_stop(Fields& f, const RequestLimits& limits, CompletionRequest* r, ApiError* err) {
  const Json* s = f.find("stop");
  if (!s) return true;
  auto not_strings = [] {
    return bad("stop", "'stop' must be a string or an array of strings", "invalid_type");
  };
  if (s->is_string()) {
    r->stop.push_back(s->get<std::string>());
  } else if (s->is_array()) {
    for (size_t i = 0; i < s->size(); ++i) {
      if (!(*s)[i].is_string()) {
        *err = not_strings();
        err->param = fmt::format("stop[{}]", i);
        return false;
      }
      r->stop.push_back((*s)[i].get<std::string>());
    }
  } else {
    *err = not_strings();
    return false;
  }
  if (r->stop.size() > limits.max_stop) {
    *err = bad("stop", fmt::format("at most {} stop sequences", limits.max_stop));
    return false;
  }
  for (const auto& x : r->stop) {
    if (x.empty()) {
      *err = bad("stop", "stop sequences must not be empty");
      return false;
    }
  }
  return true;
}

// stream, stream_options.include_usage, and logprobs in the chat or the completions form.
bool read_stream_and_logprobs(Fields& f, CompletionRequest* r, ApiError* err) {
  if (!f.boolean("stream", &r->stream)) return false;
  bool ok = true;
  if (const Json* options = f.object("stream_options", &ok)) {
    Fields of(*options, "stream_options", err);
    if (!of.boolean("include_usage", &r->include_usage)) return false;
  }
  if (!ok) return false;
  std::optional<int64_t> top;
  if (r->chat) {
    if (!f.boolean("logprobs", &r->logprobs) || !f.integer("top_logprobs", 0, 20, &top))
      return false;
    if (top) r->top_logprobs = static_cast<int>(*top);
  } else {
    if (!f.integer("logprobs", 0, 5, &top)) return false;
    if (top) {
      r->logprobs = *top > 0;
      r->top_logprobs = static_cast<int>(*top);
    }
  }
  return true;
}

Result<CompletionRequest, ApiError> parse_completion(const Json& j, bool chat,
                                                     const RequestLimits& limits) {
  if (!j.is_object()) return bad("", "the body must be a JSON object", "invalid_json");
  CompletionRequest r;
  r.chat = chat;
  ApiError err;
  Fields f(j, "", &err);
  if (!f.string("model", &r.model, true)) {
    err.code = "missing_model";
    return err;
  }
  const bool ok = (chat ? read_messages(f, limits, &r, &err) : read_prompt(f, &r, &err)) &&
                  read_max_tokens(f, limits, &r, &err) && read_sampling(f, &r, &err) &&
                  read_stop(f, limits, &r, &err) && read_stream_and_logprobs(f, &r, &err) &&
                  f.string("user", &r.user);
  if (!ok) return err;
  return r;
}

// The inputs: a string or a non-empty list of non-empty strings, at most
// limits.max_embedding_inputs.
bool read_inputs(Fields& f, const RequestLimits& limits, EmbeddingRequest* r, ApiError* err) {
  const Json* in = f.find("input");
  if (!in) {
    *err = bad("input", "'input' is required");
    return false;
  }
  if (in->is_string()) {
    r->inputs.push_back(in->get<std::string>());
  } else if (in->is_array() && !in->empty()) {
    for (size_t i = 0; i < in->size(); ++i) {
      if (!(*in)[i].is_string()) {
        *err = bad(fmt::format("input[{}]", i), "'input' must be a string or an array of strings",
                   "invalid_type");
        return false;
      }
      r->inputs.push_back((*in)[i].get<std::string>());
    }
  } else {
    *err = bad("input", "'input' must be a string or a non-empty array of strings");
    return false;
  }
  if (r->inputs.size() > limits.max_embedding_inputs) {
    *err = bad("input", fmt::format("at most {} inputs per request", limits.max_embedding_inputs));
    return false;
  }
  for (const auto& s : r->inputs) {
    if (s.empty()) {
      *err = bad("input", "inputs must not be empty strings");
      return false;
    }
  }
  return true;
}

Result<EmbeddingRequest, ApiError> parse_embedding(const Json& j, const RequestLimits& limits) {
  if (!j.is_object()) return bad("", "the body must be a JSON object", "invalid_json");
  EmbeddingRequest r;
  ApiError err;
  Fields f(j, "", &err);
  if (!f.string("model", &r.model, true)) {
    err.code = "missing_model";
    return err;
  }
  if (!read_inputs(f, limits, &r, &err)) return err;
  std::string format = "float", user;
  if (!f.string("encoding_format", &format) || !f.string("user", &user)) return err;
  if (format != "float" && format != "base64")
    return bad("encoding_format", "encoding_format must be float or base64");
  r.base64 = format == "base64";
  return r;
}

// Defence in depth: the readers above check every type before taking a value, but should a
// nlohmann accessor still throw, the request is refused as a 400, never the process aborted.
template <typename T, typename F>
Result<T, ApiError> parse_body(std::string_view body, F&& read) {
  auto parsed = parse_json(body);
  if (!parsed.ok())
    return bad("", "the body is not valid JSON: " + parsed.status().message(), "invalid_json");
  try {
    return read(*parsed);
  } catch (const std::exception& e) {
    return bad("", std::string("the body could not be read: ") + e.what(), "invalid_request");
  }
}

}  // namespace

Result<CompletionRequest, ApiError> parse_completion_request(std::string_view body, bool chat,
                                                             const RequestLimits& limits) {
  return parse_body<CompletionRequest>(
      body, [&](const Json& j) { return parse_completion(j, chat, limits); });
}

Result<EmbeddingRequest, ApiError> parse_embedding_request(std::string_view body,
                                                           const RequestLimits& limits) {
  return parse_body<EmbeddingRequest>(body,
                                     [&](const Json& j) { return parse_embedding(j, limits); });
}

Json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}}};
}

namespace {

Json logprobs_json(const CompletionRequest& req, const std::vector<TokenLogprobJson>& lps) {
  if (!req.logprobs) return nullptr;
  if (req.chat) {
    Json content = Json::array();
    for (const auto& t : lps) {
      Json top = Json::array();
      for (const auto& [tok, lp] : t.top)
        top.push_back({{"token", tok}, {"logprob", lp}, {"bytes", nullptr}});
      content.push_back(
          {{"token", t.token}, {"logprob", t.logprob}, {"bytes", nullptr}, {"top_logprobs", top}});
    }
    return {{"content", content}};
  }
  Json tokens = Json::array(), values = Json::array(), tops = Json::array();
  for (const auto& t : lps) {
    tokens.push_back(t.token);
    values.push_back(t.logprob);
    Json top = Json::object();
    for (const auto& [tok, lp] : t.top) top[tok] = lp;
    tops.push_back(top);
  }
  return {{"tokens", tokens},
          {"token_logprobs", values},
          {"top_logprobs", tops},
          {"text_offset", Json::array()}};
}

}  // namespace

std::string model_fingerprint(std::string_view sha256_hex) {
  return fmt::format("keel-{}+sha256:{}", keel_version(), sha256_hex);
}

std::string completion_response(const CompletionRequest& req, const std::string& id,
                                int64_t created, const ModelLabel& model, const std::string& text,
                                const std::string& finish_reason, const Usage& usage,
                                const std::vector<TokenLogprobJson>& logprobs) {
  Json choice = {
      {"index", 0}, {"finish_reason", finish_reason}, {"logprobs", logprobs_json(req, logprobs)}};
  if (req.chat) {
    choice["message"] = {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}};
  } else {
    choice["text"] = text;
  }
  Json j = {{"id", id},
            {"object", req.chat ? "chat.completion" : "text_completion"},
            {"created", created},
            {"model", model.id},
            {"choices", Json::array({choice})},
            {"usage", usage_json(usage)},
            {"system_fingerprint", model.fingerprint}};
  return dump_json(j);
}

std::string completion_chunk(const CompletionRequest& req, const std::string& id, int64_t created,
                             const ModelLabel& model, std::string_view delta, bool first,
                             const std::string* finish_reason,
                             const std::vector<TokenLogprobJson>& logprobs) {
  Json choice = {{"index", 0},
                 {"finish_reason", finish_reason ? Json(*finish_reason) : Json(nullptr)},
                 {"logprobs", logprobs.empty() ? Json(nullptr) : logprobs_json(req, logprobs)}};
  if (req.chat) {
    Json d = Json::object();
    if (first) d["role"] = "assistant";
    if (!delta.empty() || (!finish_reason && !first)) d["content"] = std::string(delta);
    if (first && delta.empty() && !finish_reason) d["content"] = "";
    choice["delta"] = d;
  } else {
    choice["text"] = std::string(delta);
  }
  Json j = {{"id", id},
            {"object", req.chat ? "chat.completion.chunk" : "text_completion"},
            {"created", created},
            {"model", model.id},
            {"system_fingerprint", model.fingerprint},
            {"choices", Json::array({choice})}};
  if (req.include_usage) j["usage"] = nullptr;
  return dump_json(j);
}

std::string usage_chunk(const CompletionRequest& req, const std::string& id, int64_t created,
                        const ModelLabel& model, const Usage& usage) {
  Json j = {{"id", id},
            {"object", req.chat ? "chat.completion.chunk" : "text_completion"},
            {"created", created},
            {"model", model.id},
            {"system_fingerprint", model.fingerprint},
            {"choices", Json::array()},
            {"usage", usage_json(usage)}};
  return dump_json(j);
}

namespace {

std::string base64(const std::vector<float>& v) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* bytes = reinterpret_cast<const uint8_t*>(v.data());
  size_t n = v.size() * 4;
  std::string out;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t chunk =
        bytes[i] << 16 | (i + 1 < n ? bytes[i + 1] << 8 : 0) | (i + 2 < n ? bytes[i + 2] : 0);
    out += kAlphabet[(chunk >> 18) & 63];
    out += kAlphabet[(chunk >> 12) & 63];
    out += i + 1 < n ? kAlphabet[(chunk >> 6) & 63] : '=';
    out += i + 2 < n ? kAlphabet[chunk & 63] : '=';
  }
  return out;
}

}  // namespace

std::string embedding_response(const EmbeddingRequest& req, const std::string& model,
                               const std::vector<std::vector<float>>& vectors,
                               int64_t prompt_tokens) {
  Json data = Json::array();
  for (size_t i = 0; i < vectors.size(); ++i) {
    data.push_back({{"object", "embedding"},
                    {"index", i},
                    {"embedding", req.base64 ? Json(base64(vectors[i])) : Json(vectors[i])}});
  }
  Json j = {{"object", "list"},
            {"data", data},
            {"model", model},
            {"usage", {{"prompt_tokens", prompt_tokens}, {"total_tokens", prompt_tokens}}}};
  return dump_json(j);
}

std::string models_response(const std::vector<std::string>& model_ids, int64_t created) {
  Json data = Json::array();
  for (const auto& id : model_ids) {
    data.push_back({{"id", id}, {"object", "model"}, {"created", created}, {"owned_by", "keel"}});
  }
  return dump_json(Json{{"object", "list"}, {"data", data}});
}

}  // namespace keel::serve
