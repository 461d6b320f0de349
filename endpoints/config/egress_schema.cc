// One `add_egress` entry: exactly one kind (mapping, netfilter, hook, mapping_udp) plus the common
// keys (ohttp / decap_from_http, direct_forward, rats_tls, quic, no_ra / attest / verify).
#include "endpoints/config/schema_parts.h"

namespace tng::config::internal {
namespace {

using json::Cat;

absl::StatusOr<EgressHookOptions::Listen> ReadHookListen(const json::Cursor& c) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(ExpectKeys(
      r, {"host", "ifname", "port", "port_end", "redirect_to_port", "redirect_to_port_end"}));
  EgressHookOptions::Listen l;
  if (auto host = r.Optional("host")) {
    CONFIG_ASSIGN_OR_RETURN(l.host, ReadIpv4(*host));
  }
  if (auto ifname = r.Optional("ifname")) {
    CONFIG_ASSIGN_OR_RETURN(l.ifname, ifname->GetNonEmptyString());
  }
  CONFIG_ASSIGN_OR_RETURN(json::Cursor port, r.Required("port"));
  CONFIG_ASSIGN_OR_RETURN(l.port, port.GetPort());
  CONFIG_ASSIGN_OR_RETURN(l.port_end, ReadOptionalPort(r, "port_end"));
  CONFIG_RETURN_IF_ERROR(CheckPortRange(r, l.port, l.port_end));
  CONFIG_ASSIGN_OR_RETURN(l.redirect_to_port, ReadOptionalPort(r, "redirect_to_port"));
  CONFIG_ASSIGN_OR_RETURN(l.redirect_to_port_end, ReadOptionalPort(r, "redirect_to_port_end"));
  if (l.redirect_to_port_end && !l.redirect_to_port) {
    return r.KeyError("redirect_to_port_end",
                      "\"redirect_to_port_end\" needs \"redirect_to_port\"");
  }
  if (l.redirect_to_port && l.port_end && !l.redirect_to_port_end) {
    return r.KeyError("redirect_to_port",
                      "a port range (port_end) redirected to fixed ports needs "
                      "\"redirect_to_port_end\" too");
  }
  if (l.redirect_to_port_end) {
    if (*l.redirect_to_port_end < *l.redirect_to_port) {
      return r.KeyError("redirect_to_port_end",
                        Cat("redirect_to_port_end (", *l.redirect_to_port_end,
                            ") must be >= redirect_to_port (", *l.redirect_to_port, ")"));
    }
    if (*l.redirect_to_port_end - *l.redirect_to_port != l.port_end.value_or(l.port) - l.port) {
      return r.KeyError(
          "redirect_to_port_end",
          Cat("the redirect range has ", *l.redirect_to_port_end - *l.redirect_to_port + 1,
              " port(s) but the captured range has ", l.port_end.value_or(l.port) - l.port + 1));
    }
  }
  return l;
}

absl::StatusOr<EgressHookOptions> ReadHook(const json::Cursor& c) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(ExpectKeys(r, {"capture_listen", "capture_local_traffic"}));
  EgressHookOptions h;
  if (auto listen = r.Optional("capture_listen")) {
    CONFIG_ASSIGN_OR_RETURN(std::vector<json::Cursor> items, listen->GetOneOrMany());
    for (const json::Cursor& item : items) {
      CONFIG_ASSIGN_OR_RETURN(EgressHookOptions::Listen l, ReadHookListen(item));
      h.capture_listen.push_back(std::move(l));
    }
  }
  CONFIG_ASSIGN_OR_RETURN(h.capture_local_traffic,
                          ReadOptionalBool(r, "capture_local_traffic", false));
  return h;
}

absl::StatusOr<std::vector<DirectForwardRule>> ReadDirectForward(const json::Cursor& c) {
  CONFIG_ASSIGN_OR_RETURN(std::vector<json::Cursor> items, c.GetArray());
  std::vector<DirectForwardRule> rules;
  for (const json::Cursor& item : items) {
    CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(item));
    CONFIG_RETURN_IF_ERROR(ExpectKeys(r, {"http_path"}));
    CONFIG_ASSIGN_OR_RETURN(json::Cursor path, r.Required("http_path"));
    DirectForwardRule rule;
    CONFIG_ASSIGN_OR_RETURN(rule.http_path, path.GetNonEmptyString());
    rules.push_back(std::move(rule));
  }
  return rules;
}

const std::initializer_list<std::string_view> kEgressKinds = {"mapping", "netfilter", "hook",
                                                              "mapping_udp"};

}  // namespace

