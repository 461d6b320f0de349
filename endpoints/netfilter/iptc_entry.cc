#include "endpoints/netfilter/iptc_entry.h"

// libiptc's headers pull in the glibc network headers before the kernel's, which keeps
// <linux/in.h> from clashing with <netinet/in.h>.
#include <libiptc/libiptc.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_TPROXY.h>
#include <linux/netfilter/xt_addrtype.h>
#include <linux/netfilter/xt_cgroup.h>
#include <linux/netfilter/xt_mark.h>
#include <linux/netfilter/xt_set.h>
#include <linux/netfilter/xt_tcpudp.h>

#include <cstring>
#include <string>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "core/json.h"

namespace tng::netfilter {
namespace {

// A match or target: its extension name, revision and data (copied into the entry).
struct Extension {
  const char* name;
  uint8_t revision;
  std::string data;
};

template <typename T>
std::string Bytes(const T& v) {
  return std::string(reinterpret_cast<const char*>(&v), sizeof v);
}

struct MatchEncoder {
  const IpsetResolver& ipsets;

  absl::StatusOr<Extension> operator()(const AddrTypeMatch& m) {
    xt_addrtype_info_v1 info{};
    info.source = m.src;
    info.dest = m.dst;
    if (m.invert_src) info.flags |= XT_ADDRTYPE_INVERT_SOURCE;
    if (m.invert_dst) info.flags |= XT_ADDRTYPE_INVERT_DEST;
    return Extension{"addrtype", 1, Bytes(info)};
  }
  absl::StatusOr<Extension> operator()(const MarkMatch& m) {
    xt_mark_mtinfo1 info{};
    info.mark = m.mark;
    info.mask = m.mask;
    return Extension{"mark", 1, Bytes(info)};
  }
  absl::StatusOr<Extension> operator()(const PortMatch& m) {
    xt_tcp info{};
    info.spts[0] = 0;
    info.spts[1] = 0xffff;
    info.dpts[0] = m.first;
    info.dpts[1] = m.last;
    return Extension{"tcp", 0, Bytes(info)};
  }
  absl::StatusOr<Extension> operator()(const SetMatch& m) {
    absl::StatusOr<uint16_t> index = ipsets(m.name);
    if (!index.ok()) return index.status();
    // Revision 4, as iptables 1.8 writes it (iptables-save prints older ones as unsupported);
    // the packet and byte counters stay unused (IPSET_COUNTER_NONE).
    xt_set_info_match_v4 info{};
    info.match_set.index = *index;
    info.match_set.dim = 1;    // one direction...
    info.match_set.flags = 0;  // ...dst (a src bit would be set here)
    return Extension{"set", 4, Bytes(info)};
  }
  absl::StatusOr<Extension> operator()(const CgroupMatch& m) {
    // Revision 2, as iptables 1.8 writes it (path of up to XT_CGROUP_PATH_MAX - 1 bytes).
    xt_cgroup_info_v2 info{};
    if (m.path.size() >= sizeof info.path) {
      return absl::InvalidArgumentError(json::Cat("cgroup path \"", m.path, "\" is too long"));
    }
    info.has_path = 1;
    std::memcpy(info.path, m.path.data(), m.path.size());
    return Extension{"cgroup", 2, Bytes(info)};
  }
};

struct TargetEncoder {
  // Standard targets (RETURN, a jump to a chain) carry a verdict that libiptc fills in from the
  // name when the entry is added.
  Extension operator()(const ReturnTarget&) { return Standard(IPTC_LABEL_RETURN); }
  Extension operator()(const JumpTarget& t) { return Standard(t.chain); }
  Extension operator()(const RedirectTarget& t) {
    nf_nat_ipv4_multi_range_compat info{};
    info.rangesize = 1;
    info.range[0].flags = NF_NAT_RANGE_PROTO_SPECIFIED;
    info.range[0].min.tcp.port = htons(t.port);
    info.range[0].max.tcp.port = htons(t.port);
    return Extension{"REDIRECT", 0, Bytes(info)};
  }
  Extension operator()(const TproxyTarget& t) {
    xt_tproxy_target_info_v1 info{};
    info.mark_mask = t.mask;
    info.mark_value = t.mark;
    info.laddr.ip = htonl(t.on_ip);
    info.lport = htons(t.on_port);
    return Extension{"TPROXY", 1, Bytes(info)};
  }
  Extension operator()(const MarkTarget& t) {
    xt_mark_tginfo2 info{};
    info.mark = t.mark;
    info.mask = t.mask;
    return Extension{"MARK", 2, Bytes(info)};
  }

