#include "endpoints/ingress/socks5_protocol.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>

#include "core/json.h"

namespace tng::ingress::socks5 {
namespace {

using json::Cat;

std::string Hex(uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "0x%02x", b);
  return buf;
}

template <typename T>
Parsed<T> NeedMore(size_t needed) {
  Parsed<T> p;
  p.state = ParseState::kNeedMore;
  p.needed = needed;
  return p;
}

template <typename T>
Parsed<T> Malformed(std::string error, Reply reply = Reply::kGeneralFailure) {
  Parsed<T> p;
  p.state = ParseState::kMalformed;
  p.error = std::move(error);
  p.reply = reply;
  return p;
}

template <typename T>
Parsed<T> Complete(T message, size_t consumed) {
  Parsed<T> p;
  p.state = ParseState::kComplete;
  p.message = std::move(message);
  p.consumed = consumed;
  return p;
}

std::string Text(std::span<const uint8_t> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

}  // namespace

bool Greeting::Offers(Method m) const {
  return std::find(methods.begin(), methods.end(), static_cast<uint8_t>(m)) != methods.end();
}

std::string Address::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  switch (type) {
    case AddressType::kIpv4:
      inet_ntop(AF_INET, ip.data(), buf, sizeof(buf));
      return Cat(std::string_view(buf), ":", port);
    case AddressType::kIpv6:
      inet_ntop(AF_INET6, ip.data(), buf, sizeof(buf));
      return Cat("[", std::string_view(buf), "]:", port);
    case AddressType::kDomain:
      return Cat(domain, ":", port);
  }
  return "(unknown address)";
}

Parsed<Greeting> ParseGreeting(std::span<const uint8_t> in) {
  if (in.empty()) return NeedMore<Greeting>(2);
  if (in[0] != kVersion) {
    return Malformed<Greeting>(Cat("greeting byte 0: SOCKS version ", Hex(in[0]), ", expected 0x05",
                                   in[0] == 0x04 ? " (a SOCKS4 client)" : ""));
  }
  if (in.size() < 2) return NeedMore<Greeting>(2);
  const size_t size = 2 + size_t{in[1]};
  if (in.size() < size) return NeedMore<Greeting>(size);
  Greeting g;
  g.methods.assign(in.begin() + 2, in.begin() + static_cast<ptrdiff_t>(size));
  return Complete(std::move(g), size);
}

Parsed<Credentials> ParseCredentials(std::span<const uint8_t> in) {
  if (in.empty()) return NeedMore<Credentials>(2);
  if (in[0] != kAuthVersion) {
    return Malformed<Credentials>(Cat("username/password byte 0: sub-negotiation version ",
                                      Hex(in[0]), ", expected 0x01 (RFC 1929)"));
  }
  if (in.size() < 2) return NeedMore<Credentials>(2);
  const size_t ulen = in[1];
  if (ulen == 0) {
    return Malformed<Credentials>(
        "username/password byte 1: username length is 0 (RFC 1929 "
        "allows 1 to 255)");
  }
  const size_t plen_at = 2 + ulen;
  if (in.size() < plen_at + 1) return NeedMore<Credentials>(plen_at + 1);
  const size_t size = plen_at + 1 + in[plen_at];
  if (in.size() < size) return NeedMore<Credentials>(size);
  Credentials c;
  c.username = Text(in.subspan(2, ulen));
  c.password = Text(in.subspan(plen_at + 1, in[plen_at]));
  return Complete(std::move(c), size);
}

