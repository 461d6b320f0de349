// A connected TCP socket driven by the reactor: the plaintext leg of a relay.
#pragma once

#include <sys/socket.h>

#include <span>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "core/connection_scope.h"
#include "core/fd.h"
#include "core/net.h"
#include "core/reactor.h"
#include "core/task.h"

namespace tng {

class TcpStream {
 public:
  // With a scope, the socket is shut down if the connection is forced closed at drain deadline.
  TcpStream(Reactor& reactor, UniqueFd fd, ConnectionScope* scope = nullptr)
      : reactor_(reactor), fd_(std::move(fd)), scope_(scope) {
    if (scope_) scope_->Watch(fd_.get());
  }
  TcpStream(TcpStream&& o) noexcept
      : reactor_(o.reactor_),
        fd_(std::move(o.fd_)),
        scope_(std::exchange(o.scope_, nullptr)),
        aborted_(o.aborted_) {}
  TcpStream& operator=(TcpStream&&) = delete;
  ~TcpStream() {
    if (scope_) scope_->Unwatch(fd_.get());
  }

  // Bytes read (>0), 0 at EOF, or a negative errno (-ETIMEDOUT after `idle`).
  auto Read(std::span<uint8_t> buf, Duration idle = Duration::zero()) {
    return Recv(reactor_, fd_.get(), buf, idle);
  }
  // 0 when all was sent, else a negative errno.
  Task<int> Write(std::span<const uint8_t> data, Duration timeout = Duration::zero()) {
    return SendAll(reactor_, fd_.get(), data, timeout);
  }
  // Propagates EOF: the peer reads EOF, the other direction keeps flowing.
  Task<void> ShutdownWrite() {
    ::shutdown(fd_.get(), SHUT_WR);
    co_return;
  }
  // Propagates a reset: pending reads end, and closing sends RST instead of FIN.
  void Abort() {
    SetLingerZero(fd_.get());
    ::shutdown(fd_.get(), SHUT_RD);
    aborted_ = true;
  }
  // Drain deadline: wakes every pending operation on the socket.
  void ForceClose() { ::shutdown(fd_.get(), SHUT_RDWR); }

  bool aborted() const { return aborted_; }
  int fd() const { return fd_.get(); }
  Reactor& reactor() { return reactor_; }

 private:
  Reactor& reactor_;
  UniqueFd fd_;
  ConnectionScope* scope_ = nullptr;
  bool aborted_ = false;
};

// Resolves and connects within `timeout`; errors name the destination.
Task<absl::StatusOr<TcpStream>> DialTcp(Reactor& reactor, std::string host, uint16_t port,
                                        Duration timeout, ConnectionScope* scope);

}  // namespace tng
