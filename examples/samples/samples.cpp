#include "samples/samples.h"

#include "samples/case_resolution.h"
#include "samples/order_system.h"

namespace keel::samples {

Status register_samples(agent::Catalog& catalog) {
  KEEL_RETURN_IF_ERROR(catalog.add_workflow(case_resolution_workflow()));
  return catalog.add_provider(kOrderSystemProvider,
                              [](const std::string& path) -> Result<std::shared_ptr<agent::SystemOfRecord>> {
                                KEEL_ASSIGN_OR_RETURN(auto orders, OrderSystem::open(path));
                                return std::shared_ptr<agent::SystemOfRecord>(std::move(orders));
                              });
}

const agent::Catalog& sample_catalog() {
  static const agent::Catalog catalog = [] {
    agent::Catalog c;
    Status registered = register_samples(c);
    (void)registered;  // an empty catalog cannot hold a duplicate
    return c;
  }();
  return catalog;
}

}  // namespace keel::samples
