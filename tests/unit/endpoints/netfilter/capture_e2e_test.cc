// Capture that really happens, in the test's private network namespace: REDIRECT (egress) hands
// local connections to the listener with SO_ORIGINAL_DST set, SO_MARK lets the gateway's own
// connections pass, cgroup rules pick connections by cgroup, and TPROXY (ingress) with its
// policy route hands outgoing connections to a transparent listener that sees the original
// destination as its local address.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/fd.h"
#include "endpoints/netfilter/capture_socket.h"
#include "endpoints/netfilter/netfilter_rules.h"
#include "endpoints/netfilter/original_dst.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/endpoints/netfilter/child_process.h"
#include "tests/unit/endpoints/netfilter/netns_env.h"

namespace tng::netfilter {
namespace {

using ::testing::HasSubstr;
using testing::Sh;

constexpr char kLocalIp[] = "192.0.2.1";      // on a veth inside the namespace
constexpr char kRemoteIp[] = "198.51.100.7";  // routed out of that veth; nobody answers there
constexpr int kWaitMs = 5000;                 // bound on every wait; never reached when passing

sockaddr_in Addr(const char* ip, uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  inet_pton(AF_INET, ip, &sin.sin_addr);
  return sin;
}

UniqueFd Listen(const char* ip, uint16_t port, bool transparent = false) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int on = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (transparent) {
    EXPECT_TRUE(SetIpTransparent(fd.get()).ok());
  }
  sockaddr_in sin = Addr(ip, port);
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0) << strerror(errno);
  EXPECT_EQ(listen(fd.get(), 16), 0);
  return fd;
}

// A connect that is under way (non-blocking), optionally from a marked socket.
UniqueFd StartConnect(const char* ip, uint16_t port, std::optional<uint32_t> mark = std::nullopt) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (mark) {
    EXPECT_TRUE(SetSoMark(fd.get(), *mark).ok());
  }
  sockaddr_in sin = Addr(ip, port);
  int rc = connect(fd.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin);
  EXPECT_TRUE(rc == 0 || errno == EINPROGRESS) << strerror(errno);
  return fd;
}

// Which of the listeners the next connection arrives at (-1: none within kWaitMs).
int ArrivesAt(const std::vector<int>& listeners) {
  std::vector<pollfd> p;
  for (int fd : listeners) p.push_back({fd, POLLIN, 0});
  if (poll(p.data(), p.size(), kWaitMs) <= 0) return -1;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i].revents & POLLIN) return static_cast<int>(i);
  }
  return -1;
}

UniqueFd Accept(int listener) {
  return UniqueFd(accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
}

bool Connected(int fd) {
  pollfd p{fd, POLLOUT, 0};
  if (poll(&p, 1, kWaitMs) != 1) return false;
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  return err == 0;
}

std::string ReadSome(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, kWaitMs) != 1) return "<nothing within the wait>";
  char buf[256];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "<eof or error>";
}

std::string Original(int fd, CaptureMethod method) {
  absl::StatusOr<SocketAddress> a = OriginalDestination(fd, method);
  return a.ok() ? a->ToString() : a.status().ToString();
}

config::CaptureDst PortDst(uint16_t port, std::string host = "") {
  config::CaptureDst d;
  d.host = std::move(host);
  d.port = port;
  return d;
}

class CaptureTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::PrivateNetns().ok()) return;
    Sh("ip link add tngva type veth peer name tngvb");
    Sh(std::string("ip addr add ") + kLocalIp + "/24 dev tngva");
    Sh("ip link set tngva up && ip link set tngvb up");
    Sh("ip route add 198.51.100.0/24 dev tngva");
  }
  void SetUp() override { ASSERT_TRUE(testing::PrivateNetns().ok()) << testing::PrivateNetns(); }
};

