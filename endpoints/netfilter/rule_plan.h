// The netfilter rules of one capture endpoint as plain data: chains, rules (iptables matches and
// targets) and the policy route, built from a RuleSpec in TNG's layout and printable in
// iptables-save form. The libiptc writer (iptc_table.h) turns them into kernel entries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "endpoints/netfilter/rule_spec.h"

namespace tng::netfilter {

// An IPv4 network; addr is in host byte order with the host bits cleared.
struct Ipv4Prefix {
  uint32_t addr = 0;
  uint8_t length = 32;
};
// "10.1.2.3" (a /32) or "10.0.0.0/8"; host bits are cleared as iptables does.
absl::StatusOr<Ipv4Prefix> ParseIpv4Prefix(std::string_view text);

// Address types of the addrtype match (the kernel's XT_ADDRTYPE_* bits).
inline constexpr uint16_t kAddrUnicast = 1 << 1;
inline constexpr uint16_t kAddrLocal = 1 << 2;

// -m addrtype [!] --src-type T [!] --dst-type T (a zero type is left out).
struct AddrTypeMatch {
  uint16_t src = 0;
  bool invert_src = false;
  uint16_t dst = 0;
  bool invert_dst = false;
};
// -m mark --mark mark[/mask]
struct MarkMatch {
  uint32_t mark = 0;
  uint32_t mask = 0xffffffff;
};
// -m tcp --dport first[:last]
struct PortMatch {
  uint16_t first = 0;
  uint16_t last = 0;
};
// -m set --match-set name dst
struct SetMatch {
  std::string name;
};
// -m cgroup --path path (cgroup v2; only valid for locally generated packets)
struct CgroupMatch {
  std::string path;
};
using Match = std::variant<AddrTypeMatch, MarkMatch, PortMatch, SetMatch, CgroupMatch>;

struct ReturnTarget {};
struct JumpTarget {
  std::string chain;
};
// -j REDIRECT --to-ports port (nat)
struct RedirectTarget {
  uint16_t port = 0;
};
// -j TPROXY --on-port port --on-ip ip --tproxy-mark mark/mask (mangle PREROUTING)
struct TproxyTarget {
  uint32_t on_ip = 0;  // host byte order
  uint16_t on_port = 0;
  uint32_t mark = 0;
  uint32_t mask = 0;
};
// -j MARK --set-xmark mark/mask (the form iptables stores `--set-mark value/mask` in)
struct MarkTarget {
  uint32_t mark = 0;
  uint32_t mask = 0;
};
using Target = std::variant<ReturnTarget, JumpTarget, RedirectTarget, TproxyTarget, MarkTarget>;

struct Rule {
  std::optional<Ipv4Prefix> dst;  // -d
  bool tcp = false;               // -p tcp
  std::vector<Match> matches;     // in this order
  Target target;
};

struct Chain {
  std::string name;
  std::vector<Rule> rules;
};

// A rule put first into a built-in chain (PREROUTING, OUTPUT) that jumps into our chains.
struct Hook {
  std::string builtin_chain;
  Rule rule;
};

struct TablePlan {
  std::string table;  // "nat" or "mangle"
  std::vector<Chain> chains;
  std::vector<Hook> hooks;
};

// `ip rule add fwmark fwmark/mask table table` + `ip route add local 0.0.0.0/0 dev lo table table`.
struct PolicyRoute {
  uint32_t fwmark = 0;
  uint32_t mask = 0;
  uint32_t table = 0;
  friend bool operator==(const PolicyRoute&, const PolicyRoute&) = default;
};

struct Plan {
  std::vector<TablePlan> tables;
  std::optional<PolicyRoute> route;
};

// Checks the spec (ports, names, lengths) and lays out its rules:
//
// egress (nat):  PREROUTING and OUTPUT -p tcp -j TNG_EGRESS_{id}
//   TNG_EGRESS_{id}: -p tcp -m mark --mark so_mark -j RETURN; [nocapture_cgroup → RETURN];
//                    one REDIRECT --to-ports listen_port per capture_dst (or one for all TCP),
//                    with `-m addrtype ! --src-type LOCAL` unless capture_local_traffic.
//   With capture_cgroup / nocapture_cgroup the cgroup rules live in TNG_EGRESS_{id}_CGROUP, jumped
//   to from OUTPUT only (the kernel refuses cgroup matches reachable from PREROUTING, where
//   packets have no local socket); with capture_cgroup, PREROUTING does not jump at all.
// ingress (mangle), TNG's two-stage layout:
//   PREROUTING -p tcp -j TNG_INGRESS_{id}_PREROUTING: RETURN for local / non-unicast destinations
//     and non-local sources, then TPROXY to 127.0.0.1:listen_port with the capture fwmark;
//   OUTPUT -p tcp -j TNG_INGRESS_{id}_OUTPUT_STAGE_1: the same RETURNs plus so_mark RETURN, then
//     jump to STAGE_2 (per capture_cgroup, or unconditionally); STAGE_2: nocapture_cgroup RETURN,
//     then MARK with the capture fwmark per capture_dst (or for all TCP); the policy route sends
//     marked packets through lo into PREROUTING.
absl::StatusOr<Plan> BuildPlan(const RuleSpec& spec);

// One rule as iptables-legacy-save prints it, e.g.
// "-A TNG_EGRESS_0 -d 10.1.0.0/16 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 40000".
std::string SaveLine(std::string_view chain, const Rule& rule);

// The plan as iptables-save lines ("*nat", ":CHAIN - [0:0]", hooks as "-A PREROUTING ...",
// chain rules) plus "# ip rule/route" lines, for logs and messages.
std::string DescribePlan(const Plan& plan);

// All chain names of a plan.
std::vector<std::string> ChainNames(const Plan& plan);

}  // namespace tng::netfilter
