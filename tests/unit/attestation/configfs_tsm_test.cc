// ConfigfsTsmAttester against a directory tree standing in for configfs-tsm, with a test thread
// playing the kernel: it creates an entry's attribute files on mkdir, answers the inblob write
// with an outblob and a bumped generation, and removes the files on rmdir.
#include "attestation/configfs_tsm.h"

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

#include "core/json.h"
#include "crypto/base64.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/attestation/run_on_reactor.h"

namespace tng::attestation {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::vector<uint8_t> ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void WriteFile(const fs::path& p, std::span<const uint8_t> data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}
void WriteFile(const fs::path& p, std::string_view text) {
  WriteFile(p, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

// How the fake kernel answers.
struct KernelBehaviour {
  std::string provider = "tdx_guest\n";
  // The report for the written inblob; by default "QUOTE" followed by the 64 bytes.
  std::function<std::vector<uint8_t>(const std::vector<uint8_t>& inblob)> outblob;
  std::optional<std::vector<uint8_t>> auxblob;
  int extra_generation = 0;  // > 0: another writer touched the entry
};

// The kernel's side of configfs-tsm on its own thread. The attester's hook hands each step over
// and waits until the kernel has done its part, as the real syscalls would.
class FakeKernel {
 public:
  explicit FakeKernel(KernelBehaviour behaviour) : behaviour_(std::move(behaviour)) {
    char tmpl[] = "/tmp/tng-tsm-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    root_ = dir_ / "report";
    fs::create_directory(root_);
    thread_ = std::thread([this] { Loop(); });
  }
  ~FakeKernel() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    fs::remove_all(dir_);
  }

  ConfigfsTsmOptions Options() {
    ConfigfsTsmOptions o;
    o.root = root_.string();
    o.ccel_path = (dir_ / "CCEL").string();
    o.kernel_hook = [this](const std::string& entry, std::string_view step) {
      hook_threads_.push_back(std::this_thread::get_id());
      std::unique_lock<std::mutex> lock(mu_);
      const uint64_t ticket = ++posted_;
      steps_.push_back({entry, std::string(step)});
      cv_.notify_all();
      cv_.wait(lock, [&] { return done_ >= ticket; });
    };
    return o;
  }
  const fs::path& root() const { return root_; }
  const fs::path& dir() const { return dir_; }
  std::vector<uint8_t> last_inblob() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_inblob_;
  }
  std::vector<std::thread::id> hook_threads_;

 private:
  struct Step {
    std::string entry, step;
  };
  void Loop() {
    for (;;) {
      Step s;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !steps_.empty(); });
        if (stop_) return;
        s = steps_.front();
        steps_.pop_front();
      }
      Handle(s);
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++done_;
      }
      cv_.notify_all();
    }
  }
  void Handle(const Step& s) {
    const fs::path e = s.entry;
    if (s.step == "mkdir") {
      WriteFile(e / "provider", behaviour_.provider);
      WriteFile(e / "generation", "0\n");
      WriteFile(e / "inblob", "");
      WriteFile(e / "outblob", "");
      WriteFile(e / "privlevel", "0\n");
      if (behaviour_.auxblob) WriteFile(e / "auxblob", "");
    } else if (s.step == "inblob") {
      std::vector<uint8_t> in = ReadFile(e / "inblob");
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_inblob_ = in;
      }
      std::vector<uint8_t> out;
      if (behaviour_.outblob) {
        out = behaviour_.outblob(in);
      } else {
        out = {'Q', 'U', 'O', 'T', 'E'};
        out.insert(out.end(), in.begin(), in.end());
      }
      WriteFile(e / "outblob", out);
      if (behaviour_.auxblob) WriteFile(e / "auxblob", *behaviour_.auxblob);
      WriteFile(e / "generation", std::to_string(1 + behaviour_.extra_generation) + "\n");
    } else if (s.step == "rmdir") {
      for (const auto& f : fs::directory_iterator(e)) fs::remove(f.path());
    }
  }

  KernelBehaviour behaviour_;
  fs::path dir_, root_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Step> steps_;
  uint64_t posted_ = 0, done_ = 0;
  bool stop_ = false;
  std::vector<uint8_t> last_inblob_;
};

