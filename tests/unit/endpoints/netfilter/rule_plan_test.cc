// The rule layout built from RuleSpecs, as text, against typed-in iptables-save lines (TNG's
// layout, plus the deviations documented in rule_plan.h), and the spec checks.
#include "endpoints/netfilter/rule_plan.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tng::netfilter {
namespace {

using ::testing::HasSubstr;

config::CaptureDst Dst(std::string host, std::string ipset, std::optional<uint16_t> port,
                       std::optional<uint16_t> port_end = std::nullopt) {
  config::CaptureDst d;
  d.host = std::move(host);
  d.ipset = std::move(ipset);
  d.port = port;
  d.port_end = port_end;
  return d;
}

std::string Describe(const RuleSpec& spec) {
  absl::StatusOr<Plan> plan = BuildPlan(spec);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return plan.ok() ? DescribePlan(*plan) : "";
}

TEST(ParseIpv4Prefix, AddressesAndNetworks) {
  absl::StatusOr<Ipv4Prefix> p = ParseIpv4Prefix("10.1.2.3");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->addr, 0x0a010203u);
  EXPECT_EQ(p->length, 32);
  p = ParseIpv4Prefix("10.1.2.3/16");  // host bits cleared, as iptables does
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->addr, 0x0a010000u);
  EXPECT_EQ(p->length, 16);
  p = ParseIpv4Prefix("0.0.0.0/0");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->length, 0);
  for (const char* bad :
       {"10.1.2", "10.1.2.3/33", "10.1.2.3/", "::1", "host.example", "1.2.3.4/x"}) {
    EXPECT_FALSE(ParseIpv4Prefix(bad).ok()) << bad;
  }
}

TEST(BuildPlan, EgressCapturesEachDestinationFromRemoteSources) {
  config::NetfilterOptions o;
  o.capture_dst = {Dst("10.1.2.3/16", "", 80, 90), Dst("", "tngtest", 443), Dst("", "", 8080),
                   Dst("192.168.1.1", "", std::nullopt)};
  EXPECT_EQ(Describe(EgressSpec(0, o, 40000)),
            "*nat\n"
            ":TNG_EGRESS_0 - [0:0]\n"
            "-A PREROUTING -p tcp -j TNG_EGRESS_0\n"
            "-A OUTPUT -p tcp -j TNG_EGRESS_0\n"
            "-A TNG_EGRESS_0 -p tcp -m mark --mark 0x235 -j RETURN\n"
            "-A TNG_EGRESS_0 -d 10.1.0.0/16 -p tcp -m addrtype ! --src-type LOCAL -m tcp "
            "--dport 80:90 -j REDIRECT --to-ports 40000\n"
            "-A TNG_EGRESS_0 -p tcp -m addrtype ! --src-type LOCAL -m tcp --dport 443 -m set "
            "--match-set tngtest dst -j REDIRECT --to-ports 40000\n"
            "-A TNG_EGRESS_0 -p tcp -m addrtype ! --src-type LOCAL -m tcp --dport 8080 -j "
            "REDIRECT --to-ports 40000\n"
            "-A TNG_EGRESS_0 -d 192.168.1.1/32 -p tcp -m addrtype ! --src-type LOCAL -j REDIRECT "
            "--to-ports 40000\n");
}

TEST(BuildPlan, EgressWithLocalTrafficAndNoDestinationCapturesAllTcp) {
  config::NetfilterOptions o;
  o.capture_local_traffic = true;
  o.so_mark = 0x1234;
  EXPECT_EQ(Describe(EgressSpec(7, o, 40007)),
            "*nat\n"
            ":TNG_EGRESS_7 - [0:0]\n"
            "-A PREROUTING -p tcp -j TNG_EGRESS_7\n"
            "-A OUTPUT -p tcp -j TNG_EGRESS_7\n"
            "-A TNG_EGRESS_7 -p tcp -m mark --mark 0x1234 -j RETURN\n"
            "-A TNG_EGRESS_7 -p tcp -j REDIRECT --to-ports 40007\n");
}

