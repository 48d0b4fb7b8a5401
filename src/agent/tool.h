// Typed tools: what a case may call. A tool declares its name, JSON Schemas for input and
// output, its effect class (read | write | irreversible), a timeout and a retry policy; its
// implementation talks to the system of record and, for writes, offers an authoritative
// outcome check (a lookup by idempotency key).
//
// Contract for implementations:
// - call() receives arguments that already passed the input schema, and for writes an
//   idempotency key that it must pass to the system of record.
// - Errors tell the engine what may be done next: `unavailable` = transient, nothing happened,
//   may be retried; `deadline_exceeded` = the outcome is unknown, the engine asks
//   check_outcome() before anything else; any other code = permanent, not retried.
// - check_outcome() answers from the system of record itself: the recorded result of the
//   write with this key, or nullopt when it did not happen.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "contract/spec.h"
#include "core/result.h"

namespace keel::agent {

struct ToolDefinition {
  std::string name;
  std::string description;
  contract::Effect effect = contract::Effect::read;
  nlohmann::json input_schema = nlohmann::json::object();
  nlohmann::json output_schema = nlohmann::json::object();
  int64_t timeout_ms = 10000;
  int max_attempts = 3;       //!< attempts for transient errors
  int64_t backoff_ms = 50;    //!< before the second attempt; doubles after each
  std::string system = "";    //!< the system of record it acts on ("" for Keel's own stores)
  //! The system of record guarantees that a repeated idempotency key takes effect once (and
  //! returns the first outcome). Then a write whose outcome is unknown and that has no outcome
  //! check may be sent again with the same key; without this guarantee it never is.
  bool deduplicates_by_key = false;
};

struct ToolCallContext {
  std::string case_id;
  int64_t step = 0;
  std::string principal;
  std::string idempotency_key;  //!< set for write and irreversible tools
  int64_t timeout_ms = 0;
};

class Tool {
 public:
  virtual ~Tool() = default;
  virtual const ToolDefinition& definition() const = 0;
  [[nodiscard]] virtual Result<nlohmann::json> call(const nlohmann::json& args, const ToolCallContext& ctx) = 0;
  //! The outcome of the write made with ctx.idempotency_key, or nullopt if it did not happen.
  [[nodiscard]] virtual Result<std::optional<nlohmann::json>> check_outcome(const ToolCallContext& ctx);
  bool is_write() const { return definition().effect != contract::Effect::read; }
};

class ToolRegistry {
 public:
  //! Adds a tool; invalid_argument if its schemas are outside the supported subset or the
  //! name is taken.
  [[nodiscard]] Status add(std::shared_ptr<Tool> tool);
  Tool* find(const std::string& name) const;
  std::vector<std::string> names() const;
  //! Every spec tool has an implementation with the same effect class. (An implementation the
  //! spec does not declare can never be called: the policy denies undeclared tools.)
  [[nodiscard]] Status check_against(const contract::Spec& spec) const;

 private:
  std::map<std::string, std::shared_ptr<Tool>> tools_;
};

//! The key a write carries to the system of record: a hash of (case, step, tool, canonical
//! arguments), so a retry or a resumed case sends the same key and a different action never
//! does.
std::string idempotency_key(const std::string& case_id, int64_t step, const std::string& tool,
                            const nlohmann::json& args);

//! SHA-256 (hex) of the canonical form of `args`: what an approval binds to.
std::string args_sha256(const nlohmann::json& args);

}  // namespace keel::agent
