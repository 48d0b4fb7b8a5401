// Where the `keel` command finds the examples it ships (a default spec, a demo key) when the
// user names none: the working folder first, then the repository the binary was built in
// (`<repo>/build/keel` finds `<repo>/examples/...`), so defaults work from any folder.
#pragma once

#include <string>

namespace keel::app {

//! `relative` (e.g. "examples/durable-agent.yaml") as found; `relative` itself when neither
//! place has it (the error that follows then names it).
std::string bundled_example(const std::string& relative);

}  // namespace keel::app
