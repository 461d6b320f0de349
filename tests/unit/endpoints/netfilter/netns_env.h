// Test support for the netfilter tests that change kernel state: the test binary moves itself into
// a fresh network namespace before main() (so the host's own tables and routes are never
// touched), and helpers run commands there and read the legacy tables back.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace tng::netfilter::testing {

// Ok when the process entered its private network namespace (with lo up). Tests assert this
// first: without root they fail with this message rather than touch anything.
const absl::Status& PrivateNetns();

// Runs a shell command (inside the namespace, like everything here); returns its stdout. A
// non-zero exit becomes a test failure naming the command and its stderr.
std::string Sh(std::string_view command);

// `iptables-legacy-save -t <table>` without comment lines and with counters zeroed.
std::string SaveTable(std::string_view table);

// `ip rule show` and `ip route show table all` (what the policy routes change).
std::string PolicyState();

}  // namespace tng::netfilter::testing
