#include "endpoints/ingress/dst_filter.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "core/json.h"
#include "re2/re2.h"

namespace tng::ingress {
namespace {

using json::Cat;

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string ToLower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), Lower);
  return out;
}

// Compares `host` (any case) with `lower` (already lower-case).
bool EqualsLower(std::string_view host, std::string_view lower) {
  if (host.size() != lower.size()) return false;
  for (size_t i = 0; i < host.size(); ++i) {
    if (Lower(host[i]) != lower[i]) return false;
  }
  return true;
}

// Parses an IPv4 or IPv6 literal into 16 bytes (IPv4 in the first 4); false if it is neither.
bool ParseIp(const std::string& text, std::array<uint8_t, 16>& ip, bool& v6) {
  ip = {};
  if (inet_pton(AF_INET, text.c_str(), ip.data()) == 1) {
    v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), ip.data()) == 1) {
    v6 = true;
    return true;
  }
  return false;
}

// True when the first `bits` bits of a and b agree.
bool PrefixEquals(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int bits) {
  const int bytes = bits / 8;
  if (std::memcmp(a.data(), b.data(), static_cast<size_t>(bytes)) != 0) return false;
  const int rest = bits % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[bytes] & mask) == (b[bytes] & mask);
}

constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

}  // namespace

Destination Destination::Domain(std::string name, uint16_t port) {
  Destination d;
  d.kind = Kind::kDomain;
  d.domain = std::move(name);
  d.port = port;
  return d;
}

Destination Destination::Ipv4(std::span<const uint8_t, 4> ip, uint16_t port) {
  Destination d;
  d.kind = Kind::kIpv4;
  std::copy(ip.begin(), ip.end(), d.ip.begin());
  d.port = port;
  return d;
}

Destination Destination::Ipv6(std::span<const uint8_t, 16> ip, uint16_t port) {
  Destination d;
  d.kind = Kind::kIpv6;
  std::copy(ip.begin(), ip.end(), d.ip.begin());
  d.port = port;
  return d;
}

Destination Destination::FromHost(std::string_view host, uint16_t port) {
  std::string h(host);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  Destination d;
  bool v6 = false;
  if (ParseIp(h, d.ip, v6)) {
    d.kind = v6 ? Kind::kIpv6 : Kind::kIpv4;
    d.port = port;
    return d;
  }
  return Domain(std::string(host), port);
}

std::string Destination::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  switch (kind) {
    case Kind::kDomain:
      return Cat(domain, ":", port);
    case Kind::kIpv4:
      inet_ntop(AF_INET, ip.data(), buf, sizeof(buf));
      return Cat(std::string_view(buf), ":", port);
    case Kind::kIpv6:
      inet_ntop(AF_INET6, ip.data(), buf, sizeof(buf));
      return Cat("[", std::string_view(buf), "]:", port);
  }
  return "(unknown destination)";
}

absl::StatusOr<DstFilter> DstFilter::Create(const std::vector<config::EndpointFilter>& filters) {
  DstFilter f;
  for (size_t i = 0; i < filters.size(); ++i) {
    auto rule = Compile(filters[i], i);
    if (!rule.ok()) return rule.status();
    f.rules_.push_back(std::move(*rule));
  }
  return f;
}

