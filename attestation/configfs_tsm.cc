#include "attestation/configfs_tsm.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <coroutine>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "core/json.h"
#include "core/log.h"
#include "core/reactor.h"
#include "crypto/base64.h"

namespace tng::attestation {
namespace {

using json::Cat;

// ---- blocking file helpers (worker thread only) ----

std::string Errno() { return std::strerror(errno); }

absl::StatusOr<std::vector<uint8_t>> ReadAll(const std::string& path, bool* missing = nullptr) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (missing != nullptr && errno == ENOENT) {
      *missing = true;
      return std::vector<uint8_t>{};
    }
    return absl::UnavailableError(Cat("configfs-tsm: cannot open ", path, ": ", Errno()));
  }
  std::vector<uint8_t> out;
  uint8_t buf[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return absl::UnavailableError(Cat("configfs-tsm: cannot read ", path, ": ", Errno()));
    if (n == 0) return out;
    out.insert(out.end(), buf, buf + n);
  }
}

absl::Status WriteOnce(const std::string& path, std::span<const uint8_t> data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return absl::UnavailableError(Cat("configfs-tsm: cannot open ", path, ": ", Errno()));
  }
  // configfs binary attributes take the whole value in one write, committed on close.
  ssize_t n = ::write(fd.get(), data.data(), data.size());
  if (n != static_cast<ssize_t>(data.size())) {
    return absl::UnavailableError(Cat("configfs-tsm: cannot write ", path, ": ",
                                      n < 0 ? Errno() : Cat("short write of ", n, " bytes")));
  }
  if (::close(fd.release()) != 0) {
    return absl::UnavailableError(Cat("configfs-tsm: cannot write ", path, ": ", Errno()));
  }
  return absl::OkStatus();
}

std::string Trimmed(const std::vector<uint8_t>& b) {
  std::string s(b.begin(), b.end());
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

absl::StatusOr<uint64_t> ReadGeneration(const std::string& entry) {
  const std::string path = entry + "/generation";
  auto bytes = ReadAll(path);
  if (!bytes.ok()) return bytes.status();
  const std::string text = Trimmed(*bytes);
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != text.npos) {
    return absl::DataLossError(Cat("configfs-tsm: ", path, " holds '", text, "', not a number"));
  }
  return std::stoull(text);
}

// rmdir of the entry when the request is over, whatever happened.
class EntryGuard {
 public:
  EntryGuard(const ConfigfsTsmOptions& options, std::string entry)
      : options_(options), entry_(std::move(entry)) {}
  ~EntryGuard() {
    if (options_.kernel_hook) options_.kernel_hook(entry_, "rmdir");
    if (::rmdir(entry_.c_str()) != 0) {
      TNG_LOG(Warn, "configfs-tsm").Kv("entry", entry_).Kv("error", Errno())
          << "cannot remove report entry";
    }
  }
  EntryGuard(const EntryGuard&) = delete;
  EntryGuard& operator=(const EntryGuard&) = delete;

 private:
  const ConfigfsTsmOptions& options_;
  std::string entry_;
};

// ---- the helper thread ----

