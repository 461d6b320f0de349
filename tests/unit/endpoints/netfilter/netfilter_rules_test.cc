// NetfilterRules against the real kernel, in the test's private network namespace: the legacy
// tables and policy routes after Install are exactly the expected ones, Remove restores the state
// before, a SIGKILLed owner's rules are removed by RemoveStale, failures leave nothing behind,
// and a process without CAP_NET_ADMIN gets an error naming it.
#include "endpoints/netfilter/netfilter_rules.h"

#include <linux/capability.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "endpoints/netfilter/capture_socket.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/endpoints/netfilter/child_process.h"
#include "tests/unit/endpoints/netfilter/netns_env.h"

namespace tng::netfilter {
namespace {

using testing::Child;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::PolicyState;
using testing::SaveTable;
using testing::Sh;

config::CaptureDst Dst(std::string host, std::string ipset, std::optional<uint16_t> port,
                       std::optional<uint16_t> port_end = std::nullopt) {
  config::CaptureDst d;
  d.host = std::move(host);
  d.ipset = std::move(ipset);
  d.port = port;
  d.port_end = port_end;
  return d;
}

std::vector<RuleSpec> Specs() {
  config::NetfilterOptions egress;
  egress.capture_dst = {Dst("10.1.0.0/16", "", 80, 90), Dst("", "tngtest", 443), Dst("", "", 8080)};
  config::NetfilterOptions ingress;
  ingress.capture_dst = {Dst("198.51.100.0/24", "", 80)};
  return {EgressSpec(0, egress, 40000), IngressSpec(1, ingress, 40001)};
}

// What iptables-legacy-save shows with Specs() installed, beside the unrelated rules that
// SetUpTestSuite adds (ours go first in PREROUTING and OUTPUT).
constexpr char kNatInstalled[] =
    "*nat\n"
    ":PREROUTING ACCEPT [0:0]\n"
    ":INPUT ACCEPT [0:0]\n"
    ":OUTPUT ACCEPT [0:0]\n"
    ":POSTROUTING ACCEPT [0:0]\n"
    ":TNG_EGRESS_0 - [0:0]\n"
    "-A PREROUTING -p tcp -j TNG_EGRESS_0\n"
    "-A PREROUTING -p tcp -m tcp --dport 9999 -j RETURN\n"
    "-A OUTPUT -p tcp -j TNG_EGRESS_0\n"
    "-A TNG_EGRESS_0 -p tcp -m mark --mark 0x235 -j RETURN\n"
    "-A TNG_EGRESS_0 -d 10.1.0.0/16 -p tcp -m addrtype ! --src-type LOCAL -m tcp --dport 80:90 "
    "-j REDIRECT --to-ports 40000\n"
    "-A TNG_EGRESS_0 -p tcp -m addrtype ! --src-type LOCAL -m tcp --dport 443 -m set "
    "--match-set tngtest dst -j REDIRECT --to-ports 40000\n"
    "-A TNG_EGRESS_0 -p tcp -m addrtype ! --src-type LOCAL -m tcp --dport 8080 -j REDIRECT "
    "--to-ports 40000\n"
    "COMMIT\n";

constexpr char kMangleInstalled[] =
    "*mangle\n"
    ":PREROUTING ACCEPT [0:0]\n"
    ":INPUT ACCEPT [0:0]\n"
    ":FORWARD ACCEPT [0:0]\n"
    ":OUTPUT ACCEPT [0:0]\n"
    ":POSTROUTING ACCEPT [0:0]\n"
    ":TNG_INGRESS_1_OUTPUT_STAGE_1 - [0:0]\n"
    ":TNG_INGRESS_1_OUTPUT_STAGE_2 - [0:0]\n"
    ":TNG_INGRESS_1_PREROUTING - [0:0]\n"
    "-A PREROUTING -p tcp -j TNG_INGRESS_1_PREROUTING\n"
    "-A OUTPUT -p tcp -j TNG_INGRESS_1_OUTPUT_STAGE_1\n"
    "-A OUTPUT -p tcp -m tcp --dport 9999 -j RETURN\n"
    "-A TNG_INGRESS_1_OUTPUT_STAGE_1 -m addrtype --dst-type LOCAL -j RETURN\n"
    "-A TNG_INGRESS_1_OUTPUT_STAGE_1 -m addrtype ! --dst-type UNICAST -j RETURN\n"
    "-A TNG_INGRESS_1_OUTPUT_STAGE_1 -m addrtype ! --src-type LOCAL -j RETURN\n"
    "-A TNG_INGRESS_1_OUTPUT_STAGE_1 -p tcp -m mark --mark 0x235 -j RETURN\n"
    "-A TNG_INGRESS_1_OUTPUT_STAGE_1 -j TNG_INGRESS_1_OUTPUT_STAGE_2\n"
    "-A TNG_INGRESS_1_OUTPUT_STAGE_2 -d 198.51.100.0/24 -p tcp -m tcp --dport 80 -j MARK "
    "--set-xmark 0x237/0xffffff\n"
    "-A TNG_INGRESS_1_PREROUTING -m addrtype --dst-type LOCAL -j RETURN\n"
    "-A TNG_INGRESS_1_PREROUTING -m addrtype ! --dst-type UNICAST -j RETURN\n"
    "-A TNG_INGRESS_1_PREROUTING -m addrtype ! --src-type LOCAL -j RETURN\n"
    "-A TNG_INGRESS_1_PREROUTING -p tcp -m mark --mark 0x237/0xffffff -j TPROXY --on-port 40001 "
    "--on-ip 127.0.0.1 --tproxy-mark 0x237/0xffffff\n"
    "COMMIT\n";

constexpr char kRuleInstalled[] = "from all fwmark 0x237/0xffffff lookup 240 proto 116";
constexpr char kRouteInstalled[] = "local default dev lo table 240 proto 116 scope host";

std::string Everything() { return SaveTable("nat") + SaveTable("mangle") + PolicyState(); }

class NetfilterRulesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::PrivateNetns().ok()) return;
    // Unrelated state that must survive every install, removal and stale cleanup.
    Sh("iptables-legacy -w -t nat -A PREROUTING -p tcp --dport 9999 -j RETURN");
    Sh("iptables-legacy -w -t mangle -A OUTPUT -p tcp --dport 9999 -j RETURN");
    Sh("ipset create tngtest hash:net");
    Sh("ip rule add fwmark 0x99 table 99");
    Sh("ip route add local default dev lo table 99");
  }

  void SetUp() override {
    ASSERT_TRUE(testing::PrivateNetns().ok()) << testing::PrivateNetns();
    before_ = Everything();
    ASSERT_THAT(before_, Not(HasSubstr("TNG_"))) << "a previous test left rules behind";
  }

  // A failed test must not leave rules for the next one.
  void TearDown() override {
    if (testing::PrivateNetns().ok()) (void)NetfilterRules::RemoveStale();
  }

  std::string before_;
};