TEST(BuildPlan, EgressCgroupRulesAreReachedFromOutputOnly) {
  config::NetfilterOptions o;
  o.capture_dst = {Dst("", "", 30001)};
  o.capture_local_traffic = true;
  o.capture_cgroup = {"/app.slice/a", "/b"};
  o.nocapture_cgroup = {"/app.slice/a/tng"};
  EXPECT_EQ(Describe(EgressSpec(2, o, 40002)),
            "*nat\n"
            ":TNG_EGRESS_2 - [0:0]\n"
            ":TNG_EGRESS_2_CGROUP - [0:0]\n"
            "-A OUTPUT -p tcp -j TNG_EGRESS_2_CGROUP\n"
            "-A TNG_EGRESS_2 -p tcp -m mark --mark 0x235 -j RETURN\n"
            "-A TNG_EGRESS_2 -p tcp -m tcp --dport 30001 -j REDIRECT --to-ports 40002\n"
            "-A TNG_EGRESS_2_CGROUP -m cgroup --path \"/app.slice/a/tng\" -j RETURN\n"
            "-A TNG_EGRESS_2_CGROUP -m cgroup --path \"/app.slice/a\" -j TNG_EGRESS_2\n"
            "-A TNG_EGRESS_2_CGROUP -m cgroup --path \"/b\" -j TNG_EGRESS_2\n");

  // Only nocapture_cgroup: remote traffic is still captured (through PREROUTING).
  o.capture_cgroup.clear();
  EXPECT_EQ(Describe(EgressSpec(2, o, 40002)),
            "*nat\n"
            ":TNG_EGRESS_2 - [0:0]\n"
            ":TNG_EGRESS_2_CGROUP - [0:0]\n"
            "-A PREROUTING -p tcp -j TNG_EGRESS_2\n"
            "-A OUTPUT -p tcp -j TNG_EGRESS_2_CGROUP\n"
            "-A TNG_EGRESS_2 -p tcp -m mark --mark 0x235 -j RETURN\n"
            "-A TNG_EGRESS_2 -p tcp -m tcp --dport 30001 -j REDIRECT --to-ports 40002\n"
            "-A TNG_EGRESS_2_CGROUP -m cgroup --path \"/app.slice/a/tng\" -j RETURN\n"
            "-A TNG_EGRESS_2_CGROUP -j TNG_EGRESS_2\n");
}

TEST(BuildPlan, IngressUsesTproxyWithItsOwnMarkAndPolicyRoute) {
  config::NetfilterOptions o;
  o.capture_dst = {Dst("198.51.100.0/24", "", 80), Dst("", "peers", std::nullopt),
                   Dst("", "peers", 443, 444)};
  o.capture_cgroup = {"/apps"};
  o.nocapture_cgroup = {"/apps/tng"};
  EXPECT_EQ(
      Describe(IngressSpec(1, o, 40001)),
      "*mangle\n"
      ":TNG_INGRESS_1_OUTPUT_STAGE_1 - [0:0]\n"
      ":TNG_INGRESS_1_OUTPUT_STAGE_2 - [0:0]\n"
      ":TNG_INGRESS_1_PREROUTING - [0:0]\n"
      "-A PREROUTING -p tcp -j TNG_INGRESS_1_PREROUTING\n"
      "-A OUTPUT -p tcp -j TNG_INGRESS_1_OUTPUT_STAGE_1\n"
      "-A TNG_INGRESS_1_OUTPUT_STAGE_1 -m addrtype --dst-type LOCAL -j RETURN\n"
      "-A TNG_INGRESS_1_OUTPUT_STAGE_1 -m addrtype ! --dst-type UNICAST -j RETURN\n"
      "-A TNG_INGRESS_1_OUTPUT_STAGE_1 -m addrtype ! --src-type LOCAL -j RETURN\n"
      "-A TNG_INGRESS_1_OUTPUT_STAGE_1 -p tcp -m mark --mark 0x235 -j RETURN\n"
      "-A TNG_INGRESS_1_OUTPUT_STAGE_1 -m cgroup --path \"/apps\" -j TNG_INGRESS_1_OUTPUT_STAGE_2\n"
      "-A TNG_INGRESS_1_OUTPUT_STAGE_2 -m cgroup --path \"/apps/tng\" -j RETURN\n"
      "-A TNG_INGRESS_1_OUTPUT_STAGE_2 -d 198.51.100.0/24 -p tcp -m tcp --dport 80 -j MARK "
      "--set-xmark 0x237/0xffffff\n"
      "-A TNG_INGRESS_1_OUTPUT_STAGE_2 -p tcp -m set --match-set peers dst -j MARK --set-xmark "
      "0x237/0xffffff\n"
      "-A TNG_INGRESS_1_OUTPUT_STAGE_2 -p tcp -m tcp --dport 443:444 -m set --match-set peers "
      "dst -j MARK --set-xmark 0x237/0xffffff\n"
      "-A TNG_INGRESS_1_PREROUTING -m addrtype --dst-type LOCAL -j RETURN\n"
      "-A TNG_INGRESS_1_PREROUTING -m addrtype ! --dst-type UNICAST -j RETURN\n"
      "-A TNG_INGRESS_1_PREROUTING -m addrtype ! --src-type LOCAL -j RETURN\n"
      "-A TNG_INGRESS_1_PREROUTING -p tcp -m mark --mark 0x237/0xffffff -j TPROXY --on-port "
      "40001 --on-ip 127.0.0.1 --tproxy-mark 0x237/0xffffff\n"
      "# ip rule add fwmark 0x237/0xffffff table 240 proto 116\n"
      "# ip route add local 0.0.0.0/0 dev lo table 240 proto 116\n");
}

