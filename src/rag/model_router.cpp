#include "rag/model_router.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "engine/memory_fit.h"

namespace keel::rag {

Result<std::unique_ptr<ModelRouter>> ModelRouter::open(const contract::Spec& spec, ComposerOptions options) {
  std::vector<RoutedModel> models;
  for (const auto& m : spec.deployment.models) {
    if (m.role != contract::ModelRole::generate || m.runs != contract::ModelPlacement::local) continue;
    // The model, or the first of its approved fallbacks, that fits before anything is loaded.
    auto path_of = [&](const contract::ModelSpec& x) {
      return x.path.empty() || x.path[0] == '/' ? x.path : spec.base_dir + "/" + x.path;
    };
    std::vector<engine::ModelCandidate> candidates = {{m.id, path_of(m), m.max_ram_mb}};
    if (spec.failure.on_model_unfit == contract::OnModelUnfit::fallback)
      for (const auto& f : m.fallbacks)
        if (const contract::ModelSpec* fb = spec.find_model(f)) candidates.push_back({fb->id, path_of(*fb), fb->max_ram_mb});
    engine::ContextOptions context;
    context.n_ctx = options.n_ctx;
    auto fit = engine::choose_model(candidates, context);
    if (!fit.ok()) return Status(fit.status().code(), fmt::format("model {}: {}", m.id, fit.status().message()));
    auto composer = AnswerComposer::open(fit->chosen.id, fit->chosen.path, options);
    if (!composer.ok())
      return Status(composer.status().code(),
                    fmt::format("model {} ({}): {}", fit->chosen.id, fit->chosen.path, composer.status().message()));
    models.push_back({m.id, m.classes, std::move(*composer)});
  }
  return std::make_unique<ModelRouter>(std::move(models));
}

contract::DataClass ModelRouter::class_named(std::string_view name) {
  for (const auto& e : contract::enum_entries<contract::DataClass>())
    if (e.name == name) return e.value;
  return contract::DataClass::restricted;
}

Route ModelRouter::route(contract::DataClass data_class) const {
  const std::string_view class_name = contract::enum_name(data_class);
  std::vector<std::string> refused;
  for (const auto& c : models_) {
    if (c.classes.empty() || std::find(c.classes.begin(), c.classes.end(), data_class) != c.classes.end())
      return {c.composer.get(),
              {{"rule", "router.data_class"},
               {"decision", "allow"},
               {"detail", fmt::format("{} is approved for {} data", c.id, class_name)}}};
    refused.push_back(c.id);
  }
  std::string detail = refused.empty()
                           ? std::string("the spec has no local generate model")
                           : fmt::format("no model is approved for {} data ({} {} not)", class_name,
                                         fmt::join(refused, ", "), refused.size() == 1 ? "is" : "are");
  return {nullptr, {{"rule", "router.data_class"}, {"decision", "deny"}, {"detail", detail}}};
}

}  // namespace keel::rag
