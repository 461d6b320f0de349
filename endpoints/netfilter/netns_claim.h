// This process's claim on the capture rules of its network namespace: the abstract unix socket
// @tng (the name TNG binds for the same purpose), which the kernel frees when the process dies,
// plus the chains and route tables the process owns right now. Rules that exist while we hold the
// claim and that we do not own were left by a dead process.
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "core/fd.h"

namespace tng::netfilter {

class NetnsClaim {
 public:
  // The process-wide instance; everything below needs mu() held.
  static NetnsClaim& Get();
  std::mutex& mu() { return mu_; }

  // Takes one reference; the first binds @tng. FailedPrecondition when another process in this
  // network namespace holds it.
  absl::Status Acquire();
  // Drops one reference; the last one closes the socket.
  void Release();

  std::set<std::string>& owned_chains() { return chains_; }
  std::set<uint32_t>& owned_tables() { return tables_; }

 private:
  NetnsClaim() = default;
  std::mutex mu_;
  UniqueFd socket_;
  int refs_ = 0;
  std::set<std::string> chains_;
  std::set<uint32_t> tables_;
};

}  // namespace tng::netfilter
