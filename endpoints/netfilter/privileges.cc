#include "endpoints/netfilter/privileges.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/json.h"

namespace tng::netfilter {

namespace {

constexpr int kKept[] = {CAP_NET_ADMIN, CAP_NET_RAW};

bool Kept(int cap) {
  for (int k : kKept) {
    if (k == cap) return true;
  }
  return false;
}

absl::Status Errno(std::string_view what) {
  return absl::InternalError(json::Cat(what, ": ", std::string_view(strerror(errno))));
}

}  // namespace

absl::Status DropToCaptureCapabilities() {
  // Ambient capabilities would survive an exec; none are wanted.
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return Errno("clearing the ambient capabilities");
  }
  // The bounding set caps what any later exec could gain. Dropping from it needs CAP_SETPCAP,
  // which a process started with a reduced set may not have: then the capset below still holds.
  for (int cap = 0; cap <= 63; ++cap) {
    if (Kept(cap) || prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EPERM) {
      return Errno(json::Cat("dropping capability ", cap, " from the bounding set"));
    }
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (syscall(SYS_capget, &header, data) != 0) return Errno("capget");
  uint64_t permitted = data[0].permitted | (static_cast<uint64_t>(data[1].permitted) << 32);
  uint64_t keep = 0;
  for (int k : kKept) keep |= uint64_t{1} << k;
  keep &= permitted;  // a capability never held cannot be kept
  for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; ++i) {
    const uint32_t word = static_cast<uint32_t>(keep >> (32 * i));
    data[i].effective = word;
    data[i].permitted = word;
    data[i].inheritable = 0;
  }
  if (syscall(SYS_capset, &header, data) != 0) return Errno("capset");
  // Nothing exec'd later may gain privileges (setuid binaries, file capabilities).
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Errno("setting no_new_privs");
  return absl::OkStatus();
}

}  // namespace tng::netfilter
