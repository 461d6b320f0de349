// The RA-TLS stream over real loopback sockets on a reactor: handshake, byte-exact relay through
// an ingress/egress pair, TLS 1.3 half-close, and rejection of forged records.
#include "endpoints/tunnel/tls_stream.h"

#include <sys/socket.h>

#include <cerrno>
#include <random>
#include <string>
#include <vector>

#include "core/connection_scope.h"
#include "core/relay.h"
#include "endpoints/tunnel/ra_tls.h"
#include "gtest/gtest.h"
#include "tests/unit/core/test_sockets.h"

namespace tng::tunnel {
namespace {

using tng::testing::TcpPair;

config::RaOptions NoRa() {
  config::RaOptions ra;
  ra.no_ra = true;
  return ra;
}

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class TlsStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = Reactor::Create(0, {});
    ASSERT_TRUE(r.ok());
    reactor_ = std::move(*r);
    auto client = RaTls::Create(NoRa(), crypto::TlsRole::kClient);
    auto server = RaTls::Create(NoRa(), crypto::TlsRole::kServer);
    ASSERT_TRUE(client.ok()) << client.status();
    ASSERT_TRUE(server.ok()) << server.status();
    client_ = std::move(*client);
    server_ = std::move(*server);
  }
  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<RaTls> client_, server_;
};

TEST_F(TlsStreamTest, HandshakeThenHalfCloseEachWay) {
  auto [c, s] = TcpPair();
  Reactor& r = *reactor_;
  std::string server_got, client_got;
  int server_eof = 1, client_eof = 1;
  std::string client_alpn, client_version;
  auto client = [&](UniqueFd fd) -> Task<void> {
    ConnectionScope scope(r);
    auto t =
        co_await client_->Connect(TcpStream(r, std::move(fd), &scope), std::chrono::seconds(5));
    EXPECT_TRUE(t.ok()) << t.status();
    if (!t.ok()) co_return;
    client_alpn = (*t)->session().NegotiatedAlpn();
    client_version = (*t)->session().Version();
    EXPECT_EQ(co_await (*t)->Write(Bytes("ping")), 0);
    co_await (*t)->ShutdownWrite();  // client done sending, still reading
    uint8_t buf[64];
    for (;;) {
      int n = co_await (*t)->Read(std::span(buf));
      if (n <= 0) {
        client_eof = n;
        break;
      }
      client_got.append(reinterpret_cast<char*>(buf), n);
    }
  };
  auto server = [&](UniqueFd fd) -> Task<void> {
    ConnectionScope scope(r);
    auto t = co_await server_->Accept(TcpStream(r, std::move(fd), &scope), std::chrono::seconds(5));
    EXPECT_TRUE(t.ok()) << t.status();
    if (!t.ok()) co_return;
    uint8_t buf[64];
    for (;;) {
      int n = co_await (*t)->Read(std::span(buf));
      if (n <= 0) {
        server_eof = n;
        break;
      }
      server_got.append(reinterpret_cast<char*>(buf), n);
    }
    // The client's close_notify ended only its direction: the server can still answer.
    EXPECT_EQ(co_await (*t)->Write(Bytes("pong after eof")), 0);
    co_await (*t)->ShutdownWrite();
  };
  // Post() takes a copyable function: hand the sockets over as raw descriptors.
  r.Post([&, cfd = c.release(), sfd = s.release()] {
    Spawn(client(UniqueFd(cfd)));
    Spawn(server(UniqueFd(sfd)));
    r.BeginDrain();
  });
  r.Run();
  EXPECT_EQ(client_alpn, "rats-tls");
  EXPECT_EQ(client_version, "TLSv1.3");
  EXPECT_EQ(server_got, "ping");
  EXPECT_EQ(server_eof, 0);
  EXPECT_EQ(client_got, "pong after eof");
  EXPECT_EQ(client_eof, 0);
}

