// One event loop per core on its own io_uring. Coroutines await I/O operations submitted to it;
// other threads talk to it only through Post() (control messages, never the data path).
#pragma once

#include <liburing.h>
#include <poll.h>

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "core/block_pool.h"
#include "core/buffer_ring.h"
#include "core/fd.h"
#include "core/task.h"

namespace tng {

using Duration = std::chrono::nanoseconds;

// What a CQE's user_data points at. One-shot operations resume a coroutine; multishot ones
// (accept) call a handler for every completion.
struct Completion {
  void (*on_complete)(Completion* self, int32_t res, uint32_t flags) = nullptr;
};

// A connection registered with its reactor so that a drain deadline can force it closed.
class Tracked {
 public:
  virtual void ForceClose() = 0;  // shut down the sockets; the owner's coroutine then unwinds

 protected:
  ~Tracked() = default;

 private:
  friend class Reactor;
  Tracked* prev_ = nullptr;
  Tracked* next_ = nullptr;
};

struct ReactorOptions {
  unsigned sq_entries = 4096;
  int cpu = -1;  // pin the reactor thread to this CPU; -1: no pinning
  // Receive buffers shared by the reactor's sockets (a power of two) and their size. 64 KiB is
  // what loopback and TSO hand over per segment; 128 of them bound the bytes in flight per
  // reactor at 8 MiB however many connections are open.
  unsigned recv_buffers = 128;
  size_t recv_buffer_size = 64 * 1024;
};

class Reactor {
 public:
  static absl::StatusOr<std::unique_ptr<Reactor>> Create(int index, const ReactorOptions& options);
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // The reactor running on this thread (nullptr elsewhere).
  static Reactor* Current();

  int index() const { return index_; }

  // Runs the loop on the calling thread until Stop() was requested and no tracked connection and
  // no hold remains.
  void Run();
  // Thread-safe: runs `fn` on the reactor's thread.
  void Post(std::function<void()> fn);

  // Called on the reactor's thread.
  void BeginDrain();  // stop accepting: runs the drain hooks
  void ForceCloseAll();
  void AddDrainHook(std::function<void()> hook) { drain_hooks_.push_back(std::move(hook)); }
  bool draining() const { return draining_; }
  void Track(Tracked* t);
  void Untrack(Tracked* t);
  size_t tracked_count() const { return tracked_count_; }
  // Keeps Run() alive while something other than a connection (a listener) is still winding down.
  void Hold() { ++holds_; }
  void Release() { --holds_; }

  // A submission queue entry; submits what is queued when the ring is full. `n` entries are
  // guaranteed to be contiguous in one submission (for linked operations).
  io_uring_sqe* GetSqe(unsigned n = 1);

  io_uring* ring() { return &ring_; }
  // The provided-buffer ring for receives; nullptr when the kernel has none (streams then use a
  // buffer of their own).
  BufferRing* buffers() { return buffers_.get(); }
  BlockPool& blocks() { return blocks_; }

 private:
  Reactor() = default;
  void DrainMailbox();
  void ArmWakeup();

  int index_ = 0;
  io_uring ring_{};
  bool ring_ready_ = false;
  bool needs_enable_ = false;
  UniqueFd wake_fd_;
  uint64_t wake_value_ = 0;
  struct WakeCompletion : Completion {
    Reactor* reactor = nullptr;
  } wake_completion_;
  std::mutex mailbox_mu_;
  std::vector<std::function<void()>> mailbox_;
  std::vector<std::function<void()>> drain_hooks_;
  bool draining_ = false;
  bool stop_when_idle_ = false;
  std::unique_ptr<BufferRing> buffers_;
  BlockPool blocks_;
  Tracked* tracked_head_ = nullptr;
  size_t tracked_count_ = 0;
  int holds_ = 0;
};

// An awaitable single io_uring operation, optionally bounded by a linked timeout. The result is
// the CQE's res (negative errno); a timed-out operation yields -ETIMEDOUT.
template <typename Prep>
class IoOp : private Completion {
 public:
  IoOp(Reactor& reactor, Prep prep, Duration timeout = Duration::zero())
      : reactor_(reactor), prep_(std::move(prep)), timeout_(timeout) {
    on_complete = [](Completion* self, int32_t res, uint32_t) {
      auto* op = static_cast<IoOp*>(self);
      op->res_ = res;
      op->waiter_.resume();
    };
  }
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    waiter_ = h;
    const bool timed = timeout_ > Duration::zero();
    io_uring_sqe* sqe = reactor_.GetSqe(timed ? 2 : 1);
    prep_(sqe);
    io_uring_sqe_set_data(sqe, static_cast<Completion*>(this));
    if (timed) {
      sqe->flags |= IOSQE_IO_LINK;
      auto ns = timeout_.count();
      ts_.tv_sec = ns / 1'000'000'000;
      ts_.tv_nsec = ns % 1'000'000'000;
      io_uring_sqe* t = reactor_.GetSqe();
      io_uring_prep_link_timeout(t, &ts_, 0);
      io_uring_sqe_set_data(t, nullptr);
    }
  }
  int await_resume() const noexcept {
    if (res_ == -ECANCELED && timeout_ > Duration::zero()) return -ETIMEDOUT;
    return res_;
  }