Parsed<Request> ParseRequest(std::span<const uint8_t> in) {
  if (in.empty()) return NeedMore<Request>(4);
  if (in[0] != kVersion) {
    return Malformed<Request>(Cat("request byte 0: SOCKS version ", Hex(in[0]), ", expected 0x05"));
  }
  if (in.size() < 4) return NeedMore<Request>(4);
  Request r;
  r.command = in[1];
  // in[2] is RSV; RFC 1928 says 0x00, but nothing depends on it, so it is not checked.
  size_t addr_len = 0;
  size_t addr_at = 4;
  switch (in[3]) {
    case static_cast<uint8_t>(AddressType::kIpv4):
      r.address.type = AddressType::kIpv4;
      addr_len = 4;
      break;
    case static_cast<uint8_t>(AddressType::kIpv6):
      r.address.type = AddressType::kIpv6;
      addr_len = 16;
      break;
    case static_cast<uint8_t>(AddressType::kDomain):
      r.address.type = AddressType::kDomain;
      if (in.size() < 5) return NeedMore<Request>(5);
      addr_len = in[4];
      addr_at = 5;
      if (addr_len == 0) return Malformed<Request>("request byte 4: domain name length is 0");
      break;
    default:
      return Malformed<Request>(Cat("request byte 3: address type ", Hex(in[3]),
                                    " is none of 0x01 (IPv4), 0x03 (domain), 0x04 (IPv6)"),
                                Reply::kAddressTypeNotSupported);
  }
  const size_t size = addr_at + addr_len + 2;
  if (in.size() < size) return NeedMore<Request>(size);
  auto addr = in.subspan(addr_at, addr_len);
  if (r.address.type == AddressType::kDomain) {
    // A NUL would cut the name short for the resolver while the filters saw all of it.
    for (size_t i = 0; i < addr.size(); ++i) {
      if (addr[i] <= 0x20 || addr[i] == 0x7f) {
        return Malformed<Request>(Cat("request byte ", addr_at + i, ": domain name contains ",
                                      Hex(addr[i]), ", which no host name may contain"));
      }
    }
    r.address.domain = Text(addr);
  } else {
    std::copy(addr.begin(), addr.end(), r.address.ip.begin());
  }
  r.address.port =
      static_cast<uint16_t>((in[addr_at + addr_len] << 8) | in[addr_at + addr_len + 1]);
  return Complete(std::move(r), size);
}

std::array<uint8_t, 2> EncodeMethodSelection(Method method) {
  return {kVersion, static_cast<uint8_t>(method)};
}

std::array<uint8_t, 2> EncodeAuthStatus(bool success) {
  return {kAuthVersion, static_cast<uint8_t>(success ? 0x00 : 0x01)};
}

std::vector<uint8_t> EncodeReply(Reply reply, const Address& bound) {
  std::vector<uint8_t> out = {kVersion, static_cast<uint8_t>(reply), 0x00};
  if (bound.type == AddressType::kIpv6) {
    out.push_back(static_cast<uint8_t>(AddressType::kIpv6));
    out.insert(out.end(), bound.ip.begin(), bound.ip.end());
  } else {
    out.push_back(static_cast<uint8_t>(AddressType::kIpv4));
    out.insert(out.end(), bound.ip.begin(), bound.ip.begin() + 4);
  }
  out.push_back(static_cast<uint8_t>(bound.port >> 8));
  out.push_back(static_cast<uint8_t>(bound.port & 0xff));
  return out;
}

std::vector<uint8_t> EncodeReply(Reply reply) { return EncodeReply(reply, Address{}); }

const char* ReplyName(Reply reply) {
  switch (reply) {
    case Reply::kSucceeded:
      return "succeeded";
    case Reply::kGeneralFailure:
      return "general failure";
    case Reply::kNotAllowed:
      return "connection not allowed by ruleset";
    case Reply::kNetworkUnreachable:
      return "network unreachable";
    case Reply::kHostUnreachable:
      return "host unreachable";
    case Reply::kConnectionRefused:
      return "connection refused";
    case Reply::kTtlExpired:
      return "TTL expired";
    case Reply::kCommandNotSupported:
      return "command not supported";
    case Reply::kAddressTypeNotSupported:
      return "address type not supported";
  }
  return "unknown reply";
}

}  // namespace tng::ingress::socks5
