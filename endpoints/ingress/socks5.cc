#include "endpoints/ingress/socks5.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "core/connection_scope.h"
#include "core/json.h"
#include "core/log.h"
#include "core/net.h"
#include "core/relay.h"
#include "core/tcp_stream.h"
#include "endpoints/access_log.h"
#include "endpoints/ingress/socks5_protocol.h"

namespace tng::ingress {

using json::Cat;
using socks5::Method;
using socks5::ParseState;
using socks5::Reply;

namespace {

std::string Hex(uint8_t b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  return std::string("0x") + kDigits[b >> 4] + kDigits[b & 15];
}

int64_t Millis(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// What reading one negotiation message from the client gave.
template <typename T>
struct Step {
  std::optional<T> message;
  absl::Status error;      // when there is no message
  bool malformed = false;  // the client sent wrong bytes (rather than closing or stalling)
  Reply reply = Reply::kGeneralFailure;
};

// The client's bytes before the relay: read with a timeout each, parsed message by message.
// Bytes a client sends ahead (greeting, request and data in one segment) are kept in order.
class ClientReader {
 public:
  ClientReader(TcpStream& client, Duration timeout) : client_(client), timeout_(timeout) {}

  template <typename T>
  Task<Step<T>> Next(socks5::Parsed<T> (*parse)(std::span<const uint8_t>), const char* what) {
    for (;;) {
      socks5::Parsed<T> p = parse(rest());
      if (p.state == ParseState::kComplete) {
        begin_ += p.consumed;
        co_return Step<T>{std::move(p.message), absl::OkStatus()};
      }
      if (p.state == ParseState::kMalformed) {
        co_return Step<T>{std::nullopt, absl::InvalidArgumentError(p.error), true, p.reply};
      }
      const size_t have = end_ - begin_;
      std::memmove(buf_.data(), buf_.data() + begin_, have);
      begin_ = 0;
      end_ = have;
      int n = co_await client_.Read(std::span(buf_).subspan(end_), timeout_);
      if (n > 0) {
        end_ += static_cast<size_t>(n);
        continue;
      }
      absl::Status error;
      if (n == 0 && have == 0) {
        error = absl::UnavailableError(Cat("client closed the connection before the ", what));
      } else if (n == 0) {
        error = absl::InvalidArgumentError(Cat("truncated ", what,
                                               ": client closed the connection after ", have,
                                               " of at least ", p.needed, " bytes"));
      } else if (n == -ETIMEDOUT) {
        error = absl::DeadlineExceededError(Cat("no complete ", what, " from the client within ",
                                                Millis(timeout_), " ms (got ", have,
                                                " of at least ", p.needed, " bytes)"));
      } else {
        error =
            absl::UnavailableError(Cat("reading the ", what, ": ", std::string_view(strerror(-n))));
      }
      co_return Step<T>{std::nullopt, std::move(error)};
    }
  }

  // Bytes received after the last message: application data the client sent ahead.
  std::span<const uint8_t> rest() const {
    return std::span<const uint8_t>(buf_).subspan(begin_, end_ - begin_);
  }

 private:
  TcpStream& client_;
  Duration timeout_;
  // Enough for the largest greeting, credentials and request sent back to back.
  std::array<uint8_t, 2048> buf_{};
  size_t begin_ = 0;
  size_t end_ = 0;
};

// After refusing a client: stop sending, then take what it still sends until it closes (bounded),
// because closing with unread input resets the connection and may destroy the reply in flight.
Task<void> CloseAfterRefusal(TcpStream& client, Duration timeout) {
  ::shutdown(client.fd(), SHUT_WR);
  std::array<uint8_t, 512> sink;
  for (int i = 0; i < 128; ++i) {
    if (co_await client.Read(sink, timeout) <= 0) break;
  }
}

// Compares without an early exit, so the time taken does not tell how much of a guess was right.
bool SameSecret(std::string_view a, std::string_view b) {
  uint8_t diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const uint8_t x = i < a.size() ? static_cast<uint8_t>(a[i]) : 0;
    const uint8_t y = i < b.size() ? static_cast<uint8_t>(b[i]) : 0;
    diff |= static_cast<uint8_t>(x ^ y);
  }
  return diff == 0;
}

// A client-chosen name for a log line: shown when it is short printable ASCII, else only its size
// (no control bytes in logs, no long secrets typed into the wrong field).
std::string Shown(std::string_view name) {
  const bool printable = name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
                           return c > 0x20 && c < 0x7f;
                         });
  return printable ? Cat("'", name, "'") : Cat("of ", name.size(), " bytes");
}

