// The plain TCP <-> TCP relay (core/relay.h): bytes move socket -> pipe -> socket with splice(2),
// so the kernel passes page references and no payload byte is copied to user space.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include "core/relay.h"

namespace tng {
namespace {

constexpr size_t kSpliceChunk = 256 * 1024;

// Both ends of one direction's pipe.
struct Pipe {
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

Task<int> WaitFor(Reactor& r, int fd, short events) {
  co_return co_await Submit(
      r, [=](io_uring_sqe* s) { io_uring_prep_poll_add(s, fd, events | POLLRDHUP); });
}

Task<void> SplicePump(TcpStream& src, TcpStream& dst, Pipe& pipe, uint64_t& bytes, int& src_error,
                      int& dst_error, internal::RelayJoin& join) {
  Reactor& r = src.reactor();
  for (;;) {
    ssize_t n = splice(src.fd(), nullptr, pipe.w.get(), nullptr, kSpliceChunk,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (int rc = co_await WaitFor(r, src.fd(), POLLIN); rc < 0) {
        src_error = rc;
        dst.Abort();
        break;
      }
      continue;
    }
    if (n < 0) {
      src_error = -errno;
      dst.Abort();
      break;
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
        if (int rc = co_await WaitFor(r, dst.fd(), POLLOUT); rc < 0) {
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

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

}  // namespace

Task<RelayStats> Relay(TcpStream& a, TcpStream& b) {
  Pipe ab, ba;
  if (!ab.Open() || !ba.Open()) {
    // Out of descriptors for pipes: relay through user space instead.
    co_return co_await RelayCopying(a, b);
  }
  // splice(2) from a socket blocks unless the socket itself is non-blocking; from here on the
  // sockets are only spliced, polled and shut down.
  SetNonBlocking(a.fd());
  SetNonBlocking(b.fd());
  RelayStats stats;
  internal::RelayJoin join;
  Spawn(SplicePump(a, b, ab, stats.a_to_b, stats.a_error, stats.b_error, join));
  Spawn(SplicePump(b, a, ba, stats.b_to_a, stats.b_error, stats.a_error, join));
  co_await join.Wait();
  co_return stats;
}

}  // namespace tng
