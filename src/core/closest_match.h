// "Did you mean ...?" for names people type: unknown spec keys, unknown subcommands.
//
// Contract: edit_distance counts the insertions, deletions, substitutions and swaps of two
// neighbouring bytes that turn one string into the other (optimal string alignment). closest_match returns the
// candidate nearest to `word` when it is close enough to be a typo (distance below
// max(2, size/3)), ties to the earliest candidate; "" when none is.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace keel {

size_t edit_distance(std::string_view a, std::string_view b);

std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace keel
