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

Task<int> TcpStream::Fill() {
  if (span_.iov_len > 0) co_return static_cast<int>(span_.iov_len);
  if (BufferRing* ring = reactor_.buffers()) {
    for (;;) {
      RingRecvResult r = co_await RecvIntoRing(reactor_, fd_.get(), *ring);
      if (r.res == -ENOBUFS) {
        // Every ring buffer is in flight on this reactor: wait for one rather than allocate.
        co_await ring->WaitForBuffer();
        continue;
      }
      if (r.res <= 0) co_return r.res;
      held_ = std::move(r.buffer);
      span_ = {held_.data(), static_cast<size_t>(r.res)};
      co_return r.res;
    }
  }
  constexpr size_t kOwnSize = 64 * 1024;
  if (own_ == nullptr) own_ = std::make_unique_for_overwrite<uint8_t[]>(kOwnSize + 1);
  int n = co_await Recv(reactor_, fd_.get(), std::span<uint8_t>(own_.get(), kOwnSize));
  if (n > 0) span_ = {own_.get(), static_cast<size_t>(n)};
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
