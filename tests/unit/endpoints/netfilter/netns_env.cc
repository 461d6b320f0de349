#include "tests/unit/endpoints/netfilter/netns_env.h"

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "gtest/gtest.h"

namespace tng::netfilter::testing {
namespace {

absl::Status Enter() {
  if (geteuid() != 0) {
    return absl::PermissionDeniedError(
        "the netfilter tests need root: they create a private network namespace (CAP_SYS_ADMIN) "
        "and change its netfilter tables (CAP_NET_ADMIN)");
  }
  // Only this (so far only) thread moves; every thread and child started later is created
  // from it and inherits the namespace.
  if (unshare(CLONE_NEWNET) != 0) {
    return absl::InternalError(std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno));
  }
  if (std::system("ip link set lo up") != 0) {
    return absl::InternalError("`ip link set lo up` failed in the private network namespace");
  }
  return absl::OkStatus();
}

// Before main(): no test, and no other thread, runs yet.
const absl::Status kPrivateNetns = Enter();

}  // namespace

const absl::Status& PrivateNetns() { return kPrivateNetns; }

std::string Sh(std::string_view command) {
  std::string cmd(command);
  cmd += " 2>/tmp/tng-netfilter-test-stderr." + std::to_string(getpid());
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    ADD_FAILURE() << "popen(" << command << "): " << std::strerror(errno);
    return "";
  }
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  const std::string err_path = "/tmp/tng-netfilter-test-stderr." + std::to_string(getpid());
  std::string err;
  if (FILE* f = std::fopen(err_path.c_str(), "r")) {
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) err.append(buf, n);
    std::fclose(f);
  }
  std::remove(err_path.c_str());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    ADD_FAILURE() << "`" << command << "` failed (status " << status << "): " << err;
  }
  return out;
}

namespace {

// Chain policy lines end in packet:byte counters, "[12:3456]", which change between saves.
std::string ZeroCounters(std::string line) {
  if (line.empty() || line.back() != ']') return line;
  size_t open = line.rfind('[');
  if (open == std::string::npos) return line;
  std::string_view inner(line.data() + open + 1, line.size() - open - 2);
  size_t colon = inner.find(':');
  auto digits = [](std::string_view d) {
    return !d.empty() && d.find_first_not_of("0123456789") == std::string_view::npos;
  };
  if (colon == std::string_view::npos || !digits(inner.substr(0, colon)) ||
      !digits(inner.substr(colon + 1))) {
    return line;
  }
  line.replace(open, std::string::npos, "[0:0]");
  return line;
}

}  // namespace

std::string SaveTable(std::string_view table) {
  std::istringstream in(Sh("iptables-legacy-save -t " + std::string(table)));
  std::string out, line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    out += ZeroCounters(line) + "\n";
  }
  return out;
}

std::string PolicyState() {
  return Sh("ip rule show") + "--- routes\n" + Sh("ip route show table all");
}

}  // namespace tng::netfilter::testing
