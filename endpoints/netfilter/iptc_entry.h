// One rule of the rule plan encoded as the kernel's ipt_entry (IP header match, xt matches with
// their revision-specific data, target), ready for libiptc to append or insert.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "endpoints/netfilter/rule_plan.h"

struct ipt_entry;

namespace tng::netfilter {

// Turns an ipset name into the kernel's set index (IpsetIndex in production).
using IpsetResolver = std::function<absl::StatusOr<uint16_t>(std::string_view name)>;

class IptEntry {
 public:
  static absl::StatusOr<IptEntry> Encode(const Rule& rule, const IpsetResolver& ipsets);

  const ipt_entry* get() const { return reinterpret_cast<const ipt_entry*>(storage_.data()); }
  size_t size() const { return size_; }

 private:
  std::vector<uint64_t> storage_;  // 8-byte aligned, as ipt_entry's counters need
  size_t size_ = 0;
};

}  // namespace tng::netfilter
