#include "endpoints/netfilter/rtnetlink.h"

#include <sys/socket.h>

#include <cerrno>
#include <utility>

#include "absl/status/status.h"
#include "core/json.h"
#include "endpoints/netfilter/errors.h"

namespace tng::netfilter {

using json::Cat;

NlMessage::NlMessage(uint16_t type, uint16_t flags, const void* family_header, size_t header_size) {
  const size_t len = NLMSG_LENGTH(header_size);
  buf_.assign((NLMSG_ALIGN(len) + 3) / 4, 0);
  nlmsghdr* h = header();
  h->nlmsg_len = static_cast<uint32_t>(len);
  h->nlmsg_type = type;
  h->nlmsg_flags = flags;
  std::memcpy(NLMSG_DATA(h), family_header, header_size);
}

void NlMessage::Add(uint16_t attr, const void* data, size_t size) {
  const size_t at = NLMSG_ALIGN(header()->nlmsg_len);
  const size_t attr_len = RTA_LENGTH(size);
  const size_t total = at + RTA_ALIGN(attr_len);
  buf_.resize((total + 3) / 4, 0);
  auto* bytes = reinterpret_cast<char*>(buf_.data());
  auto* rta = reinterpret_cast<rtattr*>(bytes + at);
  rta->rta_type = attr;
  rta->rta_len = static_cast<uint16_t>(attr_len);
  std::memcpy(RTA_DATA(rta), data, size);
  header()->nlmsg_len = static_cast<uint32_t>(total);
}

std::optional<std::string_view> NlReply::Attr(size_t header_size, uint16_t attr) const {
  size_t off = NLMSG_ALIGN(header_size);
  while (off + sizeof(rtattr) <= payload.size()) {
    rtattr rta;
    std::memcpy(&rta, payload.data() + off, sizeof rta);
    if (rta.rta_len < sizeof(rtattr) || off + rta.rta_len > payload.size()) break;
    if (rta.rta_type == attr) {
      return std::string_view(payload).substr(off + RTA_LENGTH(0), rta.rta_len - RTA_LENGTH(0));
    }
    off += RTA_ALIGN(rta.rta_len);
  }
  return std::nullopt;
}

std::optional<uint32_t> NlReply::AttrU32(size_t header_size, uint16_t attr) const {
  std::optional<std::string_view> a = Attr(header_size, attr);
  if (!a || a->size() < sizeof(uint32_t)) return std::nullopt;
  uint32_t v;
  std::memcpy(&v, a->data(), sizeof v);
  return v;
}

std::optional<uint8_t> NlReply::AttrU8(size_t header_size, uint16_t attr) const {
  std::optional<std::string_view> a = Attr(header_size, attr);
  if (!a || a->empty()) return std::nullopt;
  return static_cast<uint8_t>((*a)[0]);
}

absl::StatusOr<RtNetlink> RtNetlink::Open() {
  UniqueFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd.valid()) return SyscallError(errno, "opening a NETLINK_ROUTE socket");
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    return SyscallError(errno, "binding a NETLINK_ROUTE socket");
  }
  // A reply that never comes (it always does) must not hang start-up or shutdown.
  timeval tv{5, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return RtNetlink(std::move(fd));
}

absl::Status RtNetlink::Send(NlMessage& msg) {
  nlmsghdr* h = msg.header();
  h->nlmsg_seq = ++seq_;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t n =
      sendto(fd_.get(), h, h->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  if (n != static_cast<ssize_t>(h->nlmsg_len)) {
    return SyscallError(n < 0 ? errno : EMSGSIZE, "sending a NETLINK_ROUTE request");
  }
  return absl::OkStatus();
}

namespace {

// Reads one datagram of replies.
absl::StatusOr<std::vector<NlReply>> ReceiveBatch(int fd) {
  alignas(nlmsghdr) static thread_local char buf[65536];
  ssize_t n;
  do {
    n = recv(fd, buf, sizeof buf, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN) return absl::DeadlineExceededError("no NETLINK_ROUTE reply within 5 s");
    return SyscallError(errno, "receiving a NETLINK_ROUTE reply");
  }
  std::vector<NlReply> out;
  int len = static_cast<int>(n);
  for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
    NlReply r;
    r.type = h->nlmsg_type;
    r.payload.assign(static_cast<const char*>(NLMSG_DATA(h)), h->nlmsg_len - NLMSG_LENGTH(0));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

absl::StatusOr<int> RtNetlink::Request(NlMessage& msg) {
  msg.header()->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  if (absl::Status s = Send(msg); !s.ok()) return s;
  for (;;) {
    absl::StatusOr<std::vector<NlReply>> batch = ReceiveBatch(fd_.get());
    if (!batch.ok()) return batch.status();
    for (const NlReply& r : *batch) {
      if (r.type != NLMSG_ERROR) continue;
      std::optional<nlmsgerr> err = r.Header<nlmsgerr>();
      if (!err) return absl::InternalError("truncated NETLINK_ROUTE acknowledgement");
      if (err->msg.nlmsg_seq != seq_) continue;
      return -err->error;
    }
  }
}

absl::StatusOr<std::vector<NlReply>> RtNetlink::Dump(NlMessage& msg) {
  msg.header()->nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
  if (absl::Status s = Send(msg); !s.ok()) return s;
  std::vector<NlReply> out;
  for (;;) {
    absl::StatusOr<std::vector<NlReply>> batch = ReceiveBatch(fd_.get());
    if (!batch.ok()) return batch.status();
    for (NlReply& r : *batch) {
      if (r.type == NLMSG_DONE) return out;
      if (r.type == NLMSG_ERROR) {
        std::optional<nlmsgerr> err = r.Header<nlmsgerr>();
        return SyscallError(err ? -err->error : EPROTO, "dumping NETLINK_ROUTE objects");
      }
      out.push_back(std::move(r));
    }
  }
}

}  // namespace tng::netfilter
