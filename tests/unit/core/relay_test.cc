#include "core/relay.h"

#include <sys/socket.h>

#include <cerrno>
#include <random>
#include <string>
#include <vector>

#include "core/connection_scope.h"
#include "core/tcp_stream.h"
#include "gtest/gtest.h"
#include "tests/unit/core/test_sockets.h"

namespace tng {
namespace {

// app_a <-> [relay_a | relay_b] <-> app_b, all on one reactor.
struct Topology {
  UniqueFd app_a, relay_a, relay_b, app_b;
  Topology() {
    auto [x, y] = testing::TcpPair();
    auto [z, w] = testing::TcpPair();
    app_a = std::move(x);
    relay_a = std::move(y);
    relay_b = std::move(z);
    app_b = std::move(w);
  }
};

std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// Writes `data` in random-sized chunks, then half-closes.
Task<void> Writer(Reactor& r, int fd, const std::vector<uint8_t>& data, uint32_t seed) {
  ConnectionScope scope(r);  // Run() returns only when every test coroutine is done
  std::mt19937 rng(seed);
  size_t off = 0;
  while (off < data.size()) {
    size_t n = std::min<size_t>(data.size() - off, 1 + rng() % 100000);
    int rc = co_await SendAll(r, fd, std::span(data.data() + off, n));
    EXPECT_EQ(rc, 0);
    if (rc != 0) break;
    off += n;
  }
  ::shutdown(fd, SHUT_WR);
}

// Reads until EOF.
Task<void> Reader(Reactor& r, int fd, std::vector<uint8_t>& out, int& last) {
  ConnectionScope scope(r);
  std::vector<uint8_t> buf(1 + 70000);
  for (;;) {
    int n = co_await Recv(r, fd, std::span(buf));
    last = n;
    if (n <= 0) break;
    out.insert(out.end(), buf.begin(), buf.begin() + n);
  }
}

// Run with the spliced TCP relay (what Relay picks for two TcpStreams) and with the copying
// relay the TLS legs use.
class RelayTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    auto r = Reactor::Create(0, {});
    ASSERT_TRUE(r.ok());
    reactor_ = std::move(*r);
  }
  std::unique_ptr<Reactor> reactor_;
};

Task<void> RunRelay(Reactor& r, Topology& t, RelayStats& stats, bool splice) {
  ConnectionScope scope(r);
  TcpStream a(r, std::move(t.relay_a), &scope);
  TcpStream b(r, std::move(t.relay_b), &scope);
  if (splice) {
    stats = co_await Relay(a, b);
  } else {
    stats = co_await RelayCopying(a, b);
  }
}

TEST_P(RelayTest, ByteExactBothWaysWithRandomChunksAndHalfClose) {
  Topology t;
  const auto up = RandomBytes(3 << 20, 1);
  const auto down = RandomBytes(2 << 20, 2);
  std::vector<uint8_t> got_up, got_down;
  int last_up = -1, last_down = -1;
  RelayStats stats;
  Reactor& r = *reactor_;
  r.Post([&] {
    Spawn(RunRelay(r, t, stats, GetParam()));
    Spawn(Writer(r, t.app_a.get(), up, 3));
    Spawn(Writer(r, t.app_b.get(), down, 4));
    Spawn(Reader(r, t.app_b.get(), got_up, last_up));
    Spawn(Reader(r, t.app_a.get(), got_down, last_down));
    r.BeginDrain();  // Run() returns once the relay's scope is gone
  });
  r.Run();
  EXPECT_EQ(got_up, up);
  EXPECT_EQ(got_down, down);
  EXPECT_EQ(last_up, 0);  // EOF was propagated
  EXPECT_EQ(last_down, 0);
  EXPECT_EQ(stats.a_to_b, up.size());
  EXPECT_EQ(stats.b_to_a, down.size());
  EXPECT_EQ(stats.a_error, 0);
  EXPECT_EQ(stats.b_error, 0);
}

TEST_P(RelayTest, HalfCloseKeepsTheOtherDirectionFlowing) {
  Topology t;
  Reactor& r = *reactor_;
  RelayStats stats;
  std::string reply_seen;
  auto client = [](Reactor& r, int fd, std::string& reply) -> Task<void> {
    ConnectionScope scope(r);
    const std::string req = "request-then-eof";
    co_await SendAll(r, fd, std::span(reinterpret_cast<const uint8_t*>(req.data()), req.size()));
    ::shutdown(fd, SHUT_WR);  // the client is done sending but waits for the answer
    uint8_t buf[256];
    for (;;) {
      int n = co_await Recv(r, fd, std::span(buf));
      if (n <= 0) break;
      reply.append(reinterpret_cast<char*>(buf), n);
    }
  };
  auto server = [](Reactor& r, int fd) -> Task<void> {
    ConnectionScope scope(r);
    std::string req;
    uint8_t buf[256];
    for (;;) {  // answer only after EOF, like a server that needs the whole request
      int n = co_await Recv(r, fd, std::span(buf));
      if (n <= 0) break;
      req.append(reinterpret_cast<char*>(buf), n);
    }
    std::string reply = "got:" + req;
    co_await SendAll(r, fd,
                     std::span(reinterpret_cast<const uint8_t*>(reply.data()), reply.size()));
    ::shutdown(fd, SHUT_WR);
  };
  r.Post([&] {
    Spawn(RunRelay(r, t, stats, GetParam()));
    Spawn(client(r, t.app_a.get(), reply_seen));
    Spawn(server(r, t.app_b.get()));
    r.BeginDrain();
  });
  r.Run();
  EXPECT_EQ(reply_seen, "got:request-then-eof");
}

TEST_P(RelayTest, ResetOnOneSideResetsTheOther) {
  Topology t;
  Reactor& r = *reactor_;
  RelayStats stats;
  int app_b_result = 1;
  // app_a resets: linger 0 then close sends RST.
  SetLingerZero(t.app_a.get());
  auto b_reader = [](Reactor& r, int fd, int& result) -> Task<void> {
    ConnectionScope scope(r);
    uint8_t buf[64];
    for (;;) {
      int n = co_await Recv(r, fd, std::span(buf));
      if (n <= 0) {
        result = n;
        break;
      }
    }
  };
  r.Post([&] {
    Spawn(RunRelay(r, t, stats, GetParam()));
    Spawn(b_reader(r, t.app_b.get(), app_b_result));
    t.app_a.Reset();
    r.BeginDrain();
  });
  r.Run();
  EXPECT_EQ(stats.a_error, -ECONNRESET);
  // The far side sees the reset, not a clean EOF that would look like a complete stream.
  EXPECT_EQ(app_b_result, -ECONNRESET);
}

INSTANTIATE_TEST_SUITE_P(SpliceAndCopy, RelayTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Splice" : "Copy"; });

}  // namespace
}  // namespace tng