std::string MethodList(const socks5::Greeting& g) {
  std::string out = "[";
  for (uint8_t m : g.methods) out += (out.size() > 1 ? ", " : "") + Hex(m);
  return out + "]";
}

const char* CommandName(uint8_t command) {
  switch (command) {
    case static_cast<uint8_t>(socks5::Command::kConnect):
      return "CONNECT";
    case static_cast<uint8_t>(socks5::Command::kBind):
      return "BIND";
    case static_cast<uint8_t>(socks5::Command::kUdpAssociate):
      return "UDP ASSOCIATE";
  }
  return "unknown";
}

Destination ToDestination(const socks5::Address& a) {
  // The address type the client chose decides, as in TNG: a name that looks like an address
  // ("10.0.0.1" sent as a domain) is matched as a name.
  switch (a.type) {
    case socks5::AddressType::kIpv4:
      return Destination::Ipv4(std::span<const uint8_t, 4>(a.ip.data(), 4), a.port);
    case socks5::AddressType::kIpv6:
      return Destination::Ipv6(std::span<const uint8_t, 16>(a.ip.data(), 16), a.port);
    case socks5::AddressType::kDomain:
      break;
  }
  return Destination::Domain(a.domain, a.port);
}

SocketAddress ToSocketAddress(const socks5::Address& a) {
  sockaddr_storage ss{};
  if (a.type == socks5::AddressType::kIpv6) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(a.port);
    std::memcpy(&v6->sin6_addr, a.ip.data(), 16);
    return SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), sizeof(sockaddr_in6));
  }
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  v4->sin_family = AF_INET;
  v4->sin_port = htons(a.port);
  std::memcpy(&v4->sin_addr, a.ip.data(), 4);
  return SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), sizeof(sockaddr_in));
}

// The gateway's end of the outbound connection: BND.ADDR and BND.PORT of the reply.
socks5::Address BoundAddress(int fd) {
  socks5::Address a;
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return a;
  if (ss.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    a.type = socks5::AddressType::kIpv6;
    std::memcpy(a.ip.data(), &v6->sin6_addr, 16);
    a.port = ntohs(v6->sin6_port);
  } else if (ss.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&ss);
    std::memcpy(a.ip.data(), &v4->sin_addr, 4);
    a.port = ntohs(v4->sin_port);
  }
  return a;
}

Reply ConnectReply(int err) {
  switch (err) {
    case ECONNREFUSED:
      return Reply::kConnectionRefused;
    case ENETUNREACH:
      return Reply::kNetworkUnreachable;
    case EHOSTUNREACH:
      return Reply::kHostUnreachable;
    case ETIMEDOUT:
      return Reply::kTtlExpired;
  }
  return Reply::kGeneralFailure;
}

Reply HandshakeReply(const absl::Status& status) {
  if (absl::IsPermissionDenied(status)) return Reply::kNotAllowed;  // the peer failed the check
  if (absl::IsDeadlineExceeded(status)) return Reply::kTtlExpired;
  return Reply::kGeneralFailure;
}

struct Dialed {
  absl::StatusOr<TcpStream> stream;
  Reply reply = Reply::kGeneralFailure;  // when the dial failed
};

