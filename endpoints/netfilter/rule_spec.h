// What one netfilter endpoint asks the kernel to capture: its options from the configuration,
// its number (which names its chains) and its listener port, resolved before rules are built.
#pragma once

#include <cstdint>
#include <string_view>

#include "endpoints/config/options.h"

namespace tng::netfilter {

// Egress captures connections to a local service with nat REDIRECT (original destination from
// SO_ORIGINAL_DST); ingress captures outgoing connections with mangle TPROXY and a fwmark policy
// route (original destination = the accepted socket's local address).
enum class Direction { kIngress, kEgress };

struct RuleSpec {
  Direction direction = Direction::kEgress;
  // The endpoint's index in add_ingress / add_egress, as TNG numbers them: chains are
  // TNG_EGRESS_{id}[_CGROUP] and TNG_INGRESS_{id}_{PREROUTING,OUTPUT_STAGE_1,OUTPUT_STAGE_2}; an
  // ingress also uses fwmark kIngressFwMarkBase + id and route table kIngressRouteTableBase + id.
  uint32_t id = 0;
  uint16_t listen_port = 0;  // where captured connections arrive; must be set (not 0)
  // capture_dst, capture_cgroup, nocapture_cgroup, capture_local_traffic (egress), so_mark.
  // options.listen_port is ignored: listen_port above is the resolved one.
  config::NetfilterOptions options;
};

inline RuleSpec EgressSpec(uint32_t id, const config::NetfilterOptions& options,
                           uint16_t listen_port) {
  return RuleSpec{Direction::kEgress, id, listen_port, options};
}
inline RuleSpec IngressSpec(uint32_t id, const config::NetfilterOptions& options,
                            uint16_t listen_port) {
  return RuleSpec{Direction::kIngress, id, listen_port, options};
}

// Chain names start with these; rules left by a killed process are found by them.
inline constexpr std::string_view kEgressChainPrefix = "TNG_EGRESS_";
inline constexpr std::string_view kIngressChainPrefix = "TNG_INGRESS_";
// TPROXY marks captured packets with kIngressFwMarkBase + id under kFwMarkMask, and the policy
// rule sends that mark to route table kIngressRouteTableBase + id (TNG's numbers).
inline constexpr uint32_t kIngressFwMarkBase = 566;
inline constexpr uint32_t kIngressRouteTableBase = 239;
inline constexpr uint32_t kFwMarkMask = 0xffffff;
// Policy rules and routes we add carry this routing protocol number ("proto 116" in `ip rule` and
// `ip route`), so that ones left by a killed process can be told apart from anybody else's.
inline constexpr uint8_t kRouteProtocol = 116;
// The listener address TPROXY hands captured connections to.
inline constexpr std::string_view kTproxyListenHost = "127.0.0.1";

}  // namespace tng::netfilter
