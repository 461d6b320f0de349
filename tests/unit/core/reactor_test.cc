#include "core/reactor.h"

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <thread>
#include <vector>

#include "core/connection_scope.h"
#include "core/net.h"
#include "core/tcp_stream.h"
#include "gtest/gtest.h"
#include "tests/unit/core/test_sockets.h"

namespace tng {
namespace {

std::unique_ptr<Reactor> NewReactor() {
  auto r = Reactor::Create(0, {});
  EXPECT_TRUE(r.ok()) << r.status();
  return std::move(*r);
}

// Runs `body` as the only work of a reactor on this thread; Run() returns when it finishes.
template <typename F>
void RunToCompletion(Reactor& r, F body) {
  auto task = [](Reactor& r, F body) -> Task<void> {
    ConnectionScope scope(r);  // keeps Run() alive until the body is done
    co_await body(r);
    r.BeginDrain();
  };
  r.Post([&r, body, task] { Spawn(task(r, body)); });
  r.Run();
}

TEST(ReactorTest, SendAndReceiveOnSocketPair) {
  auto r = NewReactor();
  auto [a, b] = testing::TcpPair();
  std::string got;
  RunToCompletion(*r, [&](Reactor& r) -> Task<void> {
    const std::string msg = "hello reactor";
    int rc = co_await SendAll(r, a.get(),
                              std::span(reinterpret_cast<const uint8_t*>(msg.data()), msg.size()));
    EXPECT_EQ(rc, 0);
    uint8_t buf[64];
    int n = co_await Recv(r, b.get(), std::span(buf));
    got.assign(reinterpret_cast<char*>(buf), n > 0 ? n : 0);
  });
  EXPECT_EQ(got, "hello reactor");
}

TEST(ReactorTest, LinkedTimeoutYieldsEtimedout) {
  auto r = NewReactor();
  auto [a, b] = testing::TcpPair();
  int rc = 0;
  RunToCompletion(*r, [&](Reactor& r) -> Task<void> {
    uint8_t buf[16];
    rc = co_await Recv(r, b.get(), std::span(buf), std::chrono::milliseconds(20));
  });
  EXPECT_EQ(rc, -ETIMEDOUT);
}

TEST(ReactorTest, OperationCompletingBeforeTimeoutKeepsItsResult) {
  auto r = NewReactor();
  auto [a, b] = testing::TcpPair();
  ASSERT_EQ(::send(a.get(), "x", 1, 0), 1);
  int rc = 0;
  RunToCompletion(*r, [&](Reactor& r) -> Task<void> {
    uint8_t buf[16];
    rc = co_await Recv(r, b.get(), std::span(buf), std::chrono::seconds(30));
  });
  EXPECT_EQ(rc, 1);
}

TEST(ReactorTest, PostFromAnotherThreadRunsOnReactor) {
  auto r = NewReactor();
  std::atomic<bool> ran_on_reactor{false};
  Reactor* raw = r.get();
  r->Hold();  // keep Run() alive until the posted work arrives
  std::thread t([&] {
    raw->Post([&] {
      ran_on_reactor = Reactor::Current() == raw;
      raw->BeginDrain();
      raw->Release();
    });
  });
  r->Run();
  t.join();
  EXPECT_TRUE(ran_on_reactor);
}

TEST(ReactorTest, ForceCloseAllWakesPendingReads) {
  auto r = NewReactor();
  auto [a, b] = testing::TcpPair();
  int rc = -1;
  Reactor* raw = r.get();
  auto reader = [](Reactor& r, int fd, int& rc) -> Task<void> {
    ConnectionScope scope(r);
    scope.Watch(fd);
    uint8_t buf[16];
    rc = co_await Recv(r, fd, std::span(buf));
    scope.Unwatch(fd);
  };
  r->Post([&] {
    Spawn(reader(*raw, b.get(), rc));
    raw->BeginDrain();  // Run() now waits for the reader only
    raw->ForceCloseAll();
  });
  r->Run();
  EXPECT_EQ(rc, 0);  // shutdown(SHUT_RDWR) ends the read with EOF
}

TEST(ReactorTest, AcceptorHandsOverConnectionsUntilStopped) {
  auto r = NewReactor();
  auto addr = SocketAddress::FromLiteral("127.0.0.1", 0);
  ASSERT_TRUE(addr.ok());
  auto lfd = ListenTcp(*addr);
  ASSERT_TRUE(lfd.ok()) << lfd.status();
  SocketAddress bound;
  ASSERT_EQ(getsockname(lfd->get(), bound.mutable_sa(), bound.mutable_len()), 0);

  constexpr int kClients = 20;
  std::vector<UniqueFd> clients;
  for (int i = 0; i < kClients; ++i) {
    UniqueFd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(::connect(c.get(), bound.sa(), bound.len()), 0);
    clients.push_back(std::move(c));
  }
  int accepted = 0;
  Acceptor* acceptor_ptr = nullptr;
  Reactor* raw = r.get();
  Acceptor acceptor(
      *r, std::move(*lfd),
      [&](UniqueFd fd) {
        EXPECT_TRUE(fd.valid());
        if (++accepted == kClients) {
          acceptor_ptr->Stop();
          raw->BeginDrain();
        }
      },
      "test");
  acceptor_ptr = &acceptor;
  r->Post([&] { acceptor.Start(); });
  r->Run();
  EXPECT_EQ(accepted, kClients);
}

TEST(ReactorTest, DialTcpReportsRefusedConnection) {
  auto r = NewReactor();
  // Bind a port and close it so that nothing listens there.
  auto addr = SocketAddress::FromLiteral("127.0.0.1", 0);
  auto lfd = ListenTcp(*addr);
  ASSERT_TRUE(lfd.ok());
  SocketAddress bound;
  ASSERT_EQ(getsockname(lfd->get(), bound.mutable_sa(), bound.mutable_len()), 0);
  lfd->Reset();
  std::string error;
  RunToCompletion(*r, [&](Reactor& r) -> Task<void> {
    auto s = co_await DialTcp(r, "127.0.0.1", bound.port(), std::chrono::seconds(5), nullptr);
    error = s.ok() ? "connected" : std::string(s.status().message());
  });
  EXPECT_NE(error.find("Connection refused"), std::string::npos) << error;
  EXPECT_NE(error.find("127.0.0.1:"), std::string::npos) << error;
}

// Names go through the resolver thread and back; this crashed once (a temporary awaiter
// destroyed twice by GCC 12's coroutine lowering) while every other test used IP literals.
TEST(ReactorTest, DialTcpResolvesHostNames) {
  auto r = NewReactor();
  // Dual-stack, so "localhost" connects whether it resolves to 127.0.0.1 or ::1 first.
  auto addr = SocketAddress::FromLiteral("::", 0);
  auto lfd = ListenTcp(*addr);
  ASSERT_TRUE(lfd.ok());
  SocketAddress bound;
  ASSERT_EQ(getsockname(lfd->get(), bound.mutable_sa(), bound.mutable_len()), 0);
  std::string result;
  RunToCompletion(*r, [&](Reactor& r) -> Task<void> {
    auto s = co_await DialTcp(r, "localhost", bound.port(), std::chrono::seconds(5), nullptr);
    result = s.ok() ? "connected" : std::string(s.status().message());
    auto bad = co_await Resolve(r, "no-such-host.invalid", 80);
    EXPECT_FALSE(bad.ok());
    if (!bad.ok()) {
      EXPECT_NE(std::string(bad.status().message()).find("no-such-host.invalid"),
                std::string::npos);
    }
  });
  EXPECT_EQ(result, "connected");
}

TEST(SocketAddressTest, ParsesLiteralsAndRejectsNames) {
  auto v4 = SocketAddress::FromLiteral("10.1.2.3", 80);
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->ToString(), "10.1.2.3:80");
  auto v6 = SocketAddress::FromLiteral("[::1]", 443);
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->ToString(), "[::1]:443");
  EXPECT_EQ(v6->WithPort(8443).port(), 8443);
  auto name = SocketAddress::FromLiteral("example.com", 80);
  EXPECT_FALSE(name.ok());
  EXPECT_NE(std::string(name.status().message()).find("example.com"), std::string::npos);
}

}  // namespace
}  // namespace tng
