#include "core/tcp_stream.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tng {

Task<absl::StatusOr<TcpStream>> DialTcp(Reactor& reactor, std::string host, uint16_t port,
                                        Duration timeout, ConnectionScope* scope) {
  auto addr = co_await Resolve(reactor, host, port);
  if (!addr.ok()) co_return addr.status();
  auto fd = NewTcpSocket(addr->family());
  if (!fd.ok()) co_return fd.status();
  TcpStream stream(reactor, std::move(*fd), scope);
  int rc = co_await Connect(reactor, stream.fd(), addr->sa(), addr->len(), timeout);
  if (rc < 0) {
    co_return absl::UnavailableError(absl::StrCat("connect to ", host, ":", port, " failed: ",
                                                  rc == -ETIMEDOUT ? "timed out" : strerror(-rc)));
  }
  co_return std::move(stream);
}

Task<int> ReceiveSome(Reactor& reactor, int fd, ReceivedBytes& out, Duration timeout) {
  out.Reset();
  if (BufferRing* ring = reactor.buffers()) {
    RingRecvResult r = co_await RecvIntoRing(reactor, fd, *ring, timeout);
    if (r.res != -ENOBUFS) {
      if (r.res > 0) {
        out.ring = std::move(r.buffer);
        out.data = out.ring.data();
      }
      co_return r.res;
    }
  }
  constexpr size_t kBlockReceive = 64 * 1024;  // leaves slack in the block for the scratch byte
  for (;;) {
    int ready = co_await Submit(
        reactor, [=](io_uring_sqe* s) { io_uring_prep_poll_add(s, fd, POLLIN | POLLRDHUP); },
        timeout);
    if (ready < 0) co_return ready;
    out.block = reactor.blocks().Acquire();
    int n = co_await Submit(reactor, [fd, p = out.block.data()](io_uring_sqe* s) {
      io_uring_prep_recv(s, fd, p, kBlockReceive, MSG_DONTWAIT);
    });
    if (n == -EAGAIN) {
      out.block.Reset();
      continue;
    }
    if (n > 0) {
      out.data = out.block.data();
    } else {
      out.block.Reset();
    }
    co_return n;
  }
}

Task<int> TcpStream::Fill() {
  if (span_.iov_len > 0) co_return static_cast<int>(span_.iov_len);
  int n = co_await ReceiveSome(reactor_, fd_.get(), held_);
  if (n > 0) span_ = {held_.data, static_cast<size_t>(n)};
  co_return n;
}

void TcpStream::Consume(size_t n) {
  n = std::min(n, span_.iov_len);
  span_.iov_base = static_cast<uint8_t*>(span_.iov_base) + n;
  span_.iov_len -= n;
  if (span_.iov_len == 0) {
    span_ = {};
    held_.Reset();
  }
}

Task<int> TcpStream::WriteV(std::span<iovec> spans) {
  if (spans.size() == 1) {
    co_return co_await SendAll(
        reactor_, fd_.get(),
        std::span<const uint8_t>(static_cast<const uint8_t*>(spans[0].iov_base), spans[0].iov_len));
  }
  co_return co_await SendAllV(reactor_, fd_.get(), spans);
}

Task<int> SendAllV(Reactor& reactor, int fd, std::span<iovec> spans) {
  // A copy the partial sends can advance through; the caller's spans stay as they were.
  std::array<iovec, kMaxRelaySpans> iov;
  size_t count = std::min(spans.size(), iov.size());
  std::copy_n(spans.begin(), count, iov.begin());
  size_t first = 0;
  while (first < count) {
    msghdr msg{};
    msg.msg_iov = iov.data() + first;
    msg.msg_iovlen = count - first;
    int n = co_await SendMsg(reactor, fd, &msg);
    if (n < 0) co_return n;
    if (n == 0) co_return -EPIPE;
    size_t left = static_cast<size_t>(n);
    while (first < count && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (first < count) {
      iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  if (spans.size() > count) co_return co_await SendAllV(reactor, fd, spans.subspan(count));
  co_return 0;
}

}  // namespace tng
