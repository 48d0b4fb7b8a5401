// The tests' identity provider: the examples' one (samples/sample_idp.h).
#pragma once

#include "samples/sample_idp.h"

namespace keel::testing {

using TestIdp = samples::SampleIdp;

}  // namespace keel::testing
