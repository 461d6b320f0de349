// One `add_ingress` entry: exactly one kind (mapping, http_proxy, socks5, netfilter, hook,
// mapping_udp) plus the common keys (ohttp / encap_in_http, rats_tls, quic, no_ra / attest /
// verify, web_page_inject).
#include "endpoints/config/schema_parts.h"

namespace tng::config::internal {
namespace {

using json::Cat;

absl::StatusOr<EndpointFilter> ReadEndpointFilter(const json::Cursor& c) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(
      ExpectKeys(r, {"domain", "domain_regex", "ip", "ip_cidr", "port", "port_end"}));
  EndpointFilter f;
  std::string_view matcher;
  for (std::string_view key : {"domain", "domain_regex", "ip", "ip_cidr"}) {
    std::optional<json::Cursor> v = r.Optional(key);
    if (!v) continue;
    if (!matcher.empty()) {
      return r.KeyError(key, Cat("a filter matches on one of \"domain\", \"domain_regex\", \"ip\" "
                                 "and \"ip_cidr\", but \"",
                                 matcher, "\" is set too"));
    }
    matcher = key;
    if (key == "domain") {
      f.match = EndpointFilter::Match::kDomain;
      CONFIG_ASSIGN_OR_RETURN(f.pattern, v->GetNonEmptyString());
    } else if (key == "domain_regex") {
      f.match = EndpointFilter::Match::kDomainRegex;
      CONFIG_ASSIGN_OR_RETURN(f.pattern, v->GetNonEmptyString());
    } else if (key == "ip") {
      f.match = EndpointFilter::Match::kIp;
      CONFIG_ASSIGN_OR_RETURN(f.pattern, ReadIpv4(*v));
    } else {
      f.match = EndpointFilter::Match::kIpCidr;
      CONFIG_ASSIGN_OR_RETURN(f.pattern, ReadIpv4OrCidr(*v));
    }
  }
  CONFIG_ASSIGN_OR_RETURN(f.port, ReadOptionalPort(r, "port"));
  CONFIG_ASSIGN_OR_RETURN(f.port_end, ReadOptionalPort(r, "port_end"));
  CONFIG_RETURN_IF_ERROR(CheckPortRange(r, f.port, f.port_end));
  return f;
}

absl::StatusOr<std::vector<EndpointFilter>> ReadFilters(const json::Cursor& c, bool one_or_many) {
  std::vector<json::Cursor> items;
  if (one_or_many) {
    CONFIG_ASSIGN_OR_RETURN(items, c.GetOneOrMany());
  } else {
    CONFIG_ASSIGN_OR_RETURN(items, c.GetArray());
  }
  std::vector<EndpointFilter> filters;
  for (const json::Cursor& item : items) {
    CONFIG_ASSIGN_OR_RETURN(EndpointFilter f, ReadEndpointFilter(item));
    filters.push_back(std::move(f));
  }
  return filters;
}

absl::StatusOr<HttpProxyOptions> ReadHttpProxy(const json::Cursor& c, Context& ctx) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  // dst_filter (a single filter) is the TNG <= 1.0.1 name of dst_filters.
  CONFIG_RETURN_IF_ERROR(ExpectKeys(r, {"proxy_listen", "dst_filters", "dst_filter"}));
  if (r.Has("dst_filter") && r.Has("dst_filters")) {
    return r.KeyError("dst_filter",
                      "\"dst_filter\" is the old name of \"dst_filters\"; keep only "
                      "\"dst_filters\"");
  }
  HttpProxyOptions p;
  CONFIG_ASSIGN_OR_RETURN(json::Cursor listen, r.Required("proxy_listen"));
  CONFIG_ASSIGN_OR_RETURN(p.proxy_listen, ReadListenEndpoint(listen, ctx, "tcp"));
  std::optional<json::Cursor> filters = r.Optional("dst_filters");
  if (!filters) filters = r.Optional("dst_filter");
  if (filters) {
    CONFIG_ASSIGN_OR_RETURN(p.dst_filters, ReadFilters(*filters, /*one_or_many=*/true));
  }
  return p;
}

