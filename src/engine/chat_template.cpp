#include "engine/chat_template.h"

#include <fmt/format.h>

namespace keel::engine {

std::string_view chat_template_name(ChatTemplate t) {
  switch (t) {
    case ChatTemplate::raw: return "raw";
    case ChatTemplate::chatml: return "chatml";
    case ChatTemplate::llama3: return "llama3";
  }
  return "?";
}

Result<ChatTemplate> chat_template_from_name(std::string_view name) {
  if (name == "raw") return ChatTemplate::raw;
  if (name == "chatml") return ChatTemplate::chatml;
  if (name == "llama3" || name == "llama-3") return ChatTemplate::llama3;
  return Status::invalid_argument(fmt::format("unknown chat template '{}'; choose raw, chatml or llama3", name));
}

Result<ChatTemplate> chat_template_from_text(std::string_view jinja) {
  if (jinja.find("<|im_start|>") != std::string_view::npos) return ChatTemplate::chatml;
  if (jinja.find("<|start_header_id|>") != std::string_view::npos &&
      jinja.find("<|end_header_id|>") != std::string_view::npos) {
    return ChatTemplate::llama3;
  }
  return Status::unimplemented(
      "the model's chat template is not one Keel recognises (ChatML, Llama-3); choose one with "
      "--chat-template chatml|llama3|raw");
}

Result<ChatTemplate> chat_template_of(const GgufFile& file) {
  const GgufValue* v = file.find("tokenizer.chat_template");
  if (!v) return ChatTemplate::raw;
  auto text = v->as_string();
  if (!text) return Status::invalid_argument(fmt::format("{}: tokenizer.chat_template is not a string", file.path()));
  return chat_template_from_text(*text);
}

namespace {

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

}  // namespace

std::string format_chat(ChatTemplate t, const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  std::string out;
  switch (t) {
    case ChatTemplate::chatml:
      for (const auto& m : messages) out += fmt::format("<|im_start|>{}\n{}<|im_end|>\n", m.role, m.content);
      if (add_generation_prompt) out += "<|im_start|>assistant\n";
      break;
    case ChatTemplate::llama3:
      for (const auto& m : messages) {
        out += fmt::format("<|start_header_id|>{}<|end_header_id|>\n\n{}<|eot_id|>", m.role, trim(m.content));
      }
      if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      break;
    case ChatTemplate::raw:
      for (const auto& m : messages) {
        if (m.role == "system") {
          out += m.content + "\n\n";
        } else if (m.role == "user") {
          out += m.content + "\n";
        } else {
          out += m.content + "\n";
        }
      }
      break;
  }
  return out;
}

std::string_view end_of_turn(ChatTemplate t) {
  switch (t) {
    case ChatTemplate::chatml: return "<|im_end|>";
    case ChatTemplate::llama3: return "<|eot_id|>";
    case ChatTemplate::raw: return "";
  }
  return "";
}

}  // namespace keel::engine
