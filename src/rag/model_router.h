// Which private model may write an answer: the spec's local generate models, each approved for
// the data classes its `classes:` names (every class when it names none). The router picks the
// first model, in the spec's order, approved for the answer's data class, and says why; when
// none is approved it refuses, and the caller keeps the text no model wrote (fail closed: the
// evidence of that class never reaches an unapproved model).
//
// Contract:
// - open() loads every local generate model of the spec once (answer_composer.h), after the
//   engine's memory-fit estimate against max_ram_mb and available memory (engine/memory_fit.h;
//   with on_model_unfit: fallback, the first of its fallbacks that fits; otherwise an unfit model
//   is resource_exhausted with the numbers, and nothing is loaded); a remote
//   model is never routed to (keel rag sends no data off the machine), and a spec with no local
//   generate model gives a router that always refuses.
// - An answer's data class is the most sensitive class of its evidence: each passage's
//   classification, each metric's catalog classification. A class name the spec's schema does
//   not know counts as restricted.
// - route() is const and thread-safe; the composer it returns serialises its own use (a
//   test's fake must too).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "contract/spec.h"
#include "core/json.h"
#include "core/result.h"
#include "rag/answer_composer.h"

namespace keel::rag {

struct Route {
  TextComposer* composer = nullptr;  //!< null: refused
  Json decision;                      //!< {"rule": "router.data_class", "decision", "detail"}
};

//! A model the router may choose: its spec id, the classes it is approved for (empty: every
//! class) and what runs it.
struct RoutedModel {
  std::string id;
  std::vector<contract::DataClass> classes;
  std::unique_ptr<TextComposer> composer;
};

class ModelRouter {
 public:
  explicit ModelRouter(std::vector<RoutedModel> models) : models_(std::move(models)) {}

  [[nodiscard]] static Result<std::unique_ptr<ModelRouter>> open(const contract::Spec& spec,
                                                                ComposerOptions options = {});

  [[nodiscard]] Route route(contract::DataClass data_class) const;

  //! The class a classification string names; restricted for a name the schema does not know.
  static contract::DataClass class_named(std::string_view name);

 private:
  std::vector<RoutedModel> models_;
};

}  // namespace keel::rag
