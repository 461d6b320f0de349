#include "endpoints/netfilter/capture_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "core/fd.h"
#include "core/json.h"
#include "endpoints/netfilter/errors.h"

namespace tng::netfilter {

using json::Cat;

absl::Status SetSoMark(int fd, uint32_t mark) {
  if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) {
    return SyscallError(errno, Cat("setting SO_MARK ", mark, " on an outbound socket"),
                        "CAP_NET_ADMIN or CAP_NET_RAW");
  }
  return absl::OkStatus();
}

absl::Status SetIpTransparent(int fd) {
  int on = 1;
  if (setsockopt(fd, SOL_IP, IP_TRANSPARENT, &on, sizeof on) != 0) {
    return SyscallError(errno, "setting IP_TRANSPARENT on the TPROXY listener",
                        "CAP_NET_ADMIN or CAP_NET_RAW");
  }
  return absl::OkStatus();
}

absl::StatusOr<uint16_t> PickFreePort(std::string_view host, uint16_t first) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  if (inet_pton(AF_INET, std::string(host).c_str(), &sin.sin_addr) != 1) {
    return absl::InvalidArgumentError(Cat("\"", host, "\" is not an IPv4 address"));
  }
  for (uint32_t port = first; port <= 65535; ++port) {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return SyscallError(errno, "opening a TCP socket to probe for a free port");
    sin.sin_port = htons(static_cast<uint16_t>(port));
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0) {
      return static_cast<uint16_t>(port);
    }
    if (errno != EADDRINUSE) return SyscallError(errno, Cat("binding ", host, ":", port));
  }
  return absl::ResourceExhaustedError(
      Cat("no free TCP port on ", host, " from ", first, " to 65535"));
}

}  // namespace tng::netfilter
