// A legacy x_tables table (nat, mangle) opened with libiptc: a snapshot that is edited in memory
// and replaced in the kernel by one commit. The xtables lock (/run/xtables.lock, as
// iptables-legacy uses it) is held from Open to destruction.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/fd.h"
#include "endpoints/netfilter/iptc_entry.h"
#include "endpoints/netfilter/rule_plan.h"

struct xtc_handle;

namespace tng::netfilter {

class IptcTable {
 public:
  // Errors name the table; without CAP_NET_ADMIN the status is PermissionDenied naming it.
  static absl::StatusOr<IptcTable> Open(std::string_view table);
  ~IptcTable();
  IptcTable(IptcTable&& other) noexcept;
  IptcTable& operator=(IptcTable&&) = delete;
  IptcTable(const IptcTable&) = delete;
  IptcTable& operator=(const IptcTable&) = delete;

  const std::string& name() const { return name_; }
  bool HasChain(std::string_view chain) const;
  // User-defined chains, in libiptc's (sorted) order.
  std::vector<std::string> UserChains() const;

  // Creates the plan's chains, appends their rules and puts each hook first in its built-in
  // chain. Nothing reaches the kernel before Commit().
  absl::Status Add(const TablePlan& plan, const IpsetResolver& ipsets);
  // Removes every rule (in any chain) that jumps to one of `chains`, then the chains themselves.
  // Names that do not exist are skipped.
  absl::Status RemoveChains(const std::vector<std::string>& chains);
  // Replaces the kernel's table with the edited snapshot. Unavailable when the table changed
  // since Open (a writer that does not take the xtables lock); the caller may start over.
  absl::Status Commit();

 private:
  IptcTable(std::string name, UniqueFd lock, xtc_handle* handle)
      : name_(std::move(name)), lock_(std::move(lock)), handle_(handle) {}
  absl::Status Error(std::string_view what) const;  // from errno after a failed libiptc call

  std::string name_;
  UniqueFd lock_;
  xtc_handle* handle_ = nullptr;
};

// Whether the kernel has instantiated the legacy table in this network namespace (listed in
// /proc/net/ip_tables_names). Opening a table instantiates it, so cleanup checks this first.
bool TableInstantiated(std::string_view table);

}  // namespace tng::netfilter
