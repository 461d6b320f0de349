// The fwmark policy route that TPROXY ingress needs (`ip rule add fwmark M/0xffffff table T` and
// `ip route add local 0.0.0.0/0 dev lo table T`), managed over rtnetlink. Both carry routing
// protocol kRouteProtocol so that ones left by a killed process can be found.
#pragma once

#include <cstdint>
#include <set>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "endpoints/netfilter/rule_plan.h"

namespace tng::netfilter {

// Adds the rule and the route; on failure neither is left behind. An existing identical rule or
// route is an error (AlreadyExists).
absl::Status AddPolicyRoute(const PolicyRoute& route);
// Deletes both; ones already gone are fine.
absl::Status DeletePolicyRoute(const PolicyRoute& route);
// Deletes every IPv4 policy rule and route carrying kRouteProtocol whose table is not in
// `keep_tables`; returns how many objects were deleted.
absl::StatusOr<int> RemoveTaggedPolicyRoutes(const std::set<uint32_t>& keep_tables);

}  // namespace tng::netfilter