// Resolves (socks5h: names are resolved here, in the gateway) and connects.
Task<Dialed> Dial(Reactor& reactor, const socks5::Address& dst, Duration timeout,
                  ConnectionScope* scope) {
  SocketAddress addr;
  if (dst.type == socks5::AddressType::kDomain) {
    auto resolved = co_await Resolve(reactor, dst.domain, dst.port);
    if (!resolved.ok()) co_return Dialed{resolved.status(), Reply::kHostUnreachable};
    addr = *resolved;
  } else {
    addr = ToSocketAddress(dst);
  }
  auto fd = NewTcpSocket(addr.family());
  if (!fd.ok()) co_return Dialed{fd.status()};
  TcpStream stream(reactor, std::move(*fd), scope);
  const int rc = co_await Connect(reactor, stream.fd(), addr.sa(), addr.len(), timeout);
  if (rc < 0) {
    const std::string via =
        dst.type == socks5::AddressType::kDomain ? Cat(" (", addr.ToString(), ")") : std::string();
    co_return Dialed{
        absl::UnavailableError(Cat(
            "connect to ", dst.ToString(), via, " failed: ",
            rc == -ETIMEDOUT ? std::string_view("timed out") : std::string_view(strerror(-rc)))),
        ConnectReply(-rc)};
  }
  co_return Dialed{std::move(stream)};
}

// Success reply, the bytes the client sent ahead, then the relay until both directions end.
template <typename Upstream>
Task<void> RelayToDestination(TcpStream& client, ClientReader& in, Upstream& upstream,
                              const socks5::Address& bound, Duration timeout, AccessLog& log) {
  if (int rc = co_await client.Write(socks5::EncodeReply(Reply::kSucceeded, bound), timeout);
      rc < 0) {
    log.Fail("reply",
             absl::UnavailableError(Cat("sending the reply: ", std::string_view(strerror(-rc)))));
    co_return;
  }
  const std::span<const uint8_t> ahead = in.rest();
  if (!ahead.empty()) {
    if (int rc = co_await upstream.Write(ahead); rc < 0) {
      log.Fail("relay", absl::UnavailableError(Cat("forwarding early client data: ",
                                                   std::string_view(strerror(-rc)))));
      co_return;
    }
  }
  RelayStats relay = co_await Relay(client, upstream);
  log.Done(relay.a_to_b + ahead.size(), relay.b_to_a, relay.a_error, relay.b_error);
}

}  // namespace

absl::StatusOr<Socks5Target> MakeSocks5Target(std::string id, const config::Socks5Options& socks5) {
  Socks5Target t;
  t.id = std::move(id);
  t.listen = Cat(socks5.proxy_listen.host, ":", socks5.proxy_listen.port);
  if (socks5.auth) {
    // RFC 1929 carries each in one length byte: longer ones could never be sent.
    if (socks5.auth->first.empty() || socks5.auth->first.size() > 255) {
      return absl::InvalidArgumentError(
          Cat("auth.username is ", socks5.auth->first.size(), " bytes; RFC 1929 allows 1 to 255"));
    }
    if (socks5.auth->second.size() > 255) {
      return absl::InvalidArgumentError(Cat("auth.password is ", socks5.auth->second.size(),
                                            " bytes; RFC 1929 allows at most 255"));
    }
    t.auth = socks5.auth;
  }
  auto filter = DstFilter::Create(socks5.dst_filters);
  if (!filter.ok()) return filter.status();
  t.dst_filter = std::move(*filter);
  return t;
}

