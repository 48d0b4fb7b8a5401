#include "serve/openai_api.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>

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

// Reads an optional number in [lo, hi].
bool number(const Json& j, const char* key, double lo, double hi, double* out, ApiError* err) {
  if (!j.contains(key) || j[key].is_null()) return true;
  if (!j[key].is_number()) {
    *err = bad(key, fmt::format("'{}' must be a number", key));
    return false;
  }
  double v = j[key].get<double>();
  if (!std::isfinite(v) || v < lo || v > hi) {
    *err = bad(key, fmt::format("'{}' must be between {} and {}, got {}", key, lo, hi, v));
    return false;
  }
  *out = v;
  return true;
}

// Message content: a string, or an array of {"type": "text", "text": ...} parts.
bool content_text(const Json& c, std::string* out, ApiError* err, const std::string& param) {
  if (c.is_string()) {
    *out = c.get<std::string>();
    return true;
  }
  if (c.is_null()) {
    out->clear();
    return true;
  }
  if (c.is_array()) {
    out->clear();
    for (const auto& part : c) {
      if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string()) {
        *err = bad(param, "only text content parts are supported");
        return false;
      }
      *out += part["text"].get<std::string>();
    }
    return true;
  }
  *err = bad(param, "content must be a string or an array of text parts");
  return false;
}

}  // namespace

