#include "endpoints/netfilter/cgroup_check.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

#include "core/json.h"

namespace tng::netfilter {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const std::string_view oct = s.substr(i + 1, 3);
      if (oct.find_first_not_of("01234567") == std::string_view::npos) {
        out += static_cast<char>((oct[0] - '0') * 64 + (oct[1] - '0') * 8 + (oct[2] - '0'));
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

// Where the cgroup2 hierarchy is mounted ("/sys/fs/cgroup" or, on hybrid systems,
// "/sys/fs/cgroup/unified"); empty when it is not.
std::string Cgroup2Mount() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    std::string fstype;
    tail >> fstype;
    if (fstype != "cgroup2") continue;
    std::istringstream head(line.substr(0, dash));
    std::string id, parent, dev, root, mount_point;
    head >> id >> parent >> dev >> root >> mount_point;
    // A mount of a sub-tree (root other than "/") would shift paths; the kernel resolves them
    // from the hierarchy's root, so only a full mount tells us where they live.
    if (root == "/") return Unescape(mount_point);
  }
  return "";
}

}  // namespace

absl::Status CheckCgroupV2Path(std::string_view path) {
  using json::Cat;
  const std::string mount = Cgroup2Mount();
  if (mount.empty()) {
    // Not "no cgroup v2": the kernel resolves the path in its own hierarchy, whatever is mounted
    // here; `ip netns exec` for one mounts a fresh /sys without /sys/fs/cgroup in it.
    return absl::UnavailableError(
        Cat("cgroup \"", path,
            "\" cannot be checked here: no cgroup2 file system is mounted in this mount "
            "namespace"));
  }
  std::string dir = mount;
  if (!path.starts_with('/')) dir += '/';
  dir += path;
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(Cat("cgroup \"", path,
                                   "\" does not exist in the cgroup v2 "
                                   "hierarchy (no directory ",
                                   dir, "); create it before starting"));
  }
  return absl::OkStatus();
}

}  // namespace tng::netfilter