TEST_F(CaptureTest, RedirectHandsLocalConnectionsToTheListenerAndSoMarkPassesThem) {
  UniqueFd service = Listen(kLocalIp, 30001);
  UniqueFd other_service = Listen(kLocalIp, 30002);
  UniqueFd capture = Listen("0.0.0.0", 40000);
  config::NetfilterOptions o;
  o.capture_dst = {PortDst(30001)};
  o.capture_local_traffic = true;
  absl::StatusOr<std::unique_ptr<NetfilterRules>> rules =
      NetfilterRules::Install({EgressSpec(0, o, 40000)});
  ASSERT_TRUE(rules.ok()) << rules.status();

  // A client of the service is captured; the listener learns where it was going.
  UniqueFd client = StartConnect(kLocalIp, 30001);
  ASSERT_EQ(ArrivesAt({capture.get(), service.get()}), 0);
  UniqueFd captured = Accept(capture.get());
  ASSERT_TRUE(Connected(client.get()));
  EXPECT_EQ(Original(captured.get(), CaptureMethod::kRedirect), "192.0.2.1:30001");
  absl::StatusOr<SocketAddress> orig =
      OriginalDestination(captured.get(), CaptureMethod::kRedirect);
  ASSERT_TRUE(orig.ok());
  EXPECT_TRUE(CheckNotLoop(captured.get(), CaptureMethod::kRedirect, *orig, 40000).ok());
  ASSERT_EQ(send(client.get(), "hello", 5, 0), 5);
  EXPECT_EQ(ReadSome(captured.get()), "hello");

  // The gateway's own connection to the original destination carries so_mark and gets through.
  UniqueFd upstream = StartConnect(kLocalIp, 30001, 565);
  EXPECT_EQ(ArrivesAt({capture.get(), service.get()}), 1);
  Accept(service.get());
  // Without the mark it would be captured again.
  UniqueFd unmarked = StartConnect(kLocalIp, 30001);
  EXPECT_EQ(ArrivesAt({capture.get(), service.get()}), 0);
  Accept(capture.get());
  // Ports not listed in capture_dst are left alone.
  UniqueFd elsewhere = StartConnect(kLocalIp, 30002);
  EXPECT_EQ(ArrivesAt({capture.get(), other_service.get()}), 1);
  Accept(other_service.get());

  // Connecting to the listener itself is refused by the loop check.
  UniqueFd direct = StartConnect("127.0.0.1", 40000);
  ASSERT_EQ(ArrivesAt({capture.get()}), 0);
  UniqueFd looped = Accept(capture.get());
  orig = OriginalDestination(looped.get(), CaptureMethod::kRedirect);
  ASSERT_TRUE(orig.ok()) << orig.status();
  absl::Status loop = CheckNotLoop(looped.get(), CaptureMethod::kRedirect, *orig, 40000);
  EXPECT_EQ(loop.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(loop.message()), HasSubstr("127.0.0.1:40000"));

  // Once removed, clients reach the service again.
  ASSERT_TRUE((*rules)->Remove().ok());
  UniqueFd after = StartConnect(kLocalIp, 30001);
  EXPECT_EQ(ArrivesAt({capture.get(), service.get()}), 1);
}

TEST_F(CaptureTest, RedirectLeavesLocalClientsAloneUnlessCaptureLocalTraffic) {
  UniqueFd service = Listen(kLocalIp, 30003);
  UniqueFd capture = Listen("0.0.0.0", 40001);
  config::NetfilterOptions o;
  o.capture_dst = {PortDst(30003, kLocalIp)};
  absl::StatusOr<std::unique_ptr<NetfilterRules>> rules =
      NetfilterRules::Install({EgressSpec(0, o, 40001)});
  ASSERT_TRUE(rules.ok()) << rules.status();
  UniqueFd client = StartConnect(kLocalIp, 30003);
  EXPECT_EQ(ArrivesAt({capture.get(), service.get()}), 1);
}

