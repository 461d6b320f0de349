// The SOCKS5 ingress on one reactor over loopback sockets: a client coroutine speaks SOCKS5 to
// Socks5Ingress, which goes direct to a plain echo server or through the RA-TLS tunnel to an
// in-process egress (TLS server + relay) in front of the same echo server. No auth and password
// auth, IPv4 / IPv6 / domain destinations, failure replies, and malformed clients.
#include <arpa/inet.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/connection_scope.h"
#include "core/net.h"
#include "core/relay.h"
#include "core/tcp_stream.h"
#include "endpoints/ingress/socks5.h"
#include "gtest/gtest.h"
#include "tests/unit/core/test_sockets.h"

namespace tng::ingress {
namespace {

using Bytes = std::vector<uint8_t>;
using Match = config::EndpointFilter::Match;
constexpr Duration kGuard = std::chrono::seconds(10);  // only stops a broken test from hanging

config::RaOptions NoRa() {
  config::RaOptions ra;
  ra.no_ra = true;
  return ra;
}

config::EndpointFilter PortFilter(uint16_t port, Match match = Match::kAll,
                                  std::string pattern = "") {
  config::EndpointFilter f;
  f.match = match;
  f.pattern = std::move(pattern);
  f.port = port;
  return f;
}

// Messages are assembled into buffers sized up front (GCC 12 -O3 warns falsely on growing ones).
Bytes Str(std::string_view s) { return Bytes(s.begin(), s.end()); }
Bytes Cat(const Bytes& a, const Bytes& b) {
  Bytes out(a.size() + b.size());
  std::memcpy(out.data(), a.data(), a.size());
  if (!b.empty()) std::memcpy(out.data() + a.size(), b.data(), b.size());
  return out;
}
void PutPort(Bytes& b, uint16_t port) {
  b[b.size() - 2] = static_cast<uint8_t>(port >> 8);
  b[b.size() - 1] = static_cast<uint8_t>(port);
}

Bytes ConnectV4(const std::array<uint8_t, 4>& ip, uint16_t port, uint8_t command = 0x01) {
  Bytes b = {0x05, command, 0x00, 0x01, ip[0], ip[1], ip[2], ip[3], 0, 0};
  PutPort(b, port);
  return b;
}
Bytes ConnectV6Loopback(uint16_t port) {
  Bytes b(22, 0x00);
  b[0] = 0x05;
  b[1] = 0x01;
  b[3] = 0x04;
  b[19] = 0x01;  // ::1
  PutPort(b, port);
  return b;
}
Bytes ConnectDomain(std::string_view name, uint16_t port) {
  Bytes b(5 + name.size() + 2);
  b[0] = 0x05;
  b[1] = 0x01;
  b[3] = 0x03;
  b[4] = static_cast<uint8_t>(name.size());
  std::memcpy(b.data() + 5, name.data(), name.size());
  PutPort(b, port);
  return b;
}
Bytes Credentials(std::string_view user, std::string_view password) {
  Bytes b(3 + user.size() + password.size());
  b[0] = 0x01;
  b[1] = static_cast<uint8_t>(user.size());
  std::memcpy(b.data() + 2, user.data(), user.size());
  b[2 + user.size()] = static_cast<uint8_t>(password.size());
  std::memcpy(b.data() + 3 + user.size(), password.data(), password.size());
  return b;
}
const Bytes kGreetNoAuth = {0x05, 0x01, 0x00};
const Bytes kGreetUserPass = {0x05, 0x01, 0x02};
const std::array<uint8_t, 4> kLoopback = {127, 0, 0, 1};

// The application side: one SOCKS5 client connection, driven step by step.
class Client {
 public:
  Client(Reactor& r, UniqueFd fd) : r_(r), fd_(std::move(fd)) {}
  Task<int> Send(Bytes b) { co_return co_await SendAll(r_, fd_.get(), b, kGuard); }
  void ShutdownWrite() { ::shutdown(fd_.get(), SHUT_WR); }
  // Up to `n` bytes: fewer only at EOF or on an error.
  Task<Bytes> Read(size_t n) {
    Bytes out(n);
    size_t got = 0;
    while (got < n) {
      int k = co_await Recv(r_, fd_.get(), std::span(out).subspan(got), kGuard);
      if (k <= 0) break;
      got += static_cast<size_t>(k);
    }
    out.resize(got);
    co_return out;
  }
  Task<Bytes> ReadToEof() { co_return co_await Read(1 << 20); }
  // A CONNECT reply of either address family.
  Task<Bytes> ReadReply() {
    Bytes head = co_await Read(4);
    if (head.size() < 4) co_return head;
    Bytes rest = co_await Read(head[3] == 0x04 ? 18 : 6);
    co_return Cat(head, rest);
  }