TEST_F(NetfilterRulesTest, InstallShowsExactlyTheExpectedRulesAndRemoveRestores) {
  absl::StatusOr<std::unique_ptr<NetfilterRules>> rules = NetfilterRules::Install(Specs());
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ(SaveTable("nat"), kNatInstalled);
  EXPECT_EQ(SaveTable("mangle"), kMangleInstalled);
  const std::string policy = PolicyState();
  EXPECT_THAT(policy, HasSubstr(kRuleInstalled));
  EXPECT_THAT(policy, HasSubstr(kRouteInstalled));
  EXPECT_EQ((*rules)->chains(),
            (std::vector<std::string>{"TNG_EGRESS_0", "TNG_INGRESS_1_OUTPUT_STAGE_1",
                                      "TNG_INGRESS_1_OUTPUT_STAGE_2", "TNG_INGRESS_1_PREROUTING"}));

  ASSERT_TRUE((*rules)->Remove().ok());
  EXPECT_EQ(Everything(), before_);
  EXPECT_TRUE((*rules)->Remove().ok()) << "Remove is idempotent";
  EXPECT_EQ(Everything(), before_);
}

TEST_F(NetfilterRulesTest, DestructorRemoves) {
  {
    absl::StatusOr<std::unique_ptr<NetfilterRules>> rules = NetfilterRules::Install(Specs());
    ASSERT_TRUE(rules.ok()) << rules.status();
    EXPECT_EQ(SaveTable("nat"), kNatInstalled);
  }
  EXPECT_EQ(Everything(), before_);
}

