// Chat formatting: turning system/user/assistant messages into the prompt text a model was
// trained on. Keel recognises the common templates from the model's tokenizer.chat_template
// (ChatML, Llama-3); others are an error unless the user names a template to use.
//
// Contract: detect() never guesses: a template that is not recognised is unimplemented with a
// message saying how to choose one; a model without any template gets the plain `raw` format.
// The formatted text is meant to be tokenized with parse_special = true (and add_special as
// the model's metadata says), so markers like <|im_start|> become their special tokens.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "engine/gguf.h"

namespace keel::engine {

enum class ChatTemplate { raw, chatml, llama3 };
std::string_view chat_template_name(ChatTemplate t);

struct ChatMessage {
  std::string role;  //!< system | user | assistant
  std::string content;
};

//! From a name: "raw", "chatml", "llama3".
[[nodiscard]] Result<ChatTemplate> chat_template_from_name(std::string_view name);
//! From the Jinja text in tokenizer.chat_template.
[[nodiscard]] Result<ChatTemplate> chat_template_from_text(std::string_view jinja);
//! From a model file: its tokenizer.chat_template, or raw when it has none.
[[nodiscard]] Result<ChatTemplate> chat_template_of(const GgufFile& file);

//! The prompt; add_generation_prompt opens the assistant's turn.
std::string format_chat(ChatTemplate t, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt = true);

//! Text that ends an assistant turn in this format (a stop string for generation), or "".
std::string_view end_of_turn(ChatTemplate t);

}  // namespace keel::engine
