// Internal to the configuration schema: the readers of each part of TNG's JSON (endpoints, remote
// attestation, OHTTP) and the bookkeeping they share. Only endpoints/config/*.cc include this.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/json_reader.h"
#include "endpoints/config/options.h"

// Abseil has no public RETURN_IF_ERROR / ASSIGN_OR_RETURN; these keep the readers straight-line.
// CONFIG_ASSIGN_OR_RETURN expands to several statements: use it only as a statement of its own.
#define CONFIG_RETURN_IF_ERROR(expr)                   \
  do {                                                 \
    if (absl::Status s_ = (expr); !s_.ok()) return s_; \
  } while (0)

#define CONFIG_CONCAT_INNER_(a, b) a##b
#define CONFIG_CONCAT_(a, b) CONFIG_CONCAT_INNER_(a, b)
#define CONFIG_ASSIGN_OR_RETURN(lhs, rexpr) \
  CONFIG_ASSIGN_OR_RETURN_IMPL_(CONFIG_CONCAT_(status_or_, __LINE__), lhs, rexpr)
#define CONFIG_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                  \
  if (!tmp.ok()) return tmp.status();                  \
  lhs = *std::move(tmp)

namespace tng::config::internal {

// A port (range) some endpoint listens on, for the duplicate listen port check.
struct Listener {
  std::string protocol;  // "tcp" or "udp"
  std::string host;      // as configured; 0.0.0.0 and :: overlap everything
  uint16_t first = 0;
  uint16_t last = 0;
  std::string json_path;
  size_t offset = 0;
};

// State shared by the readers while one document is parsed.
struct Context {
  std::vector<Unsupported>* unsupported;
  std::vector<Listener>* listeners;

  void NotYet(std::string json_path, std::string feature) {
    unsupported->push_back({std::move(json_path), std::move(feature)});
  }
  // `at` is what the listener is named by in messages (normally the port value).
  void Listen(const json::Cursor& at, std::string protocol, std::string host, uint16_t first,
              uint16_t last) {
    listeners->push_back(
        {std::move(protocol), std::move(host), first, last, at.path(), at.value().offset()});
  }
};

// Declares the keys an object may have and rejects any other, with a "did you mean" hint. Called
// first, so that a typo is reported as such rather than as a missing key.
absl::Status ExpectKeys(json::ObjectReader& r, std::initializer_list<std::string_view> keys);

// Keys that exist in TNG's schema but mean nothing for the variant chosen (for example policy_ids
// of a background-check attester): an error "\"<key>\" <why>", rather than silently ignoring them
// as TNG does.
absl::Status RejectInapplicable(json::ObjectReader& r, std::initializer_list<std::string_view> keys,
                                std::string_view why);

// One of the strings in `choices`.
absl::StatusOr<std::string> ReadChoice(const json::Cursor& c,
                                       std::initializer_list<std::string_view> choices);
// An IPv4 or IPv6 address literal (what can be bound).
absl::StatusOr<std::string> ReadIpLiteral(const json::Cursor& c);
// An IP literal or a DNS name (what can be dialed).
absl::StatusOr<std::string> ReadHostName(const json::Cursor& c);
absl::StatusOr<std::string> ReadIpv4(const json::Cursor& c);
absl::StatusOr<std::string> ReadIpv4OrCidr(const json::Cursor& c);
// TNG's Endpoint {host, port} of a listener: host is an IP literal, default 0.0.0.0.
absl::StatusOr<HostPort> ReadListenEndpoint(const json::Cursor& c, Context& ctx,
                                            std::string_view protocol);
// Endpoint {host, port} to connect to: host required.
absl::StatusOr<HostPort> ReadDialEndpoint(const json::Cursor& c);
// `key` of r as an optional port.
absl::StatusOr<std::optional<uint16_t>> ReadOptionalPort(json::ObjectReader& r,
                                                         std::string_view key);
// port_end >= port, and port_end only together with port.
absl::Status CheckPortRange(json::ObjectReader& r, const std::optional<uint16_t>& port,
                            const std::optional<uint16_t>& port_end);
absl::StatusOr<std::vector<std::string>> ReadOptionalStrings(json::ObjectReader& r,
                                                             std::string_view key);
absl::StatusOr<bool> ReadOptionalBool(json::ObjectReader& r, std::string_view key, bool def);

// no_ra / attest / verify, read from the object that holds them (an endpoint, or an OHTTP
// peer_shared key).
absl::StatusOr<RaOptions> ReadRa(json::ObjectReader& r, Context& ctx);

// ohttp (or deprecated encap_in_http) of an ingress; ohttp (or deprecated decap_from_http, which
// may also be a plain true) of an egress.
absl::StatusOr<IngressOhttpOptions> ReadIngressOhttp(const json::Cursor& c, OhttpSpelling spelling);
absl::StatusOr<std::optional<EgressOhttpOptions>> ReadEgressOhttp(const json::Cursor& c,
                                                                  OhttpSpelling spelling,
                                                                  Context& ctx);

// Shared by ingress and egress kinds.
absl::StatusOr<MappingOptions> ReadMapping(const json::Cursor& c, Context& ctx);
absl::StatusOr<MappingUdpOptions> ReadMappingUdp(const json::Cursor& c, Context& ctx);
absl::StatusOr<NetfilterOptions> ReadNetfilter(const json::Cursor& c, bool egress, Context& ctx);
absl::StatusOr<bool> ReadRatsTls(const json::Cursor& c);  // the multiplex flag
absl::StatusOr<QuicOptions> ReadQuic(const json::Cursor& c);

absl::Status ReadIngress(const json::Cursor& c, size_t index, Context& ctx, IngressOptions& out);
absl::Status ReadEgress(const json::Cursor& c, size_t index, Context& ctx, EgressOptions& out);

// "a", "a or b", "a, b or c" with each choice quoted.
std::string QuotedChoices(std::initializer_list<std::string_view> choices);

}  // namespace tng::config::internal