 private:
  Reactor& r_;
  UniqueFd fd_;
};

// What one complete session saw.
struct Session {
  Bytes method;
  Bytes auth;
  Bytes reply;
  Bytes echoed;
};

class Socks5IngressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = Reactor::Create(0, {});
    ASSERT_TRUE(r.ok()) << r.status();
    reactor_ = std::move(*r);
    auto client = tunnel::RaTls::Create(NoRa(), crypto::TlsRole::kClient);
    auto server = tunnel::RaTls::Create(NoRa(), crypto::TlsRole::kServer);
    ASSERT_TRUE(client.ok() && server.ok());
    ra_client_ = std::move(*client);
    ra_server_ = std::move(*server);
    // Both listen on [::] (dual stack), so one port serves 127.0.0.1 and ::1.
    echo_ = MakeAcceptor(echo_port_, [this](UniqueFd fd) { Spawn(Echo(std::move(fd))); });
    egress_ = MakeAcceptor(egress_port_, [this](UniqueFd fd) { Spawn(Egress(std::move(fd))); });
  }

  std::unique_ptr<Acceptor> MakeAcceptor(uint16_t& port, Acceptor::Handler handler) {
    auto fd = ListenTcp(*SocketAddress::FromLiteral("::", 0));
    EXPECT_TRUE(fd.ok()) << fd.status();
    SocketAddress a;
    EXPECT_EQ(getsockname(fd->get(), a.mutable_sa(), a.mutable_len()), 0);
    port = a.port();
    return std::make_unique<Acceptor>(*reactor_, std::move(*fd), std::move(handler), "test");
  }

  Socks5Target Target(std::vector<config::EndpointFilter> filters,
                      std::optional<std::pair<std::string, std::string>> auth = {}) {
    config::Socks5Options options;
    options.dst_filters = std::move(filters);
    options.auth = std::move(auth);
    auto t = MakeSocks5Target("socks5-test", options);
    EXPECT_TRUE(t.ok()) << t.status();
    t->client_timeout = std::chrono::milliseconds(300);  // the stalled-client case ends quickly
    return std::move(*t);
  }

  // The destination: echoes until EOF, then closes its side. Records who connected.
  Task<void> Echo(UniqueFd fd) {
    ConnectionScope scope(*reactor_);
    TcpStream s(*reactor_, std::move(fd), &scope);
    SocketAddress peer;
    getpeername(s.fd(), peer.mutable_sa(), peer.mutable_len());
    echo_peer_ports_.push_back(peer.port());
    std::array<uint8_t, 4096> buf;
    for (;;) {
      int n = co_await s.Read(buf);
      if (n <= 0) break;
      if (co_await s.Write(std::span(buf).first(static_cast<size_t>(n))) < 0) break;
    }
    co_await s.ShutdownWrite();
  }

  // An egress as the gateway runs one: RA-TLS server handshake, then a relay to the echo server.
  Task<void> Egress(UniqueFd fd) {
    ConnectionScope scope(*reactor_);
    SocketAddress peer;
    getpeername(fd.get(), peer.mutable_sa(), peer.mutable_len());
    auto tls = co_await ra_server_->Accept(TcpStream(*reactor_, std::move(fd), &scope), kGuard);
    if (!tls.ok()) {
      ++egress_rejected_;
      co_return;
    }
    egress_peer_ports_.push_back(peer.port());
    auto app = co_await DialTcp(*reactor_, "127.0.0.1", echo_port_, kGuard, &scope);
    EXPECT_TRUE(app.ok()) << app.status();
    if (app.ok()) co_await Relay(**tls, *app);
  }