absl::StatusOr<Socks5Options> ReadSocks5(const json::Cursor& c, Context& ctx) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(ExpectKeys(r, {"proxy_listen", "dst_filters", "auth"}));
  Socks5Options s;
  CONFIG_ASSIGN_OR_RETURN(json::Cursor listen, r.Required("proxy_listen"));
  CONFIG_ASSIGN_OR_RETURN(s.proxy_listen, ReadListenEndpoint(listen, ctx, "tcp"));
  if (auto filters = r.Optional("dst_filters")) {
    CONFIG_ASSIGN_OR_RETURN(s.dst_filters, ReadFilters(*filters, /*one_or_many=*/false));
  }
  if (auto auth = r.Optional("auth")) {
    CONFIG_ASSIGN_OR_RETURN(json::ObjectReader ar, json::ObjectReader::Open(*auth));
    CONFIG_RETURN_IF_ERROR(ExpectKeys(ar, {"username", "password"}));
    CONFIG_ASSIGN_OR_RETURN(json::Cursor user, ar.Required("username"));
    CONFIG_ASSIGN_OR_RETURN(json::Cursor password, ar.Required("password"));
    std::pair<std::string, std::string> credentials;
    CONFIG_ASSIGN_OR_RETURN(credentials.first, user.GetNonEmptyString());
    CONFIG_ASSIGN_OR_RETURN(credentials.second, password.GetString());
    s.auth = std::move(credentials);
  }
  return s;
}

absl::StatusOr<IngressHookOptions> ReadHook(const json::Cursor& c, Context& ctx) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(
      ExpectKeys(r, {"capture_dst", "proxy_port", "proxy_listen", "capture_local_traffic"}));
  IngressHookOptions h;
  if (auto dst = r.Optional("capture_dst")) {
    CONFIG_ASSIGN_OR_RETURN(std::vector<json::Cursor> items, dst->GetOneOrMany());
    for (const json::Cursor& item : items) {
      CONFIG_ASSIGN_OR_RETURN(json::ObjectReader ir, json::ObjectReader::Open(item));
      CONFIG_RETURN_IF_ERROR(ExpectKeys(ir, {"host", "port", "port_end"}));
      IngressHookOptions::Dst d;
      if (auto host = ir.Optional("host")) {
        CONFIG_ASSIGN_OR_RETURN(d.host, ReadIpv4OrCidr(*host));
      }
      CONFIG_ASSIGN_OR_RETURN(json::Cursor port, ir.Required("port"));
      CONFIG_ASSIGN_OR_RETURN(d.port, port.GetPort());
      CONFIG_ASSIGN_OR_RETURN(d.port_end, ReadOptionalPort(ir, "port_end"));
      CONFIG_RETURN_IF_ERROR(CheckPortRange(ir, d.port, d.port_end));
      h.capture_dst.push_back(std::move(d));
    }
  }
  if (auto listen = r.Optional("proxy_listen")) {
    CONFIG_ASSIGN_OR_RETURN(h.proxy_listen, ReadIpLiteral(*listen));
  }
  if (auto port = r.Optional("proxy_port")) {
    CONFIG_ASSIGN_OR_RETURN(h.proxy_port, port->GetPort());
    ctx.Listen(*port, "tcp", h.proxy_listen, *h.proxy_port, *h.proxy_port);
  }
  CONFIG_ASSIGN_OR_RETURN(h.capture_local_traffic,
                          ReadOptionalBool(r, "capture_local_traffic", false));
  return h;
}

const std::initializer_list<std::string_view> kIngressKinds = {
    "mapping", "http_proxy", "socks5", "netfilter", "hook", "mapping_udp"};

}  // namespace