absl::Status ReadEgress(const json::Cursor& c, size_t index, Context& ctx, EgressOptions& out) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(
      ExpectKeys(r, {"mapping", "netfilter", "hook", "mapping_udp", "ohttp", "decap_from_http",
                     "direct_forward", "rats_tls", "quic", "no_ra", "attest", "verify"}));
  out.id = Cat("egress-", index);
  out.json_path = c.path();

  std::string_view kind;
  for (std::string_view k : kEgressKinds) {
    if (!r.Has(k)) continue;
    if (!kind.empty()) {
      return r.KeyError(k, Cat("an egress has exactly one kind, but both \"", kind, "\" and \"", k,
                               "\" are set (use one add_egress entry per kind)"));
    }
    kind = k;
  }
  if (kind.empty()) {
    return c.Error(Cat("missing the egress kind: expected one of ", QuotedChoices(kEgressKinds)));
  }
  CONFIG_ASSIGN_OR_RETURN(json::Cursor k, r.Required(kind));
  if (kind == "mapping") {
    CONFIG_ASSIGN_OR_RETURN(out.mapping, ReadMapping(k, ctx));
  } else if (kind == "netfilter") {
    CONFIG_ASSIGN_OR_RETURN(out.netfilter, ReadNetfilter(k, /*egress=*/true, ctx));
  } else if (kind == "hook") {
    CONFIG_ASSIGN_OR_RETURN(out.hook, ReadHook(k));
  } else {
    CONFIG_ASSIGN_OR_RETURN(out.mapping_udp, ReadMappingUdp(k, ctx));
  }
  if (kind != "mapping" && kind != "netfilter") ctx.NotYet(k.path(), Cat("egress kind ", kind));

  if (r.Has("ohttp") && r.Has("decap_from_http")) {
    return r.KeyError("decap_from_http",
                      "\"decap_from_http\" is the old name of \"ohttp\"; keep only \"ohttp\"");
  }
  if (auto ohttp = r.Optional("ohttp")) {
    CONFIG_ASSIGN_OR_RETURN(out.ohttp, ReadEgressOhttp(*ohttp, OhttpSpelling::kOhttp, ctx));
    ctx.NotYet(ohttp->path(), "OHTTP");
  } else if (auto decap = r.Optional("decap_from_http")) {
    // The seed manual's HTTP camouflage (endpoints/tunnel/http_camouflage.h); its OHTTP-only
    // settings are not.
    CONFIG_ASSIGN_OR_RETURN(out.ohttp, ReadEgressOhttp(*decap, OhttpSpelling::kDecapFromHttp, ctx));
    if (out.ohttp && decap->kind() == json::Kind::kObject) {
      CONFIG_ASSIGN_OR_RETURN(json::ObjectReader dr, json::ObjectReader::Open(*decap));
      for (std::string_view key : {"cors", "key", "header_passthrough"}) {
        if (auto v = dr.Optional(key)) {
          ctx.NotYet(v->path(), Cat("decap_from_http.", key, " (an OHTTP setting)"));
        }
      }
    }
  }
  if (auto df = r.Optional("direct_forward")) {
    CONFIG_ASSIGN_OR_RETURN(out.direct_forward, ReadDirectForward(*df));
    ctx.NotYet(df->path(), "direct_forward");
  }
  if (out.ohttp && out.ohttp->spelling == OhttpSpelling::kOhttp &&
      !out.ohttp->allow_non_tng_traffic_regexes.empty()) {
    ctx.NotYet(json::JoinPath(json::JoinPath(c.path(), "ohttp"), "allow_non_tng_traffic_regexes"),
               "direct_forward (allow_non_tng_traffic_regexes is its deprecated form)");
  }
  if (auto tls = r.Optional("rats_tls")) {
    if (out.ohttp) {
      return r.KeyError("rats_tls",
                        Cat("\"rats_tls\" and \"", r.Has("ohttp") ? "ohttp" : "decap_from_http",
                            "\" are mutually exclusive (pick one transport)"));
    }
    CONFIG_ASSIGN_OR_RETURN(out.multiplex, ReadRatsTls(*tls));
    if (out.multiplex) {
      ctx.NotYet(json::JoinPath(tls->path(), "multiplex"), "rats_tls.multiplex (HTTP/2 CONNECT)");
    }
  }
  if (auto quic = r.Optional("quic")) {
    CONFIG_ASSIGN_OR_RETURN(out.quic, ReadQuic(*quic));
    ctx.NotYet(quic->path(), "QUIC settings");
  }
  CONFIG_ASSIGN_OR_RETURN(out.ra, ReadRa(r, ctx));
  return absl::OkStatus();
}

}  // namespace tng::config::internal
