// Byte-exact bidirectional relay between two streams: two pumps, EOF propagated as a half-close,
// errors as a reset, at most one buffer in flight per direction (backpressure).
//
// A stream type provides: Read(span<uint8_t>) -> awaitable int (n>0 bytes, 0 EOF, <0 -errno),
// Write(span<const uint8_t>) -> awaitable int (0 or -errno), ShutdownWrite() -> awaitable,
// Abort().
#pragma once

#include <coroutine>
#include <cstdint>
#include <memory>
#include <span>

#include "core/reactor.h"
#include "core/task.h"

namespace tng {

struct RelayStats {
  uint64_t a_to_b = 0;  // bytes
  uint64_t b_to_a = 0;
  int a_error = 0;  // first negative errno seen reading a / writing a (0: clean)
  int b_error = 0;
};

inline constexpr size_t kRelayBufferSize = 64 * 1024;

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
Task<void> Pump(Src& src, Dst& dst, uint8_t* buf, size_t size, uint64_t& bytes, int& src_error,
                int& dst_error, RelayJoin& join) {
  for (;;) {
    int n = co_await src.Read(std::span<uint8_t>(buf, size));
    if (n == 0) {
      co_await dst.ShutdownWrite();
      break;
    }
    if (n < 0) {
      src_error = n;
      dst.Abort();
      break;
    }
    int w = co_await dst.Write(std::span<const uint8_t>(buf, static_cast<size_t>(n)));
    if (w < 0) {
      dst_error = w;
      src.Abort();
      break;
    }
    bytes += static_cast<uint64_t>(n);
  }
  join.Done();
}

}  // namespace internal

// Relays until both directions have ended. The buffers live in the relay's frame (2 x 64 KiB).
template <typename A, typename B>
Task<RelayStats> Relay(A& a, B& b) {
  RelayStats stats;
  internal::RelayJoin join;
  // Not zero-filled: pages an idle connection never touches stay unallocated.
  auto buffers = std::make_unique_for_overwrite<uint8_t[]>(2 * kRelayBufferSize);
  Spawn(internal::Pump(a, b, buffers.get(), kRelayBufferSize, stats.a_to_b, stats.a_error,
                       stats.b_error, join));
  Spawn(internal::Pump(b, a, buffers.get() + kRelayBufferSize, kRelayBufferSize, stats.b_to_a,
                       stats.b_error, stats.a_error, join));
  co_await join.Wait();
  co_return stats;
}

}  // namespace tng
