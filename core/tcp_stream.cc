#include "core/tcp_stream.h"

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

}  // namespace tng
