#include "endpoints/netfilter/netfilter_rules.h"

#include <functional>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "core/json.h"
#include "core/log.h"
#include "endpoints/netfilter/cgroup_check.h"
#include "endpoints/netfilter/ipset_lookup.h"
#include "endpoints/netfilter/iptc_table.h"
#include "endpoints/netfilter/netns_claim.h"
#include "endpoints/netfilter/policy_route.h"

namespace tng::netfilter {
namespace {

using json::Cat;

constexpr std::string_view kCaptureTables[] = {"mangle", "nat"};

// Opens the table, lets `edit` change the snapshot, and commits when it reports a change.
// libiptc replaces the whole table: if another writer (one not taking the xtables lock) changed
// it meanwhile the kernel refuses the commit, and we start over from a fresh snapshot.
absl::Status EditTable(std::string_view table,
                       const std::function<absl::StatusOr<bool>(IptcTable&)>& edit) {
  constexpr int kAttempts = 3;
  absl::Status last;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    absl::StatusOr<IptcTable> t = IptcTable::Open(table);
    if (!t.ok()) return t.status();
    absl::StatusOr<bool> changed = edit(*t);
    if (!changed.ok()) return changed.status();
    if (!*changed) return absl::OkStatus();
    last = t->Commit();
    if (last.code() != absl::StatusCode::kUnavailable) return last;
  }
  return last;
}

absl::Status RemoveChainsFrom(std::string_view table, const std::vector<std::string>& chains) {
  return EditTable(table, [&](IptcTable& t) -> absl::StatusOr<bool> {
    bool any = false;
    for (const std::string& c : chains) any = any || t.HasChain(c);
    if (!any) return false;
    if (absl::Status s = t.RemoveChains(chains); !s.ok()) return s;
    return true;
  });
}

// Chains of the plans, grouped by table.
std::map<std::string, std::vector<std::string>> ChainsByTable(const std::vector<Plan>& plans) {
  std::map<std::string, std::vector<std::string>> out;
  for (const Plan& p : plans) {
    for (const TablePlan& t : p.tables) {
      for (const Chain& c : t.chains) out[t.table].push_back(c.name);
    }
  }
  return out;
}

// Where a cgroup path sits in the configuration, e.g. add_egress[0].netfilter.capture_cgroup[1]
// (the spec's id is its index in add_ingress / add_egress).
std::string CgroupKey(const RuleSpec& spec, std::string_view key, size_t i) {
  return Cat(spec.direction == Direction::kIngress ? "add_ingress[" : "add_egress[", spec.id,
             "].netfilter.", key, "[", i, "]");
}

// Everything a set of plans needs from the system that the kernel would only reject with a
// vague error: the cgroup paths exist. Returns the paths it could not check (no cgroup2 mount in
// this mount namespace) as `key "path"`, for the message should the kernel refuse them.
absl::StatusOr<std::vector<std::string>> PreCheck(const std::vector<RuleSpec>& specs) {
  std::vector<std::string> unchecked;
  for (const RuleSpec& spec : specs) {
    for (const auto* list : {&spec.options.capture_cgroup, &spec.options.nocapture_cgroup}) {
      const char* key =
          list == &spec.options.capture_cgroup ? "capture_cgroup" : "nocapture_cgroup";
      for (size_t i = 0; i < list->size(); ++i) {
        const std::string& path = (*list)[i];
        absl::Status s = CheckCgroupV2Path(path);
        if (s.code() == absl::StatusCode::kUnavailable) {
          unchecked.push_back(Cat(CgroupKey(spec, key, i), " \"", path, "\""));
        } else if (!s.ok()) {
          return absl::Status(s.code(),
                              Cat(CgroupKey(spec, key, i), ": ", std::string(s.message())));
        }
      }
    }
  }
  return unchecked;
}

// Installs the plans' tables and routes; on failure undoes what it did.
absl::Status InstallPlans(const std::vector<Plan>& plans) {
  std::map<std::string, std::vector<const TablePlan*>> tables;
  for (const Plan& p : plans) {
    for (const TablePlan& t : p.tables) tables[t.table].push_back(&t);
  }
  const std::map<std::string, std::vector<std::string>> chains = ChainsByTable(plans);
  std::vector<std::string> committed;
  auto undo_tables = [&] {
    for (const std::string& table : committed) (void)RemoveChainsFrom(table, chains.at(table));
  };
  for (const auto& [table, parts] : tables) {
    absl::Status s = EditTable(table, [&](IptcTable& t) -> absl::StatusOr<bool> {
      for (const std::string& c : chains.at(table)) {
        if (t.HasChain(c)) {
          return absl::AlreadyExistsError(
              Cat("chain ", c, " exists already in the legacy ", table,
                  " table: left by a TNG that was killed (NetfilterRules::RemoveStale() removes "
                  "it at start), or made by somebody else"));
        }
      }
      for (const TablePlan* part : parts) {
        if (absl::Status s = t.Add(*part, IpsetIndex); !s.ok()) return s;
      }
      return true;
    });
    if (!s.ok()) {
      undo_tables();
      return s;
    }
    committed.push_back(table);
  }
  std::vector<PolicyRoute> routed;
  for (const Plan& p : plans) {
    if (!p.route) continue;
    if (absl::Status s = AddPolicyRoute(*p.route); !s.ok()) {
      for (const PolicyRoute& r : routed) (void)DeletePolicyRoute(r);
      undo_tables();
      return s;
    }
    routed.push_back(*p.route);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<NetfilterRules>> NetfilterRules::Install(
    const std::vector<RuleSpec>& specs) {
  if (specs.empty()) return absl::InvalidArgumentError("netfilter: no capture rules to install");
  std::vector<Plan> plans;
  std::set<std::string> names;
  std::set<uint32_t> route_tables;
  for (const RuleSpec& spec : specs) {
    absl::StatusOr<Plan> plan = BuildPlan(spec);
    if (!plan.ok()) return plan.status();
    for (const std::string& c : ChainNames(*plan)) {
      if (!names.insert(c).second) {
        return absl::InvalidArgumentError(
            Cat("netfilter: two endpoints would both use chain ", c, " (same id)"));
      }
    }
    if (plan->route) route_tables.insert(plan->route->table);
    plans.push_back(std::move(*plan));
  }

  NetnsClaim& claim = NetnsClaim::Get();
  std::lock_guard<std::mutex> lock(claim.mu());
  for (const std::string& c : names) {
    if (claim.owned_chains().contains(c)) {
      return absl::AlreadyExistsError(
          Cat("netfilter: chain ", c, " is installed by this process already"));
    }
  }
  absl::StatusOr<std::vector<std::string>> unchecked = PreCheck(specs);
  if (!unchecked.ok()) return unchecked.status();
  if (absl::Status s = claim.Acquire(); !s.ok()) return s;
  if (absl::Status s = InstallPlans(plans); !s.ok()) {
    claim.Release();
    if (unchecked->empty()) return s;
    std::string paths;
    for (const std::string& u : *unchecked) paths += Cat(paths.empty() ? "" : ", ", u);
    return absl::Status(s.code(),
                        Cat(std::string(s.message()),
                            "; the cgroup paths could not be checked beforehand (no cgroup2 file "
                            "system is mounted in this mount namespace) and the kernel refuses a "
                            "cgroup match whose path does not exist in its cgroup v2 hierarchy: ",
                            paths));
  }
  claim.owned_chains().insert(names.begin(), names.end());
  claim.owned_tables().insert(route_tables.begin(), route_tables.end());
  auto rules = std::unique_ptr<NetfilterRules>(new NetfilterRules(std::move(plans)));
  TNG_LOG(Info, "netfilter") << "installed capture rules"
                             << "\n"
                             << rules->description_;
  return rules;
}

NetfilterRules::NetfilterRules(std::vector<Plan> plans) : plans_(std::move(plans)) {
  for (const Plan& p : plans_) description_ += DescribePlan(p);
}

std::vector<std::string> NetfilterRules::chains() const {
  std::vector<std::string> out;
  for (const Plan& p : plans_) {
    for (std::string& c : ChainNames(p)) out.push_back(std::move(c));
  }
  return out;
}

absl::Status NetfilterRules::Remove() {
  NetnsClaim& claim = NetnsClaim::Get();
  std::lock_guard<std::mutex> lock(claim.mu());
  if (removed_) return absl::OkStatus();
  absl::Status first;
  for (const auto& [table, chains] : ChainsByTable(plans_)) {
    absl::Status s = RemoveChainsFrom(table, chains);
    if (first.ok()) first = s;
  }
  for (const Plan& p : plans_) {
    if (!p.route) continue;
    absl::Status s = DeletePolicyRoute(*p.route);
    if (first.ok()) first = s;
  }
  if (!first.ok()) return first;
  for (const std::string& c : chains()) claim.owned_chains().erase(c);
  for (const Plan& p : plans_) {
    if (p.route) claim.owned_tables().erase(p.route->table);
  }
  claim.Release();
  removed_ = true;
  TNG_LOG(Info, "netfilter") << "removed capture rules";
  return absl::OkStatus();
}

NetfilterRules::~NetfilterRules() {
  absl::Status s = Remove();
  if (s.ok()) return;
  TNG_LOG(Error, "netfilter") << "removing capture rules failed; the next start removes them"
                              << " (RemoveStale)"
                              << ": " << s.message();
  NetnsClaim& claim = NetnsClaim::Get();
  std::lock_guard<std::mutex> lock(claim.mu());
  for (const std::string& c : chains()) claim.owned_chains().erase(c);
  for (const Plan& p : plans_) {
    if (p.route) claim.owned_tables().erase(p.route->table);
  }
  claim.Release();
}

absl::Status NetfilterRules::RemoveStale() {
  NetnsClaim& claim = NetnsClaim::Get();
  std::lock_guard<std::mutex> lock(claim.mu());
  if (absl::Status s = claim.Acquire(); !s.ok()) {
    return absl::FailedPreconditionError(
        Cat("not removing stale netfilter rules: ", std::string(s.message())));
  }
  absl::Status result;
  for (std::string_view table : kCaptureTables) {
    if (!TableInstantiated(table)) continue;  // never used here: nothing to remove
    result = EditTable(table, [&](IptcTable& t) -> absl::StatusOr<bool> {
      std::vector<std::string> stale;
      for (std::string& c : t.UserChains()) {
        std::string_view name = c;
        const bool ours =
            name.starts_with(kEgressChainPrefix) || name.starts_with(kIngressChainPrefix);
        if (ours && !claim.owned_chains().contains(c)) stale.push_back(std::move(c));
      }
      if (stale.empty()) return false;
      if (absl::Status s = t.RemoveChains(stale); !s.ok()) return s;
      std::string list;
      for (const std::string& c : stale) list += (list.empty() ? "" : ",") + c;
      TNG_LOG(Warn, "netfilter").Kv("table", table).Kv("chains", list)
          << "removing stale capture chains left by a killed process";
      return true;
    });
    if (!result.ok()) break;
  }
  if (result.ok()) {
    absl::StatusOr<int> routes = RemoveTaggedPolicyRoutes(claim.owned_tables());
    if (!routes.ok()) {
      result = routes.status();
    } else if (*routes > 0) {
      TNG_LOG(Warn, "netfilter").Kv("count", *routes)
          << "removed stale TPROXY policy rules and routes";
    }
  }
  claim.Release();
  return result;
}

}  // namespace tng::netfilter
