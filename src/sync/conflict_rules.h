// Reconciling a queued mutation with a newer server version of its record, field by field, by
// the spec's rules (sync.rules): the device replays only what still means something.
//
// Contract:
// - A field the server left as it was at the mutation's base is kept (the mutation is rebased
//   onto the new version). A field both sides changed is a conflict, resolved by its rule:
//   server-wins drops the device's value; device-wins keeps it; merge joins two strings (the
//   server's text, a new line, the device's; one already holding the other is kept as it is) and
//   keeps the device's value of any other type; ask holds the whole mutation for the user (it
//   is not sent until `keel field resolve`). A device value equal to the server's is dropped:
//   there is nothing left to change.
// - rebase() never reorders or splits a mutation; its id stays. A mutation left with no field
//   is dropped (nothing to send).
// - Rules are looked up as "collection.field", then "field", then the default.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"
#include "sync/mutation.h"

namespace keel::sync {

enum class FieldRule { server_wins, device_wins, merge, ask };
std::string_view field_rule_name(FieldRule r);
std::optional<FieldRule> field_rule_named(std::string_view name);

struct SyncRules {
  std::map<std::string, FieldRule> fields;  //!< "collection.field" or "field"
  FieldRule fallback = FieldRule::server_wins;
  FieldRule rule_for(const std::string& collection, const std::string& field) const;
};

struct FieldResolution {
  std::string field;
  FieldRule rule;
  Json server, device, result;  //!< result null when the field was dropped
};

struct Rebase {
  std::optional<Mutation> mutation;  //!< nullopt: nothing left to send
  bool held = false;                 //!< an `ask` field: wait for the user
  std::vector<FieldResolution> conflicts;
};

[[nodiscard]] Rebase rebase(const Mutation& m, int64_t server_version, const Json& server_fields,
                            const SyncRules& rules);

}  // namespace keel::sync
