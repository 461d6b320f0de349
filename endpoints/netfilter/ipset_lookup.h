// Looks up an ipset's kernel index by name: the `set` match refers to sets by index, so rules
// naming an ipset need it (the same query iptables' libxt_set makes).
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"

namespace tng::netfilter {

// NotFound when no set of that name exists in this network namespace; PermissionDenied (naming
// CAP_NET_ADMIN) when the query is not permitted.
absl::StatusOr<uint16_t> IpsetIndex(std::string_view name);

}  // namespace tng::netfilter