  // Runs `body` on the reactor with the servers up, until it and every connection have ended.
  void Run(std::function<Task<void>()> body) {
    Reactor& r = *reactor_;
    r.Post([&] {
      echo_->Start();
      egress_->Start();
      Spawn(RunBody(std::move(body)));
      r.BeginDrain();
    });
    r.Run();
  }
  Task<void> RunBody(std::function<Task<void>()> body) {
    co_await body();
    echo_->Stop();
    egress_->Stop();
  }

  // A client connection whose other end `ingress` serves.
  Client Open(Socks5Ingress& ingress) {
    auto [c, s] = tng::testing::TcpPair();
    Spawn(ingress.Serve(std::move(s)));
    return Client(*reactor_, std::move(c));
  }

  // A whole session: greeting, optional credentials, request, then a payload echoed to EOF.
  Task<Session> Talk(Socks5Ingress& ingress, Bytes greeting, std::optional<Bytes> credentials,
                     Bytes request, Bytes payload) {
    Session s;
    Client c = Open(ingress);
    EXPECT_EQ(co_await c.Send(greeting), 0);
    s.method = co_await c.Read(2);
    if (credentials) {
      EXPECT_EQ(co_await c.Send(*credentials), 0);
      s.auth = co_await c.Read(2);
    }
    EXPECT_EQ(co_await c.Send(request), 0);
    s.reply = co_await c.ReadReply();
    if (s.reply.size() >= 2 && s.reply[1] == 0x00) {
      EXPECT_EQ(co_await c.Send(payload), 0);
      c.ShutdownWrite();
      s.echoed = co_await c.ReadToEof();
    }
    co_return s;
  }

  static uint16_t BoundPort(const Bytes& reply) {
    return static_cast<uint16_t>(reply[reply.size() - 2] << 8 | reply[reply.size() - 1]);
  }

  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<tunnel::RaTls> ra_client_, ra_server_;
  uint16_t echo_port_ = 0, egress_port_ = 0;
  std::unique_ptr<Acceptor> echo_, egress_;
  std::vector<uint16_t> echo_peer_ports_, egress_peer_ports_;
  int egress_rejected_ = 0;
};

TEST_F(Socks5IngressTest, NoAuthIpv4GoesDirectWhenNoFilterMatches) {
  Socks5Ingress ingress(*reactor_, Target({PortFilter(egress_port_)}), *ra_client_, {});
  Session s;
  Run([&]() -> Task<void> {
    s = co_await Talk(ingress, kGreetNoAuth, {}, ConnectV4(kLoopback, echo_port_),
                      Str("hello, direct"));
  });
  EXPECT_EQ(s.method, (Bytes{0x05, 0x00}));
  ASSERT_EQ(s.reply.size(), 10u);
  EXPECT_EQ(Bytes(s.reply.begin(), s.reply.begin() + 8), (Bytes{5, 0, 0, 1, 127, 0, 0, 1}));
  EXPECT_EQ(s.echoed, Str("hello, direct"));
  ASSERT_EQ(echo_peer_ports_.size(), 1u);
  EXPECT_EQ(BoundPort(s.reply), echo_peer_ports_[0]) << "BND.PORT is the gateway's source port";
  EXPECT_TRUE(egress_peer_ports_.empty());
  EXPECT_EQ(ingress.stats().cx_total, 1u);
  EXPECT_EQ(ingress.stats().cx_failed, 0u);
}

