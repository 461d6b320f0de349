// CocoAsrAttester against the reference AA binary's REST side (tng-reference-aa --rest-listen),
// started per test on a free port: the real HTTP conversation end to end.
#include "attestation/coco_asr_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "attestation/aa_protocol.h"
#include "core/net.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/attestation/reference_aa_process.h"
#include "tests/unit/attestation/run_on_reactor.h"

namespace tng::attestation {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// The reference AA as a child process serving REST on 127.0.0.1 (any free port, which it logs).
class ReferenceAsr {
 public:
  explicit ReferenceAsr(std::vector<std::string> extra_args = {})
      : aa_(WithRest(std::move(extra_args))) {}

  // "http://127.0.0.1:PORT" once the agent logs its REST address; empty if it never does.
  std::string WaitUrl() {
    const std::string key = "msg=\"rest listening\" address=";
    if (!aa_.WaitLogLine(key)) return "";
    const std::string log = aa_.Log();
    size_t start = log.find(key) + key.size();
    return "http://" + log.substr(start, log.find_first_of(" \n", start) - start);
  }

 private:
  static std::vector<std::string> WithRest(std::vector<std::string> extra_args) {
    extra_args.insert(extra_args.begin(), {"--rest-listen", "127.0.0.1:0"});
    return extra_args;
  }
  tng::testing::ReferenceAa aa_;
};

std::vector<uint8_t> RuntimeData() {
  std::vector<uint8_t> d(48);
  for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(i * 7);  // not text
  return d;
}

absl::StatusOr<AttesterEvidence> Evidence(Attester& attester, std::vector<uint8_t> data) {
  absl::StatusOr<AttesterEvidence> result = absl::UnknownError("not run");
  tng::testing::RunOnReactor(
      [&](Reactor&) -> Task<void> { result = co_await attester.GetEvidence(data); });
  return result;
}

std::unique_ptr<Attester> Make(const std::string& url) {
  auto a = MakeCocoAsrAttester(url);
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? std::move(*a) : nullptr;
}

TEST(CocoAsr, EvidenceAndTeeTypeFromTheRestApi) {
  ReferenceAsr asr;
  const std::string url = asr.WaitUrl();
  ASSERT_FALSE(url.empty());
  auto attester = Make(url + "/");  // a trailing '/' is dropped
  ASSERT_NE(attester, nullptr);
  EXPECT_EQ(attester->Describe(), "coco_asr " + url);
  for (int i = 0; i < 2; ++i) {  // the second call uses the remembered TEE type
    auto ev = Evidence(*attester, RuntimeData());
    ASSERT_TRUE(ev.ok()) << ev.status();
    EXPECT_EQ(ev->tee_type, "sample");
    // The binary runtime data arrived intact (base64url with encoding=base64).
    const std::string expected = aa::SampleEvidence(RuntimeData());
    EXPECT_EQ(std::string(ev->evidence.begin(), ev->evidence.end()), expected);
    EXPECT_FALSE(ev->additional_evidence.has_value());
  }
}

TEST(CocoAsr, ReportDataOverrideReachesTheEvidence) {
  ReferenceAsr asr({"--report-data-override", "0011"});
  const std::string url = asr.WaitUrl();
  ASSERT_FALSE(url.empty());
  auto attester = Make(url);
  auto ev = Evidence(*attester, RuntimeData());
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_EQ(std::string(ev->evidence.begin(), ev->evidence.end()),
            aa::SampleEvidence(std::vector<uint8_t>{0x00, 0x11}));
}

TEST(CocoAsr, FailingAttesterIsAnErrorNamingUrlAndStatus) {
  ReferenceAsr asr({"--fail-evidence"});
  const std::string url = asr.WaitUrl();
  ASSERT_FALSE(url.empty());
  auto attester = Make(url);
  auto ev = Evidence(*attester, RuntimeData());
  ASSERT_FALSE(ev.ok());
  EXPECT_EQ(ev.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(ev.status().message(), HasSubstr(url + "/aa/evidence?runtime_data="));
  EXPECT_THAT(ev.status().message(), HasSubstr("HTTP 500"));
  EXPECT_THAT(ev.status().message(), HasSubstr("get evidence failed"));
}

TEST(CocoAsr, NothingListeningIsUnavailable) {
  // A port that was free a moment ago.
  auto fd = ListenTcp(*SocketAddress::FromLiteral("127.0.0.1", 0), {});
  ASSERT_TRUE(fd.ok());
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  ::getsockname(fd->get(), reinterpret_cast<sockaddr*>(&ss), &len);
  const uint16_t port = SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len).port();
  fd->Reset();
  auto attester = Make("http://127.0.0.1:" + std::to_string(port));
  auto ev = Evidence(*attester, RuntimeData());
  ASSERT_FALSE(ev.ok());
  EXPECT_EQ(ev.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(ev.status().message(), HasSubstr("coco_asr"));
  EXPECT_THAT(ev.status().message(), HasSubstr("/info"));
}

TEST(CocoAsr, AddressMustBeHttpUrl) {
  auto https = MakeCocoAsrAttester("https://127.0.0.1:8006");
  ASSERT_FALSE(https.ok());
  EXPECT_THAT(https.status().message(), HasSubstr("only http://"));
  auto garbage = MakeCocoAsrAttester("127.0.0.1:8006");
  ASSERT_FALSE(garbage.ok());
  EXPECT_THAT(garbage.status().message(), HasSubstr("asr_addr '127.0.0.1:8006'"));
}

}  // namespace
}  // namespace tng::attestation
