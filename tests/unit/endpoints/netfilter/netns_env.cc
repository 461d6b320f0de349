#include "tests/unit/endpoints/netfilter/netns_env.h"

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <regex>
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

std::string SaveTable(std::string_view table) {
  std::istringstream in(Sh("iptables-legacy-save -t " + std::string(table)));
  static const std::regex kCounters(R"(\[\d+:\d+\]$)");
  std::string out, line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    out += std::regex_replace(line, kCounters, "[0:0]") + "\n";
  }
  return out;
}

std::string PolicyState() {
  return Sh("ip rule show") + "--- routes\n" + Sh("ip route show table all");
}

}  // namespace tng::netfilter::testing
