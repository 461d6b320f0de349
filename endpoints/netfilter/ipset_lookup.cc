#include "endpoints/netfilter/ipset_lookup.h"

#include <linux/netfilter/ipset/ip_set.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "core/fd.h"
#include "core/json.h"
#include "endpoints/netfilter/errors.h"

namespace tng::netfilter {

absl::StatusOr<uint16_t> IpsetIndex(std::string_view name) {
  using json::Cat;
  const std::string what = Cat("looking up ipset \"", name, "\"");
  if (name.empty() || name.size() >= IPSET_MAXNAMELEN) {
    return absl::InvalidArgumentError(
        Cat(what, ": a name of 1-", IPSET_MAXNAMELEN - 1, " characters is needed"));
  }
  UniqueFd fd(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
  if (!fd.valid()) return SyscallError(errno, Cat(what, ": opening a raw socket"));

  ip_set_req_version version{};
  version.op = IP_SET_OP_VERSION;
  socklen_t len = sizeof version;
  if (getsockopt(fd.get(), SOL_IP, SO_IP_SET, &version, &len) != 0) {
    if (errno == ENOPROTOOPT) {
      return absl::FailedPreconditionError(Cat(what, ": the kernel has no ipset support"));
    }
    return SyscallError(errno, Cat(what, ": asking the ipset protocol version"));
  }
  ip_set_req_get_set req{};
  req.op = IP_SET_OP_GET_BYNAME;
  req.version = version.version;
  std::memcpy(req.set.name, name.data(), name.size());
  len = sizeof req;
  if (getsockopt(fd.get(), SOL_IP, SO_IP_SET, &req, &len) != 0) {
    return SyscallError(errno, what);
  }
  if (req.set.index == IPSET_INVALID_ID) {
    return absl::NotFoundError(Cat(what,
                                   ": no such set in this network namespace (create it "
                                   "first, e.g. `ipset create ",
                                   name, " hash:ip`)"));
  }
  return static_cast<uint16_t>(req.set.index);
}

}  // namespace tng::netfilter
