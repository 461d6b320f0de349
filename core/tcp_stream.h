// A connected TCP socket driven by the reactor: the plaintext leg of a relay.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "core/block_pool.h"
#include "core/buffer_ring.h"
#include "core/connection_scope.h"
#include "core/fd.h"
#include "core/net.h"
#include "core/reactor.h"
#include "core/task.h"

namespace tng {

// Bytes received by ReceiveSome: in a ring buffer, or in a block of the reactor's pool.
struct ReceivedBytes {
  RingBuffer ring;
  Block block;
  uint8_t* data = nullptr;
  void Reset() {
    ring.Reset();
    block.Reset();
    data = nullptr;
  }
};

// Receives the next bytes on `fd` into the reactor's buffer ring: bytes (>0), 0 at EOF, or a
// negative errno (-ETIMEDOUT after `timeout`). When every ring buffer is in flight, it waits
// for readability holding nothing and then receives into a pool block instead: waiting for a
// ring buffer could deadlock when the holders' progress needs a receive on this reactor (an
// ingress and an egress in one process), and an idle socket should never pin memory.
Task<int> ReceiveSome(Reactor& reactor, int fd, ReceivedBytes& out,
                      Duration timeout = Duration::zero());

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
        aborted_(o.aborted_),
        held_(std::move(o.held_)),
        span_(std::exchange(o.span_, {})) {}
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
  // ---- The relay's side of the stream (core/relay.h).
  // Receives the next bytes into a buffer the kernel picks from the reactor's ring, so a stream
  // waiting for its peer holds none: bytes (>0), 0 at EOF, negative errno. Bytes not consumed
  // yet are returned again without receiving.
  Task<int> Fill();
  // The received bytes not consumed yet (one span), each followed by a writable byte.
  std::span<iovec> Data() { return {&span_, span_.iov_len > 0 ? 1u : 0u}; }
  // `n` of them were forwarded; the buffer goes back to the ring once all were.
  void Consume(size_t n);
  // Sends every byte of `spans` (they may be modified while it runs, then restored): 0 or errno.
  Task<int> WriteV(std::span<iovec> spans);

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

  // The socket moves to another scope (or none): a task that outlives the connection that made
  // the socket gives it its own.
  void EnterScope(ConnectionScope* scope) {
    if (scope_) scope_->Unwatch(fd_.get());
    scope_ = scope;
    if (scope_) scope_->Watch(fd_.get());
  }

  bool aborted() const { return aborted_; }
  int fd() const { return fd_.get(); }
  Reactor& reactor() { return reactor_; }

 private:
  Reactor& reactor_;
  UniqueFd fd_;
  ConnectionScope* scope_ = nullptr;
  bool aborted_ = false;
  ReceivedBytes held_;  // what Fill() received, until consumed
  iovec span_{};
};

// The most spans a relay source hands over at once (core/relay.h).
inline constexpr size_t kMaxRelaySpans = 16;
// Sends all of `spans`, adjusting them as bytes go out: 0 or a negative errno.
Task<int> SendAllV(Reactor& reactor, int fd, std::span<iovec> spans);

// Resolves and connects within `timeout`; errors name the destination.
Task<absl::StatusOr<TcpStream>> DialTcp(Reactor& reactor, std::string host, uint16_t port,
                                        Duration timeout, ConnectionScope* scope);

}  // namespace tng