class Worker {
 public:
  static Worker& Get() {
    static Worker* instance = new Worker();  // lives until exit
    return *instance;
  }
  void Enqueue(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

 private:
  Worker() {
    std::thread([this] {
      for (;;) {
        std::function<void()> job;
        {
          std::unique_lock<std::mutex> lock(mu_);
          cv_.wait(lock, [this] { return !jobs_.empty(); });
          job = std::move(jobs_.front());
          jobs_.pop_front();
        }
        job();
      }
    }).detach();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
};

// Runs `work` on the helper thread and resumes the awaiting coroutine on its own reactor.
struct OffReactor {
  Reactor& reactor;
  std::function<absl::StatusOr<AttesterEvidence>()> work;
  absl::StatusOr<AttesterEvidence> result = absl::UnknownError("not run");
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    Worker::Get().Enqueue([this, h] {
      result = work();
      reactor.Post([h] { h.resume(); });
    });
  }
  absl::StatusOr<AttesterEvidence> await_resume() { return std::move(result); }
};

// ---- JSON shapes ----

void AppendByteArray(std::string& out, std::span<const uint8_t> b) {
  out += '[';
  for (size_t i = 0; i < b.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(b[i]);
  }
  out += ']';
}

uint64_t LoadLe(std::span<const uint8_t> b, size_t offset, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(b[offset + i]) << (8 * i);
  return v;
}

// sev's TcbVersion: bootloader, tee, 4 reserved bytes, snp, microcode.
void AppendTcb(std::string& out, std::span<const uint8_t> r, size_t at) {
  out += Cat("{\"bootloader\":", r[at], ",\"tee\":", r[at + 1], ",\"_reserved\":");
  AppendByteArray(out, r.subspan(at + 2, 4));
  out += Cat(",\"snp\":", r[at + 6], ",\"microcode\":", r[at + 7], "}");
}

enum class FieldKind { kU8, kU32, kU64, kBytes, kTcb, kSignature };
struct ReportField {
  const char* name;
  size_t offset;
  size_t size;
  FieldKind kind;
};

// The SEV-SNP ATTESTATION_REPORT (AMD SEV-SNP firmware ABI, table "ATTESTATION_REPORT
// Structure"; 1184 bytes) in the field order and names of the `sev` crate's AttestationReport
// (virtee/sev src/firmware/guest/types/snp.rs), whose serde form the CoCo AA's SnpEvidence
// carries and trustee's SNP verifier parses: integers as numbers, byte arrays as number arrays,
// GuestPolicy and PlatformInfo as their u64.
constexpr ReportField kSnpReport[] = {
    {"version", 0x000, 4, FieldKind::kU32},
    {"guest_svn", 0x004, 4, FieldKind::kU32},
    {"policy", 0x008, 8, FieldKind::kU64},
    {"family_id", 0x010, 16, FieldKind::kBytes},
    {"image_id", 0x020, 16, FieldKind::kBytes},
    {"vmpl", 0x030, 4, FieldKind::kU32},
    {"sig_algo", 0x034, 4, FieldKind::kU32},
    {"current_tcb", 0x038, 8, FieldKind::kTcb},
    {"plat_info", 0x040, 8, FieldKind::kU64},
    {"_author_key_en", 0x048, 4, FieldKind::kU32},
    {"_reserved_0", 0x04C, 4, FieldKind::kU32},
    {"report_data", 0x050, 64, FieldKind::kBytes},
    {"measurement", 0x090, 48, FieldKind::kBytes},
    {"host_data", 0x0C0, 32, FieldKind::kBytes},
    {"id_key_digest", 0x0E0, 48, FieldKind::kBytes},
    {"author_key_digest", 0x110, 48, FieldKind::kBytes},
    {"report_id", 0x140, 32, FieldKind::kBytes},
    {"report_id_ma", 0x160, 32, FieldKind::kBytes},
    {"reported_tcb", 0x180, 8, FieldKind::kTcb},
    {"_reserved_1", 0x188, 24, FieldKind::kBytes},
    {"chip_id", 0x1A0, 64, FieldKind::kBytes},
    {"committed_tcb", 0x1E0, 8, FieldKind::kTcb},
    {"current_build", 0x1E8, 1, FieldKind::kU8},
    {"current_minor", 0x1E9, 1, FieldKind::kU8},
    {"current_major", 0x1EA, 1, FieldKind::kU8},
    {"_reserved_2", 0x1EB, 1, FieldKind::kU8},
    {"committed_build", 0x1EC, 1, FieldKind::kU8},
    {"committed_minor", 0x1ED, 1, FieldKind::kU8},
    {"committed_major", 0x1EE, 1, FieldKind::kU8},
    {"_reserved_3", 0x1EF, 1, FieldKind::kU8},
    {"launch_tcb", 0x1F0, 8, FieldKind::kTcb},
    {"_reserved_4", 0x1F8, 168, FieldKind::kBytes},
    {"signature", 0x2A0, 512, FieldKind::kSignature},
};
constexpr size_t kSnpReportSize = 0x4A0;

// The GHCB certificate table GUIDs (GHCB spec, SNP extended guest request) by sev's CertType.
struct CertGuid {
  const char* type;
  const char* uuid;
};
constexpr CertGuid kCertGuids[] = {
    {"ARK", "c0b406a4-a803-4952-9743-3fb6014cd0ae"},
    {"ASK", "4ab7b379-bbac-4fe4-a02f-05aef327c782"},
    {"VCEK", "63da758d-e664-4564-adc5-f4b93be8accd"},
    {"VLEK", "a8074bc2-a25a-483e-aae6-39c045a0b8a1"},
    {"CRL", "92f81bc3-5811-4d3d-97ff-d19f88dc67ea"},
};

std::string UuidText(std::span<const uint8_t, 16> g) {
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += hex[g[i] >> 4];
    s += hex[g[i] & 15];
  }
  return s;
}

// The same GUID with its first three fields byte-swapped (the Microsoft/EFI layout), since
// firmware and kernels have shipped the table in either byte order.
std::string SwappedUuidText(std::span<const uint8_t, 16> g) {
  std::array<uint8_t, 16> s;
  std::copy(g.begin(), g.end(), s.begin());
  std::swap(s[0], s[3]);
  std::swap(s[1], s[2]);
  std::swap(s[4], s[5]);
  std::swap(s[6], s[7]);
  return UuidText(s);
}

}  // namespace

