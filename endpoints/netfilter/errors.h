// Errors of the netfilter rule manager: a failed system call becomes a status that names what was
// being done and, when the kernel said "not permitted", the capability that is missing.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace tng::netfilter {

// EPERM / EACCES → PermissionDenied "<what>: needs <capability> (...): Operation not permitted";
// anything else → Internal (or Unavailable for EAGAIN/EBUSY) "<what>: <strerror>".
absl::Status SyscallError(int err, std::string_view what,
                          std::string_view capability = "CAP_NET_ADMIN");

}  // namespace tng::netfilter
