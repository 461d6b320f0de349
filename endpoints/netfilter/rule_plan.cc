#include "endpoints/netfilter/rule_plan.h"

#include <arpa/inet.h>

#include <cstdio>
#include <utility>

#include "absl/status/status.h"
#include "core/json.h"

namespace tng::netfilter {
namespace {

using json::Cat;

// xt_chainlabel holds 32 bytes, but the kernel and iptables accept names under
// XT_EXTENSION_MAXNAMELEN (29) characters only.
constexpr size_t kMaxChainName = 28;
constexpr size_t kMaxIpsetName = 31;    // IPSET_MAXNAMELEN - 1
constexpr size_t kMaxCgroupPath = 511;  // xt_cgroup_info_v2.path: XT_CGROUP_PATH_MAX bytes

std::string Hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

std::string Ipv4(uint32_t host_order) {
  in_addr a{htonl(host_order)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

std::string AddrTypeNames(uint16_t types) {
  static constexpr const char* kNames[] = {"UNSPEC",   "UNICAST",   "LOCAL",     "BROADCAST",
                                           "ANYCAST",  "MULTICAST", "BLACKHOLE", "UNREACHABLE",
                                           "PROHIBIT", "THROW",     "NAT",       "XRESOLVE"};
  std::string out;
  for (size_t i = 0; i < std::size(kNames); ++i) {
    if (types & (1u << i)) {
      if (!out.empty()) out += ',';
      out += kNames[i];
    }
  }
  return out;
}

struct MatchPrinter {
  std::string& out;
  void operator()(const AddrTypeMatch& m) {
    out += " -m addrtype";
    if (m.src) out += Cat(m.invert_src ? " !" : "", " --src-type ", AddrTypeNames(m.src));
    if (m.dst) out += Cat(m.invert_dst ? " !" : "", " --dst-type ", AddrTypeNames(m.dst));
  }
  void operator()(const MarkMatch& m) {
    out += Cat(" -m mark --mark ", Hex(m.mark));
    if (m.mask != 0xffffffff) out += Cat("/", Hex(m.mask));
  }
  void operator()(const PortMatch& m) {
    out += Cat(" -m tcp --dport ", m.first);
    if (m.last != m.first) out += Cat(":", m.last);
  }
  void operator()(const SetMatch& m) { out += Cat(" -m set --match-set ", m.name, " dst"); }
  // iptables-save quotes the path (xtables_save_string), escaping '"' and '\\'.
  void operator()(const CgroupMatch& m) {
    out += " -m cgroup --path \"";
    for (char c : m.path) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
};

struct TargetPrinter {
  std::string& out;
  void operator()(const ReturnTarget&) { out += " -j RETURN"; }
  void operator()(const JumpTarget& t) { out += Cat(" -j ", t.chain); }
  void operator()(const RedirectTarget& t) { out += Cat(" -j REDIRECT --to-ports ", t.port); }
  void operator()(const TproxyTarget& t) {
    out += Cat(" -j TPROXY --on-port ", t.on_port, " --on-ip ", Ipv4(t.on_ip), " --tproxy-mark ",
               Hex(t.mark), "/", Hex(t.mask));
  }
  void operator()(const MarkTarget& t) {
    out += Cat(" -j MARK --set-xmark ", Hex(t.mark), "/", Hex(t.mask));
  }
};

Rule Make(std::vector<Match> matches, Target target, bool tcp = false) {
  Rule r;
  r.tcp = tcp;
  r.matches = std::move(matches);
  r.target = std::move(target);
  return r;
}

// What one capture_dst entry (or, with none, all TCP) selects, before the per-direction extras.
struct Selector {
  std::optional<Ipv4Prefix> dst;
  std::optional<PortMatch> ports;
  std::optional<SetMatch> set;
};

absl::StatusOr<std::vector<Selector>> Selectors(const RuleSpec& spec, std::string_view where) {
  std::vector<Selector> out;
  if (spec.options.capture_dst.empty()) {
    out.emplace_back();  // all TCP
    return out;
  }
  for (size_t i = 0; i < spec.options.capture_dst.size(); ++i) {
    const config::CaptureDst& d = spec.options.capture_dst[i];
    const std::string at = Cat(where, ".capture_dst[", i, "]");
    Selector s;
    if (!d.host.empty() && !d.ipset.empty()) {
      return absl::InvalidArgumentError(Cat(at, ": host and ipset exclude each other"));
    }
    if (d.host.empty() && d.ipset.empty() && !d.port) {
      return absl::InvalidArgumentError(Cat(at, ": needs at least one of host, ipset, port"));
    }
    if (!d.host.empty()) {
      absl::StatusOr<Ipv4Prefix> p = ParseIpv4Prefix(d.host);
      if (!p.ok()) {
        return absl::InvalidArgumentError(Cat(at, ".host: ", std::string(p.status().message())));
      }
      s.dst = *p;
    }
    if (!d.ipset.empty()) {
      if (d.ipset.size() > kMaxIpsetName) {
        return absl::InvalidArgumentError(Cat(at, ".ipset: name \"", d.ipset, "\" is longer than ",
                                              kMaxIpsetName, " characters"));
      }
      s.set = SetMatch{d.ipset};
    }
    if (d.port_end && !d.port) {
      return absl::InvalidArgumentError(Cat(at, ": port_end needs port"));
    }
    if (d.port) {
      if (*d.port == 0) return absl::InvalidArgumentError(Cat(at, ".port: must be 1-65535"));
      uint16_t last = d.port_end.value_or(*d.port);
      if (last < *d.port) {
        return absl::InvalidArgumentError(Cat(at, ".port_end: ", last, " is below port ", *d.port));
      }
      s.ports = PortMatch{*d.port, last};
    }
    out.push_back(std::move(s));
  }
  return out;
}

absl::Status CheckCgroups(const RuleSpec& spec, std::string_view where) {
  for (const auto* list : {&spec.options.capture_cgroup, &spec.options.nocapture_cgroup}) {
    const char* key = list == &spec.options.capture_cgroup ? "capture_cgroup" : "nocapture_cgroup";
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string& path = (*list)[i];
      if (path.empty() || path.size() > kMaxCgroupPath) {
        return absl::InvalidArgumentError(Cat(where, ".", key, "[", i, "]: a cgroup path of 1-",
                                              kMaxCgroupPath, " characters is needed"));
      }
    }
  }
  return absl::OkStatus();
}

// The rule that captures one selector: the selector's matches in TNG's order (-d, -p tcp,
// [addrtype], [tcp ports], [set]) and the given target.
Rule Capture(const Selector& s, std::optional<AddrTypeMatch> src_check, Target target) {
  Rule r;
  r.dst = s.dst;
  r.tcp = true;
  if (src_check) r.matches.push_back(*src_check);
  if (s.ports) r.matches.push_back(*s.ports);
  if (s.set) r.matches.push_back(*s.set);
  r.target = std::move(target);
  return r;
}

// The three RETURNs that open both ingress chains: only locally generated packets to a remote
// unicast destination are for us.
void AppendIngressPrefilter(std::vector<Rule>& rules) {
  rules.push_back(Make({AddrTypeMatch{0, false, kAddrLocal, false}}, ReturnTarget{}));
  rules.push_back(Make({AddrTypeMatch{0, false, kAddrUnicast, true}}, ReturnTarget{}));
  rules.push_back(Make({AddrTypeMatch{kAddrLocal, true, 0, false}}, ReturnTarget{}));
}

Plan BuildEgress(const RuleSpec& spec, const std::vector<Selector>& selectors) {
  const config::NetfilterOptions& o = spec.options;
  const std::string main = Cat(kEgressChainPrefix, spec.id);
  const std::string cgroup = main + "_CGROUP";
  const bool has_cgroups = !o.capture_cgroup.empty() || !o.nocapture_cgroup.empty();

  TablePlan t;
  t.table = "nat";
  Chain chain{main, {}};
  chain.rules.push_back(Make({MarkMatch{o.so_mark, 0xffffffff}}, ReturnTarget{}, /*tcp=*/true));
  std::optional<AddrTypeMatch> src_check;
  if (!o.capture_local_traffic) src_check = AddrTypeMatch{kAddrLocal, true, 0, false};
  for (const Selector& s : selectors) {
    chain.rules.push_back(Capture(s, src_check, RedirectTarget{spec.listen_port}));
  }
  t.chains.push_back(std::move(chain));

  Rule jump_main = Make({}, JumpTarget{main}, /*tcp=*/true);
  if (!has_cgroups) {
    t.hooks.push_back({"PREROUTING", jump_main});
    t.hooks.push_back({"OUTPUT", jump_main});
  } else {
    Chain cg{cgroup, {}};
    for (const std::string& path : o.nocapture_cgroup) {
      cg.rules.push_back(Make({CgroupMatch{path}}, ReturnTarget{}));
    }
    if (o.capture_cgroup.empty()) {
      cg.rules.push_back(Make({}, JumpTarget{main}));
      t.hooks.push_back({"PREROUTING", jump_main});
    } else {
      for (const std::string& path : o.capture_cgroup) {
        cg.rules.push_back(Make({CgroupMatch{path}}, JumpTarget{main}));
      }
    }
    t.chains.push_back(std::move(cg));
    t.hooks.push_back({"OUTPUT", Make({}, JumpTarget{cgroup}, /*tcp=*/true)});
  }
  Plan plan;
  plan.tables.push_back(std::move(t));
  return plan;
}

Plan BuildIngress(const RuleSpec& spec, const std::vector<Selector>& selectors) {
  const config::NetfilterOptions& o = spec.options;
  const std::string base = Cat(kIngressChainPrefix, spec.id);
  const std::string pre = base + "_PREROUTING";
  const std::string stage1 = base + "_OUTPUT_STAGE_1";
  const std::string stage2 = base + "_OUTPUT_STAGE_2";
  const uint32_t fwmark = kIngressFwMarkBase + spec.id;

  TablePlan t;
  t.table = "mangle";
  Chain prerouting{pre, {}};
  AppendIngressPrefilter(prerouting.rules);
  // Unlike TNG, TPROXY takes only packets carrying this endpoint's own mark, so that two ingress
  // endpoints do not take each other's connections.
  prerouting.rules.push_back(
      Make({MarkMatch{fwmark, kFwMarkMask}},
           TproxyTarget{INADDR_LOOPBACK, spec.listen_port, fwmark, kFwMarkMask}, /*tcp=*/true));

  Chain s1{stage1, {}};
  AppendIngressPrefilter(s1.rules);
  s1.rules.push_back(Make({MarkMatch{o.so_mark, 0xffffffff}}, ReturnTarget{}, /*tcp=*/true));
  if (o.capture_cgroup.empty()) {
    s1.rules.push_back(Make({}, JumpTarget{stage2}));
  } else {
    for (const std::string& path : o.capture_cgroup) {
      s1.rules.push_back(Make({CgroupMatch{path}}, JumpTarget{stage2}));
    }
  }

  Chain s2{stage2, {}};
  for (const std::string& path : o.nocapture_cgroup) {
    s2.rules.push_back(Make({CgroupMatch{path}}, ReturnTarget{}));
  }
  // `--set-mark v/m` is stored as mark v, mask v|m.
  const MarkTarget set_mark{fwmark, fwmark | kFwMarkMask};
  for (const Selector& s : selectors) s2.rules.push_back(Capture(s, std::nullopt, set_mark));

  // libiptc keeps user chains sorted by name; listing them in that order keeps DescribePlan equal
  // to what iptables-save shows.
  t.chains.push_back(std::move(s1));
  t.chains.push_back(std::move(s2));
  t.chains.push_back(std::move(prerouting));
  t.hooks.push_back({"PREROUTING", Make({}, JumpTarget{pre}, /*tcp=*/true)});
  t.hooks.push_back({"OUTPUT", Make({}, JumpTarget{stage1}, /*tcp=*/true)});

  Plan plan;
  plan.tables.push_back(std::move(t));
  plan.route = PolicyRoute{fwmark, kFwMarkMask, kIngressRouteTableBase + spec.id};
  return plan;
}

}  // namespace

absl::StatusOr<Ipv4Prefix> ParseIpv4Prefix(std::string_view text) {
  std::string_view addr = text;
  int length = 32;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    addr = text.substr(0, slash);
    std::string_view len = text.substr(slash + 1);
    if (len.empty() || len.size() > 2) {
      return absl::InvalidArgumentError(Cat("\"", text, "\": prefix length must be 0-32"));
    }
    length = 0;
    for (char c : len) {
      if (c < '0' || c > '9') {
        return absl::InvalidArgumentError(Cat("\"", text, "\": prefix length must be 0-32"));
      }
      length = length * 10 + (c - '0');
    }
    if (length > 32) {
      return absl::InvalidArgumentError(Cat("\"", text, "\": prefix length must be 0-32"));
    }
  }
  in_addr a{};
  if (addr.size() >= INET_ADDRSTRLEN || inet_pton(AF_INET, std::string(addr).c_str(), &a) != 1) {
    return absl::InvalidArgumentError(
        Cat("\"", text, "\" is not an IPv4 address or CIDR (like 10.0.0.0/8)"));
  }
  const uint32_t mask = length == 0 ? 0 : ~uint32_t{0} << (32 - length);
  return Ipv4Prefix{ntohl(a.s_addr) & mask, static_cast<uint8_t>(length)};
}

absl::StatusOr<Plan> BuildPlan(const RuleSpec& spec) {
  const bool egress = spec.direction == Direction::kEgress;
  const std::string where = Cat(egress ? "egress netfilter " : "ingress netfilter ", spec.id);
  if (spec.listen_port == 0) {
    return absl::InvalidArgumentError(Cat(where, ": listen_port must be resolved (not 0)"));
  }
  // The longest names are TNG_INGRESS_{id}_OUTPUT_STAGE_1 and TNG_EGRESS_{id}_CGROUP.
  const size_t longest = egress ? Cat(kEgressChainPrefix, spec.id, "_CGROUP").size()
                                : Cat(kIngressChainPrefix, spec.id, "_OUTPUT_STAGE_1").size();
  if (longest > kMaxChainName) {
    return absl::InvalidArgumentError(Cat(where, ": endpoint number ", spec.id,
                                          " makes chain names longer than the kernel's ",
                                          kMaxChainName, " characters (ingress allows 0-9)"));
  }
  absl::StatusOr<std::vector<Selector>> selectors = Selectors(spec, where);
  if (!selectors.ok()) return selectors.status();
  if (absl::Status s = CheckCgroups(spec, where); !s.ok()) return s;
  if (egress) return BuildEgress(spec, *selectors);
  return BuildIngress(spec, *selectors);
}

std::string SaveLine(std::string_view chain, const Rule& rule) {
  std::string out = Cat("-A ", chain);
  if (rule.dst) out += Cat(" -d ", Ipv4(rule.dst->addr), "/", int{rule.dst->length});
  if (rule.tcp) out += " -p tcp";
  for (const Match& m : rule.matches) std::visit(MatchPrinter{out}, m);
  std::visit(TargetPrinter{out}, rule.target);
  return out;
}

std::string DescribePlan(const Plan& plan) {
  std::string out;
  for (const TablePlan& t : plan.tables) {
    out += Cat("*", t.table, "\n");
    for (const Chain& c : t.chains) out += Cat(":", c.name, " - [0:0]\n");
    for (const Hook& h : t.hooks) out += SaveLine(h.builtin_chain, h.rule) + "\n";
    for (const Chain& c : t.chains) {
      for (const Rule& r : c.rules) out += SaveLine(c.name, r) + "\n";
    }
  }
  if (plan.route) {
    const PolicyRoute& r = *plan.route;
    out += Cat("# ip rule add fwmark ", Hex(r.fwmark), "/", Hex(r.mask), " table ", r.table,
               " proto ", int{kRouteProtocol}, "\n");
    out += Cat("# ip route add local 0.0.0.0/0 dev lo table ", r.table, " proto ",
               int{kRouteProtocol}, "\n");
  }
  return out;
}

std::vector<std::string> ChainNames(const Plan& plan) {
  std::vector<std::string> out;
  for (const TablePlan& t : plan.tables) {
    for (const Chain& c : t.chains) out.push_back(c.name);
  }
  return out;
}

}  // namespace tng::netfilter
