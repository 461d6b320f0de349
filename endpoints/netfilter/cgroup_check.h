// Checks a capture_cgroup / nocapture_cgroup path before a rule uses it: the kernel's cgroup match
// resolves paths in the cgroup v2 hierarchy and only says "Invalid argument" when one is missing.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace tng::netfilter {

// FailedPrecondition when no cgroup2 file system is mounted; NotFound naming the directory it
// looked for when the path does not exist there.
absl::Status CheckCgroupV2Path(std::string_view path);

}  // namespace tng::netfilter
