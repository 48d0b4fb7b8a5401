// Fuzz target: what a sync server reads from a device (a mutation of a push body) and what a
// device reads from a server (an outcome, a change). Whatever the bytes: no crash; an accepted
// mutation round-trips, and rebasing it on any server version keeps its id and sets only
// fields it set.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/json.h"
#include "sync/conflict_rules.h"
#include "sync/mutation.h"
#include "sync/server_ledger.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto json = keel::parse_json(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!json.ok()) return 0;
  (void)keel::sync::parse_outcome(*json);
  (void)keel::sync::parse_change(*json);
  auto m = keel::sync::parse_mutation(*json);
  if (!m.ok()) return 0;
  auto again = keel::sync::parse_mutation(m->to_json());
  if (!again.ok() || again->to_json() != m->to_json()) std::abort();
  keel::sync::SyncRules rules;
  rules.fallback = static_cast<keel::sync::FieldRule>(size % 4);
  const keel::Json server = m->base.empty() ? keel::Json{{"status", "open"}} : m->base;
  for (int64_t version : {m->base_version, m->base_version + 1}) {
    keel::sync::Rebase b = keel::sync::rebase(*m, version, server, rules);
    if (!b.mutation) continue;
    if (b.mutation->id() != m->id()) std::abort();
    for (const auto& [field, value] : b.mutation->set.items())
      if (!m->set.contains(field)) std::abort();
  }
  return 0;
}
