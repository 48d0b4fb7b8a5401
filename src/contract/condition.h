// Conditions in specs: the small expression language of approval conditions and policy rules,
// e.g. `args.amount > 100`, `case.status == 'open' && !('vip' in principal.roles)`.
//
// Grammar (lowest precedence first):
//   expr    := or
//   or      := and ('||' and)*
//   and     := not ('&&' not)*
//   not     := '!' not | compare
//   compare := value (('==' | '!=' | '<' | '<=' | '>' | '>=' | 'in') value)?
//   value   := number | 'string' | "string" | true | false | null | path | '[' list ']' | '(' expr ')'
//   path    := name ('.' name)*           looked up in the variables object
//
// Contract:
// - parse_condition() checks syntax once (at spec load, so a typo is a plan-time error that
//   names the column); evaluate() never throws.
// - A path that does not exist is null. Comparing numbers with strings, or ordering values of
//   different types, is an evaluation error rather than a silent false: a policy must not
//   flip on a type mistake.
// - `x in list` is membership; `x in string` is substring.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/result.h"

namespace keel::contract {

class Condition {
 public:
  //! Parses `text`; the error names the column of the problem.
  [[nodiscard]] static Result<Condition> parse(std::string_view text);

  //! Evaluates against `variables` (an object: {"args": ..., "case": ..., "principal": ...}).
  //! The result must be a boolean.
  [[nodiscard]] Result<bool> evaluate(const nlohmann::json& variables) const;

  //! Top-level names the expression reads (e.g. "args", "case").
  std::vector<std::string> roots() const;
  const std::string& text() const { return text_; }

  struct Node;
  Condition();
  ~Condition();
  Condition(const Condition&);
  Condition& operator=(const Condition&);
  Condition(Condition&&) noexcept;
  Condition& operator=(Condition&&) noexcept;

 private:
  std::string text_;
  std::shared_ptr<const Node> root_;
};

}  // namespace keel::contract
