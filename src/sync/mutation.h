// A change a field device makes to one record, sent as a command: who made it (device), its
// place in that device's sequence, the record, the version it was made on, the fields it sets
// and what those fields held at that version (for rebasing it on a newer one).
//
// Contract:
// - The mutation id is "<device>:<seq>"; a server applies each id at most once.
// - parse_mutation() takes untrusted JSON (a push body): unknown keys, wrong types, a device or
//   collection that is not a plain name, a record id over 128 bytes, seq < 1, base_version < 0,
//   a `set` that is empty or holds anything but strings, numbers, booleans and null, a text
//   holding NUL, more than 64 fields: invalid_argument naming the field. to_json() and parse_mutation() round-trip.
#pragma once

#include <cstdint>
#include <string>

#include "core/json.h"
#include "core/result.h"

namespace keel::sync {

struct Mutation {
  std::string device;
  int64_t seq = 0;
  std::string collection;
  std::string record;
  int64_t base_version = 0;  //!< 0: made on no server version (a new record)
  Json set = Json::object();   //!< field -> value
  Json base = Json::object();  //!< field -> value at base_version (absent: the field did not exist)

  std::string id() const { return device + ":" + std::to_string(seq); }
  Json to_json() const;
};

[[nodiscard]] Result<Mutation> parse_mutation(const Json& j);

//! A plain name: 1 to 64 of [A-Za-z0-9._-].
bool is_plain_name(std::string_view s);

//! What a server did with one mutation.
struct MutationOutcome {
  std::string mutation_id;
  std::string outcome;     //!< applied | duplicate | conflict
  int64_t version = 0;     //!< the record's version after it (conflict: the current one)
  Json fields = Json::object();  //!< the record's fields at that version

  Json to_json() const;
};

[[nodiscard]] Result<MutationOutcome> parse_outcome(const Json& j);

}  // namespace keel::sync