absl::StatusOr<DstFilter::Rule> DstFilter::Compile(const config::EndpointFilter& filter,
                                                   size_t index) {
  using Match = config::EndpointFilter::Match;
  const std::string where = Cat("dst_filters[", index, "]");
  Rule rule;
  const std::string& p = filter.pattern;
  switch (filter.match) {
    case Match::kAll:
      rule.host = Rule::Host::kAny;
      break;
    case Match::kDomain: {
      // Envoy VirtualHost.domains: "*", "*.suffix", "prefix.*" or an exact name.
      const size_t stars = static_cast<size_t>(std::count(p.begin(), p.end(), '*'));
      if (p == "*") {
        rule.host = Rule::Host::kAnyDomain;
      } else if (stars == 0) {
        rule.host = Rule::Host::kExact;
        rule.text = ToLower(p);
      } else if (stars == 1 && p.front() == '*') {
        rule.host = Rule::Host::kSuffix;
        rule.text = ToLower(std::string_view(p).substr(1));
      } else if (stars == 1 && p.back() == '*') {
        rule.host = Rule::Host::kPrefix;
        rule.text = ToLower(std::string_view(p).substr(0, p.size() - 1));
      } else {
        return absl::InvalidArgumentError(
            Cat(where, ".domain: '", p,
                "': a wildcard '*' may only stand alone, or once at the start (\"*.example.com\") "
                "or at the end (\"example.*\")"));
      }
      break;
    }
    case Match::kDomainRegex: {
      RE2::Options options;
      options.set_log_errors(false);
      auto re = std::make_shared<const RE2>(p, options);
      if (!re->ok()) {
        return absl::InvalidArgumentError(
            Cat(where, ".domain_regex: '", p,
                "' is not a valid RE2 regular expression: ", re->error()));
      }
      rule.host = Rule::Host::kRegex;
      rule.regex = std::move(re);
      break;
    }
    case Match::kIp:
      if (!ParseIp(p, rule.ip, rule.v6)) {
        return absl::InvalidArgumentError(
            Cat(where, ".ip: '", p, "' is not an IPv4 or IPv6 address"));
      }
      rule.host = Rule::Host::kIp;
      break;
    case Match::kIpCidr: {
      const size_t slash = p.find('/');
      const std::string addr = p.substr(0, slash);
      if (!ParseIp(addr, rule.ip, rule.v6)) {
        return absl::InvalidArgumentError(
            Cat(where, ".ip_cidr: '", p, "': '", addr, "' is not an IPv4 or IPv6 address"));
      }
      const int max_bits = rule.v6 ? 128 : 32;
      rule.prefix_bits = max_bits;
      if (slash != std::string::npos) {
        const std::string bits = p.substr(slash + 1);
        const bool digits =
            !bits.empty() && bits.size() <= 3 &&
            std::all_of(bits.begin(), bits.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (!digits || std::stoi(bits) > max_bits) {
          return absl::InvalidArgumentError(Cat(where, ".ip_cidr: '", p, "': prefix length '", bits,
                                                "' is not a number from 0 to ", max_bits));
        }
        rule.prefix_bits = std::stoi(bits);
      }
      // Host bits set ("10.0.0.1/24") mean the network they belong to, as iptables reads them.
      std::array<uint8_t, 16> masked{};
      for (int b = 0; b < rule.prefix_bits; ++b) {
        if (rule.ip[b / 8] & (0x80 >> (b % 8)))
          masked[b / 8] |= static_cast<uint8_t>(0x80 >> (b % 8));
      }
      rule.ip = masked;
      rule.host = Rule::Host::kCidr;
      break;
    }
  }
  if (filter.port_end && !filter.port) {
    return absl::InvalidArgumentError(Cat(where, ".port_end: needs \"port\" as well"));
  }
  if (filter.port) {
    rule.port_first = *filter.port;
    rule.port_last = filter.port_end.value_or(*filter.port);
    if (rule.port_last < rule.port_first) {
      return absl::InvalidArgumentError(
          Cat(where, ".port_end: ", rule.port_last, " is below port ", rule.port_first));
    }
  }
  return rule;
}

bool DstFilter::HostMatches(const Rule& rule, const Destination& dst) {
  if (rule.host == Rule::Host::kAny) return true;
  if (rule.host != Rule::Host::kIp && rule.host != Rule::Host::kCidr) {
    // Domain matchers see the host as the application wrote it, as TNG's matcher does: a name,
    // or an address in its text form ("10.0.0.1", "2001:db8::1"), so `domain: "*"` tunnels
    // addresses too (the manual's `nc -X connect -x ... 127.0.0.1 9991` example).
    std::string text;
    std::string_view name = dst.domain;
    if (dst.kind != Destination::Kind::kDomain) {
      char buf[INET6_ADDRSTRLEN] = {};
      inet_ntop(dst.kind == Destination::Kind::kIpv4 ? AF_INET : AF_INET6, dst.ip.data(), buf,
                sizeof(buf));
      text = buf;
      name = text;
    }
    // "Example.COM." names the same host as "example.com".
    if (name.size() > 1 && name.back() == '.') name.remove_suffix(1);
    switch (rule.host) {
      case Rule::Host::kAnyDomain:
        return true;
      case Rule::Host::kExact:
        return EqualsLower(name, rule.text);
      case Rule::Host::kSuffix:
        // Envoy: the wildcard stands for at least one character.
        return name.size() > rule.text.size() &&
               EqualsLower(name.substr(name.size() - rule.text.size()), rule.text);
      case Rule::Host::kPrefix:
        return name.size() > rule.text.size() &&
               EqualsLower(name.substr(0, rule.text.size()), rule.text);
      case Rule::Host::kRegex:
        // Unanchored, like TNG's Regex::is_match: anchor with ^...$ for a whole-name match.
        return RE2::PartialMatch(name, *rule.regex);
      default:
        return false;
    }
  }
  if (dst.kind == Destination::Kind::kDomain) return false;  // address rules never match a name
  // An IPv4-mapped IPv6 destination (::ffff:a.b.c.d) is the IPv4 host it maps.
  bool v6 = dst.kind == Destination::Kind::kIpv6;
  std::array<uint8_t, 16> ip = dst.ip;
  if (v6 && std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), ip.begin())) {
    v6 = false;
    ip = {};
    std::copy(dst.ip.begin() + 12, dst.ip.end(), ip.begin());
  }
  if (v6 != rule.v6) return false;
  const int bits = rule.host == Rule::Host::kIp ? (v6 ? 128 : 32) : rule.prefix_bits;
  return PrefixEquals(ip, rule.ip, bits);
}

bool DstFilter::Matches(const Destination& dst) const {
  if (rules_.empty()) return true;
  for (const Rule& rule : rules_) {
    if (dst.port < rule.port_first || dst.port > rule.port_last) continue;
    if (HostMatches(rule, dst)) return true;
  }
  return false;
}

}  // namespace tng::ingress
