// The small value readers the schema is built from: addresses, ports, ranges, choices.
#include <arpa/inet.h>

#include <algorithm>

#include "endpoints/config/schema_parts.h"

namespace tng::config::internal {
namespace {

using json::Cat;

bool IsIpv4(const std::string& s) {
  in_addr a;
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool IsIpv6(const std::string& s) {
  in6_addr a;
  return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

bool IsDnsName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      if (label == 0 && i != s.size()) return false;  // empty label (a trailing dot is fine)
      if (label > 63) return false;
      label = 0;
      continue;
    }
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
    ++label;
  }
  return true;
}

}  // namespace

std::string QuotedChoices(std::initializer_list<std::string_view> choices) {
  std::string out;
  size_t i = 0;
  for (std::string_view c : choices) {
    if (i > 0) out += i + 1 == choices.size() ? " or " : ", ";
    out += Cat("\"", c, "\"");
    ++i;
  }
  return out;
}

absl::Status ExpectKeys(json::ObjectReader& r, std::initializer_list<std::string_view> keys) {
  for (std::string_view k : keys) r.Known(k);
  return r.Finish();
}

absl::Status RejectInapplicable(json::ObjectReader& r, std::initializer_list<std::string_view> keys,
                                std::string_view why) {
  for (std::string_view k : keys) {
    if (r.Has(k)) return r.KeyError(k, Cat("\"", k, "\" ", why));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadChoice(const json::Cursor& c,
                                       std::initializer_list<std::string_view> choices) {
  if (c.kind() == json::Kind::kString &&
      std::find(choices.begin(), choices.end(), c.value().text()) != choices.end()) {
    return c.value().text();
  }
  return c.TypeError(QuotedChoices(choices));
}

absl::StatusOr<std::string> ReadIpLiteral(const json::Cursor& c) {
  if (c.kind() == json::Kind::kString && (IsIpv4(c.value().text()) || IsIpv6(c.value().text()))) {
    return c.value().text();
  }
  return c.TypeError("an IP address (like \"0.0.0.0\", \"127.0.0.1\" or \"::\")");
}

absl::StatusOr<std::string> ReadHostName(const json::Cursor& c) {
  if (c.kind() == json::Kind::kString) {
    const std::string& s = c.value().text();
    if (IsIpv4(s) || IsIpv6(s) || IsDnsName(s)) return s;
  }
  return c.TypeError("an IP address or a DNS name");
}

absl::StatusOr<std::string> ReadIpv4(const json::Cursor& c) {
  if (c.kind() == json::Kind::kString && IsIpv4(c.value().text())) return c.value().text();
  return c.TypeError("an IPv4 address (like \"10.0.0.1\")");
}

absl::StatusOr<std::string> ReadIpv4OrCidr(const json::Cursor& c) {
  if (c.kind() == json::Kind::kString) {
    const std::string& s = c.value().text();
    size_t slash = s.find('/');
    if (slash == std::string::npos && IsIpv4(s)) return s;
    if (slash != std::string::npos && IsIpv4(s.substr(0, slash))) {
      std::string bits = s.substr(slash + 1);
      bool digits =
          !bits.empty() && bits.size() <= 2 &&
          std::all_of(bits.begin(), bits.end(), [](char d) { return d >= '0' && d <= '9'; });
      if (digits && std::stoi(bits) <= 32) return s;
    }
  }
  return c.TypeError("an IPv4 address or CIDR (like \"10.0.0.1\" or \"10.0.0.0/24\")");
}

absl::StatusOr<HostPort> ReadListenEndpoint(const json::Cursor& c, Context& ctx,
                                            std::string_view protocol) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(ExpectKeys(r, {"host", "port"}));
  HostPort hp;
  hp.host = "0.0.0.0";
  if (auto host = r.Optional("host")) {
    CONFIG_ASSIGN_OR_RETURN(hp.host, ReadIpLiteral(*host));
  }
  CONFIG_ASSIGN_OR_RETURN(json::Cursor port, r.Required("port"));
  CONFIG_ASSIGN_OR_RETURN(hp.port, port.GetPort());
  ctx.Listen(port, std::string(protocol), hp.host, hp.port, hp.port);
  return hp;
}

absl::StatusOr<HostPort> ReadDialEndpoint(const json::Cursor& c) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(ExpectKeys(r, {"host", "port"}));
  HostPort hp;
  CONFIG_ASSIGN_OR_RETURN(json::Cursor host, r.Required("host"));
  CONFIG_ASSIGN_OR_RETURN(hp.host, ReadHostName(host));
  CONFIG_ASSIGN_OR_RETURN(json::Cursor port, r.Required("port"));
  CONFIG_ASSIGN_OR_RETURN(hp.port, port.GetPort());
  return hp;
}

absl::StatusOr<std::optional<uint16_t>> ReadOptionalPort(json::ObjectReader& r,
                                                         std::string_view key) {
  std::optional<json::Cursor> c = r.Optional(key);
  if (!c) return std::optional<uint16_t>();
  CONFIG_ASSIGN_OR_RETURN(uint16_t port, c->GetPort());
  return std::optional<uint16_t>(port);
}

absl::Status CheckPortRange(json::ObjectReader& r, const std::optional<uint16_t>& port,
                            const std::optional<uint16_t>& port_end) {
  if (!port_end) return absl::OkStatus();
  if (!port) return r.KeyError("port_end", "\"port_end\" needs \"port\" (the start of the range)");
  if (*port_end < *port) {
    return r.KeyError("port_end", Cat("port_end (", *port_end, ") must be >= port (", *port, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ReadOptionalStrings(json::ObjectReader& r,
                                                             std::string_view key) {
  std::optional<json::Cursor> c = r.Optional(key);
  if (!c) return std::vector<std::string>();
  return c->GetStringArray();
}

absl::StatusOr<bool> ReadOptionalBool(json::ObjectReader& r, std::string_view key, bool def) {
  std::optional<json::Cursor> c = r.Optional(key);
  if (!c) return def;
  return c->GetBool();
}

absl::StatusOr<bool> ReadRatsTls(const json::Cursor& c) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(ExpectKeys(r, {"multiplex"}));
  return ReadOptionalBool(r, "multiplex", false);
}

absl::StatusOr<QuicOptions> ReadQuic(const json::Cursor& c) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(ExpectKeys(r, {"max_datagram_size"}));
  QuicOptions q;
  if (auto size = r.Optional("max_datagram_size")) {
    CONFIG_ASSIGN_OR_RETURN(q.max_datagram_size, size->GetUnsigned(1, 65535));
  }
  return q;
}

}  // namespace tng::config::internal
