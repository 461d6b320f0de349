// The endpoint kinds that ingress and egress share: mapping (rules[] or the single in/out pair),
// mapping_udp and netfilter.
#include <cstdint>

#include "endpoints/config/schema_parts.h"

namespace tng::config::internal {
namespace {

using json::Cat;

struct RuleEnd {
  HostPort hp;
  std::optional<uint16_t> port_end;
  json::Cursor port_cursor;
};

// One side of a mapping rule: {host, port, port_end}. The in side listens (host optional, an IP
// literal), the out side is dialed (host required).
absl::StatusOr<RuleEnd> ReadRuleEnd(const json::Cursor& c, bool listen) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(ExpectKeys(r, {"host", "port", "port_end"}));
  HostPort hp;
  if (listen) {
    hp.host = "0.0.0.0";
    if (auto host = r.Optional("host")) {
      CONFIG_ASSIGN_OR_RETURN(hp.host, ReadIpLiteral(*host));
    }
  } else {
    CONFIG_ASSIGN_OR_RETURN(json::Cursor host, r.Required("host"));
    CONFIG_ASSIGN_OR_RETURN(hp.host, ReadHostName(host));
  }
  CONFIG_ASSIGN_OR_RETURN(json::Cursor port, r.Required("port"));
  CONFIG_ASSIGN_OR_RETURN(hp.port, port.GetPort());
  CONFIG_ASSIGN_OR_RETURN(std::optional<uint16_t> port_end, ReadOptionalPort(r, "port_end"));
  CONFIG_RETURN_IF_ERROR(CheckPortRange(r, hp.port, port_end));
  return RuleEnd{std::move(hp), port_end, port};
}

// `r` holds "in" and "out": a rules[] element, or the legacy mapping object itself. The in side is
// read first so that problems are reported in document order.
absl::StatusOr<MappingRule> ReadRule(json::ObjectReader& r, Context& ctx) {
  CONFIG_ASSIGN_OR_RETURN(json::Cursor in_cursor, r.Required("in"));
  CONFIG_ASSIGN_OR_RETURN(RuleEnd in, ReadRuleEnd(in_cursor, /*listen=*/true));
  CONFIG_ASSIGN_OR_RETURN(json::Cursor out_cursor, r.Required("out"));
  CONFIG_ASSIGN_OR_RETURN(RuleEnd out, ReadRuleEnd(out_cursor, /*listen=*/false));
  uint32_t in_count = in.port_end.value_or(in.hp.port) - in.hp.port + 1;
  uint32_t out_count = out.port_end.value_or(out.hp.port) - out.hp.port + 1;
  if (in_count != out_count) {
    return out.port_cursor.Error(Cat(
        "the in range has ", in_count, " port(s) (", in.hp.port, "-",
        in.port_end.value_or(in.hp.port), ") but the out range has ", out_count, " (", out.hp.port,
        "-", out.port_end.value_or(out.hp.port), "); both ranges must be the same length"));
  }
  MappingRule rule;
  rule.in = std::move(in.hp);
  rule.out = std::move(out.hp);
  rule.port_end = in.port_end.value_or(0);
  ctx.Listen(in.port_cursor, "tcp", rule.in.host, rule.in.port, in.port_end.value_or(rule.in.port));
  return rule;
}

absl::StatusOr<CaptureDst> ReadCaptureDst(const json::Cursor& c) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(ExpectKeys(r, {"host", "ipset", "port", "port_end"}));
  CaptureDst dst;
  if (auto host = r.Optional("host")) {
    CONFIG_ASSIGN_OR_RETURN(dst.host, ReadIpv4OrCidr(*host));
  }
  if (auto ipset = r.Optional("ipset")) {
    if (!dst.host.empty()) {
      return r.KeyError("ipset", "\"host\" and \"ipset\" cannot both be set; use one of them");
    }
    CONFIG_ASSIGN_OR_RETURN(dst.ipset, ipset->GetNonEmptyString());
  }
  CONFIG_ASSIGN_OR_RETURN(dst.port, ReadOptionalPort(r, "port"));
  CONFIG_ASSIGN_OR_RETURN(dst.port_end, ReadOptionalPort(r, "port_end"));
  CONFIG_RETURN_IF_ERROR(CheckPortRange(r, dst.port, dst.port_end));
  if (dst.host.empty() && dst.ipset.empty() && !dst.port) {
    return c.Error("a capture rule needs at least one of \"host\", \"ipset\" and \"port\"");
  }
  return dst;
}

}  // namespace