ParsedCompletion parse_completion_request(std::string_view body, bool chat, const RequestLimits& limits) {
  ParsedCompletion out;
  auto parsed = parse_json(body);
  if (!parsed.ok()) {
    out.error = bad("", "the body is not valid JSON: " + parsed.status().message(), "invalid_json");
    return out;
  }
  const Json& j = *parsed;
  if (!j.is_object()) {
    out.error = bad("", "the body must be a JSON object", "invalid_json");
    return out;
  }
  CompletionRequest r;
  r.chat = chat;
  ApiError err;
  if (!j.contains("model") || !j["model"].is_string()) {
    out.error = bad("model", "'model' is required and must be a string", "missing_model");
    return out;
  }
  r.model = j["model"].get<std::string>();
  if (chat) {
    if (!j.contains("messages") || !j["messages"].is_array() || j["messages"].empty()) {
      out.error = bad("messages", "'messages' must be a non-empty array");
      return out;
    }
    if (j["messages"].size() > limits.max_messages) {
      out.error = bad("messages", fmt::format("at most {} messages are accepted", limits.max_messages));
      return out;
    }
    for (size_t i = 0; i < j["messages"].size(); ++i) {
      const Json& m = j["messages"][i];
      std::string param = fmt::format("messages[{}]", i);
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
        out.error = bad(param, "each message needs a string 'role'");
        return out;
      }
      std::string role = m["role"].get<std::string>();
      if (role == "developer") role = "system";
      if (role != "system" && role != "user" && role != "assistant") {
        out.error = bad(param + ".role", fmt::format("role '{}' is not supported (system, user, assistant)", role));
        return out;
      }
      std::string text;
      if (!content_text(m.contains("content") ? m["content"] : Json(nullptr), &text, &err, param + ".content")) {
        out.error = err;
        return out;
      }
      r.messages.push_back({role, std::move(text)});
    }
  } else {
    if (!j.contains("prompt")) {
      out.error = bad("prompt", "'prompt' is required");
      return out;
    }
    const Json& p = j["prompt"];
    if (p.is_string()) {
      r.prompt = p.get<std::string>();
    } else if (p.is_array() && p.size() == 1 && p[0].is_string()) {
      r.prompt = p[0].get<std::string>();
    } else {
      out.error = bad("prompt", "'prompt' must be a string (one prompt per request)");
      return out;
    }
  }
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    if (!j.contains(key) || j[key].is_null()) continue;
    if (!j[key].is_number_integer() || j[key].get<int64_t>() < 1) {
      out.error = bad(key, fmt::format("'{}' must be a positive integer", key));
      return out;
    }
    int64_t v = j[key].get<int64_t>();
    if (v > limits.max_tokens_limit) {
      out.error = bad(key, fmt::format("'{}' is {}; this server allows at most {}", key, v, limits.max_tokens_limit),
                      "max_tokens_too_large");
      return out;
    }
    r.max_tokens = v;
  }
  double v = r.temperature;
  if (!number(j, "temperature", 0, 2, &v, &err)) return {std::nullopt, err};
  r.temperature = static_cast<float>(v);
  v = r.top_p;
  if (!number(j, "top_p", 0, 1, &v, &err)) return {std::nullopt, err};
  r.top_p = static_cast<float>(v);
  v = r.presence_penalty;
  if (!number(j, "presence_penalty", -2, 2, &v, &err)) return {std::nullopt, err};
  r.presence_penalty = static_cast<float>(v);
  v = r.frequency_penalty;
  if (!number(j, "frequency_penalty", -2, 2, &v, &err)) return {std::nullopt, err};
  r.frequency_penalty = static_cast<float>(v);
  v = 0;
  if (!number(j, "top_k", 0, 1000, &v, &err)) return {std::nullopt, err};
  r.top_k = static_cast<int>(v);
  v = 0;
  if (!number(j, "min_p", 0, 1, &v, &err)) return {std::nullopt, err};
  r.min_p = static_cast<float>(v);
  if (j.contains("seed") && !j["seed"].is_null()) {
    if (!j["seed"].is_number_integer()) return {std::nullopt, bad("seed", "'seed' must be an integer")};
    r.seed = static_cast<uint64_t>(j["seed"].get<int64_t>());
  }
  if (j.contains("n") && !j["n"].is_null() && !(j["n"].is_number_integer() && j["n"].get<int64_t>() == 1)) {
    return {std::nullopt, bad("n", "only n = 1 is supported")};
  }
  if (j.contains("stop") && !j["stop"].is_null()) {
    const Json& s = j["stop"];
    if (s.is_string()) {
      r.stop.push_back(s.get<std::string>());
    } else if (s.is_array()) {
      for (const auto& x : s) {
        if (!x.is_string()) return {std::nullopt, bad("stop", "'stop' must be a string or an array of strings")};
        r.stop.push_back(x.get<std::string>());
      }
    } else {
      return {std::nullopt, bad("stop", "'stop' must be a string or an array of strings")};
    }
    if (r.stop.size() > limits.max_stop) {
      return {std::nullopt, bad("stop", fmt::format("at most {} stop sequences", limits.max_stop))};
    }
    for (const auto& x : r.stop) {
      if (x.empty()) return {std::nullopt, bad("stop", "stop sequences must not be empty")};
    }
  }
  if (j.contains("stream") && !j["stream"].is_null()) {
    if (!j["stream"].is_boolean()) return {std::nullopt, bad("stream", "'stream' must be a boolean")};
    r.stream = j["stream"].get<bool>();
  }
  if (j.contains("stream_options") && j["stream_options"].is_object()) {
    r.include_usage = j["stream_options"].value("include_usage", false);
  }
  if (chat) {
    if (j.contains("logprobs") && j["logprobs"].is_boolean()) r.logprobs = j["logprobs"].get<bool>();
    v = 0;
    if (!number(j, "top_logprobs", 0, 20, &v, &err)) return {std::nullopt, err};
    r.top_logprobs = static_cast<int>(v);
  } else if (j.contains("logprobs") && !j["logprobs"].is_null()) {
    v = 0;
    if (!number(j, "logprobs", 0, 5, &v, &err)) return {std::nullopt, err};
    r.logprobs = v > 0;
    r.top_logprobs = static_cast<int>(v);
  }
  if (j.contains("user") && j["user"].is_string()) r.user = j["user"].get<std::string>();
  out.request = std::move(r);
  return out;
}

