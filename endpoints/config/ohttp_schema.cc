// OHTTP settings: `ohttp` of an ingress (path rewrites, header passthrough, outer TLS) and of an
// egress (CORS, key source, header passthrough), and their pre-2.2.5 names encap_in_http and
// decap_from_http, which TNG maps onto `ohttp`.
#include <cstdint>

#include "endpoints/config/schema_parts.h"

namespace tng::config::internal {
namespace {

using json::Cat;

absl::StatusOr<HeaderList> ReadHeaderList(const json::Cursor& c) {
  HeaderList list;
  if (c.kind() == json::Kind::kString && c.value().text() == "all") {
    list.all = true;
    return list;
  }
  if (c.kind() != json::Kind::kArray) return c.TypeError("\"all\" or an array of header names");
  CONFIG_ASSIGN_OR_RETURN(list.names, c.GetStringArray());
  return list;
}

absl::StatusOr<HeaderPassthrough> ReadHeaderPassthrough(const json::Cursor& c) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(ExpectKeys(r, {"request_headers", "response_headers"}));
  HeaderPassthrough hp;
  if (auto req = r.Optional("request_headers")) {
    CONFIG_ASSIGN_OR_RETURN(hp.request_headers, ReadHeaderList(*req));
  }
  if (auto resp = r.Optional("response_headers")) {
    CONFIG_ASSIGN_OR_RETURN(hp.response_headers, ReadHeaderList(*resp));
  }
  return hp;
}

absl::StatusOr<CorsOptions> ReadCors(const json::Cursor& c) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(ExpectKeys(r, {"allow_origins", "allow_methods", "allow_headers",
                                        "expose_headers", "allow_credentials"}));
  CorsOptions cors;
  CONFIG_ASSIGN_OR_RETURN(cors.allow_origins, ReadOptionalStrings(r, "allow_origins"));
  CONFIG_ASSIGN_OR_RETURN(cors.allow_methods, ReadOptionalStrings(r, "allow_methods"));
  CONFIG_ASSIGN_OR_RETURN(cors.allow_headers, ReadOptionalStrings(r, "allow_headers"));
  CONFIG_ASSIGN_OR_RETURN(cors.expose_headers, ReadOptionalStrings(r, "expose_headers"));
  CONFIG_ASSIGN_OR_RETURN(cors.allow_credentials, ReadOptionalBool(r, "allow_credentials", false));
  return cors;
}

absl::StatusOr<OhttpKeyOptions> ReadKey(const json::Cursor& c, Context& ctx) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(ExpectKeys(r, {"source", "rotation_interval", "path", "host", "port",
                                        "peers", "peers_file", "no_ra", "attest", "verify"}));
  OhttpKeyOptions key;
  if (auto source = r.Optional("source")) {
    CONFIG_ASSIGN_OR_RETURN(key.source,
                            ReadChoice(*source, {"self_generated", "file", "peer_shared"}));
  }
  const std::string why = Cat("is not used with \"source\": \"", key.source, "\"");
  auto reject = [&](std::initializer_list<std::string_view> keys) {
    return RejectInapplicable(r, keys, why);
  };
  if (key.source == "file") {
    CONFIG_RETURN_IF_ERROR(reject(
        {"rotation_interval", "host", "port", "peers", "peers_file", "no_ra", "attest", "verify"}));
    CONFIG_ASSIGN_OR_RETURN(json::Cursor path, r.Required("path"));
    CONFIG_ASSIGN_OR_RETURN(key.path, path.GetNonEmptyString());
    return key;
  }
  if (auto interval = r.Optional("rotation_interval")) {
    CONFIG_ASSIGN_OR_RETURN(key.rotation_interval_s, interval->GetUnsigned(1, UINT32_MAX));
  }
  if (key.source == "self_generated") {
    CONFIG_RETURN_IF_ERROR(
        reject({"path", "host", "port", "peers", "peers_file", "no_ra", "attest", "verify"}));
    return key;
  }
  CONFIG_RETURN_IF_ERROR(reject({"path"}));
  if (auto host = r.Optional("host")) {
    CONFIG_ASSIGN_OR_RETURN(key.host, ReadIpLiteral(*host));
  }
  if (auto port = r.Optional("port")) {
    CONFIG_ASSIGN_OR_RETURN(key.port, port->GetPort());
    ctx.Listen(*port, "udp", key.host, key.port, key.port);
  } else {
    ctx.Listen(c, "udp", key.host, key.port, key.port);
  }
  CONFIG_ASSIGN_OR_RETURN(key.peers, ReadOptionalStrings(r, "peers"));
  if (auto file = r.Optional("peers_file")) {
    CONFIG_ASSIGN_OR_RETURN(key.peers_file, file->GetNonEmptyString());
  }
  CONFIG_ASSIGN_OR_RETURN(key.ra, ReadRa(r, ctx));
  return key;
}

}  // namespace