// app_a -> [ingress: TcpStream | TlsStream] -> [egress: TlsStream | TcpStream] -> app_b
TEST_F(TlsStreamTest, RelayThroughTunnelIsByteExactBothWays) {
  auto [app_a, in_app] = TcpPair();
  auto [in_tun, eg_tun] = TcpPair();
  auto [eg_app, app_b] = TcpPair();
  Reactor& r = *reactor_;
  std::mt19937 rng(7);
  std::vector<uint8_t> up(5 << 20), down(3 << 20);
  for (auto& b : up) b = static_cast<uint8_t>(rng());
  for (auto& b : down) b = static_cast<uint8_t>(rng());
  std::vector<uint8_t> got_up, got_down;

  auto ingress = [&](UniqueFd app, UniqueFd tun) -> Task<void> {
    ConnectionScope scope(r);
    TcpStream a(r, std::move(app), &scope);
    auto t =
        co_await client_->Connect(TcpStream(r, std::move(tun), &scope), std::chrono::seconds(5));
    EXPECT_TRUE(t.ok()) << t.status();
    if (t.ok()) co_await Relay(a, **t);
  };
  auto egress = [&](UniqueFd tun, UniqueFd app) -> Task<void> {
    ConnectionScope scope(r);
    TcpStream b(r, std::move(app), &scope);
    auto t =
        co_await server_->Accept(TcpStream(r, std::move(tun), &scope), std::chrono::seconds(5));
    EXPECT_TRUE(t.ok()) << t.status();
    if (t.ok()) co_await Relay(**t, b);
  };
  auto writer = [&](int fd, const std::vector<uint8_t>& data) -> Task<void> {
    ConnectionScope scope(r);
    std::mt19937 chunks(fd);
    size_t off = 0;
    while (off < data.size()) {
      size_t n = std::min<size_t>(data.size() - off, 1 + chunks() % 40000);
      EXPECT_EQ(co_await SendAll(r, fd, std::span(data.data() + off, n)), 0);
      off += n;
    }
    ::shutdown(fd, SHUT_WR);
  };
  auto reader = [&](int fd, std::vector<uint8_t>& out) -> Task<void> {
    ConnectionScope scope(r);
    std::vector<uint8_t> buf(50000);
    for (;;) {
      int n = co_await Recv(r, fd, std::span(buf));
      if (n <= 0) {
        EXPECT_EQ(n, 0);
        break;
      }
      out.insert(out.end(), buf.begin(), buf.begin() + n);
    }
  };
  r.Post([&]() {
    Spawn(ingress(std::move(in_app), std::move(in_tun)));
    Spawn(egress(std::move(eg_tun), std::move(eg_app)));
    Spawn(writer(app_a.get(), up));
    Spawn(writer(app_b.get(), down));
    Spawn(reader(app_b.get(), got_up));
    Spawn(reader(app_a.get(), got_down));
    r.BeginDrain();
  });
  r.Run();
  EXPECT_TRUE(got_up == up) << "up: got " << got_up.size() << " of " << up.size();
  EXPECT_TRUE(got_down == down) << "down: got " << got_down.size() << " of " << down.size();
}

TEST_F(TlsStreamTest, ForgedRecordIsRejected) {
  auto [c, s] = TcpPair();
  Reactor& r = *reactor_;
  int server_read = 1;
  auto client = [&](UniqueFd fd) -> Task<void> {
    ConnectionScope scope(r);
    int raw = fd.get();
    auto t =
        co_await client_->Connect(TcpStream(r, std::move(fd), &scope), std::chrono::seconds(5));
    EXPECT_TRUE(t.ok());
    if (!t.ok()) co_return;
    // An application_data record whose ciphertext was not produced with the session keys.
    std::vector<uint8_t> forged = {0x17, 0x03, 0x03, 0x00, 0x20};
    for (int i = 0; i < 32; ++i) forged.push_back(static_cast<uint8_t>(i * 37));
    EXPECT_EQ(co_await SendAll(r, raw, forged), 0);
    uint8_t buf[16];
    co_await (*t)->Read(std::span(buf));  // ends when the server gives up on the connection
  };
  auto server = [&](UniqueFd fd) -> Task<void> {
    ConnectionScope scope(r);
    auto t = co_await server_->Accept(TcpStream(r, std::move(fd), &scope), std::chrono::seconds(5));
    EXPECT_TRUE(t.ok());
    if (!t.ok()) co_return;
    uint8_t buf[64];
    server_read = co_await (*t)->Read(std::span(buf));
    (*t)->Abort();
  };
  // Post() takes a copyable function: hand the sockets over as raw descriptors.
  r.Post([&, cfd = c.release(), sfd = s.release()] {
    Spawn(client(UniqueFd(cfd)));
    Spawn(server(UniqueFd(sfd)));
    r.BeginDrain();
  });
  r.Run();
  EXPECT_EQ(server_read, -EPROTO);
}

TEST_F(TlsStreamTest, PlaintextClientFailsHandshakeWithClearError) {
  auto [c, s] = TcpPair();
  Reactor& r = *reactor_;
  std::string error;
  ASSERT_EQ(::send(c.get(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, 0), 27);
  auto server = [&](UniqueFd fd) -> Task<void> {
    ConnectionScope scope(r);
    auto t = co_await server_->Accept(TcpStream(r, std::move(fd), &scope), std::chrono::seconds(5));
    error = t.ok() ? "accepted" : std::string(t.status().message());
  };
  r.Post([&, sfd = s.release()] {
    Spawn(server(UniqueFd(sfd)));
    r.BeginDrain();
  });
  r.Run();
  EXPECT_NE(error, "accepted");
  EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace tng::tunnel
