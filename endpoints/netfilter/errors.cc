#include "endpoints/netfilter/errors.h"

#include <cerrno>
#include <cstring>

#include "core/json.h"

namespace tng::netfilter {

absl::Status SyscallError(int err, std::string_view what, std::string_view capability) {
  using json::Cat;
  const char* text = std::strerror(err);
  switch (err) {
    case EPERM:
    case EACCES:
      return absl::PermissionDeniedError(
          Cat(what, ": needs ", capability,
              " (run tng as root, or grant it with "
              "`setcap cap_net_admin,cap_net_raw+ep` or systemd AmbientCapabilities="
              "CAP_NET_ADMIN CAP_NET_RAW): ",
              text));
    case EAGAIN:
    case EBUSY:
      return absl::UnavailableError(Cat(what, ": ", text));
    default:
      return absl::InternalError(Cat(what, ": ", text));
  }
}

}  // namespace tng::netfilter
