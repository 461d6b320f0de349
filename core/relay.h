// Byte-exact bidirectional relay between two streams: two pumps, EOF propagated as a half-close,
// errors as a reset, at most one received buffer in flight per direction (backpressure).
//
// The relay owns no buffers: each source lends the bytes it received (a ring buffer the kernel
// filled, or TLS records it opened in place) until the sink has sent them, so an idle
// connection holds no payload memory and no byte is copied between the two sockets' buffers.
// A stream type provides, as a source: Fill() -> awaitable int (n>0 bytes available, 0 EOF,
// <0 -errno), Data() -> span<iovec> of those bytes (each span followed by one writable byte),
// Consume(n); as a sink: WriteV(span<iovec>) -> awaitable int (0 or -errno; may modify the bytes
// while it runs, restoring them), ShutdownWrite() -> awaitable, Abort().
#pragma once

#include <coroutine>
#include <cstdint>
#include <span>

#include "core/reactor.h"
#include "core/task.h"
#include "core/tcp_stream.h"

namespace tng {

struct RelayStats {
  uint64_t a_to_b = 0;  // bytes
  uint64_t b_to_a = 0;
  int a_error = 0;  // first negative errno seen reading a / writing a (0: clean)
  int b_error = 0;
};

namespace internal {

// Joins the two pumps: the relay resumes when both have finished.
struct RelayJoin {
  int pending = 2;
  std::coroutine_handle<> waiter;
  void Done() {
    if (--pending == 0 && waiter) waiter.resume();
  }
  auto Wait() {
    struct Awaiter {
      RelayJoin& j;
      bool await_ready() const noexcept { return j.pending == 0; }
      void await_suspend(std::coroutine_handle<> h) { j.waiter = h; }
      void await_resume() const noexcept {}
    };
    return Awaiter{*this};
  }
};

template <typename Src, typename Dst>
Task<void> Pump(Src& src, Dst& dst, uint64_t& bytes, int& src_error, int& dst_error,
                RelayJoin& join) {
  for (;;) {
    int n = co_await src.Fill();
    if (n == 0) {
      co_await dst.ShutdownWrite();
      break;
    }
    if (n < 0) {
      src_error = n;
      dst.Abort();
      break;
    }
    int w = co_await dst.WriteV(src.Data());
    if (w < 0) {
      dst_error = w;
      src.Abort();
      break;
    }
    src.Consume(static_cast<size_t>(n));
    bytes += static_cast<uint64_t>(n);
  }
  join.Done();
}

}  // namespace internal

// Relays until both directions have ended, through the streams' own buffers.
template <typename A, typename B>
Task<RelayStats> RelayCopying(A& a, B& b) {
  RelayStats stats;
  internal::RelayJoin join;
  Spawn(internal::Pump(a, b, stats.a_to_b, stats.a_error, stats.b_error, join));
  Spawn(internal::Pump(b, a, stats.b_to_a, stats.b_error, stats.a_error, join));
  co_await join.Wait();
  co_return stats;
}

template <typename A, typename B>
Task<RelayStats> Relay(A& a, B& b) {
  return RelayCopying(a, b);
}

// TCP to TCP, where the bytes pass unchanged: spliced through a pipe per direction
// (core/splice_relay.cc), copying through user space only when no pipe can be made.
Task<RelayStats> Relay(TcpStream& a, TcpStream& b);

}  // namespace tng