absl::StatusOr<MappingOptions> ReadMapping(const json::Cursor& c, Context& ctx) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(ExpectKeys(r, {"rules", "in", "out"}));
  MappingOptions m;
  if (r.Has("rules")) {
    for (std::string_view legacy : {"in", "out"}) {
      if (r.Has(legacy)) {
        return r.KeyError(legacy,
                          "use either \"rules\" or the single \"in\"/\"out\" pair, not both");
      }
    }
    CONFIG_ASSIGN_OR_RETURN(json::Cursor rules, r.Required("rules"));
    CONFIG_ASSIGN_OR_RETURN(std::vector<json::Cursor> items, rules.GetArray());
    if (items.empty()) return rules.Error("expected at least one rule, got an empty array");
    for (const json::Cursor& item : items) {
      CONFIG_ASSIGN_OR_RETURN(json::ObjectReader ir, json::ObjectReader::Open(item));
      CONFIG_RETURN_IF_ERROR(ExpectKeys(ir, {"in", "out"}));
      CONFIG_ASSIGN_OR_RETURN(MappingRule rule, ReadRule(ir, ctx));
      m.rules.push_back(std::move(rule));
    }
    return m;
  }
  if (!r.Has("in") && !r.Has("out")) {
    return c.Error("expected \"rules\" (or the single \"in\" and \"out\" pair)");
  }
  CONFIG_ASSIGN_OR_RETURN(MappingRule rule, ReadRule(r, ctx));
  m.rules.push_back(std::move(rule));
  return m;
}

absl::StatusOr<MappingUdpOptions> ReadMappingUdp(const json::Cursor& c, Context& ctx) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(ExpectKeys(r, {"in", "out", "idle_timeout_secs"}));
  MappingUdpOptions m;
  CONFIG_ASSIGN_OR_RETURN(json::Cursor in, r.Required("in"));
  CONFIG_ASSIGN_OR_RETURN(m.in, ReadListenEndpoint(in, ctx, "udp"));
  CONFIG_ASSIGN_OR_RETURN(json::Cursor out, r.Required("out"));
  CONFIG_ASSIGN_OR_RETURN(m.out, ReadDialEndpoint(out));
  if (auto idle = r.Optional("idle_timeout_secs")) {
    CONFIG_ASSIGN_OR_RETURN(m.idle_timeout_s, idle->GetUnsigned(1, UINT32_MAX));
  }
  return m;
}

absl::StatusOr<NetfilterOptions> ReadNetfilter(const json::Cursor& c, bool egress, Context& ctx) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  if (egress) {
    CONFIG_RETURN_IF_ERROR(ExpectKeys(r, {"capture_dst", "capture_local_traffic", "capture_cgroup",
                                          "nocapture_cgroup", "listen_port", "so_mark"}));
  } else {
    // `dst` is the TNG 2.0 form of capture_dst.
    CONFIG_RETURN_IF_ERROR(ExpectKeys(
        r, {"capture_dst", "capture_cgroup", "nocapture_cgroup", "listen_port", "so_mark", "dst"}));
  }
  NetfilterOptions nf;
  if (r.Has("dst") && r.Has("capture_dst")) {
    return r.KeyError("dst",
                      "\"dst\" is the old name of \"capture_dst\"; keep only "
                      "\"capture_dst\"");
  }
  std::optional<json::Cursor> dst = r.Optional("capture_dst");
  if (!dst) dst = r.Optional("dst");
  if (dst) {
    CONFIG_ASSIGN_OR_RETURN(std::vector<json::Cursor> items, dst->GetOneOrMany());
    for (const json::Cursor& item : items) {
      CONFIG_ASSIGN_OR_RETURN(CaptureDst d, ReadCaptureDst(item));
      nf.capture_dst.push_back(std::move(d));
    }
  }
  if (egress) {
    CONFIG_ASSIGN_OR_RETURN(nf.capture_local_traffic,
                            ReadOptionalBool(r, "capture_local_traffic", false));
  }
  CONFIG_ASSIGN_OR_RETURN(nf.capture_cgroup, ReadOptionalStrings(r, "capture_cgroup"));
  CONFIG_ASSIGN_OR_RETURN(nf.nocapture_cgroup, ReadOptionalStrings(r, "nocapture_cgroup"));
  if (auto port = r.Optional("listen_port")) {
    CONFIG_ASSIGN_OR_RETURN(nf.listen_port, port->GetPort());
    ctx.Listen(*port, "tcp", "0.0.0.0", *nf.listen_port, *nf.listen_port);
  }
  if (auto mark = r.Optional("so_mark")) {
    CONFIG_ASSIGN_OR_RETURN(uint64_t so_mark, mark->GetUnsigned(0, UINT32_MAX));
    nf.so_mark = static_cast<uint32_t>(so_mark);
  }
  return nf;
}

}  // namespace tng::config::internal
