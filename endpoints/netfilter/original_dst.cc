#include "endpoints/netfilter/original_dst.h"

#include <arpa/inet.h>
#include <linux/netfilter_ipv4.h>  // SO_ORIGINAL_DST
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "core/json.h"
#include "endpoints/netfilter/errors.h"

namespace tng::netfilter {
namespace {

using json::Cat;

absl::StatusOr<sockaddr_in> LocalAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return SyscallError(errno, "getsockname of a captured connection");
  }
  if (ss.ss_family != AF_INET) {
    return absl::InvalidArgumentError(
        "a captured connection is not IPv4 (netfilter capture handles IPv4 only)");
  }
  sockaddr_in sin;
  std::memcpy(&sin, &ss, sizeof sin);
  return sin;
}

}  // namespace

absl::StatusOr<SocketAddress> OriginalDestination(int fd, CaptureMethod method) {
  sockaddr_in sin{};
  if (method == CaptureMethod::kTproxy) {
    absl::StatusOr<sockaddr_in> local = LocalAddress(fd);
    if (!local.ok()) return local.status();
    sin = *local;
  } else {
    socklen_t len = sizeof sin;
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &sin, &len) != 0) {
      if (errno == ENOENT) {
        return absl::NotFoundError(
            "SO_ORIGINAL_DST: the connection has no conntrack record (was it redirected by "
            "netfilter?)");
      }
      return SyscallError(errno, "SO_ORIGINAL_DST of a captured connection");
    }
  }
  return SocketAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
}

absl::Status CheckNotLoop(int fd, CaptureMethod method, const SocketAddress& original,
                          uint16_t listen_port) {
  if (original.family() != AF_INET) {
    return absl::InvalidArgumentError("original destination is not IPv4");
  }
  sockaddr_in orig;
  std::memcpy(&orig, original.sa(), sizeof orig);
  const bool loopback = (ntohl(orig.sin_addr.s_addr) >> 24) == 127;
  if (loopback && ntohs(orig.sin_port) == listen_port) {
    return absl::FailedPreconditionError(
        Cat("the original destination ", original.ToString(),
            " is the capture listener itself; refusing the connection to avoid a loop"));
  }
  if (method == CaptureMethod::kRedirect) {
    absl::StatusOr<sockaddr_in> local = LocalAddress(fd);
    if (!local.ok()) return local.status();
    if (local->sin_addr.s_addr == orig.sin_addr.s_addr && local->sin_port == orig.sin_port) {
      return absl::FailedPreconditionError(
          Cat("the connection to ", original.ToString(),
              " reached the capture listener directly, not through a REDIRECT rule; refusing it "
              "to avoid a loop"));
    }
  }
  return absl::OkStatus();
}

}  // namespace tng::netfilter
