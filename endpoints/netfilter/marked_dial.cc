#include "endpoints/netfilter/marked_dial.h"

#include <cstring>
#include <string_view>

#include "core/json.h"
#include "endpoints/netfilter/capture_socket.h"

namespace tng::netfilter {

Task<absl::StatusOr<TcpStream>> DialMarked(Reactor& reactor, SocketAddress dst, uint32_t so_mark,
                                           Duration timeout, ConnectionScope* scope) {
  auto fd = NewTcpSocket(dst.family());
  if (!fd.ok()) co_return fd.status();
  if (absl::Status s = SetSoMark(fd->get(), so_mark); !s.ok()) co_return s;
  TcpStream stream(reactor, std::move(*fd), scope);
  const int rc = co_await Connect(reactor, stream.fd(), dst.sa(), dst.len(), timeout);
  if (rc < 0) {
    co_return absl::UnavailableError(json::Cat(
        "connect to ", dst.ToString(), " failed: ",
        rc == -ETIMEDOUT ? std::string_view("timed out") : std::string_view(strerror(-rc))));
  }
  co_return std::move(stream);
}

}  // namespace tng::netfilter
