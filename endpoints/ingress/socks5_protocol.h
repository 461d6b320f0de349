// The SOCKS5 wire format (RFC 1928, with RFC 1929 username/password authentication), server
// side: pure functions from bytes to messages and back, with no I/O, so they can be fuzzed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace tng::ingress::socks5 {

inline constexpr uint8_t kVersion = 0x05;
inline constexpr uint8_t kAuthVersion = 0x01;  // RFC 1929 sub-negotiation

enum class Method : uint8_t { kNoAuth = 0x00, kUserPass = 0x02, kNoAcceptable = 0xFF };

enum class Command : uint8_t { kConnect = 0x01, kBind = 0x02, kUdpAssociate = 0x03 };

enum class AddressType : uint8_t { kIpv4 = 0x01, kDomain = 0x03, kIpv6 = 0x04 };

enum class Reply : uint8_t {
  kSucceeded = 0x00,
  kGeneralFailure = 0x01,
  kNotAllowed = 0x02,  // connection not allowed by ruleset
  kNetworkUnreachable = 0x03,
  kHostUnreachable = 0x04,
  kConnectionRefused = 0x05,
  kTtlExpired = 0x06,  // used for timeouts, as most servers do
  kCommandNotSupported = 0x07,
  kAddressTypeNotSupported = 0x08,
};

// The longest message each step can carry; a reader never needs more than this buffered.
inline constexpr size_t kMaxGreetingSize = 2 + 255;
inline constexpr size_t kMaxAuthRequestSize = 3 + 255 + 255;
inline constexpr size_t kMaxRequestSize = 4 + 1 + 255 + 2;

// The outcome of parsing one message at the front of a buffer.
enum class ParseState {
  kComplete,   // `consumed` bytes form the message
  kNeedMore,   // the buffer holds a valid prefix; at least `needed` bytes are required in all
  kMalformed,  // `error` names what is wrong and at which byte; `reply` is the answer to send
};

template <typename T>
struct Parsed {
  ParseState state = ParseState::kNeedMore;
  T message{};
  size_t consumed = 0;
  size_t needed = 0;
  std::string error;
  Reply reply = Reply::kGeneralFailure;  // requests only: what to answer a malformed one with
};

// Client -> server: VER NMETHODS METHODS...
struct Greeting {
  std::vector<uint8_t> methods;
  bool Offers(Method m) const;
};

// Client -> server (RFC 1929): VER ULEN UNAME PLEN PASSWD.
struct Credentials {
  std::string username;
  std::string password;
};

// A destination as the client wrote it.
struct Address {
  AddressType type = AddressType::kIpv4;
  std::array<uint8_t, 16> ip{};  // network order; the first 4 bytes for IPv4
  std::string domain;            // kDomain: the name, never empty, without NUL or spaces
  uint16_t port = 0;
  std::string ToString() const;  // "1.2.3.4:80", "[::1]:80", "example.com:80"
};

// Client -> server: VER CMD RSV ATYP DST.ADDR DST.PORT. `command` is the raw byte: the handler
// answers commands it does not serve (and unknown ones) with kCommandNotSupported.
struct Request {
  uint8_t command = 0;
  Address address;
};

Parsed<Greeting> ParseGreeting(std::span<const uint8_t> in);
Parsed<Credentials> ParseCredentials(std::span<const uint8_t> in);
Parsed<Request> ParseRequest(std::span<const uint8_t> in);

// Server -> client messages.
std::array<uint8_t, 2> EncodeMethodSelection(Method method);
std::array<uint8_t, 2> EncodeAuthStatus(bool success);  // RFC 1929: 0x00 success
// VER REP RSV ATYP BND.ADDR BND.PORT; `bound` must be an IPv4 or IPv6 address (failures carry
// 0.0.0.0:0).
std::vector<uint8_t> EncodeReply(Reply reply, const Address& bound);
std::vector<uint8_t> EncodeReply(Reply reply);

const char* ReplyName(Reply reply);

}  // namespace tng::ingress::socks5
