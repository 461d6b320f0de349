#include "endpoints/netfilter/iptc_table.h"

#include <fcntl.h>
#include <libiptc/libiptc.h>
#include <sys/file.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <set>
#include <utility>

#include "core/json.h"
#include "endpoints/netfilter/errors.h"

namespace tng::netfilter {
namespace {

using json::Cat;

// iptables-legacy serialises writers with flock on this file; `iptables -w` waits for it.
absl::StatusOr<UniqueFd> AcquireXtablesLock() {
  const char* path = std::getenv("XTABLES_LOCKFILE");
  if (path == nullptr || *path == '\0') path = "/run/xtables.lock";
  UniqueFd fd(open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600));
  if (!fd.valid()) return SyscallError(errno, Cat("opening the xtables lock ", path));
  constexpr int kAttempts = 1000;  // 10 ms apart: like `iptables -w 10`
  for (int i = 0;; ++i) {
    if (flock(fd.get(), LOCK_EX | LOCK_NB) == 0) return fd;
    if (errno != EWOULDBLOCK && errno != EINTR) {
      return SyscallError(errno, Cat("locking the xtables lock ", path));
    }
    if (i == kAttempts) {
      return absl::UnavailableError(Cat("the xtables lock ", path,
                                        " stayed held by another process for 10 s (an "
                                        "iptables-legacy command that does not finish?)"));
    }
    timespec ten_ms{0, 10'000'000};
    nanosleep(&ten_ms, nullptr);
  }
}

}  // namespace

absl::StatusOr<IptcTable> IptcTable::Open(std::string_view table) {
  absl::StatusOr<UniqueFd> lock = AcquireXtablesLock();
  if (!lock.ok()) return lock.status();
  std::string name(table);
  xtc_handle* handle = iptc_init(name.c_str());
  if (handle == nullptr) {
    const int err = errno;
    const std::string what = Cat("opening the legacy iptables table \"", name, "\"");
    if (err == EPERM || err == EACCES) return SyscallError(err, what);
    return absl::InternalError(Cat(what, ": ", iptc_strerror(err)));
  }
  return IptcTable(std::move(name), std::move(*lock), handle);
}

IptcTable::IptcTable(IptcTable&& other) noexcept
    : name_(std::move(other.name_)),
      lock_(std::move(other.lock_)),
      handle_(std::exchange(other.handle_, nullptr)) {}

IptcTable::~IptcTable() {
  if (handle_ != nullptr) iptc_free(handle_);
}

absl::Status IptcTable::Error(std::string_view what) const {
  const int err = errno;
  const std::string where = Cat(what, " (table ", name_, ")");
  if (err == EPERM || err == EACCES) return SyscallError(err, where);
  if (err == EAGAIN) {
    return absl::UnavailableError(
        Cat(where, ": the table changed meanwhile: ", iptc_strerror(err)));
  }
  return absl::InternalError(Cat(where, ": ", iptc_strerror(err)));
}

bool IptcTable::HasChain(std::string_view chain) const {
  return iptc_is_chain(std::string(chain).c_str(), handle_) != 0;
}

std::vector<std::string> IptcTable::UserChains() const {
  std::vector<std::string> out;
  for (const char* c = iptc_first_chain(handle_); c != nullptr; c = iptc_next_chain(handle_)) {
    if (!iptc_builtin(c, handle_)) out.emplace_back(c);
  }
  return out;
}

absl::Status IptcTable::Add(const TablePlan& plan, const IpsetResolver& ipsets) {
  for (const Chain& c : plan.chains) {
    if (!iptc_create_chain(c.name.c_str(), handle_)) return Error(Cat("creating chain ", c.name));
  }
  for (const Chain& c : plan.chains) {
    for (const Rule& r : c.rules) {
      absl::StatusOr<IptEntry> e = IptEntry::Encode(r, ipsets);
      if (!e.ok()) return e.status();
      if (!iptc_append_entry(c.name.c_str(), e->get(), handle_)) {
        return Error(Cat("appending `", SaveLine(c.name, r), "`"));
      }
    }
  }
  for (const Hook& h : plan.hooks) {
    absl::StatusOr<IptEntry> e = IptEntry::Encode(h.rule, ipsets);
    if (!e.ok()) return e.status();
    if (!iptc_insert_entry(h.builtin_chain.c_str(), e->get(), 0, handle_)) {
      return Error(Cat("inserting `", SaveLine(h.builtin_chain, h.rule), "` first"));
    }
  }
  return absl::OkStatus();
}

absl::Status IptcTable::RemoveChains(const std::vector<std::string>& chains) {
  std::set<std::string, std::less<>> doomed;
  for (const std::string& c : chains) {
    if (HasChain(c)) doomed.insert(c);
  }
  if (doomed.empty()) return absl::OkStatus();
  for (const std::string& c : doomed) {
    if (!iptc_flush_entries(c.c_str(), handle_)) return Error(Cat("flushing chain ", c));
  }
  std::vector<std::string> all;
  for (const char* c = iptc_first_chain(handle_); c != nullptr; c = iptc_next_chain(handle_)) {
    all.emplace_back(c);
  }
  for (const std::string& c : all) {
    if (doomed.contains(c)) continue;
    std::vector<unsigned> jumps;
    unsigned n = 0;
    for (const ipt_entry* e = iptc_first_rule(c.c_str(), handle_); e != nullptr;
         e = iptc_next_rule(e, handle_), ++n) {
      const char* target = iptc_get_target(e, handle_);
      if (target != nullptr && doomed.contains(std::string_view(target))) jumps.push_back(n);
    }
    for (auto it = jumps.rbegin(); it != jumps.rend(); ++it) {
      if (!iptc_delete_num_entry(c.c_str(), *it, handle_)) {
        return Error(Cat("deleting rule ", *it + 1, " of chain ", c));
      }
    }
  }
  for (const std::string& c : doomed) {
    if (!iptc_delete_chain(c.c_str(), handle_)) return Error(Cat("deleting chain ", c));
  }
  return absl::OkStatus();
}

absl::Status IptcTable::Commit() {
  if (!iptc_commit(handle_)) return Error("committing");
  return absl::OkStatus();
}

bool TableInstantiated(std::string_view table) {
  std::ifstream names("/proc/net/ip_tables_names");
  std::string line;
  while (std::getline(names, line)) {
    if (line == table) return true;
  }
  return false;
}

}  // namespace tng::netfilter
