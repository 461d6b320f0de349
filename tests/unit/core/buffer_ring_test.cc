// The reactor's provided-buffer ring as TcpStream uses it: waiting streams hold no buffer, EOF
// and errors give every buffer back, and more readers than buffers all get served in turn.
#include "core/buffer_ring.h"

#include <sys/socket.h>

#include <string>
#include <vector>

#include "core/connection_scope.h"
#include "core/tcp_stream.h"
#include "gtest/gtest.h"
#include "tests/unit/core/test_sockets.h"

namespace tng {
namespace {

constexpr unsigned kBuffers = 4;

std::unique_ptr<Reactor> SmallRingReactor() {
  ReactorOptions options;
  options.recv_buffers = kBuffers;
  options.recv_buffer_size = 4096;
  auto r = Reactor::Create(0, options);
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_NE((*r)->buffers(), nullptr) << "this kernel should offer provided buffer rings";
  return std::move(*r);
}

// Reads everything until EOF through Fill/Data/Consume.
Task<void> Drain(Reactor& r, UniqueFd fd, std::string& out, int& last) {
  ConnectionScope scope(r);
  TcpStream s(r, std::move(fd), &scope);
  for (;;) {
    int n = co_await s.Fill();
    last = n;
    if (n <= 0) break;
    for (const iovec& v : s.Data()) out.append(static_cast<const char*>(v.iov_base), v.iov_len);
    s.Consume(static_cast<size_t>(n));
  }
}

// Once every reader has its message (and so is parked in its next receive), records how many
// buffers are lent, then closes every peer.
Task<void> CloseAll(Reactor& r, std::vector<UniqueFd>& peers, const std::vector<std::string>& got,
                    unsigned& lent_while_idle) {
  ConnectionScope scope(r);
  for (int polls = 0; polls < 5000; ++polls) {
    bool all = true;
    for (const auto& g : got) all = all && !g.empty();
    if (all) break;
    co_await Sleep(r, std::chrono::milliseconds(1));
  }
  lent_while_idle = r.buffers()->lent();
  for (auto& p : peers) p.Reset();
}

TEST(BufferRingTest, IdleReadersHoldNoBufferAndEofReturnsThemAll) {
  auto reactor = SmallRingReactor();
  ASSERT_NE(reactor->buffers(), nullptr);
  constexpr int kReaders = 4 * kBuffers;  // more readers than buffers
  std::vector<UniqueFd> peers;
  std::vector<std::string> got(kReaders);
  std::vector<int> last(kReaders, 1);
  for (int i = 0; i < kReaders; ++i) {
    auto [a, b] = testing::TcpPair();
    const std::string msg = "message " + std::to_string(i);
    ASSERT_EQ(::send(a.get(), msg.data(), msg.size(), 0), static_cast<ssize_t>(msg.size()));
    Spawn(Drain(*reactor, std::move(b), got[i], last[i]));
    peers.push_back(std::move(a));
  }
  unsigned lent_while_idle = 99;
  Spawn(CloseAll(*reactor, peers, got, lent_while_idle));
  reactor->BeginDrain();
  reactor->Run();
  EXPECT_EQ(lent_while_idle, 0u) << "parked readers must not hold ring buffers";
  for (int i = 0; i < kReaders; ++i) {
    EXPECT_EQ(got[i], "message " + std::to_string(i));
    EXPECT_EQ(last[i], 0) << "reader " << i << " did not see EOF";
  }
  EXPECT_EQ(reactor->buffers()->lent(), 0u) << "a buffer was not given back";
}

// Many readers with data all at once: the ring runs dry (ENOBUFS) and the readers that find it
// empty receive into pool blocks instead; every byte arrives.
TEST(BufferRingTest, MoreBusyReadersThanBuffersAllGetServed) {
  auto reactor = SmallRingReactor();
  ASSERT_NE(reactor->buffers(), nullptr);
  constexpr int kReaders = 8 * kBuffers;
  std::vector<UniqueFd> peers;
  std::vector<std::string> got(kReaders);
  std::vector<int> last(kReaders, 1);
  std::vector<std::string> sent(kReaders);
  for (int i = 0; i < kReaders; ++i) {
    auto [a, b] = testing::TcpPair();
    sent[i] = std::string(20000 + i, static_cast<char>('a' + i % 26));
    ASSERT_EQ(::send(a.get(), sent[i].data(), sent[i].size(), 0),
              static_cast<ssize_t>(sent[i].size()));
    ::shutdown(a.get(), SHUT_WR);
    Spawn(Drain(*reactor, std::move(b), got[i], last[i]));
    peers.push_back(std::move(a));
  }
  reactor->BeginDrain();
  reactor->Run();
  for (int i = 0; i < kReaders; ++i) {
    EXPECT_EQ(got[i], sent[i]) << "reader " << i;
    EXPECT_EQ(last[i], 0);
  }
  EXPECT_EQ(reactor->buffers()->lent(), 0u);
}

// Holds what it received without consuming it, until `release` is set.
Task<void> Hoard(Reactor& r, UniqueFd fd, int& got, const bool& release) {
  ConnectionScope scope(r);
  TcpStream s(r, std::move(fd), &scope);
  got = co_await s.Fill();
  while (!release) co_await Sleep(r, std::chrono::milliseconds(1));
}

Task<void> ReadWhileRingIsEmpty(Reactor& r, UniqueFd fd, const std::vector<int>& hoarded,
                                std::string& out, int& last, unsigned& lent, bool& release) {
  ConnectionScope scope(r);
  for (int polls = 0; polls < 5000; ++polls) {
    bool all = true;
    for (int g : hoarded) all = all && g > 0;
    if (all) break;
    co_await Sleep(r, std::chrono::milliseconds(1));
  }
  lent = r.buffers()->lent();
  TcpStream s(r, std::move(fd), &scope);
  for (;;) {
    int n = co_await s.Fill();
    last = n;
    if (n <= 0) break;
    for (const iovec& v : s.Data()) out.append(static_cast<const char*>(v.iov_base), v.iov_len);
    s.Consume(static_cast<size_t>(n));
  }
  release = true;
}

// Every ring buffer held by a stream that is not making progress: another socket's bytes and
// EOF must still be received (waiting for a ring buffer here could wait forever).
TEST(BufferRingTest, AnEmptyRingNeverStopsOtherReceives) {
  auto reactor = SmallRingReactor();
  ASSERT_NE(reactor->buffers(), nullptr);
  std::vector<UniqueFd> peers;
  std::vector<int> hoarded(kBuffers, 0);
  bool release = false;
  for (unsigned i = 0; i < kBuffers; ++i) {
    auto [a, b] = testing::TcpPair();
    ASSERT_EQ(::send(a.get(), "held", 4, 0), 4);
    Spawn(Hoard(*reactor, std::move(b), hoarded[i], release));
    peers.push_back(std::move(a));
  }
  auto [a, b] = testing::TcpPair();
  const std::string msg(100000, 'z');
  std::string got;
  int last = 1;
  unsigned lent = 0;
  Spawn(ReadWhileRingIsEmpty(*reactor, std::move(b), hoarded, got, last, lent, release));
  ASSERT_EQ(::send(a.get(), msg.data(), 50000, 0), 50000);
  ASSERT_EQ(::send(a.get(), msg.data() + 50000, 50000, 0), 50000);
  a.Reset();
  reactor->BeginDrain();
  reactor->Run();
  EXPECT_EQ(lent, kBuffers) << "the hoarders should have held every ring buffer";
  EXPECT_EQ(got, msg);
  EXPECT_EQ(last, 0);
  EXPECT_EQ(reactor->buffers()->lent(), 0u);
}

}  // namespace
}  // namespace tng
