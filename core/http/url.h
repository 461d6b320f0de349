// http:// URLs and host:port authorities as the client, the proxy ingress and the request-target
// parser read them (RFC 3986 subset: no userinfo; IPv6 literals in brackets).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tng::http {

struct HostPort {
  std::string host;  // IPv6 literals without brackets
  uint16_t port = 0;
};

struct Url {
  std::string scheme;  // lower case
  std::string host;    // IPv6 literals without brackets
  uint16_t port = 0;   // as written, else the scheme's default
  bool explicit_port = false;
  std::string path;  // path and query; "/" when the URL has none; the fragment is dropped

  // host[:port] for a Host header: brackets around IPv6, no port when it is the default.
  std::string HostHeader() const;
  // scheme://host[:port]path, normalised.
  std::string ToString() const;
};

// 80 for http, 443 for https, 0 for other schemes.
uint16_t DefaultPort(std::string_view scheme);

// Parses scheme://authority[/path][?query][#fragment]. Errors name the offending part.
absl::StatusOr<Url> ParseUrl(std::string_view url);

// Parses host[:port] ("[::1]:443" for IPv6). Without a port the default is used; no default
// makes the port mandatory. Port 0 is rejected.
absl::StatusOr<HostPort> ParseAuthority(std::string_view authority,
                                        std::optional<uint16_t> default_port = std::nullopt);

// "host:port", or "[v6]:port" when the host is an IPv6 literal.
std::string FormatHostPort(std::string_view host, uint16_t port);

}  // namespace tng::http