absl::StatusOr<std::string> TdxEvidenceJson(std::span<const uint8_t> quote,
                                            const std::optional<std::vector<uint8_t>>& ccel) {
  if (quote.empty()) return absl::InvalidArgumentError("TDX evidence: empty quote");
  // guest-components attestation-agent/attester/src/tdx/mod.rs, struct TdxEvidence:
  // {"cc_eventlog": base64 of the CCEL ACPI table or null, "quote": base64 of the TD quote}.
  return Cat(
      "{\"cc_eventlog\":", ccel ? json::Quote(crypto::Base64Encode(*ccel)) : std::string("null"),
      ",\"quote\":", json::Quote(crypto::Base64Encode(quote)), "}");
}

absl::StatusOr<std::string> SnpEvidenceJson(std::span<const uint8_t> report,
                                            const std::optional<std::vector<uint8_t>>& certs) {
  if (report.size() != kSnpReportSize) {
    return absl::InvalidArgumentError(Cat("SNP evidence: attestation report is ", report.size(),
                                          " bytes, expected ", kSnpReportSize));
  }
  // guest-components attestation-agent/attester/src/snp/mod.rs, struct SnpEvidence:
  // {"attestation_report": sev::AttestationReport, "cert_chain": [CertTableEntry] or null}.
  std::string out = "{\"attestation_report\":{";
  bool first = true;
  for (const ReportField& f : kSnpReport) {
    if (!first) out += ',';
    first = false;
    out += Cat(json::Quote(f.name), ":");
    switch (f.kind) {
      case FieldKind::kU8:
      case FieldKind::kU32:
      case FieldKind::kU64:
        out += std::to_string(LoadLe(report, f.offset, f.size));
        break;
      case FieldKind::kBytes:
        AppendByteArray(out, report.subspan(f.offset, f.size));
        break;
      case FieldKind::kTcb:
        AppendTcb(out, report, f.offset);
        break;
      case FieldKind::kSignature:  // sev's Signature: r and s (72 bytes each), 368 reserved
        out += "{\"r\":";
        AppendByteArray(out, report.subspan(f.offset, 72));
        out += ",\"s\":";
        AppendByteArray(out, report.subspan(f.offset + 72, 72));
        out += ",\"_reserved\":";
        AppendByteArray(out, report.subspan(f.offset + 144, 368));
        out += '}';
        break;
    }
  }
  out += "},\"cert_chain\":";
  if (!certs || certs->empty()) {
    out += "null}";  // trustee then fetches the VCEK from AMD's KDS
    return out;
  }
  // The auxblob is the GHCB certificate table: 24-byte entries {GUID, offset u32, length u32}
  // ended by an all-zero entry, offsets relative to the table's start.
  std::span<const uint8_t> table(*certs);
  std::string entries;
  for (size_t at = 0;; at += 24) {
    if (at + 24 > table.size()) {
      return absl::InvalidArgumentError(
          Cat("SNP evidence: certificate table has no terminating entry within ", table.size(),
              " bytes"));
    }
    std::span<const uint8_t, 16> guid(table.data() + at, 16);
    const uint64_t offset = LoadLe(table, at + 16, 4);
    const uint64_t length = LoadLe(table, at + 20, 4);
    if (std::all_of(guid.begin(), guid.end(), [](uint8_t b) { return b == 0; })) break;
    if (offset > table.size() || length > table.size() - offset) {
      return absl::InvalidArgumentError(Cat("SNP evidence: certificate table entry at byte ", at,
                                            " points outside the table (offset ", offset,
                                            ", length ", length, ", table ", table.size(), ")"));
    }
    const std::string uuid = UuidText(guid);
    const std::string swapped = SwappedUuidText(guid);
    std::string type;
    for (const CertGuid& c : kCertGuids) {
      if (uuid == c.uuid || swapped == c.uuid) type = json::Quote(c.type);
    }
    if (type.empty()) type = Cat("{\"OTHER\":", json::Quote(uuid), "}");
    if (!entries.empty()) entries += ',';
    entries += Cat("{\"cert_type\":", type, ",\"data\":");
    AppendByteArray(entries, table.subspan(offset, length));
    entries += '}';
  }
  out += Cat("[", entries, "]}");
  return out;
}