TEST_F(CaptureTest, CgroupRulesCaptureOnlyProcessesInTheCgroup) {
  const std::string mount = Sh("findmnt -n -t cgroup2 -o TARGET | head -n1");
  ASSERT_FALSE(mount.empty()) << "no cgroup2 file system mounted";
  const std::string name = "/tng-nf-e2e-" + std::to_string(getpid());
  const std::string dir = mount.substr(0, mount.find('\n')) + name;
  Sh("mkdir -p " + dir);
  UniqueFd service = Listen(kLocalIp, 30004);
  UniqueFd capture = Listen("0.0.0.0", 40002);
  config::NetfilterOptions o;
  o.capture_dst = {PortDst(30004)};
  o.capture_local_traffic = true;
  o.capture_cgroup = {name};
  {
    absl::StatusOr<std::unique_ptr<NetfilterRules>> rules =
        NetfilterRules::Install({EgressSpec(5, o, 40002)});
    ASSERT_TRUE(rules.ok()) << rules.status();

    // A process in the cgroup: captured.
    testing::Child in_cgroup(
        [&] {
          const std::string procs = dir + "/cgroup.procs";
          const std::string pid = std::to_string(getpid());
          UniqueFd f(open(procs.c_str(), O_WRONLY | O_CLOEXEC));
          if (!f.valid() ||
              write(f.get(), pid.data(), pid.size()) != static_cast<ssize_t>(pid.size())) {
            return "could not join " + dir + ": " + strerror(errno);
          }
          // The socket belongs to the cgroup its creator is in when it is created.
          UniqueFd c = StartConnect(kLocalIp, 30004);
          return std::string(Connected(c.get()) ? "connected" : "not connected");
        },
        /*stay_alive=*/false);
    ASSERT_EQ(in_cgroup.report(), "connected");
    EXPECT_EQ(ArrivesAt({capture.get(), service.get()}), 0);
    Accept(capture.get());
    in_cgroup.Kill();

    // This process is not in it: not captured.
    UniqueFd outside = StartConnect(kLocalIp, 30004);
    EXPECT_EQ(ArrivesAt({capture.get(), service.get()}), 1);
    Accept(service.get());
  }
  Sh("rmdir " + dir);
}

TEST_F(CaptureTest, TproxyHandsOutgoingConnectionsToTheTransparentListener) {
  const std::string policy_before = testing::PolicyState();
  UniqueFd local_service = Listen(kLocalIp, 30005);
  UniqueFd capture = Listen("127.0.0.1", 40003, /*transparent=*/true);
  config::NetfilterOptions o;
  o.capture_dst = {PortDst(80, "198.51.100.0/24")};
  absl::StatusOr<std::unique_ptr<NetfilterRules>> rules =
      NetfilterRules::Install({IngressSpec(2, o, 40003)});
  ASSERT_TRUE(rules.ok()) << rules.status();

  UniqueFd client = StartConnect(kRemoteIp, 80);
  ASSERT_EQ(ArrivesAt({capture.get()}), 0)
      << "the connection to " << kRemoteIp << ":80 was not captured";
  UniqueFd captured = Accept(capture.get());
  ASSERT_TRUE(Connected(client.get()));
  EXPECT_EQ(Original(captured.get(), CaptureMethod::kTproxy), "198.51.100.7:80");
  absl::StatusOr<SocketAddress> orig = OriginalDestination(captured.get(), CaptureMethod::kTproxy);
  ASSERT_TRUE(orig.ok());
  EXPECT_TRUE(CheckNotLoop(captured.get(), CaptureMethod::kTproxy, *orig, 40003).ok());
  // The client believes it talks to the remote address; bytes flow both ways.
  sockaddr_in peer{};
  socklen_t len = sizeof peer;
  ASSERT_EQ(getpeername(client.get(), reinterpret_cast<sockaddr*>(&peer), &len), 0);
  EXPECT_EQ(SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&peer), len).ToString(),
            "198.51.100.7:80");
  ASSERT_EQ(send(client.get(), "ping", 4, 0), 4);
  EXPECT_EQ(ReadSome(captured.get()), "ping");
  ASSERT_EQ(send(captured.get(), "pong", 4, 0), 4);
  EXPECT_EQ(ReadSome(client.get()), "pong");

  // Local destinations are never captured.
  UniqueFd local = StartConnect(kLocalIp, 30005);
  EXPECT_EQ(ArrivesAt({capture.get(), local_service.get()}), 1);

  ASSERT_TRUE((*rules)->Remove().ok());
  EXPECT_EQ(testing::PolicyState(), policy_before);
}

}  // namespace
}  // namespace tng::netfilter