Task<void> Socks5Ingress::Serve(UniqueFd client_fd) {
  ConnectionScope scope(reactor_);
  AccessLog log(target_.id, "ingress", stats_);
  TcpStream client(reactor_, std::move(client_fd), &scope);
  log.SetPeer(client.fd());
  const Duration timeout = target_.client_timeout;
  ClientReader in(client, timeout);

  // Method negotiation: username/password when configured, else no authentication.
  auto greeting = co_await in.Next(socks5::ParseGreeting, "greeting");
  if (!greeting.message) {
    log.Fail("greeting", greeting.error);
    co_return;  // not SOCKS5: there is no reply it would understand
  }
  const Method wanted = target_.auth ? Method::kUserPass : Method::kNoAuth;
  const Method method = greeting.message->Offers(wanted) ? wanted : Method::kNoAcceptable;
  if (co_await client.Write(socks5::EncodeMethodSelection(method), timeout) < 0) {
    log.Fail("greeting", absl::UnavailableError("client went away before the method selection"));
    co_return;
  }
  if (method == Method::kNoAcceptable) {
    log.Fail("greeting", absl::PermissionDeniedError(
                             Cat("no acceptable method: the client offered ",
                                 MethodList(*greeting.message), ", the endpoint requires ",
                                 target_.auth ? "0x02 (username/password)" : "0x00 (no auth)")));
    co_await CloseAfterRefusal(client, timeout);
    co_return;
  }

  // RFC 1929 username/password.
  if (method == Method::kUserPass) {
    auto credentials = co_await in.Next(socks5::ParseCredentials, "username/password");
    bool accepted = false;
    if (credentials.message) {
      // Both compared in full, so the time taken does not tell which one was wrong.
      const bool user_ok = SameSecret(credentials.message->username, target_.auth->first);
      const bool password_ok = SameSecret(credentials.message->password, target_.auth->second);
      accepted = user_ok && password_ok;
    }
    if (credentials.message || credentials.malformed) {
      if (co_await client.Write(socks5::EncodeAuthStatus(accepted), timeout) < 0) accepted = false;
    }
    if (!accepted) {
      log.Fail("auth", credentials.message ? absl::PermissionDeniedError(
                                                 Cat("wrong username or password (username ",
                                                     Shown(credentials.message->username), ")"))
                                           : credentials.error);
      if (credentials.message || credentials.malformed) {
        co_await CloseAfterRefusal(client, timeout);
      }
      co_return;
    }
  }

  // The request: only CONNECT is served.
  auto request = co_await in.Next(socks5::ParseRequest, "request");
  if (!request.message) {
    log.Fail("request", request.error);
    if (request.malformed &&
        co_await client.Write(socks5::EncodeReply(request.reply), timeout) == 0) {
      co_await CloseAfterRefusal(client, timeout);
    }
    co_return;
  }
  const socks5::Address& dst = request.message->address;
  if (request.message->command != static_cast<uint8_t>(socks5::Command::kConnect)) {
    log.Fail("request", absl::UnimplementedError(Cat("command ", Hex(request.message->command),
                                                     " (", CommandName(request.message->command),
                                                     ") to ", dst.ToString(),
                                                     " is not supported; only CONNECT (0x01) is")));
    if (co_await client.Write(socks5::EncodeReply(Reply::kCommandNotSupported), timeout) == 0) {
      co_await CloseAfterRefusal(client, timeout);
    }
    co_return;
  }

  // Decide: through the tunnel when dst_filters match, else straight to the destination.
  const bool via_tunnel = target_.dst_filter.Matches(ToDestination(dst));
  const char* route = via_tunnel ? "tunnel" : "direct";
  TNG_LOG(Debug, "socks5").Kv("endpoint", target_.id).Kv("dst", dst.ToString()).Kv("route", route)
      << "CONNECT";

  // Refusals from here on tell the client why, with the RFC 1928 reply code.
  auto refuse = [&](std::string_view stage, const absl::Status& status, Reply reply) -> Task<void> {
    log.Fail(stage, absl::Status(status.code(), Cat(route, " to ", dst.ToString(), ": ",
                                                    std::string(status.message()), " (reply ",
                                                    socks5::ReplyName(reply), ")")));
    if (co_await client.Write(socks5::EncodeReply(reply), timeout) == 0) {
      co_await CloseAfterRefusal(client, timeout);
    }
  };

  // Dial the destination (for the tunnel, the egress sits there and captures the port).
  Dialed dialed = co_await Dial(reactor_, dst, timeouts_.connect, &scope);
  if (!dialed.stream.ok()) {
    co_await refuse("dial", dialed.stream.status(), dialed.reply);
    co_return;
  }
  const socks5::Address bound = BoundAddress(dialed.stream->fd());
  if (!via_tunnel) {
    co_await RelayToDestination(client, in, *dialed.stream, bound, timeout, log);
    co_return;
  }

  // Handshake and check the peer before the client is told it may send.
  auto tunnel = co_await ra_tls_.Connect(std::move(*dialed.stream), timeouts_.handshake);
  if (!tunnel.ok()) {
    co_await refuse(tunnel::FailureStage(tunnel.status()), tunnel.status(),
                    HandshakeReply(tunnel.status()));
    co_return;
  }
  log.SetAttestation((*tunnel)->attestation());
  co_await RelayToDestination(client, in, **tunnel, bound, timeout, log);
}

}  // namespace tng::ingress
