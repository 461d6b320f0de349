// One direction of a spliced relay: socket -> pipe -> socket with splice(2), readiness through
// io_uring polls, EOF and resets propagated as in core/relay.h. Shared by the plain TCP relay
// and kernel-TLS tunnels (whose sockets splice like plain ones once the kernel holds the keys).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "core/fd.h"
#include "core/reactor.h"
#include "core/relay.h"
#include "core/task.h"

namespace tng {

inline constexpr size_t kSpliceChunk = 256 * 1024;

// Both ends of one direction's pipe, non-blocking.
struct SplicePipe {
  UniqueFd r, w;
  size_t held = 0;  // bytes in the pipe
  bool Open() {
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false;
    r.Reset(fds[0]);
    w.Reset(fds[1]);
    // Room for what a busy socket hands over at once; the default 64 KiB halves the batch.
    fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(kSpliceChunk));
    return true;
  }
};

inline Task<int> WaitReady(Reactor& r, int fd, short events) {
  co_return co_await Submit(
      r, [=](io_uring_sqe* s) { io_uring_prep_poll_add(s, fd, events | POLLRDHUP); });
}

// Never spliceable: the error stands.
struct NoUnspliceable {
  Task<int> operator()(int err) { co_return -err; }
};

// Pumps src -> dst until EOF or error. `unspliceable(errno)` is asked when splice from src fails
// with an error other than EAGAIN: 1 to try again (it dealt with what was in the way), 0 for a
// clean end of stream, or a negative errno. Both sockets must be non-blocking.
template <typename Src, typename Dst, typename Unspliceable = NoUnspliceable>
Task<void> SplicePump(Src& src, Dst& dst, SplicePipe& pipe, uint64_t& bytes, int& src_error,
                      int& dst_error, internal::RelayJoin& join, Unspliceable unspliceable = {}) {
  Reactor& r = src.reactor();
  for (;;) {
    ssize_t n = splice(src.fd(), nullptr, pipe.w.get(), nullptr, kSpliceChunk,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (int rc = co_await WaitReady(r, src.fd(), POLLIN); rc < 0) {
        src_error = rc;
        dst.Abort();
        break;
      }
      continue;
    }
    if (n < 0) {
      int rc = co_await unspliceable(errno);
      if (rc > 0) continue;
      n = 0;
      if (rc < 0) {
        src_error = rc;
        dst.Abort();
        break;
      }
    }
    if (n == 0) {
      co_await dst.ShutdownWrite();
      break;
    }
    pipe.held += static_cast<size_t>(n);
    bool failed = false;
    while (pipe.held > 0) {
      ssize_t m = splice(pipe.r.get(), nullptr, dst.fd(), nullptr, pipe.held,
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (m < 0 && errno == EINTR) continue;
      if (m < 0 && errno == EAGAIN) {
        if (int rc = co_await WaitReady(r, dst.fd(), POLLOUT); rc < 0) {
          dst_error = rc;
          failed = true;
          break;
        }
        continue;
      }
      if (m <= 0) {
        dst_error = m < 0 ? -errno : -EPIPE;
        failed = true;
        break;
      }
      pipe.held -= static_cast<size_t>(m);
      bytes += static_cast<uint64_t>(m);
    }
    if (failed) {
      src.Abort();
      break;
    }
  }
  join.Done();
}

inline void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

}  // namespace tng
