// What a device offers the edge runtime: its delegates in order of preference, the operators
// each runs and the limits it has (channels, kernel size, dilation, groups), and its class
// (for staged updates). The portable CPU delegate ("cpu": Keel's own kernels) runs everything
// the runtime implements and is always last, whether the profile names it or not; an
// accelerator-like delegate's coverage can be planned and tested without the hardware.
//
//   keel_device: 1
//   name: phone-npu
//   class: phone-2024
//   delegates:
//     - id: npu
//       ops: [Conv, Relu, Clip, MaxPool, AveragePool, GlobalAveragePool, Add, Concat]
//       limits: {max_channels: 256, max_kernel: 5, dilation: false, grouped: false,
//                depthwise: true}
//
// Contract: load_device_profile() reads the file with the one YAML reader: unknown keys, a
// missing name, an empty ops list, a delegate id twice, or a negative limit are
// invalid_argument errors naming the key and line.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace keel::edge {

inline constexpr std::string_view kPortableDelegate = "cpu";

struct DelegateLimits {
  int64_t max_channels = 0;  //!< 0: no limit (input and output channels of Conv)
  int64_t max_kernel = 0;    //!< 0: no limit (each spatial side of a Conv or pool window)
  bool dilation = true;      //!< dilated Conv supported
  bool grouped = true;       //!< grouped Conv (1 < group < channels) supported
  bool depthwise = true;     //!< depthwise Conv (group == channels) supported
};

struct DelegateProfile {
  std::string id;
  std::set<std::string, std::less<>> ops;  //!< empty for the portable delegate: everything
  DelegateLimits limits;
  bool portable() const { return id == kPortableDelegate; }
};

struct DeviceProfile {
  std::string name;
  std::string device_class;
  std::vector<DelegateProfile> delegates;  //!< preference order; ends with the portable one
};

[[nodiscard]] Result<DeviceProfile> parse_device_profile(std::string_view yaml,
                                                         std::string_view file);
[[nodiscard]] Result<DeviceProfile> load_device_profile(const std::string& path);
//! Only the portable CPU delegate (a device with no accelerator).
DeviceProfile portable_only_profile();

}  // namespace keel::edge
