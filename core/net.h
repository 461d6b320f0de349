// Socket addresses, listening sockets with SO_REUSEPORT and multishot accept, outbound sockets,
// and name resolution off the reactor thread.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/fd.h"
#include "core/reactor.h"
#include "core/task.h"

namespace tng {

class SocketAddress {
 public:
  SocketAddress() = default;
  // Literal IPv4/IPv6 only ("[::1]" brackets allowed); names go through Resolve().
  static absl::StatusOr<SocketAddress> FromLiteral(std::string_view host, uint16_t port);
  static SocketAddress FromSockaddr(const sockaddr* sa, socklen_t len);
  // A unix stream socket; a leading '@' names a Linux abstract socket ("@name").
  static absl::StatusOr<SocketAddress> FromUnixPath(std::string_view path);

  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* mutable_sa() { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t len() const { return len_; }
  socklen_t* mutable_len() { return &len_; }
  int family() const { return storage_.ss_family; }
  uint16_t port() const;
  SocketAddress WithPort(uint16_t port) const;
  std::string ToString() const;  // "1.2.3.4:80" or "[::1]:80"
  // For AF_UNIX: the path, or "@name" for an abstract socket; empty for other families.
  std::string UnixPath() const;

 private:
  sockaddr_storage storage_{};
  socklen_t len_ = sizeof(sockaddr_storage);
};

struct ListenOptions {
  int backlog = 4096;
  bool reuse_port = true;
};

absl::StatusOr<UniqueFd> ListenTcp(const SocketAddress& addr, const ListenOptions& options = {});
// A listening unix stream socket. An existing file at the path is an error (EADDRINUSE); the
// caller decides whether a stale socket may be removed.
absl::StatusOr<UniqueFd> ListenUnix(const SocketAddress& addr, int backlog = 128);
// An unconnected unix stream socket for io_uring connect.
absl::StatusOr<UniqueFd> NewUnixSocket();
// A non-blocking-free TCP socket for io_uring connect, TCP_NODELAY set.
absl::StatusOr<UniqueFd> NewTcpSocket(int family);
void SetNoDelay(int fd);
// Close with RST instead of FIN, to propagate a reset.
void SetLingerZero(int fd);

// Resolves host:port; literals complete inline, names are looked up on a helper thread and the
// coroutine resumes on `reactor`.
Task<absl::StatusOr<SocketAddress>> Resolve(Reactor& reactor, std::string host, uint16_t port);

// A multishot accept on one reactor. Each accepted socket is handed to `on_accept` on the
// reactor's thread. Stop() cancels the accept and closes the socket.
class Acceptor {
 public:
  using Handler = std::function<void(UniqueFd fd)>;
  Acceptor(Reactor& reactor, UniqueFd listen_fd, Handler on_accept, std::string name);
  ~Acceptor();
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  void Start();
  void Stop();

 private:
  struct AcceptCompletion : Completion {
    Acceptor* self = nullptr;
  };
  void Arm();
  void OnComplete(int32_t res, uint32_t flags);

  Reactor& reactor_;
  UniqueFd fd_;
  Handler on_accept_;
  std::string name_;
  AcceptCompletion completion_;
  AcceptCompletion cancel_completion_;
  bool armed_ = false;
  bool stopping_ = false;
};

}  // namespace tng