std::vector<uint8_t> RuntimeData() {
  std::vector<uint8_t> d(48);
  for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(0xA0 + i);
  return d;
}

absl::StatusOr<AttesterEvidence> Evidence(Attester& attester, std::vector<uint8_t> data) {
  absl::StatusOr<AttesterEvidence> result = absl::UnknownError("not run");
  tng::testing::RunOnReactor(
      [&](Reactor&) -> Task<void> { result = co_await attester.GetEvidence(data); });
  return result;
}

std::string Text(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

bool RootIsEmpty(const fs::path& root) { return fs::is_empty(root); }

TEST(ConfigfsTsm, TdxQuoteInTheAttestationAgentShape) {
  FakeKernel kernel({});
  const std::vector<uint8_t> ccel = {1, 2, 3, 4, 5};
  WriteFile(kernel.dir() / "CCEL", ccel);
  ConfigfsTsmAttester attester(kernel.Options());
  auto ev = Evidence(attester, RuntimeData());
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_EQ(ev->tee_type, "tdx");
  EXPECT_FALSE(ev->additional_evidence.has_value());

  // inblob carried the runtime data padded with zeros to 64 bytes.
  std::vector<uint8_t> expected_inblob = RuntimeData();
  expected_inblob.resize(64, 0);
  EXPECT_EQ(kernel.last_inblob(), expected_inblob);

  auto doc = json::Document::Parse(Text(ev->evidence), "evidence");
  ASSERT_TRUE(doc.ok()) << doc.status();
  const json::Value* quote = doc->root().Find("quote");
  const json::Value* log = doc->root().Find("cc_eventlog");
  ASSERT_NE(quote, nullptr);
  ASSERT_NE(log, nullptr);
  auto quote_bytes = crypto::Base64Decode(quote->text());
  ASSERT_TRUE(quote_bytes.ok());
  std::vector<uint8_t> expected_quote = {'Q', 'U', 'O', 'T', 'E'};
  expected_quote.insert(expected_quote.end(), expected_inblob.begin(), expected_inblob.end());
  EXPECT_EQ(*quote_bytes, expected_quote);
  EXPECT_EQ(log->text(), crypto::Base64Encode(ccel));
  EXPECT_TRUE(RootIsEmpty(kernel.root())) << "the report entry was not removed";
}

TEST(ConfigfsTsm, FileWorkRunsOffTheReactorThread) {
  FakeKernel kernel({});
  ConfigfsTsmAttester attester(kernel.Options());
  std::thread::id reactor_thread;
  absl::StatusOr<AttesterEvidence> ev = absl::UnknownError("not run");
  auto data = RuntimeData();
  tng::testing::RunOnReactor([&](Reactor&) -> Task<void> {
    reactor_thread = std::this_thread::get_id();
    ev = co_await attester.GetEvidence(data);
    // Resumed on the reactor again.
    EXPECT_EQ(std::this_thread::get_id(), reactor_thread);
  });
  ASSERT_TRUE(ev.ok()) << ev.status();
  ASSERT_FALSE(kernel.hook_threads_.empty());
  for (auto id : kernel.hook_threads_) EXPECT_NE(id, reactor_thread);
}

TEST(ConfigfsTsm, TdxWithoutEventLogHasNull) {
  FakeKernel kernel({});
  ConfigfsTsmAttester attester(kernel.Options());
  auto ev = Evidence(attester, RuntimeData());
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_THAT(Text(ev->evidence), HasSubstr("\"cc_eventlog\":null"));
}

// A 1184-byte SNP report with recognisable fields.
std::vector<uint8_t> SnpReport(std::span<const uint8_t> report_data) {
  std::vector<uint8_t> r(0x4A0, 0);
  r[0x000] = 2;     // version
  r[0x008] = 0x00;  // policy: abi minor 0, major 0, bit 17 set
  r[0x00A] = 0x02;
  r[0x030] = 0;    // vmpl
  r[0x034] = 1;    // sig_algo
  r[0x180] = 3;    // reported_tcb.bootloader
  r[0x186] = 8;    // reported_tcb.snp
  r[0x187] = 115;  // reported_tcb.microcode
  std::copy(report_data.begin(), report_data.end(), r.begin() + 0x50);
  for (int i = 0; i < 48; ++i) r[0x90 + i] = static_cast<uint8_t>(i);  // measurement
  r[0x2A0] = 0x11;                                                     // signature.r[0]
  r[0x2A0 + 72] = 0x22;                                                // signature.s[0]
  return r;
}

// The GHCB certificate table with one VCEK entry (GUID in RFC 4122 byte order).
std::vector<uint8_t> CertTable(std::span<const uint8_t> vcek) {
  const uint8_t guid[16] = {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
                            0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd};
  std::vector<uint8_t> t(48, 0);  // one entry and the terminator
  std::copy(guid, guid + 16, t.begin());
  const uint32_t offset = 48, length = static_cast<uint32_t>(vcek.size());
  for (int i = 0; i < 4; ++i) {
    t[16 + i] = static_cast<uint8_t>(offset >> (8 * i));
    t[20 + i] = static_cast<uint8_t>(length >> (8 * i));
  }
  t.insert(t.end(), vcek.begin(), vcek.end());
  return t;
}

std::vector<uint64_t> Numbers(const json::Value& array) {
  std::vector<uint64_t> out;
  for (const auto& v : array.elements()) out.push_back(v.magnitude());
  return out;
}

TEST(ConfigfsTsm, SnpReportAndCertificatesInTheAttestationAgentShape) {
  const std::vector<uint8_t> vcek = {0x30, 0x82, 0x01, 0x02, 0xAB};
  KernelBehaviour b;
  b.provider = "sev_guest\n";
  b.outblob = [](const std::vector<uint8_t>& in) { return SnpReport(in); };
  b.auxblob = CertTable(vcek);
  FakeKernel kernel(b);
  ConfigfsTsmAttester attester(kernel.Options());
  auto ev = Evidence(attester, RuntimeData());
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_EQ(ev->tee_type, "snp");

  auto doc = json::Document::Parse(Text(ev->evidence), "evidence");
  ASSERT_TRUE(doc.ok()) << doc.status() << "\n" << Text(ev->evidence);
  const json::Value* report = doc->root().Find("attestation_report");
  ASSERT_NE(report, nullptr);
  EXPECT_EQ(report->Find("version")->magnitude(), 2u);
  EXPECT_EQ(report->Find("policy")->magnitude(), 0x20000u);
  EXPECT_EQ(report->Find("sig_algo")->magnitude(), 1u);
  std::vector<uint8_t> padded = RuntimeData();
  padded.resize(64, 0);
  EXPECT_EQ(Numbers(*report->Find("report_data")),
            std::vector<uint64_t>(padded.begin(), padded.end()));
  EXPECT_EQ(Numbers(*report->Find("measurement")).size(), 48u);
  const json::Value* tcb = report->Find("reported_tcb");
  EXPECT_EQ(tcb->Find("bootloader")->magnitude(), 3u);
  EXPECT_EQ(tcb->Find("snp")->magnitude(), 8u);
  EXPECT_EQ(tcb->Find("microcode")->magnitude(), 115u);
  EXPECT_EQ(Numbers(*tcb->Find("_reserved")).size(), 4u);
  const json::Value* sig = report->Find("signature");
  EXPECT_EQ(Numbers(*sig->Find("r")).size(), 72u);
  EXPECT_EQ(Numbers(*sig->Find("r"))[0], 0x11u);
  EXPECT_EQ(Numbers(*sig->Find("s"))[0], 0x22u);
  EXPECT_EQ(Numbers(*sig->Find("_reserved")).size(), 368u);
  EXPECT_EQ(Numbers(*report->Find("_reserved_4")).size(), 168u);

  const json::Value* chain = doc->root().Find("cert_chain");
  ASSERT_EQ(chain->elements().size(), 1u);
  EXPECT_EQ(chain->elements()[0].Find("cert_type")->text(), "VCEK");
  EXPECT_EQ(Numbers(*chain->elements()[0].Find("data")),
            std::vector<uint64_t>(vcek.begin(), vcek.end()));
  EXPECT_TRUE(RootIsEmpty(kernel.root()));
}

TEST(ConfigfsTsm, SnpWithoutCertificatesHasNullChain) {
  KernelBehaviour b;
  b.provider = "sev_guest\n";
  b.outblob = [](const std::vector<uint8_t>& in) { return SnpReport(in); };
  FakeKernel kernel(b);
  ConfigfsTsmAttester attester(kernel.Options());
  auto ev = Evidence(attester, RuntimeData());
  ASSERT_TRUE(ev.ok()) << ev.status();
  EXPECT_THAT(Text(ev->evidence), HasSubstr("\"cert_chain\":null}"));
}

TEST(ConfigfsTsm, SnpReportOfWrongSizeIsRejected) {
  KernelBehaviour b;
  b.provider = "sev_guest\n";
  b.outblob = [](const std::vector<uint8_t>&) { return std::vector<uint8_t>(100, 1); };
  FakeKernel kernel(b);
  ConfigfsTsmAttester attester(kernel.Options());
  auto ev = Evidence(attester, RuntimeData());
  ASSERT_FALSE(ev.ok());
  EXPECT_THAT(ev.status().message(), HasSubstr("100 bytes, expected 1184"));
}

TEST(ConfigfsTsm, UnknownProviderNamesItAndThePath) {
  KernelBehaviour b;
  b.provider = "foo_guest\n";
  FakeKernel kernel(b);
  ConfigfsTsmAttester attester(kernel.Options());
  auto ev = Evidence(attester, RuntimeData());
  ASSERT_FALSE(ev.ok());
  EXPECT_EQ(ev.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(ev.status().message(), HasSubstr("unknown provider 'foo_guest'"));
  EXPECT_THAT(ev.status().message(), HasSubstr(kernel.root().string() + "/tng-"));
  EXPECT_TRUE(RootIsEmpty(kernel.root()));
}

TEST(ConfigfsTsm, ConcurrentWriterIsDetectedByGeneration) {
  KernelBehaviour b;
  b.extra_generation = 1;
  FakeKernel kernel(b);
  ConfigfsTsmAttester attester(kernel.Options());
  auto ev = Evidence(attester, RuntimeData());
  ASSERT_FALSE(ev.ok());
  EXPECT_EQ(ev.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(ev.status().message(), HasSubstr("generation mismatch"));
  EXPECT_THAT(ev.status().message(), HasSubstr("expected 1, read 2"));
  EXPECT_TRUE(RootIsEmpty(kernel.root()));
}

TEST(ConfigfsTsm, EmptyOutblobIsAnError) {
  KernelBehaviour b;
  b.outblob = [](const std::vector<uint8_t>&) { return std::vector<uint8_t>{}; };
  FakeKernel kernel(b);
  ConfigfsTsmAttester attester(kernel.Options());
  auto ev = Evidence(attester, RuntimeData());
  ASSERT_FALSE(ev.ok());
  EXPECT_THAT(ev.status().message(), HasSubstr("/outblob is empty"));
}

TEST(ConfigfsTsm, RuntimeDataLongerThanReportDataIsRejected) {
  FakeKernel kernel({});
  ConfigfsTsmAttester attester(kernel.Options());
  auto ev = Evidence(attester, std::vector<uint8_t>(65, 1));
  ASSERT_FALSE(ev.ok());
  EXPECT_EQ(ev.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ev.status().message(), HasSubstr("65 bytes"));
}

TEST(ConfigfsTsm, MissingInterfaceIsReportedAtCreation) {
  auto a = MakeConfigfsTsmAttester(std::string("/nonexistent/tsm/report"));
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(a.status().message(), HasSubstr("/nonexistent/tsm/report"));
  EXPECT_THAT(a.status().message(), HasSubstr("CONFIG_TSM_REPORTS"));
}

TEST(ConfigfsTsm, RootRemovedAfterCreationFailsPerRequest) {
  FakeKernel kernel({});
  auto a = MakeConfigfsTsmAttester(kernel.Options());
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT((*a)->Describe(), HasSubstr(kernel.root().string()));
  fs::remove(kernel.root());
  auto ev = Evidence(**a, RuntimeData());
  ASSERT_FALSE(ev.ok());
  EXPECT_THAT(ev.status().message(), HasSubstr("no report interface at " + kernel.root().string()));
}

}  // namespace
}  // namespace tng::attestation