absl::StatusOr<TsmReport> GenerateTsmReport(const ConfigfsTsmOptions& options,
                                            const std::array<uint8_t, 64>& report_data) {
  static std::atomic<uint64_t> counter{0};
  struct stat st {};
  if (::stat(options.root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        Cat("configfs-tsm: no report interface at ", options.root,
            " (needs a TEE guest kernel with CONFIG_TSM_REPORTS and configfs mounted)"));
  }
  std::string entry;
  for (int tries = 0;; ++tries) {
    entry = Cat(options.root, "/tng-", static_cast<int64_t>(::getpid()), "-", ++counter);
    if (::mkdir(entry.c_str(), 0700) == 0) break;
    if (errno != EEXIST || tries >= 16) {
      return absl::UnavailableError(
          Cat("configfs-tsm: cannot create report entry ", entry, ": ", Errno()));
    }
  }
  if (options.kernel_hook) options.kernel_hook(entry, "mkdir");
  EntryGuard guard(options, entry);

  TsmReport report;
  auto provider = ReadAll(entry + "/provider");
  if (!provider.ok()) return provider.status();
  report.provider = Trimmed(*provider);
  if (report.provider != "tdx_guest" && report.provider != "sev_guest") {
    return absl::UnimplementedError(Cat("configfs-tsm: unknown provider '", report.provider,
                                        "' in ", entry, "/provider (supported: tdx_guest, ",
                                        "sev_guest)"));
  }
  // The ABI: generation counts writes to the entry; a value other than ours after reading
  // outblob means another process wrote to the same entry and the report may be theirs.
  auto before = ReadGeneration(entry);
  if (!before.ok()) return before.status();
  if (auto s = WriteOnce(entry + "/inblob", report_data); !s.ok()) return s;
  if (options.kernel_hook) options.kernel_hook(entry, "inblob");
  const uint64_t expected = *before + 1;

  auto outblob = ReadAll(entry + "/outblob");
  if (!outblob.ok()) return outblob.status();
  if (outblob->empty()) {
    return absl::UnavailableError(Cat("configfs-tsm: ", entry, "/outblob is empty (provider ",
                                      report.provider, " produced no report)"));
  }
  report.outblob = std::move(*outblob);
  if (report.provider == "sev_guest") {
    bool missing = false;
    auto aux = ReadAll(entry + "/auxblob", &missing);
    if (!aux.ok()) return aux.status();
    if (!missing && !aux->empty()) report.auxblob = std::move(*aux);
  }
  auto after = ReadGeneration(entry);
  if (!after.ok()) return after.status();
  if (*after != expected) {
    return absl::AbortedError(Cat("configfs-tsm: generation mismatch in ", entry,
                                  "/generation: expected ", expected, ", read ", *after,
                                  " (another writer used the entry concurrently)"));
  }
  return report;
}

Task<absl::StatusOr<AttesterEvidence>> ConfigfsTsmAttester::GetEvidence(
    std::span<const uint8_t> runtime_data) {
  if (runtime_data.size() > 64) {
    co_return absl::InvalidArgumentError(
        Cat("configfs-tsm: runtime data is ", runtime_data.size(), " bytes; at most 64 fit"));
  }
  std::array<uint8_t, 64> report_data{};
  std::copy(runtime_data.begin(), runtime_data.end(), report_data.begin());
  Reactor* reactor = Reactor::Current();
  if (reactor == nullptr) co_return absl::InternalError("configfs-tsm: not on a reactor");
  OffReactor op{*reactor, [this, report_data]() -> absl::StatusOr<AttesterEvidence> {
                  auto report = GenerateTsmReport(options_, report_data);
                  if (!report.ok()) return report.status();
                  AttesterEvidence ev;
                  absl::StatusOr<std::string> text;
                  if (report->provider == "tdx_guest") {
                    ev.tee_type = "tdx";
                    bool missing = false;
                    auto ccel = ReadAll(options_.ccel_path, &missing);
                    std::optional<std::vector<uint8_t>> log;
                    if (ccel.ok() && !missing) log = std::move(*ccel);
                    text = TdxEvidenceJson(report->outblob, log);
                  } else {
                    ev.tee_type = "snp";
                    text = SnpEvidenceJson(report->outblob, report->auxblob);
                  }
                  if (!text.ok()) return text.status();
                  ev.evidence.assign(text->begin(), text->end());
                  return ev;
                }};
  co_return co_await op;
}

std::string ConfigfsTsmAttester::Describe() const { return Cat("configfs-tsm ", options_.root); }

absl::StatusOr<std::unique_ptr<Attester>> MakeConfigfsTsmAttester(ConfigfsTsmOptions options) {
  struct stat st {};
  const char* hint = "needs a TEE guest kernel with CONFIG_TSM_REPORTS and configfs mounted";
  if (::stat(options.root.c_str(), &st) != 0) {
    return absl::FailedPreconditionError(
        Cat("aa_type builtin: no configfs-tsm report interface at ", options.root, ": ", Errno(),
            " (", hint, ")"));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(Cat("aa_type builtin: configfs-tsm root ", options.root,
                                             " is not a directory (", hint, ")"));
  }
  return std::make_unique<ConfigfsTsmAttester>(std::move(options));
}

absl::StatusOr<std::unique_ptr<Attester>> MakeConfigfsTsmAttester(std::string root) {
  ConfigfsTsmOptions options;
  options.root = std::move(root);
  return MakeConfigfsTsmAttester(std::move(options));
}

}  // namespace tng::attestation
