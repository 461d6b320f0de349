// Checks a capture_cgroup / nocapture_cgroup path before a rule uses it: the kernel's cgroup match
// resolves paths in the cgroup v2 hierarchy and only says "Invalid argument" when one is missing.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace tng::netfilter {

// NotFound naming the directory it looked for when the path does not exist in the mounted cgroup2
// hierarchy; Unavailable when this mount namespace has no cgroup2 mount to look in (the kernel
// still checks the path when a rule with it is committed).
absl::Status CheckCgroupV2Path(std::string_view path);

}  // namespace tng::netfilter