TEST_F(NetfilterRulesTest, RulesOfAKilledProcessAreRemovedByRemoveStale) {
  Child owner(
      [] {
        absl::StatusOr<std::unique_ptr<NetfilterRules>> rules = NetfilterRules::Install(Specs());
        if (!rules.ok()) return std::string(rules.status().ToString());
        (void)rules->release();  // as if the process died before the destructor ran
        return std::string("installed");
      },
      /*stay_alive=*/true);
  ASSERT_TRUE(owner.started());
  ASSERT_EQ(owner.report(), "installed");

  // While the owner lives, nobody else may take over or clean up.
  absl::Status stale = NetfilterRules::RemoveStale();
  EXPECT_EQ(stale.code(), absl::StatusCode::kFailedPrecondition) << stale;
  EXPECT_THAT(std::string(stale.message()), HasSubstr("@tng"));
  absl::StatusOr<std::unique_ptr<NetfilterRules>> second = NetfilterRules::Install(Specs());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  EXPECT_EQ(SaveTable("nat"), kNatInstalled);

  owner.Kill();
  // The rules outlive their owner...
  EXPECT_EQ(SaveTable("nat"), kNatInstalled);
  EXPECT_EQ(SaveTable("mangle"), kMangleInstalled);
  EXPECT_THAT(PolicyState(), HasSubstr(kRuleInstalled));
  // ...block a new install, which says how to get rid of them...
  second = NetfilterRules::Install(Specs());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists) << second.status();
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("RemoveStale"));
  EXPECT_EQ(SaveTable("nat"), kNatInstalled) << "a failed install changed nothing";
  // ...and RemoveStale takes them all away, including the policy rule and route.
  ASSERT_TRUE(NetfilterRules::RemoveStale().ok());
  EXPECT_EQ(Everything(), before_);

  // Installing again gives exactly one set.
  second = NetfilterRules::Install(Specs());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(SaveTable("nat"), kNatInstalled);
  EXPECT_EQ(SaveTable("mangle"), kMangleInstalled);
  ASSERT_TRUE((*second)->Remove().ok());
  EXPECT_EQ(Everything(), before_);
}

TEST_F(NetfilterRulesTest, RemoveStaleKeepsTheRulesOfThisProcess) {
  absl::StatusOr<std::unique_ptr<NetfilterRules>> rules = NetfilterRules::Install(Specs());
  ASSERT_TRUE(rules.ok()) << rules.status();
  ASSERT_TRUE(NetfilterRules::RemoveStale().ok());
  EXPECT_EQ(SaveTable("nat"), kNatInstalled);
  EXPECT_EQ(SaveTable("mangle"), kMangleInstalled);
  EXPECT_THAT(PolicyState(), HasSubstr(kRouteInstalled));

  absl::StatusOr<std::unique_ptr<NetfilterRules>> again = NetfilterRules::Install(Specs());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("by this process already"));
  ASSERT_TRUE((*rules)->Remove().ok());
  EXPECT_EQ(Everything(), before_);
}

