// `aa_type: builtin`: evidence straight from the Linux configfs-tsm report interface
// (Documentation/ABI/testing/configfs-tsm), shaped as the CoCo attestation-agent shapes it for
// the same TEE so that a trustee AS accepts it unchanged.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "attestation/attester.h"

namespace tng::attestation {

struct ConfigfsTsmOptions {
  std::string root = "/sys/kernel/config/tsm/report";  // attest.configfs_tsm_root
  // The TDX CC event log (ACPI CCEL table) that the AA puts beside the quote; absent is fine.
  std::string ccel_path = "/sys/firmware/acpi/tables/data/CCEL";
  // Test seam only: configfs itself creates an entry's attribute files on mkdir, produces the
  // report on the inblob write and drops the files on rmdir. A test without configfs plays that
  // part here; called on the worker thread after "mkdir" and "inblob", before "rmdir".
  std::function<void(const std::string& entry, std::string_view step)> kernel_hook;
};

// One report as configfs-tsm gave it.
struct TsmReport {
  std::string provider;  // "tdx_guest", "sev_guest"
  std::vector<uint8_t> outblob;
  std::optional<std::vector<uint8_t>> auxblob;  // SNP certificate table, when the kernel has one
};

// Blocking file I/O: one entry created, written, read and removed. Never call on a reactor.
absl::StatusOr<TsmReport> GenerateTsmReport(const ConfigfsTsmOptions& options,
                                            const std::array<uint8_t, 64>& report_data);

// The attestation-agent's evidence JSON for the TEE: TDX {"cc_eventlog","quote"} and SNP
// {"attestation_report","cert_chain"}. Errors name the malformed field.
absl::StatusOr<std::string> TdxEvidenceJson(std::span<const uint8_t> quote,
                                            const std::optional<std::vector<uint8_t>>& ccel);
absl::StatusOr<std::string> SnpEvidenceJson(std::span<const uint8_t> report,
                                            const std::optional<std::vector<uint8_t>>& certs);

class ConfigfsTsmAttester : public Attester {
 public:
  explicit ConfigfsTsmAttester(ConfigfsTsmOptions options) : options_(std::move(options)) {}

  // The file work runs on a helper thread; the result comes back to the calling reactor.
  Task<absl::StatusOr<AttesterEvidence>> GetEvidence(
      std::span<const uint8_t> runtime_data) override;
  std::string Describe() const override;

 private:
  ConfigfsTsmOptions options_;
};

// Fails when `root` is not a directory (no configfs-tsm on this kernel).
absl::StatusOr<std::unique_ptr<Attester>> MakeConfigfsTsmAttester(std::string root);
absl::StatusOr<std::unique_ptr<Attester>> MakeConfigfsTsmAttester(ConfigfsTsmOptions options);

}  // namespace tng::attestation
