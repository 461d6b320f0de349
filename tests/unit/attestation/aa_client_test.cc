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
#include "tests/unit/attestation/run_on_reactor.h"

extern char** environ;

namespace tng::attestation {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }
std::string Text(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

// The reference AA as a child process. Its stderr (key=value log lines) is collected by a
// thread, which also tells when the agent is listening.
class ReferenceAa {
 public:
  explicit ReferenceAa(std::vector<std::string> extra_args, std::string socket = "") {
    char tmpl[] = "/tmp/tng-aa-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    socket_ = socket.empty() ? dir_ + "/aa.sock" : socket;
    std::vector<std::string> args = {TNG_REFERENCE_AA_BIN, "--socket", socket_};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0)
        << "cannot start " << argv[0];
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    reader_ = std::thread([this, fd = fds[0]] {
      char buf[4096];
      for (;;) {
        ssize_t n = ::read(fd, buf, sizeof(buf));
        std::lock_guard<std::mutex> lock(mu_);
        if (n <= 0) {
          eof_ = true;
          cv_.notify_all();
          break;
        }
        log_.append(buf, static_cast<size_t>(n));
        cv_.notify_all();
      }
      ::close(fd);
    });
  }
  ~ReferenceAa() {
    Stop();
    std::filesystem::remove_all(dir_);
  }

  // Waits (bounded) until the agent logs that it listens; false if it exited or never did.
  bool WaitListening() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 30s, [this] {
      return eof_ || log_.find("msg=listening") != std::string::npos;
    }) && !eof_;
  }
  // SIGTERM, then the exit status (the agent answers signals by stopping cleanly).
  int Stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, &status_, 0);
      pid_ = -1;
    }
    if (reader_.joinable()) reader_.join();
    return status_;
  }
  std::string Log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  size_t CountInLog(std::string_view needle) {
    std::string log = Log();
    size_t n = 0;
    for (size_t p = log.find(needle); p != std::string::npos; p = log.find(needle, p + 1)) ++n;
    return n;
  }
  std::string address() const { return "unix://" + socket_; }
  const std::string& socket() const { return socket_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::string socket_;
  pid_t pid_ = -1;
  int status_ = 0;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string log_;
  bool eof_ = false;
};

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
