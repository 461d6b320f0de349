// AaClient against the reference AA binary (tng-reference-aa), started per test on a temporary
// socket: the real ttrpc conversation end to end, including the agent's failure switches.
#include "attestation/aa_client.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/attestation/reference_aa_process.h"
#include "tests/unit/attestation/run_on_reactor.h"

namespace tng::attestation {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }
std::string Text(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

using tng::testing::ReferenceAa;

AaClient MakeClient(std::string address, Duration timeout = 20s, int attempts = 1) {
  AaClientOptions options;
  options.address = std::move(address);
  options.timeout = timeout;
  options.attempts = attempts;
  options.initial_backoff = 1ms;
  auto client = AaClient::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return std::move(*client);
}

absl::StatusOr<std::vector<uint8_t>> GetEvidence(const AaClient& client,
                                                 const std::vector<uint8_t>& runtime_data) {
  absl::StatusOr<std::vector<uint8_t>> out = absl::UnknownError("not run");
  testing::RunOnReactor(
      [&](Reactor&) -> Task<void> { out = co_await client.GetEvidence(runtime_data); });
  return out;
}

absl::StatusOr<std::string> GetTeeType(const AaClient& client) {
  absl::StatusOr<std::string> out = absl::UnknownError("not run");
  testing::RunOnReactor([&](Reactor&) -> Task<void> { out = co_await client.GetTeeType(); });
  return out;
}

TEST(AaClientTest, EvidenceRoundTripWithTheReferenceAa) {
  ReferenceAa aa({});
  ASSERT_TRUE(aa.WaitListening()) << aa.Log();
  AaClient client = MakeClient(aa.address());
  auto evidence = GetEvidence(client, Bytes("tng-runtime-data"));
  ASSERT_TRUE(evidence.ok()) << evidence.status();
  EXPECT_EQ(Text(*evidence), R"({"svn":"1","report_data":"dG5nLXJ1bnRpbWUtZGF0YQ=="})");

  auto tee = GetTeeType(client);
  ASSERT_TRUE(tee.ok()) << tee.status();
  EXPECT_EQ(*tee, "sample");

  absl::StatusOr<std::optional<std::vector<uint8_t>>> additional = absl::UnknownError("not run");
  testing::RunOnReactor([&](Reactor&) -> Task<void> {
    additional = co_await client.GetAdditionalEvidence(Bytes("x"));
  });
  ASSERT_TRUE(additional.ok()) << additional.status();
  EXPECT_FALSE(additional->has_value());

  EXPECT_EQ(aa.Stop(), 0);
  EXPECT_THAT(aa.Log(), HasSubstr("method=GetEvidence runtime_data_len=16 status=OK"));
  EXPECT_THAT(aa.Log(), HasSubstr("method=GetTeeType runtime_data_len=0 status=OK"));
  EXPECT_FALSE(std::filesystem::exists(aa.socket())) << "socket file left behind";
}

TEST(AaClientTest, ReportDataOverrideChangesTheEvidence) {
  ReferenceAa aa({"--report-data-override", "00ff"});
  ASSERT_TRUE(aa.WaitListening()) << aa.Log();
  auto evidence = GetEvidence(MakeClient(aa.address()), Bytes("tng-runtime-data"));
  ASSERT_TRUE(evidence.ok()) << evidence.status();
  EXPECT_EQ(Text(*evidence), R"({"svn":"1","report_data":"AP8="})");
}

TEST(AaClientTest, FailingAaIsRetriedThenReported) {
  ReferenceAa aa({"--fail-evidence"});
  ASSERT_TRUE(aa.WaitListening()) << aa.Log();
  AaClient client = MakeClient(aa.address(), 20s, /*attempts=*/3);
  auto evidence = GetEvidence(client, Bytes("rd"));
  ASSERT_FALSE(evidence.ok());
  EXPECT_EQ(evidence.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(evidence.status().message(), HasSubstr("(attempt 3 of 3)"));
  EXPECT_THAT(evidence.status().message(),
              HasSubstr("GetEvidence on " + aa.address() +
                        ": the server answered INTERNAL (13): [ERROR:attestation-agent] AA-KBC "
                        "get evidence failed"));
  // The other methods keep working.
  auto tee = GetTeeType(client);
  ASSERT_TRUE(tee.ok()) << tee.status();
  aa.Stop();
  EXPECT_EQ(aa.CountInLog("method=GetEvidence runtime_data_len=2 status=INTERNAL"), 3u);
}

TEST(AaClientTest, SlowAaTimesOut) {
  ReferenceAa aa({"--delay-ms", "10000"});
  ASSERT_TRUE(aa.WaitListening()) << aa.Log();
  auto evidence = GetEvidence(MakeClient(aa.address(), 200ms, /*attempts=*/2), Bytes("rd"));
  ASSERT_FALSE(evidence.ok());
  EXPECT_EQ(evidence.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(evidence.status().message(), HasSubstr("(attempt 2 of 2)"));
  EXPECT_THAT(evidence.status().message(), HasSubstr("GetEvidence on " + aa.address()));
}

TEST(AaClientTest, MissingSocketIsAClearError) {
  char tmpl[] = "/tmp/tng-aa-missing-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const std::string path = dir + "/attestation-agent.sock";
  auto evidence = GetEvidence(MakeClient("unix://" + path, 5s, /*attempts=*/2), Bytes("rd"));
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(evidence.ok());
  EXPECT_EQ(evidence.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(evidence.status().message(),
            "attestation agent call failed (attempt 2 of 2): "
            "attestation_agent.AttestationAgentService/GetEvidence on unix://" +
                path + ": socket " + path + " does not exist (is the service running?)");
}

TEST(AaClientTest, AbstractSocketAndUnimplementedMethod) {
  const std::string name = "@tng-reference-aa-test-" + std::to_string(::getpid());
  ReferenceAa aa({}, name);
  ASSERT_TRUE(aa.WaitListening()) << aa.Log();
  auto tee = GetTeeType(MakeClient("unix://" + name));
  ASSERT_TRUE(tee.ok()) << tee.status();
  EXPECT_EQ(*tee, "sample");

  // A method the reference AA does not serve comes back UNIMPLEMENTED through plain ttrpc.
  auto client = ttrpc::Client::Create("unix://" + name);
  ASSERT_TRUE(client.ok());
  absl::StatusOr<std::vector<uint8_t>> token = absl::UnknownError("not run");
  ttrpc::Request request;
  request.service = std::string(aa::kService);
  request.method = "GetToken";
  testing::RunOnReactor(
      [&](Reactor& r) -> Task<void> { token = co_await client->Call(r, request, 20s); });
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(token.status().message(), HasSubstr("UNIMPLEMENTED (12): GetToken method"));
}

TEST(AaClientTest, BadOptionsAreRejected) {
  AaClientOptions options;
  options.address = "tcp://127.0.0.1:50002";
  auto bad = AaClient::Create(options);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("scheme 'tcp' is not supported"));
  options.address = std::string(aa::kDefaultAddress);
  options.attempts = 0;
  EXPECT_FALSE(AaClient::Create(options).ok());
}

TEST(AaClientTest, RetryPolicy) {
  EXPECT_TRUE(IsRetryableAaError(absl::UnavailableError("")));
  EXPECT_TRUE(IsRetryableAaError(absl::DeadlineExceededError("")));
  EXPECT_TRUE(IsRetryableAaError(absl::InternalError("")));
  EXPECT_FALSE(IsRetryableAaError(absl::DataLossError("")));
  EXPECT_FALSE(IsRetryableAaError(absl::UnimplementedError("")));
  EXPECT_FALSE(IsRetryableAaError(absl::PermissionDeniedError("")));
}

}  // namespace
}  // namespace tng::attestation
