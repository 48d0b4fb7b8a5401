// An answer's text written by a private model from the answer's evidence, and the check that
// keeps it honest: every figure the model states must be one the evidence holds, or the text is
// refused and the answer keeps the text composed from its evidence by template.
//
// Contract:
// - open() loads the model file (the engine's GGUF loader) and hashes it: sha256() is the
//   version every answer names. One context; compose() runs one answer at a time (a mutex), so
//   one composer serves every answer worker.
// - compose() prompts with the question and the evidence as numbered sources (a metric's rows;
//   the quoted passages), the way Keel's research assistant prompts, greedy, at most max_tokens;
//   it returns the text and the tokens counted by the engine (the answer's cost). A prompt that
//   does not fit the context is resource_exhausted; nothing is retried.
// - unsupported_figures() lists the figures of `text` (runs of digits, with thousands
//   separators and one decimal point) that `evidence` does not state, compared as numbers
//   written without separators ("12,500.00" matches "12500.00" and "12500"); a source marker
//   ("[2]") is not a figure.
// - states_any() is true when `text` states at least one of `terms` (a figure compared as above,
//   a word as a whole word): an answer that drops every figure and name its evidence adds ("The
//   sources do not say.") is not an answer.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace keel::engine {
class Context;
class Model;
}  // namespace keel::engine

namespace keel::rag {

struct ComposerOptions {
  int64_t max_tokens = 96;
  int64_t n_ctx = 2048;
  int threads = 0;  //!< 0: the machine's cores
};

struct Composition {
  std::string text;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  double ms = 0;
};

//! What writes an answer's text from its sources: the model (AnswerComposer), or a test's fake.
class TextComposer {
 public:
  virtual ~TextComposer() = default;
  virtual const std::string& model_id() const = 0;
  virtual const std::string& sha256() const = 0;
  virtual const std::string& file() const = 0;
  [[nodiscard]] virtual Result<Composition> compose(std::string_view question,
                                                    const std::vector<std::string>& sources) = 0;
};

class AnswerComposer final : public TextComposer {
 public:
  [[nodiscard]] static Result<std::unique_ptr<AnswerComposer>> open(std::string model_id, const std::string& path,
                                                                   ComposerOptions options = {});
  ~AnswerComposer() override;

  const std::string& model_id() const override { return model_id_; }
  const std::string& sha256() const override { return sha256_; }
  const std::string& file() const override { return file_; }

  [[nodiscard]] Result<Composition> compose(std::string_view question,
                                            const std::vector<std::string>& sources) override;

 private:
  AnswerComposer() = default;
  std::string model_id_, sha256_, file_;
  ComposerOptions options_;
  std::unique_ptr<engine::Model> model_;
  std::unique_ptr<engine::Context> context_;
  std::mutex mutex_;
};

std::vector<std::string> unsupported_figures(std::string_view text, std::string_view evidence);
bool states_any(std::string_view text, const std::vector<std::string>& terms);

}  // namespace keel::rag