ParsedEmbedding parse_embedding_request(std::string_view body, const RequestLimits& limits) {
  ParsedEmbedding out;
  auto parsed = parse_json(body);
  if (!parsed.ok()) {
    out.error = bad("", "the body is not valid JSON: " + parsed.status().message(), "invalid_json");
    return out;
  }
  const Json& j = *parsed;
  if (!j.is_object() || !j.contains("model") || !j["model"].is_string()) {
    out.error = bad("model", "'model' is required and must be a string", "missing_model");
    return out;
  }
  EmbeddingRequest r;
  r.model = j["model"].get<std::string>();
  if (!j.contains("input")) {
    out.error = bad("input", "'input' is required");
    return out;
  }
  const Json& in = j["input"];
  if (in.is_string()) {
    r.inputs.push_back(in.get<std::string>());
  } else if (in.is_array() && !in.empty()) {
    for (const auto& x : in) {
      if (!x.is_string()) {
        out.error = bad("input", "'input' must be a string or an array of strings");
        return out;
      }
      r.inputs.push_back(x.get<std::string>());
    }
  } else {
    out.error = bad("input", "'input' must be a string or a non-empty array of strings");
    return out;
  }
  if (r.inputs.size() > limits.max_embedding_inputs) {
    out.error = bad("input", fmt::format("at most {} inputs per request", limits.max_embedding_inputs));
    return out;
  }
  for (const auto& s : r.inputs) {
    if (s.empty()) {
      out.error = bad("input", "inputs must not be empty strings");
      return out;
    }
  }
  if (j.contains("encoding_format") && j["encoding_format"].is_string()) {
    std::string f = j["encoding_format"].get<std::string>();
    if (f != "float" && f != "base64") {
      out.error = bad("encoding_format", "encoding_format must be float or base64");
      return out;
    }
    r.base64 = f == "base64";
  }
  out.request = std::move(r);
  return out;
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
      for (const auto& [tok, lp] : t.top) top.push_back({{"token", tok}, {"logprob", lp}, {"bytes", nullptr}});
      content.push_back({{"token", t.token}, {"logprob", t.logprob}, {"bytes", nullptr}, {"top_logprobs", top}});
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
  return {{"tokens", tokens}, {"token_logprobs", values}, {"top_logprobs", tops}, {"text_offset", Json::array()}};
}

}  // namespace

std::string completion_response(const CompletionRequest& req, const std::string& id, int64_t created,
                                 const std::string& model, const std::string& text, const std::string& finish_reason,
                                 const Usage& usage, const std::vector<TokenLogprobJson>& logprobs) {
  Json choice = {{"index", 0}, {"finish_reason", finish_reason}, {"logprobs", logprobs_json(req, logprobs)}};
  if (req.chat) {
    choice["message"] = {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}};
  } else {
    choice["text"] = text;
  }
  Json j = {{"id", id},
            {"object", req.chat ? "chat.completion" : "text_completion"},
            {"created", created},
            {"model", model},
            {"choices", Json::array({choice})},
            {"usage", usage_json(usage)},
            {"system_fingerprint", "keel"}};
  return dump_json(j);
}

std::string completion_chunk(const CompletionRequest& req, const std::string& id, int64_t created,
                             const std::string& model, std::string_view delta, bool first,
                             const std::string* finish_reason, const std::vector<TokenLogprobJson>& logprobs) {
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
            {"model", model},
            {"system_fingerprint", "keel"},
            {"choices", Json::array({choice})}};
  if (req.include_usage) j["usage"] = nullptr;
  return dump_json(j);
}

std::string usage_chunk(const CompletionRequest& req, const std::string& id, int64_t created, const std::string& model,
                        const Usage& usage) {
  Json j = {{"id", id},
            {"object", req.chat ? "chat.completion.chunk" : "text_completion"},
            {"created", created},
            {"model", model},
            {"system_fingerprint", "keel"},
            {"choices", Json::array()},
            {"usage", usage_json(usage)}};
  return dump_json(j);
}

namespace {

std::string base64(const std::vector<float>& v) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* bytes = reinterpret_cast<const uint8_t*>(v.data());
  size_t n = v.size() * 4;
  std::string out;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t chunk = bytes[i] << 16 | (i + 1 < n ? bytes[i + 1] << 8 : 0) | (i + 2 < n ? bytes[i + 2] : 0);
    out += kAlphabet[(chunk >> 18) & 63];
    out += kAlphabet[(chunk >> 12) & 63];
    out += i + 1 < n ? kAlphabet[(chunk >> 6) & 63] : '=';
    out += i + 2 < n ? kAlphabet[chunk & 63] : '=';
  }
  return out;
}

}  // namespace

std::string embedding_response(const EmbeddingRequest& req, const std::string& model,
                               const std::vector<std::vector<float>>& vectors, int64_t prompt_tokens) {
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
