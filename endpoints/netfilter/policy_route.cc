#include "endpoints/netfilter/policy_route.h"

#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "core/json.h"
#include "endpoints/netfilter/errors.h"
#include "endpoints/netfilter/rtnetlink.h"

namespace tng::netfilter {
namespace {

using json::Cat;

std::string RuleText(const PolicyRoute& r) {
  char mark[32];
  std::snprintf(mark, sizeof mark, "0x%x/0x%x", r.fwmark, r.mask);
  return Cat("policy rule `fwmark ", std::string_view(mark), " lookup ", r.table, "`");
}
std::string RouteText(uint32_t table) {
  return Cat("route `local 0.0.0.0/0 dev lo table ", table, "`");
}

uint8_t ShortTable(uint32_t table) { return table < 256 ? static_cast<uint8_t>(table) : 0; }

NlMessage RuleMessage(uint16_t type, uint16_t flags, const PolicyRoute& r,
                      std::optional<uint32_t> priority) {
  fib_rule_hdr frh{};
  frh.family = AF_INET;
  frh.action = FR_ACT_TO_TBL;
  frh.table = ShortTable(r.table);
  NlMessage m(type, flags, &frh, sizeof frh);
  m.AddU32(FRA_TABLE, r.table);
  m.AddU32(FRA_FWMARK, r.fwmark);
  m.AddU32(FRA_FWMASK, r.mask);
  m.AddU8(FRA_PROTOCOL, kRouteProtocol);
  if (priority) m.AddU32(FRA_PRIORITY, *priority);
  return m;
}

NlMessage RouteMessage(uint16_t type, uint16_t flags, uint32_t table, uint8_t dst_len,
                       std::optional<std::string_view> dst) {
  rtmsg rtm{};
  rtm.rtm_family = AF_INET;
  rtm.rtm_dst_len = dst_len;
  rtm.rtm_table = ShortTable(table);
  rtm.rtm_protocol = kRouteProtocol;
  rtm.rtm_type = RTN_LOCAL;
  // Adding needs the real scope; deleting matches any scope (like `ip route del`).
  rtm.rtm_scope = type == RTM_NEWROUTE ? RT_SCOPE_HOST : RT_SCOPE_NOWHERE;
  NlMessage m(type, flags, &rtm, sizeof rtm);
  m.AddU32(RTA_TABLE, table);
  if (dst) m.Add(RTA_DST, dst->data(), dst->size());
  if (type == RTM_NEWROUTE) m.AddU32(RTA_OIF, if_nametoindex("lo"));
  return m;
}

absl::Status Check(absl::StatusOr<int> err, std::string_view what) {
  if (!err.ok()) return err.status();
  if (*err == 0) return absl::OkStatus();
  if (*err == EEXIST) {
    return absl::AlreadyExistsError(
        Cat(what,
            ": it exists already (left by a killed process? NetfilterRules::RemoveStale "
            "removes ours; otherwise another program uses this mark or table)"));
  }
  return SyscallError(*err, what);
}

}  // namespace

absl::Status AddPolicyRoute(const PolicyRoute& r) {
  absl::StatusOr<RtNetlink> nl = RtNetlink::Open();
  if (!nl.ok()) return nl.status();
  if (if_nametoindex("lo") == 0) {
    return absl::FailedPreconditionError("adding the TPROXY policy route: no `lo` interface");
  }
  constexpr uint16_t kCreate = NLM_F_CREATE | NLM_F_EXCL;
  NlMessage rule = RuleMessage(RTM_NEWRULE, kCreate, r, std::nullopt);
  if (absl::Status s = Check(nl->Request(rule), Cat("adding ", RuleText(r))); !s.ok()) return s;
  NlMessage route = RouteMessage(RTM_NEWROUTE, kCreate, r.table, 0, std::nullopt);
  if (absl::Status s = Check(nl->Request(route), Cat("adding ", RouteText(r.table))); !s.ok()) {
    NlMessage undo = RuleMessage(RTM_DELRULE, 0, r, std::nullopt);
    (void)nl->Request(undo);
    return s;
  }
  return absl::OkStatus();
}

absl::Status DeletePolicyRoute(const PolicyRoute& r) {
  absl::StatusOr<RtNetlink> nl = RtNetlink::Open();
  if (!nl.ok()) return nl.status();
  absl::Status first;
  NlMessage route = RouteMessage(RTM_DELROUTE, 0, r.table, 0, std::nullopt);
  absl::StatusOr<int> err = nl->Request(route);
  if (!err.ok() || (*err != 0 && *err != ESRCH && *err != ENOENT)) {
    first = Check(err, Cat("deleting ", RouteText(r.table)));
  }
  NlMessage rule = RuleMessage(RTM_DELRULE, 0, r, std::nullopt);
  err = nl->Request(rule);
  if (!err.ok() || (*err != 0 && *err != ENOENT && *err != ESRCH)) {
    absl::Status s = Check(err, Cat("deleting ", RuleText(r)));
    if (first.ok()) first = s;
  }
  return first;
}

absl::StatusOr<int> RemoveTaggedPolicyRoutes(const std::set<uint32_t>& keep_tables) {
  absl::StatusOr<RtNetlink> nl = RtNetlink::Open();
  if (!nl.ok()) return nl.status();
  int removed = 0;

  fib_rule_hdr rule_filter{};
  rule_filter.family = AF_INET;
  NlMessage rule_dump(RTM_GETRULE, 0, &rule_filter, sizeof rule_filter);
  absl::StatusOr<std::vector<NlReply>> rules = nl->Dump(rule_dump);
  if (!rules.ok()) return rules.status();
  for (const NlReply& reply : *rules) {
    std::optional<fib_rule_hdr> frh = reply.Header<fib_rule_hdr>();
    if (reply.type != RTM_NEWRULE || !frh || frh->family != AF_INET) continue;
    if (reply.AttrU8(sizeof *frh, FRA_PROTOCOL) != kRouteProtocol) continue;
    PolicyRoute r{reply.AttrU32(sizeof *frh, FRA_FWMARK).value_or(0),
                  reply.AttrU32(sizeof *frh, FRA_FWMASK).value_or(0),
                  reply.AttrU32(sizeof *frh, FRA_TABLE).value_or(frh->table)};
    if (keep_tables.contains(r.table)) continue;
    NlMessage del = RuleMessage(RTM_DELRULE, 0, r, reply.AttrU32(sizeof *frh, FRA_PRIORITY));
    if (absl::Status s = Check(nl->Request(del), Cat("deleting stale ", RuleText(r))); !s.ok()) {
      return s;
    }
    ++removed;
  }

  rtmsg route_filter{};
  route_filter.rtm_family = AF_INET;
  NlMessage route_dump(RTM_GETROUTE, 0, &route_filter, sizeof route_filter);
  absl::StatusOr<std::vector<NlReply>> routes = nl->Dump(route_dump);
  if (!routes.ok()) return routes.status();
  for (const NlReply& reply : *routes) {
    std::optional<rtmsg> rtm = reply.Header<rtmsg>();
    if (reply.type != RTM_NEWROUTE || !rtm || rtm->rtm_family != AF_INET) continue;
    if (rtm->rtm_protocol != kRouteProtocol || rtm->rtm_type != RTN_LOCAL) continue;
    const uint32_t table = reply.AttrU32(sizeof *rtm, RTA_TABLE).value_or(rtm->rtm_table);
    if (keep_tables.contains(table)) continue;
    NlMessage del =
        RouteMessage(RTM_DELROUTE, 0, table, rtm->rtm_dst_len, reply.Attr(sizeof *rtm, RTA_DST));
    if (absl::Status s = Check(nl->Request(del), Cat("deleting stale ", RouteText(table)));
        !s.ok()) {
      return s;
    }
    ++removed;
  }
  return removed;
}

}  // namespace tng::netfilter