TEST_F(Socks5IngressTest, NoAuthIpv4GoesThroughTheTunnelWhenAFilterMatches) {
  Socks5Ingress ingress(*reactor_, Target({PortFilter(egress_port_)}), *ra_client_, {});
  Session s;
  Run([&]() -> Task<void> {
    s = co_await Talk(ingress, kGreetNoAuth, {}, ConnectV4(kLoopback, egress_port_),
                      Str("hello, tunnel"));
  });
  ASSERT_EQ(s.reply.size(), 10u);
  EXPECT_EQ(s.reply[1], 0x00);
  EXPECT_EQ(s.echoed, Str("hello, tunnel"));
  ASSERT_EQ(egress_peer_ports_.size(), 1u) << "the egress completed one RA-TLS handshake";
  EXPECT_EQ(BoundPort(s.reply), egress_peer_ports_[0]);
  EXPECT_EQ(egress_rejected_, 0);
}

TEST_F(Socks5IngressTest, Ipv6DestinationThroughTheTunnel) {
  Socks5Ingress ingress(*reactor_, Target({PortFilter(egress_port_)}), *ra_client_, {});
  Session s;
  Run([&]() -> Task<void> {
    s = co_await Talk(ingress, kGreetNoAuth, {}, ConnectV6Loopback(egress_port_), Str("six"));
  });
  ASSERT_EQ(s.reply.size(), 22u) << "an IPv6 BND.ADDR";
  EXPECT_EQ(s.reply[3], 0x04);
  EXPECT_EQ(s.reply[19], 0x01) << "bound to ::1";
  EXPECT_EQ(s.echoed, Str("six"));
  EXPECT_EQ(egress_peer_ports_.size(), 1u);
}

TEST_F(Socks5IngressTest, DomainIsResolvedInTheGatewayAndMatchedByName) {
  // Only the name matches: the same port by address would go direct.
  Socks5Ingress ingress(*reactor_, Target({PortFilter(egress_port_, Match::kDomain, "LocalHost")}),
                        *ra_client_, {});
  Session by_name, by_address;
  Run([&]() -> Task<void> {
    by_name = co_await Talk(ingress, kGreetNoAuth, {}, ConnectDomain("localhost", egress_port_),
                            Str("named"));
    by_address = co_await Talk(ingress, kGreetNoAuth, {}, ConnectV4(kLoopback, egress_port_),
                               Str("numbered"));
  });
  ASSERT_GE(by_name.reply.size(), 10u);
  EXPECT_EQ(by_name.reply[1], 0x00);
  EXPECT_EQ(by_name.echoed, Str("named"));
  EXPECT_EQ(egress_peer_ports_.size(), 1u);
  // Plaintext to the egress port: the egress refuses it, and the client sees its data dropped.
  EXPECT_EQ(by_address.reply[1], 0x00);
  EXPECT_TRUE(by_address.echoed.empty());
  EXPECT_EQ(egress_rejected_, 1);
}

TEST_F(Socks5IngressTest, PasswordAuthAcceptsTheRightCredentialsOnly) {
  Socks5Ingress ingress(*reactor_, Target({}, std::pair<std::string, std::string>("alice", "s3")),
                        *ra_client_, {});
  Session good, wrong_password, wrong_user;
  Bytes no_auth_method, bad_version_status;
  // (Byte lists are built outside the coroutine: GCC 12 rejects braced arrays inside co_await.)
  const Bytes greet_both = {0x05, 0x02, 0x00, 0x02};
  const Bytes socks5_not_rfc1929 = Cat(kGreetUserPass, Bytes{0x05, 0x01, 'a', 0x01, 'b'});
  Run([&]() -> Task<void> {
    good = co_await Talk(ingress, greet_both, Credentials("alice", "s3"),
                         ConnectV4(kLoopback, egress_port_), Str("authenticated"));
    wrong_password = co_await Talk(ingress, kGreetUserPass, Credentials("alice", "s4"),
                                   ConnectV4(kLoopback, egress_port_), Str("x"));
    wrong_user = co_await Talk(ingress, kGreetUserPass, Credentials(std::string(255, 'a'), "s3"),
                               ConnectV4(kLoopback, egress_port_), Str("x"));
    // A client that only offers "no authentication" is told no method is acceptable.
    Client c = Open(ingress);
    co_await c.Send(kGreetNoAuth);
    no_auth_method = co_await c.ReadToEof();
    // A SOCKS5 greeting byte where the RFC 1929 version belongs.
    Client d = Open(ingress);
    co_await d.Send(socks5_not_rfc1929);
    bad_version_status = co_await d.Read(4);
  });
  EXPECT_EQ(good.method, (Bytes{0x05, 0x02}));
  EXPECT_EQ(good.auth, (Bytes{0x01, 0x00}));
  EXPECT_EQ(good.echoed, Str("authenticated"));
  EXPECT_EQ(wrong_password.auth, (Bytes{0x01, 0x01}));
  EXPECT_TRUE(wrong_password.reply.empty()) << "the connection closes after a failed login";
  EXPECT_EQ(wrong_user.auth, (Bytes{0x01, 0x01}));
  EXPECT_EQ(no_auth_method, (Bytes{0x05, 0xff}));
  EXPECT_EQ(bad_version_status, (Bytes{0x05, 0x02, 0x01, 0x01}));
  EXPECT_EQ(egress_peer_ports_.size(), 1u);
  EXPECT_EQ(ingress.stats().cx_failed, 4u);
}

