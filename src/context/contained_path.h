// Documents stay inside their folder: a symbolic link in the documents folder that leads out of
// it (to /etc/shadow, to a home folder) must not be indexed, quoted to a model, cited or served.
//
// Contract: resolve_inside() resolves every symbolic link of root/relative and returns the real
// path when it is inside the real path of root; a path that leads outside is permission_denied
// naming where it leads, a missing one not_found. Links that stay inside the folder are fine.
// Callers resolve again right before reading (a file may be swapped for a link after a walk).
#pragma once

#include <string>

#include "core/result.h"

namespace keel::context {

[[nodiscard]] Result<std::string> resolve_inside(const std::string& root, const std::string& relative);

}  // namespace keel::context
