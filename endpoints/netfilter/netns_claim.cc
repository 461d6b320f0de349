#include "endpoints/netfilter/netns_claim.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "core/json.h"
#include "endpoints/netfilter/errors.h"

namespace tng::netfilter {
namespace {
constexpr char kAbstractName[] = "tng";  // "@tng"
}

NetnsClaim& NetnsClaim::Get() {
  static NetnsClaim* claim = new NetnsClaim();  // never destroyed: used from destructors
  return *claim;
}

absl::Status NetnsClaim::Acquire() {
  if (refs_ > 0) {
    ++refs_;
    return absl::OkStatus();
  }
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid())
    return SyscallError(errno, "opening the unix socket that claims netfilter rules");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, kAbstractName, sizeof kAbstractName - 1);
  const socklen_t len = offsetof(sockaddr_un, sun_path) + 1 + sizeof kAbstractName - 1;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    if (errno == EADDRINUSE) {
      return absl::FailedPreconditionError(
          "another process in this network namespace owns netfilter capture rules (it holds "
          "the abstract unix socket @tng): running two TNG instances with netfilter endpoints "
          "in one network namespace is not supported");
    }
    return SyscallError(errno, "binding the abstract unix socket @tng");
  }
  socket_ = std::move(fd);
  refs_ = 1;
  return absl::OkStatus();
}

void NetnsClaim::Release() {
  if (refs_ > 0 && --refs_ == 0) socket_.Reset();
}

}  // namespace tng::netfilter
