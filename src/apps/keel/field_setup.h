// What the keel field commands and `keel eval hybrid-field` share: the device's key file, and
// the route configuration read from a hybrid-field spec.
#pragma once

#include <string>

#include "contract/spec.h"
#include "core/result.h"
#include "route/field_assistant.h"
#include "sync/conflict_rules.h"

namespace keel::app {

//! The spec's sync rules (`sync:`) as the sync layer reads them.
sync::SyncRules sync_rules_of(const contract::Spec& spec);

//! The file must hold the device's API key alone, on one line (keel keygen prints it).
[[nodiscard]] Result<std::string> read_device_key(const std::string& path);

struct CloudSettings {
  std::string url;       //!< overrides the remote model's url (e.g. a test's loopback address)
  std::string key_file;  //!< the device's key; without one there is no cloud route
  int64_t timeout_ms = 30000;
};

//! Tasks from routing.tasks; the local route from the first local generate model; the cloud
//! route from the first remote generate model, unless remote_fallback is disabled or no key is
//! given; consent from routing.consent (every class, under remote_fallback: opt-in, when it
//! names none).
[[nodiscard]] Result<route::FieldRoutingConfig> field_routing_config(const contract::Spec& spec,
                                                                     const CloudSettings& cloud);

}  // namespace keel::app