absl::Status ReadIngress(const json::Cursor& c, size_t index, Context& ctx, IngressOptions& out) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(ExpectKeys(
      r, {"mapping", "http_proxy", "socks5", "netfilter", "hook", "mapping_udp", "ohttp",
          "encap_in_http", "rats_tls", "quic", "no_ra", "attest", "verify", "web_page_inject"}));
  out.id = Cat("ingress-", index);
  out.json_path = c.path();

  std::string_view kind;
  for (std::string_view k : kIngressKinds) {
    if (!r.Has(k)) continue;
    if (!kind.empty()) {
      return r.KeyError(k, Cat("an ingress has exactly one kind, but both \"", kind, "\" and \"", k,
                               "\" are set (use one add_ingress entry per kind)"));
    }
    kind = k;
  }
  if (kind.empty()) {
    return c.Error(Cat("missing the ingress kind: expected one of ", QuotedChoices(kIngressKinds)));
  }
  CONFIG_ASSIGN_OR_RETURN(json::Cursor k, r.Required(kind));
  if (kind == "mapping") {
    CONFIG_ASSIGN_OR_RETURN(out.mapping, ReadMapping(k, ctx));
  } else if (kind == "http_proxy") {
    CONFIG_ASSIGN_OR_RETURN(out.http_proxy, ReadHttpProxy(k, ctx));
  } else if (kind == "socks5") {
    CONFIG_ASSIGN_OR_RETURN(out.socks5, ReadSocks5(k, ctx));
  } else if (kind == "netfilter") {
    CONFIG_ASSIGN_OR_RETURN(out.netfilter, ReadNetfilter(k, /*egress=*/false, ctx));
  } else if (kind == "hook") {
    CONFIG_ASSIGN_OR_RETURN(out.hook, ReadHook(k, ctx));
  } else {
    CONFIG_ASSIGN_OR_RETURN(out.mapping_udp, ReadMappingUdp(k, ctx));
  }
  if (kind != "mapping" && kind != "socks5" && kind != "http_proxy" && kind != "netfilter") {
    ctx.NotYet(k.path(), Cat("ingress kind ", kind));
  }

  if (r.Has("ohttp") && r.Has("encap_in_http")) {
    return r.KeyError("encap_in_http",
                      "\"encap_in_http\" is the old name of \"ohttp\"; keep only \"ohttp\"");
  }
  if (auto ohttp = r.Optional("ohttp")) {
    CONFIG_ASSIGN_OR_RETURN(out.ohttp, ReadIngressOhttp(*ohttp, OhttpSpelling::kOhttp));
    ctx.NotYet(ohttp->path(), "OHTTP");
  } else if (auto encap = r.Optional("encap_in_http")) {
    // The seed manual's HTTP camouflage (endpoints/tunnel/http_camouflage.h): path_rewrites;
    // the OHTTP-only settings are not.
    CONFIG_ASSIGN_OR_RETURN(out.ohttp, ReadIngressOhttp(*encap, OhttpSpelling::kEncapInHttp));
    CONFIG_ASSIGN_OR_RETURN(json::ObjectReader er, json::ObjectReader::Open(*encap));
    for (std::string_view key : {"path_default", "header_passthrough", "tls", "tls_ca_certs"}) {
      if (auto v = er.Optional(key)) {
        ctx.NotYet(v->path(), Cat("encap_in_http.", key, " (an OHTTP setting)"));
      }
    }
    if (kind == "socks5") ctx.NotYet(encap->path(), "encap_in_http on a socks5 ingress");
  }
  if (auto tls = r.Optional("rats_tls")) {
    if (out.ohttp) {
      return r.KeyError("rats_tls",
                        Cat("\"rats_tls\" and \"", r.Has("ohttp") ? "ohttp" : "encap_in_http",
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
  CONFIG_ASSIGN_OR_RETURN(bool inject, ReadOptionalBool(r, "web_page_inject", false));
  if (inject) {
    return r.KeyError("web_page_inject",
                      "web_page_inject is deprecated and not supported (TNG 2.x refuses it too)");
  }
  CONFIG_ASSIGN_OR_RETURN(out.ra, ReadRa(r, ctx));
  return absl::OkStatus();
}

}  // namespace tng::config::internal