TEST_F(Socks5IngressTest, FailuresAreRepliedWithTheirCode) {
  // A port nothing listens on: bound, then closed.
  uint16_t closed_port = 0;
  {
    auto fd = ListenTcp(*SocketAddress::FromLiteral("127.0.0.1", 0));
    ASSERT_TRUE(fd.ok());
    SocketAddress a;
    getsockname(fd->get(), a.mutable_sa(), a.mutable_len());
    closed_port = a.port();
  }
  // The echo server speaks no TLS, so a tunnel to it fails its handshake.
  Socks5Ingress ingress(*reactor_, Target({PortFilter(echo_port_)}), *ra_client_, {});
  Session refused, handshake, bind, udp;
  Run([&]() -> Task<void> {
    refused = co_await Talk(ingress, kGreetNoAuth, {}, ConnectV4(kLoopback, closed_port), {});
    handshake = co_await Talk(ingress, kGreetNoAuth, {}, ConnectV4(kLoopback, echo_port_), {});
    bind = co_await Talk(ingress, kGreetNoAuth, {}, ConnectV4(kLoopback, echo_port_, 0x02), {});
    udp = co_await Talk(ingress, kGreetNoAuth, {}, ConnectV4(kLoopback, echo_port_, 0x03), {});
  });
  EXPECT_EQ(refused.reply, (Bytes{5, 0x05, 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(handshake.reply, (Bytes{5, 0x01, 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(bind.reply, (Bytes{5, 0x07, 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(udp.reply, (Bytes{5, 0x07, 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(ingress.stats().cx_failed, 4u);
}

TEST_F(Socks5IngressTest, DataSentAheadOfTheReplyIsForwarded) {
  Socks5Ingress ingress(*reactor_, Target({PortFilter(egress_port_)}), *ra_client_, {});
  Bytes answer, echoed;
  Run([&]() -> Task<void> {
    Client c = Open(ingress);
    // Greeting, request and the first application bytes in one segment.
    co_await c.Send(Cat(Cat(kGreetNoAuth, ConnectV4(kLoopback, egress_port_)), Str("early ")));
    answer = co_await c.Read(12);
    co_await c.Send(Str("and late"));
    c.ShutdownWrite();
    echoed = co_await c.ReadToEof();
  });
  ASSERT_EQ(answer.size(), 12u);
  EXPECT_EQ(answer[1], 0x00);
  EXPECT_EQ(answer[3], 0x00) << "reply code";
  EXPECT_EQ(echoed, Str("early and late"));
}

TEST_F(Socks5IngressTest, MalformedClientsAreRefusedAndTheEndpointKeepsServing) {
  Socks5Ingress ingress(*reactor_, Target({PortFilter(egress_port_)}), *ra_client_, {});
  Bytes socks4, http, atyp, empty_domain, truncated, stalled;
  Session after;
  const Bytes socks4_connect = {0x04, 0x01, 0x00, 0x50, 127, 0, 0, 1, 0x00};
  const Bytes bad_atyp = Cat(kGreetNoAuth, Bytes{0x05, 0x01, 0x00, 0x02, 1, 2, 3, 4, 0, 80});
  const Bytes no_domain = Cat(kGreetNoAuth, Bytes{0x05, 0x01, 0x00, 0x03, 0x00, 0x00, 0x50});
  const Bytes cut_short = Cat(kGreetNoAuth, Bytes{0x05, 0x01, 0x00, 0x03, 0x0a, 'a', 'b'});
  const Bytes half_greeting = {0x05};
  ::testing::internal::CaptureStderr();
  Run([&]() -> Task<void> {
    Client a = Open(ingress);  // SOCKS4 CONNECT
    co_await a.Send(socks4_connect);
    socks4 = co_await a.ReadToEof();
    Client b = Open(ingress);  // HTTP on the SOCKS port
    co_await b.Send(Str("GET / HTTP/1.1\r\n\r\n"));
    http = co_await b.ReadToEof();
    Client c = Open(ingress);  // address type 0x02
    co_await c.Send(bad_atyp);
    atyp = co_await c.ReadToEof();
    Client d = Open(ingress);  // zero-length domain
    co_await d.Send(no_domain);
    empty_domain = co_await d.ReadToEof();
    Client e = Open(ingress);  // domain of 10 bytes announced, 2 sent, then EOF
    co_await e.Send(cut_short);
    e.ShutdownWrite();
    truncated = co_await e.ReadToEof();
    Client f = Open(ingress);  // half a greeting, then silence: the read timeout closes it
    co_await f.Send(half_greeting);
    stalled = co_await f.ReadToEof();
    after = co_await Talk(ingress, kGreetNoAuth, {}, ConnectV4(kLoopback, egress_port_),
                          Str("still serving"));
  });
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(socks4.empty());
  EXPECT_TRUE(http.empty());
  EXPECT_EQ(atyp, Cat(Bytes{0x05, 0x00}, Bytes{5, 0x08, 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(empty_domain, Cat(Bytes{0x05, 0x00}, Bytes{5, 0x01, 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(truncated, (Bytes{0x05, 0x00})) << "no reply to a request cut short";
  EXPECT_TRUE(stalled.empty());
  EXPECT_EQ(after.echoed, Str("still serving"));
  EXPECT_EQ(ingress.stats().cx_failed, 6u);
  EXPECT_EQ(ingress.stats().cx_total, 7u);
  for (const char* what : {"SOCKS version 0x04, expected 0x05 (a SOCKS4 client)",
                           "SOCKS version 0x47", "address type 0x02", "domain name length is 0",
                           "truncated request: client closed the connection after 7 of at least 17",
                           "no complete greeting from the client within 300 ms"}) {
    EXPECT_NE(log.find(what), std::string::npos) << "log lacks '" << what << "':\n" << log;
  }
}

TEST(MakeSocks5Target, RejectsCredentialsRfc1929CannotCarryAndBadFilters) {
  config::Socks5Options options;
  options.auth = {std::string(256, 'u'), "p"};
  auto long_user = MakeSocks5Target("x", options);
  ASSERT_FALSE(long_user.ok());
  EXPECT_NE(long_user.status().message().find("auth.username is 256 bytes"), std::string::npos);
  options.auth = {"u", std::string(300, 'p')};
  EXPECT_FALSE(MakeSocks5Target("x", options).ok());
  options.auth.reset();
  options.dst_filters = {PortFilter(80, Match::kDomainRegex, "(")};
  auto regex = MakeSocks5Target("x", options);
  ASSERT_FALSE(regex.ok());
  EXPECT_NE(regex.status().message().find("dst_filters[0].domain_regex"), std::string::npos);
}

}  // namespace
}  // namespace tng::ingress