TEST_F(NetfilterRulesTest, FailuresLeaveNothingBehind) {
  // An unknown ipset: the nat table fails, and the mangle table (committed first) is rolled back.
  std::vector<RuleSpec> specs = Specs();
  specs[0].options.capture_dst.push_back(Dst("", "nosuchset", std::nullopt));
  absl::StatusOr<std::unique_ptr<NetfilterRules>> rules = NetfilterRules::Install(specs);
  EXPECT_EQ(rules.status().code(), absl::StatusCode::kNotFound) << rules.status();
  EXPECT_THAT(std::string(rules.status().message()), HasSubstr("ipset \"nosuchset\""));
  EXPECT_EQ(Everything(), before_);

  // The policy route cannot be added after both tables were committed: they are rolled back.
  Sh("ip route add local default dev lo table 240");
  const std::string with_route = Everything();
  rules = NetfilterRules::Install(Specs());
  EXPECT_EQ(rules.status().code(), absl::StatusCode::kAlreadyExists) << rules.status();
  EXPECT_THAT(std::string(rules.status().message()),
              HasSubstr("route `local 0.0.0.0/0 dev lo table 240`"));
  EXPECT_EQ(Everything(), with_route);
  Sh("ip route del local default dev lo table 240");

  // A cgroup that does not exist is named before anything is touched.
  specs = Specs();
  specs[1].options.nocapture_cgroup = {"/no/such/tng-cgroup"};
  rules = NetfilterRules::Install(specs);
  EXPECT_EQ(rules.status().code(), absl::StatusCode::kNotFound) << rules.status();
  EXPECT_THAT(std::string(rules.status().message()), HasSubstr("/no/such/tng-cgroup"));
  EXPECT_THAT(std::string(rules.status().message()),
              HasSubstr("add_ingress[1].netfilter.nocapture_cgroup[0]"));

  // Two endpoints with one id.
  specs = Specs();
  specs.push_back(specs[0]);
  rules = NetfilterRules::Install(specs);
  EXPECT_EQ(rules.status().code(), absl::StatusCode::kInvalidArgument) << rules.status();
  EXPECT_EQ(Everything(), before_);
}

TEST_F(NetfilterRulesTest, CgroupMatchesAreAcceptedByTheKernel) {
  const std::string mount = Sh("findmnt -n -t cgroup2 -o TARGET | head -n1");
  ASSERT_FALSE(mount.empty()) << "no cgroup2 file system mounted";
  const std::string name = "/tng-nf-test-" + std::to_string(getpid());
  const std::string dir = mount.substr(0, mount.find('\n')) + name;
  Sh("mkdir -p " + dir);
  config::NetfilterOptions o;
  o.capture_dst = {Dst("", "", 30001)};
  o.capture_local_traffic = true;
  o.capture_cgroup = {name};
  o.nocapture_cgroup = {name};
  config::NetfilterOptions in = o;
  {
    absl::StatusOr<std::unique_ptr<NetfilterRules>> rules =
        NetfilterRules::Install({EgressSpec(3, o, 40003), IngressSpec(4, in, 40004)});
    ASSERT_TRUE(rules.ok()) << rules.status();
    const std::string nat = SaveTable("nat");
    const std::string path = "--path \"" + name + "\"";  // iptables-save quotes it
    EXPECT_THAT(nat, HasSubstr("-A OUTPUT -p tcp -j TNG_EGRESS_3_CGROUP\n"));
    EXPECT_THAT(nat, Not(HasSubstr("-A PREROUTING -p tcp -j TNG_EGRESS_3")));
    EXPECT_THAT(nat, HasSubstr("-A TNG_EGRESS_3_CGROUP -m cgroup " + path + " -j RETURN\n" +
                               "-A TNG_EGRESS_3_CGROUP -m cgroup " + path + " -j TNG_EGRESS_3\n"));
    EXPECT_THAT(SaveTable("mangle"), HasSubstr("-A TNG_INGRESS_4_OUTPUT_STAGE_1 -m cgroup " + path +
                                               " -j TNG_INGRESS_4_OUTPUT_STAGE_2\n"));
  }
  EXPECT_EQ(Everything(), before_);
  Sh("rmdir " + dir);
}