TEST(BuildPlan, IngressWithoutDestinationsMarksAllTcp) {
  absl::StatusOr<Plan> plan = BuildPlan(IngressSpec(0, {}, 40000));
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_TRUE(plan->route.has_value());
  EXPECT_EQ(*plan->route, (PolicyRoute{566, 0xffffff, 239}));
  EXPECT_THAT(DescribePlan(*plan),
              HasSubstr("-A TNG_INGRESS_0_OUTPUT_STAGE_1 -j TNG_INGRESS_0_OUTPUT_STAGE_2\n"
                        "-A TNG_INGRESS_0_OUTPUT_STAGE_2 -p tcp -j MARK --set-xmark "
                        "0x236/0xffffff\n"));
  EXPECT_EQ(ChainNames(*plan),
            (std::vector<std::string>{"TNG_INGRESS_0_OUTPUT_STAGE_1",
                                      "TNG_INGRESS_0_OUTPUT_STAGE_2", "TNG_INGRESS_0_PREROUTING"}));
}

TEST(BuildPlan, RejectsBadSpecsNamingTheField) {
  struct Case {
    RuleSpec spec;
    const char* message;
  };
  config::NetfilterOptions both;
  both.capture_dst = {Dst("10.0.0.1", "set", 80)};
  config::NetfilterOptions empty_dst;
  empty_dst.capture_dst = {Dst("", "", std::nullopt)};
  config::NetfilterOptions bad_host;
  bad_host.capture_dst = {Dst("10.0.0.300", "", 80)};
  config::NetfilterOptions bad_range;
  bad_range.capture_dst = {Dst("", "", 80, 79)};
  config::NetfilterOptions end_only;
  end_only.capture_dst = {Dst("10.0.0.1", "", std::nullopt, 90)};
  config::NetfilterOptions long_set;
  long_set.capture_dst = {Dst("", std::string(32, 's'), std::nullopt)};
  config::NetfilterOptions empty_cgroup;
  empty_cgroup.nocapture_cgroup = {""};
  const Case cases[] = {
      {EgressSpec(0, both, 40000), "egress netfilter 0.capture_dst[0]: host and ipset exclude"},
      {EgressSpec(0, empty_dst, 40000), "capture_dst[0]: needs at least one of host, ipset, port"},
      {IngressSpec(3, bad_host, 40000), "ingress netfilter 3.capture_dst[0].host: \"10.0.0.300\""},
      {EgressSpec(0, bad_range, 40000), "capture_dst[0].port_end: 79 is below port 80"},
      {EgressSpec(0, end_only, 40000), "capture_dst[0]: port_end needs port"},
      {EgressSpec(0, long_set, 40000), "is longer than 31 characters"},
      {EgressSpec(0, empty_cgroup, 40000), "nocapture_cgroup[0]: a cgroup path of 1-511"},
      {EgressSpec(0, {}, 0), "egress netfilter 0: listen_port must be resolved"},
      {IngressSpec(10, {}, 40000), "chain names longer than the kernel's 28 characters"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Plan> plan = BuildPlan(c.spec);
    ASSERT_FALSE(plan.ok()) << c.message;
    EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(plan.status().message()), HasSubstr(c.message));
  }
  // The longest ingress names are exactly 28 characters at id 9, which the kernel accepts.
  EXPECT_TRUE(BuildPlan(IngressSpec(9, {}, 40000)).ok());
  EXPECT_TRUE(BuildPlan(EgressSpec(123456, {}, 40000)).ok());
}

}  // namespace
}  // namespace tng::netfilter