  std::string chain_name;  // keeps Standard()'s name alive
  Extension Standard(std::string_view name) {
    chain_name = std::string(name);
    int verdict = 0;
    return Extension{chain_name.c_str(), 0, Bytes(verdict)};
  }
};

}  // namespace

absl::StatusOr<IptEntry> IptEntry::Encode(const Rule& rule, const IpsetResolver& ipsets) {
  std::vector<Extension> matches;
  for (const Match& m : rule.matches) {
    absl::StatusOr<Extension> ext = std::visit(MatchEncoder{ipsets}, m);
    if (!ext.ok()) return ext.status();
    matches.push_back(std::move(*ext));
  }
  TargetEncoder targets;
  Extension target = std::visit(targets, rule.target);
  const bool standard = std::holds_alternative<ReturnTarget>(rule.target) ||
                        std::holds_alternative<JumpTarget>(rule.target);
  if (std::string_view(target.name).size() >= XT_EXTENSION_MAXNAMELEN) {
    return absl::InvalidArgumentError(json::Cat("target name \"", target.name, "\" is too long"));
  }

  size_t size = XT_ALIGN(sizeof(ipt_entry));
  for (const Extension& m : matches)
    size += XT_ALIGN(sizeof(xt_entry_match)) + XT_ALIGN(m.data.size());
  const size_t target_offset = size;
  // A standard target is exactly an xt_standard_target (header + verdict), as libiptc expects.
  const size_t target_size = standard
                                 ? XT_ALIGN(sizeof(xt_standard_target))
                                 : XT_ALIGN(sizeof(xt_entry_target)) + XT_ALIGN(target.data.size());
  size += target_size;

  IptEntry out;
  out.storage_.assign((size + 7) / 8, 0);
  out.size_ = size;
  auto* base = reinterpret_cast<unsigned char*>(out.storage_.data());
  auto* e = reinterpret_cast<ipt_entry*>(base);
  if (rule.dst) {
    const uint32_t mask = rule.dst->length == 0 ? 0 : ~uint32_t{0} << (32 - rule.dst->length);
    e->ip.dst.s_addr = htonl(rule.dst->addr);
    e->ip.dmsk.s_addr = htonl(mask);
  }
  if (rule.tcp) e->ip.proto = IPPROTO_TCP;
  e->target_offset = static_cast<uint16_t>(target_offset);
  e->next_offset = static_cast<uint16_t>(size);

  size_t off = XT_ALIGN(sizeof(ipt_entry));
  for (const Extension& m : matches) {
    auto* em = reinterpret_cast<xt_entry_match*>(base + off);
    const size_t msize = XT_ALIGN(sizeof(xt_entry_match)) + XT_ALIGN(m.data.size());
    em->u.user.match_size = static_cast<uint16_t>(msize);
    std::strncpy(em->u.user.name, m.name, sizeof em->u.user.name - 1);
    em->u.user.revision = m.revision;
    std::memcpy(em->data, m.data.data(), m.data.size());
    off += msize;
  }
  auto* et = reinterpret_cast<xt_entry_target*>(base + target_offset);
  et->u.user.target_size = static_cast<uint16_t>(target_size);
  std::strncpy(et->u.user.name, target.name, sizeof et->u.user.name - 1);
  et->u.user.revision = target.revision;
  std::memcpy(et->data, target.data.data(), target.data.size());
  return out;
}

}  // namespace tng::netfilter