absl::StatusOr<IngressOhttpOptions> ReadIngressOhttp(const json::Cursor& c,
                                                     OhttpSpelling spelling) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(ExpectKeys(
      r, {"path_rewrites", "path_default", "header_passthrough", "tls", "tls_ca_certs"}));
  IngressOhttpOptions o;
  o.spelling = spelling;
  if (auto rewrites = r.Optional("path_rewrites")) {
    CONFIG_ASSIGN_OR_RETURN(std::vector<json::Cursor> items, rewrites->GetArray());
    for (const json::Cursor& item : items) {
      CONFIG_ASSIGN_OR_RETURN(json::ObjectReader ir, json::ObjectReader::Open(item));
      CONFIG_RETURN_IF_ERROR(ExpectKeys(ir, {"match_regex", "substitution"}));
      PathRewrite rw;
      CONFIG_ASSIGN_OR_RETURN(json::Cursor match, ir.Required("match_regex"));
      CONFIG_ASSIGN_OR_RETURN(rw.match_regex, match.GetNonEmptyString());
      CONFIG_ASSIGN_OR_RETURN(json::Cursor substitution, ir.Required("substitution"));
      CONFIG_ASSIGN_OR_RETURN(rw.substitution, substitution.GetString());
      o.path_rewrites.push_back(std::move(rw));
    }
  }
  if (auto def = r.Optional("path_default")) {
    CONFIG_ASSIGN_OR_RETURN(o.path_default, ReadChoice(*def, {"root", "original"}));
  }
  if (auto hp = r.Optional("header_passthrough")) {
    CONFIG_ASSIGN_OR_RETURN(o.header_passthrough, ReadHeaderPassthrough(*hp));
  }
  CONFIG_ASSIGN_OR_RETURN(o.tls, ReadOptionalBool(r, "tls", false));
  CONFIG_ASSIGN_OR_RETURN(o.tls_ca_certs, ReadOptionalStrings(r, "tls_ca_certs"));
  return o;
}

absl::StatusOr<std::optional<EgressOhttpOptions>> ReadEgressOhttp(const json::Cursor& c,
                                                                  OhttpSpelling spelling,
                                                                  Context& ctx) {
  EgressOhttpOptions o;
  o.spelling = spelling;
  // The oldest TNG took `"decap_from_http": true`.
  if (spelling == OhttpSpelling::kDecapFromHttp && c.kind() == json::Kind::kBool) {
    if (!c.value().boolean()) return std::optional<EgressOhttpOptions>();
    return std::optional<EgressOhttpOptions>(std::move(o));
  }
  if (spelling == OhttpSpelling::kDecapFromHttp && c.kind() != json::Kind::kObject) {
    return c.TypeError("true, false or an object");
  }
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(
      ExpectKeys(r, {"allow_non_tng_traffic_regexes", "cors", "key", "header_passthrough"}));
  CONFIG_ASSIGN_OR_RETURN(o.allow_non_tng_traffic_regexes,
                          ReadOptionalStrings(r, "allow_non_tng_traffic_regexes"));
  if (auto cors = r.Optional("cors")) {
    CONFIG_ASSIGN_OR_RETURN(o.cors, ReadCors(*cors));
  }
  if (auto key = r.Optional("key")) {
    CONFIG_ASSIGN_OR_RETURN(o.key, ReadKey(*key, ctx));
  }
  if (auto hp = r.Optional("header_passthrough")) {
    CONFIG_ASSIGN_OR_RETURN(o.header_passthrough, ReadHeaderPassthrough(*hp));
  }
  return std::optional<EgressOhttpOptions>(std::move(o));
}

}  // namespace tng::config::internal
