// A minimal NETLINK_ROUTE client: one request at a time, acknowledged or dumped, with messages
// built from a fixed header plus rtattr attributes. Enough for policy rules and routes.
#pragma once

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/fd.h"

namespace tng::netfilter {

// One netlink message under construction: nlmsghdr, the family header, then attributes.
class NlMessage {
 public:
  NlMessage(uint16_t type, uint16_t flags, const void* family_header, size_t header_size);
  void AddU8(uint16_t attr, uint8_t v) { Add(attr, &v, sizeof v); }
  void AddU32(uint16_t attr, uint32_t v) { Add(attr, &v, sizeof v); }
  void Add(uint16_t attr, const void* data, size_t size);

  nlmsghdr* header() { return reinterpret_cast<nlmsghdr*>(buf_.data()); }

 private:
  std::vector<uint32_t> buf_;  // 4-byte aligned, as netlink requires
};

// A received message: its type and the bytes after nlmsghdr.
struct NlReply {
  uint16_t type = 0;
  std::string payload;

  // The family header (rtmsg, fib_rule_hdr) at the start of the payload.
  template <typename T>
  std::optional<T> Header() const {
    if (payload.size() < sizeof(T)) return std::nullopt;
    T h;
    std::memcpy(&h, payload.data(), sizeof h);
    return h;
  }
  // The attribute of that type after a family header of `header_size` bytes.
  std::optional<std::string_view> Attr(size_t header_size, uint16_t attr) const;
  std::optional<uint32_t> AttrU32(size_t header_size, uint16_t attr) const;
  std::optional<uint8_t> AttrU8(size_t header_size, uint16_t attr) const;
};

class RtNetlink {
 public:
  static absl::StatusOr<RtNetlink> Open();

  // Sends msg with NLM_F_ACK and waits for the acknowledgement; returns the kernel's errno (0 for
  // success), or a status when the socket itself failed.
  absl::StatusOr<int> Request(NlMessage& msg);
  // Sends msg with NLM_F_DUMP and collects every reply until NLMSG_DONE.
  absl::StatusOr<std::vector<NlReply>> Dump(NlMessage& msg);

 private:
  explicit RtNetlink(UniqueFd fd) : fd_(std::move(fd)) {}
  absl::Status Send(NlMessage& msg);

  UniqueFd fd_;
  uint32_t seq_ = 0;
};

}  // namespace tng::netfilter