// `ip netns exec` runs tng in a mount namespace with a fresh sysfs on /sys, so no cgroup2 mount
// is visible; the kernel resolves cgroup paths in its hierarchy all the same. An existing cgroup
// must still be accepted there, and a missing one refused naming its key and path.
TEST_F(NetfilterRulesTest, CgroupsWithoutACgroup2MountAreLeftToTheKernel) {
  const std::string mount = Sh("findmnt -n -t cgroup2 -o TARGET | head -n1");
  ASSERT_FALSE(mount.empty()) << "no cgroup2 file system mounted";
  const std::string name = "/tng-nf-nomount-" + std::to_string(getpid());
  const std::string dir = mount.substr(0, mount.find('\n')) + name;
  Sh("mkdir -p " + dir);
  Child child(
      [&]() -> std::string {
        if (unshare(CLONE_NEWNS) != 0 ||
            ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            umount2("/sys", MNT_DETACH) != 0 ||
            ::mount("sysfs", "/sys", "sysfs", 0, nullptr) != 0) {
          return "setup failed";
        }
        if (!Sh("findmnt -n -t cgroup2 -o TARGET").empty()) return "cgroup2 still mounted";
        config::NetfilterOptions o;
        o.capture_dst = {Dst("", "", 30001)};
        o.capture_cgroup = {name};
        std::string report;
        {
          absl::StatusOr<std::unique_ptr<NetfilterRules>> rules =
              NetfilterRules::Install({EgressSpec(5, o, 40005)});
          report = rules.ok() ? "installed" : std::string(rules.status().message());
        }
        o.capture_cgroup = {name + "/missing"};
        absl::StatusOr<std::unique_ptr<NetfilterRules>> rules =
            NetfilterRules::Install({EgressSpec(5, o, 40005)});
        return report + "|" + (rules.ok() ? "installed" : std::string(rules.status().message()));
      },
      /*stay_alive=*/false);
  Sh("rmdir " + dir);
  const std::string report = child.report();
  EXPECT_THAT(report, ::testing::StartsWith("installed|"));
  EXPECT_THAT(report,
              HasSubstr("add_egress[5].netfilter.capture_cgroup[0] \"" + name + "/missing\""));
  EXPECT_EQ(Everything(), before_);
}

// Clears capability `cap` (< 32) from this (child) process's effective, permitted and inheritable
// sets.
bool DropCapability(int cap) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  const uint32_t bit = 1u << cap;
  data[0].effective &= ~bit;
  data[0].permitted &= ~bit;
  data[0].inheritable &= ~bit;
  return syscall(SYS_capset, &header, data) == 0;
}

TEST_F(NetfilterRulesTest, WithoutCapNetAdminTheErrorNamesIt) {
  Child child(
      [] {
        if (!DropCapability(CAP_NET_ADMIN)) return std::string("capset failed");
        std::string report;
        absl::StatusOr<std::unique_ptr<NetfilterRules>> rules = NetfilterRules::Install(Specs());
        report += "install=" + rules.status().ToString() + "|";
        report += "stale=" + NetfilterRules::RemoveStale().ToString() + "|";
        // SO_MARK is allowed with CAP_NET_RAW alone.
        if (!DropCapability(CAP_NET_RAW)) return std::string("capset failed");
        const int fd = socket(AF_INET, SOCK_STREAM, 0);
        report += "mark=" + SetSoMark(fd, 565).ToString();
        close(fd);
        return report;
      },
      /*stay_alive=*/false);
  ASSERT_TRUE(child.started());
  const std::string& r = child.report();
  EXPECT_THAT(r, HasSubstr("install=PERMISSION_DENIED: opening the legacy iptables table"));
  EXPECT_THAT(r, HasSubstr("stale=PERMISSION_DENIED: opening the legacy iptables table"));
  EXPECT_THAT(r, HasSubstr("mark=PERMISSION_DENIED: setting SO_MARK 565 on an outbound socket: "
                           "needs CAP_NET_ADMIN or CAP_NET_RAW"));
  // Each of the three names the capability.
  size_t count = 0;
  for (size_t at = r.find("needs CAP_NET_ADMIN"); at != std::string::npos;
       at = r.find("needs CAP_NET_ADMIN", at + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 3u) << r;
  EXPECT_EQ(Everything(), before_);
}

}  // namespace
}  // namespace tng::netfilter
