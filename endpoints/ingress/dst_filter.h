// dst_filters of the http_proxy and socks5 ingresses: which destinations enter the tunnel (the
// rest go direct). Compiled once per endpoint; matching is read-only and safe to share.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "endpoints/config/options.h"

namespace re2 {
class RE2;
}

namespace tng::ingress {

// A destination as the application named it: a domain name or an IP address, and a port.
struct Destination {
  enum class Kind { kDomain, kIpv4, kIpv6 };
  Kind kind = Kind::kDomain;
  std::string domain;            // kDomain
  std::array<uint8_t, 16> ip{};  // kIpv4 (first 4 bytes) / kIpv6, network order
  uint16_t port = 0;

  static Destination Domain(std::string name, uint16_t port);
  static Destination Ipv4(std::span<const uint8_t, 4> ip, uint16_t port);
  static Destination Ipv6(std::span<const uint8_t, 16> ip, uint16_t port);
  // A host from a URI or CONNECT authority (http_proxy): IPv4 and IPv6 literals ("10.0.0.1",
  // "::1", "[::1]") are addresses, anything else a domain name.
  static Destination FromHost(std::string_view host, uint16_t port);

  std::string ToString() const;  // "example.com:443", "10.0.0.1:80", "[::1]:80"
};

class DstFilter {
 public:
  // Compiles `filters` (domain wildcards, RE2 regexes, IPv4/IPv6 addresses and CIDRs). Errors
  // name the filter: "dst_filters[1].domain_regex: ...".
  static absl::StatusOr<DstFilter> Create(const std::vector<config::EndpointFilter>& filters);

  // True when the destination goes through the tunnel: when any filter matches it, or when there
  // are no filters at all (TNG's default: everything is tunnelled).
  bool Matches(const Destination& dst) const;
  size_t size() const { return rules_.size(); }

 private:
  // One filter: a host matcher and a port range (any port when absent).
  struct Rule {
    // kAny: no host matcher (any destination); kAnyDomain: `domain: "*"` (any host, names and
    // addresses alike, as in TNG).
    enum class Host { kAny, kAnyDomain, kExact, kSuffix, kPrefix, kRegex, kIp, kCidr };
    Host host = Host::kAny;
    std::string text;  // kExact/kSuffix/kPrefix: lower-case, without the '*'
    std::shared_ptr<const re2::RE2> regex;
    bool v6 = false;               // kIp/kCidr
    std::array<uint8_t, 16> ip{};  // kIp/kCidr, network order, host bits cleared for kCidr
    int prefix_bits = 0;           // kCidr
    uint16_t port_first = 0;
    uint16_t port_last = 65535;
  };
  static absl::StatusOr<Rule> Compile(const config::EndpointFilter& filter, size_t index);
  static bool HostMatches(const Rule& rule, const Destination& dst);

  std::vector<Rule> rules_;
};

}  // namespace tng::ingress
