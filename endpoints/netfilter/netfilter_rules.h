// The transparent-capture rules of a gateway's netfilter endpoints: installed with libiptc (one
// commit per table) plus the TPROXY policy routes over rtnetlink, removed by Remove() or the
// destructor, and found again after a crash by chain prefix and route protocol (RemoveStale).
//
// Only one process per network namespace may own capture rules (as in TNG): it claims the
// abstract unix socket @tng while it holds rules, which also tells RemoveStale that rules it
// finds without a live owner are stale. Needs CAP_NET_ADMIN (and CAP_NET_RAW for libiptc's raw
// socket). The rules are legacy x_tables: `iptables-legacy-save` shows them, the nf_tables
// `iptables` of Debian 12 does not.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "endpoints/netfilter/rule_plan.h"
#include "endpoints/netfilter/rule_spec.h"

namespace tng::netfilter {

class NetfilterRules {
 public:
  // All or nothing: on error nothing is left installed. Fails with AlreadyExists when one of the
  // chains exists already (call RemoveStale() first at start), FailedPrecondition when another
  // live process in this network namespace owns capture rules, PermissionDenied naming
  // CAP_NET_ADMIN when not permitted, InvalidArgument / NotFound for bad specs (unknown ipset or
  // cgroup, ...).
  static absl::StatusOr<std::unique_ptr<NetfilterRules>> Install(
      const std::vector<RuleSpec>& specs);

  // Removes the chains, the jumps into them and the policy routes. Idempotent; after a failure
  // the destructor tries again.
  absl::Status Remove();
  ~NetfilterRules();  // Remove(), logging a failure
  NetfilterRules(const NetfilterRules&) = delete;
  NetfilterRules& operator=(const NetfilterRules&) = delete;

  // Removes capture rules that no live process owns: chains named TNG_EGRESS_* / TNG_INGRESS_* in
  // the legacy nat and mangle tables (with every rule jumping to them) and policy rules and
  // routes of protocol kRouteProtocol; rules installed by this process are kept. Tables the
  // kernel has not instantiated are not touched. FailedPrecondition when another live process
  // owns capture rules here.
  static absl::Status RemoveStale();

  // The installed rules in iptables-save form (see DescribePlan), for logs.
  const std::string& description() const { return description_; }
  std::vector<std::string> chains() const;

 private:
  explicit NetfilterRules(std::vector<Plan> plans);

  std::vector<Plan> plans_;
  std::string description_;
  bool removed_ = false;
};

}  // namespace tng::netfilter