 private:
  Reactor& reactor_;
  Prep prep_;
  Duration timeout_;
  __kernel_timespec ts_{};
  std::coroutine_handle<> waiter_;
  int res_ = 0;
};

template <typename Prep>
IoOp<Prep> Submit(Reactor& reactor, Prep prep, Duration timeout = Duration::zero()) {
  return IoOp<Prep>(reactor, std::move(prep), timeout);
}

// Socket operations as awaitables. Results are byte counts or negative errno.
inline auto Recv(Reactor& r, int fd, std::span<uint8_t> buf, Duration timeout = Duration::zero()) {
  return Submit(
      r, [=](io_uring_sqe* s) { io_uring_prep_recv(s, fd, buf.data(), buf.size(), 0); }, timeout);
}
inline auto Send(Reactor& r, int fd, std::span<const uint8_t> buf,
                 Duration timeout = Duration::zero()) {
  return Submit(
      r, [=](io_uring_sqe* s) { io_uring_prep_send(s, fd, buf.data(), buf.size(), MSG_NOSIGNAL); },
      timeout);
}
inline auto Connect(Reactor& r, int fd, const sockaddr* addr, socklen_t len, Duration timeout) {
  return Submit(
      r, [=](io_uring_sqe* s) { io_uring_prep_connect(s, fd, addr, len); }, timeout);
}
// A receive into a buffer the kernel picks from `ring` when bytes arrive. res: bytes, 0 at EOF,
// negative errno (-ENOBUFS: the ring was empty; -ETIMEDOUT after `timeout`).
struct RingRecvResult {
  int res = 0;
  RingBuffer buffer;
};
class RingRecvOp : private Completion {
 public:
  RingRecvOp(Reactor& reactor, int fd, BufferRing& ring, Duration timeout)
      : reactor_(reactor), ring_(ring), fd_(fd), timeout_(timeout) {
    on_complete = [](Completion* self, int32_t res, uint32_t flags) {
      auto* op = static_cast<RingRecvOp*>(self);
      op->result_.res = res;
      op->result_.buffer = op->ring_.Take(flags);
      op->waiter_.resume();
    };
  }
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    waiter_ = h;
    const bool timed = timeout_ > Duration::zero();
    io_uring_sqe* sqe = reactor_.GetSqe(timed ? 2 : 1);
    io_uring_prep_recv(sqe, fd_, nullptr, ring_.buffer_size(), 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = ring_.group();
    io_uring_sqe_set_data(sqe, static_cast<Completion*>(this));
    if (timed) {
      sqe->flags |= IOSQE_IO_LINK;
      auto ns = timeout_.count();
      ts_.tv_sec = ns / 1'000'000'000;
      ts_.tv_nsec = ns % 1'000'000'000;
      io_uring_sqe* t = reactor_.GetSqe();
      io_uring_prep_link_timeout(t, &ts_, 0);
      io_uring_sqe_set_data(t, nullptr);
    }
  }
  RingRecvResult await_resume() noexcept {
    if (result_.res == -ECANCELED && timeout_ > Duration::zero()) result_.res = -ETIMEDOUT;
    return std::move(result_);
  }

 private:
  Reactor& reactor_;
  BufferRing& ring_;
  int fd_;
  Duration timeout_;
  __kernel_timespec ts_{};
  std::coroutine_handle<> waiter_;
  RingRecvResult result_;
};
inline RingRecvOp RecvIntoRing(Reactor& r, int fd, BufferRing& ring,
                               Duration timeout = Duration::zero()) {
  return RingRecvOp(r, fd, ring, timeout);
}
// Resolves when `fd` is readable (or at EOF or error): the revents.
inline auto PollIn(Reactor& r, int fd) {
  return Submit(r, [=](io_uring_sqe* s) { io_uring_prep_poll_add(s, fd, POLLIN | POLLRDHUP); });
}
// Sends the iovecs (sendmsg); returns bytes sent or a negative errno.
inline auto SendMsg(Reactor& r, int fd, const msghdr* msg, Duration timeout = Duration::zero()) {
  return Submit(
      r, [=](io_uring_sqe* s) { io_uring_prep_sendmsg(s, fd, msg, MSG_NOSIGNAL); }, timeout);
}

// Resolves after `d` (result -ETIME, which is the normal outcome).
Task<void> Sleep(Reactor& r, Duration d);

// Sends all of `buf`; returns 0 or a negative errno.
Task<int> SendAll(Reactor& r, int fd, std::span<const uint8_t> buf,
                  Duration timeout = Duration::zero());

}  // namespace tng
