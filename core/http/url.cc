#include "core/http/url.h"

#include "core/http/text.h"

namespace tng::http {
namespace {

bool IsRegNameChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("-._~%!$&'()*+,;=").find(c) != std::string_view::npos;
}

bool IsIpv6LiteralChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
         c == '.';
}

absl::Status InvalidAuthority(std::string_view authority, std::string_view why) {
  return absl::InvalidArgumentError(Cat("invalid authority '", authority, "': ", why));
}

}  // namespace

uint16_t DefaultPort(std::string_view scheme) {
  if (EqualsIgnoreCase(scheme, "http")) return 80;
  if (EqualsIgnoreCase(scheme, "https")) return 443;
  return 0;
}

absl::StatusOr<HostPort> ParseAuthority(std::string_view authority,
                                        std::optional<uint16_t> default_port) {
  HostPort out;
  std::string_view rest;
  if (authority.empty()) return InvalidAuthority(authority, "empty");
  if (authority.find('@') != std::string_view::npos) {
    return InvalidAuthority(authority, "userinfo ('user@') is not allowed");
  }
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return InvalidAuthority(authority, "missing ']'");
    std::string_view v6 = authority.substr(1, close - 1);
    if (v6.empty()) return InvalidAuthority(authority, "empty IPv6 literal");
    for (char c : v6) {
      if (!IsIpv6LiteralChar(c)) {
        return InvalidAuthority(authority,
                                Cat("invalid character ", DescribeByte(c), " in IPv6 literal"));
      }
    }
    out.host = std::string(v6);
    rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') {
      return InvalidAuthority(authority, "expected ':' after ']'");
    }
  } else {
    size_t colon = authority.rfind(':');
    std::string_view host = authority.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      return InvalidAuthority(authority, "IPv6 literals must be written in brackets");
    }
    if (host.empty()) return InvalidAuthority(authority, "empty host");
    for (char c : host) {
      if (!IsRegNameChar(c)) {
        return InvalidAuthority(authority, Cat("invalid character ", DescribeByte(c), " in host"));
      }
    }
    out.host = std::string(host);
    rest = colon == std::string_view::npos ? std::string_view() : authority.substr(colon);
  }
  if (rest.empty()) {
    if (!default_port) return InvalidAuthority(authority, "missing port");
    out.port = *default_port;
    return out;
  }
  std::string_view digits = rest.substr(1);  // after ':'
  if (digits.empty()) {
    if (!default_port) return InvalidAuthority(authority, "empty port");
    out.port = *default_port;  // "host:" means the default port (RFC 3986 §3.2.3)
    return out;
  }
  if (digits.size() > 5) return InvalidAuthority(authority, "port out of range");
  uint32_t port = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return InvalidAuthority(authority, "port is not a number");
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port == 0 || port > 65535) return InvalidAuthority(authority, "port out of range");
  out.port = static_cast<uint16_t>(port);
  return out;
}

absl::StatusOr<Url> ParseUrl(std::string_view url) {
  for (size_t i = 0; i < url.size(); ++i) {
    if (!IsTargetChar(static_cast<uint8_t>(url[i]))) {
      return absl::InvalidArgumentError(
          Cat("invalid URL '", url, "': character ", DescribeByte(url[i]), " at offset ", i));
    }
  }
  size_t sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) {
    return absl::InvalidArgumentError(Cat("invalid URL '", url, "': expected scheme://"));
  }
  std::string_view scheme = url.substr(0, sep);
  for (size_t i = 0; i < scheme.size(); ++i) {
    char c = scheme[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool ok = alpha || (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
    if (!ok) {
      return absl::InvalidArgumentError(Cat("invalid URL '", url, "': bad scheme"));
    }
  }
  Url out;
  out.scheme = AsciiLowered(scheme);
  std::string_view rest = url.substr(sep + 3);
  size_t path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  uint16_t def = DefaultPort(out.scheme);
  auto hp = ParseAuthority(authority, def != 0 ? std::optional<uint16_t>(def) : std::nullopt);
  if (!hp.ok()) {
    return absl::InvalidArgumentError(Cat("invalid URL '", url, "': ", hp.status().message()));
  }
  out.host = std::move(hp->host);
  out.port = hp->port;
  out.explicit_port = authority.find("]:") != std::string_view::npos ||
                      (authority.front() != '[' && authority.find(':') != std::string_view::npos);
  std::string_view path =
      path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
  path = path.substr(0, path.find('#'));
  if (path.empty() || path.front() == '?') {
    out.path = Cat("/", path);
  } else {
    out.path = std::string(path);
  }
  return out;
}

std::string FormatHostPort(std::string_view host, uint16_t port) {
  if (host.find(':') != std::string_view::npos) return Cat("[", host, "]:", port);
  return Cat(host, ":", port);
}

std::string Url::HostHeader() const {
  if (port == DefaultPort(scheme)) {
    return host.find(':') != std::string::npos ? Cat("[", host, "]") : host;
  }
  return FormatHostPort(host, port);
}

std::string Url::ToString() const { return Cat(scheme, "://", HostHeader(), path); }

}  // namespace tng::http
