// TLS 1.3 record protection for application traffic (RFC 8446 §5, §7.1-7.3). wolfSSL runs the
// handshake; afterwards these seal and open records straight in the caller's buffers (one AEAD
// pass per byte, no staging copies), and the same keys can be handed to kTLS.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tng::crypto {

// The TLS 1.3 cipher suites the gateway negotiates (IANA code points).
enum class Tls13Suite : uint16_t {
  kAes128GcmSha256 = 0x1301,
  kAes256GcmSha384 = 0x1302,
  kChacha20Poly1305Sha256 = 0x1303,
};
std::string_view SuiteName(Tls13Suite suite);

inline constexpr size_t kRecordHeaderSize = 5;
inline constexpr size_t kMaxRecordPlaintext = 16384;                 // 2^14
inline constexpr size_t kMaxRecordBody = kMaxRecordPlaintext + 256;  // RFC 8446 §5.2
inline constexpr size_t kMaxRecordSize = kRecordHeaderSize + kMaxRecordBody;
inline constexpr size_t kAeadTagSize = 16;
// Header, inner content type and tag: what one sealed record adds to its plaintext.
inline constexpr size_t kRecordSealOverhead = kRecordHeaderSize + 1 + kAeadTagSize;

enum class ContentType : uint8_t {
  kChangeCipherSpec = 20,
  kAlert = 21,
  kHandshake = 22,
  kApplicationData = 23,
};

// The traffic secret of one direction, with the suite whose hash and AEAD it is for.
struct TrafficSecret {
  Tls13Suite suite = Tls13Suite::kAes128GcmSha256;
  std::array<uint8_t, 48> bytes{};
  size_t size = 0;  // the suite's hash length: 32 or 48
  std::span<const uint8_t> view() const { return {bytes.data(), size}; }
};
absl::StatusOr<TrafficSecret> MakeTrafficSecret(Tls13Suite suite, std::span<const uint8_t> secret);

// The AEAD key and IV of a traffic secret (RFC 8446 §7.3); kTLS takes these.
struct TrafficKeys {
  Tls13Suite suite = Tls13Suite::kAes128GcmSha256;
  std::array<uint8_t, 32> key{};
  size_t key_size = 0;
  std::array<uint8_t, 12> iv{};
};
absl::StatusOr<TrafficKeys> DeriveTrafficKeys(const TrafficSecret& secret);
// application_traffic_secret_N+1 (RFC 8446 §7.2), what a KeyUpdate switches to.
absl::StatusOr<TrafficSecret> NextTrafficSecret(const TrafficSecret& secret);

// The size of the protected record that starts at `bytes`, once its 5-byte header is there (0
// before). After the handshake every record is outer type application_data with legacy version
// 0x0303 and a body of 17..2^14+256 bytes; anything else is an error naming the field.
absl::StatusOr<size_t> ProtectedRecordSize(std::span<const uint8_t> bytes);

// One direction's record protection: AEAD key, IV and sequence number.
class RecordCipher {
 public:
  static absl::StatusOr<RecordCipher> Create(const TrafficSecret& secret);
  RecordCipher(RecordCipher&&) noexcept;
  RecordCipher& operator=(RecordCipher&&) noexcept;
  ~RecordCipher();

  // Seals one record carrying `plaintext` (at most 2^14 bytes) as `type` into `out`, which has
  // room for plaintext.size() + kRecordSealOverhead bytes. `plaintext` may lie at out + 5 (in
  // place) or anywhere not overlapping `out`. Returns the record's size.
  absl::StatusOr<size_t> Seal(ContentType type, std::span<const uint8_t> plaintext, uint8_t* out);
  // As Seal, without staging the plaintext in `out` first: `plaintext_and_scratch` is the
  // plaintext followed by one byte that is overwritten with the content type for the AEAD pass
  // and restored afterwards (the next record's first byte, or buffer slack).
  absl::StatusOr<size_t> SealWithScratch(ContentType type, std::span<uint8_t> plaintext_and_scratch,
                                         uint8_t* out);

  struct Opened {
    ContentType type;
    std::span<uint8_t> plaintext;  // inside the record, padding and content type removed
  };
  // Opens one whole record (header included, as ProtectedRecordSize measured it) in place.
  absl::StatusOr<Opened> Open(std::span<uint8_t> record);

  // Switches to the next traffic secret; the sequence number starts again at 0.
  absl::Status Update();

  uint64_t sequence() const { return sequence_; }
  const TrafficSecret& secret() const { return secret_; }
  // RFC 8446 §5.5 limits AES-GCM to 2^24.5 full records per key; rotate far before that.
  static constexpr uint64_t kRotateAfterRecords = uint64_t{1} << 23;
  bool due_for_update() const { return sequence_ >= rotate_after_; }
  // Lowers the rotation point (tests exercise KeyUpdate without 2^23 records).
  void set_rotate_after(uint64_t records) { rotate_after_ = records; }

 private:
  struct Aead;
  RecordCipher() = default;
  absl::Status SetKeys(const TrafficSecret& secret);
  std::array<uint8_t, 12> Nonce() const;
  absl::StatusOr<size_t> SealContiguous(const uint8_t* inner, size_t inner_size, uint8_t* out);

  TrafficSecret secret_;
  std::array<uint8_t, 12> iv_{};
  uint64_t sequence_ = 0;
  uint64_t rotate_after_ = kRotateAfterRecords;
  std::unique_ptr<Aead> aead_;
};

// Both directions of an established TLS 1.3 connection, as the data path needs them: application
// data in and out, post-handshake messages (KeyUpdate answered, NewSessionTicket dropped: the
// gateway never resumes), alerts (close_notify ends the stream, others are errors).
class RecordLayer {
 public:
  static absl::StatusOr<RecordLayer> Create(const TrafficSecret& read, const TrafficSecret& write);
  RecordLayer(RecordLayer&&) noexcept = default;
  RecordLayer& operator=(RecordLayer&&) noexcept = default;

  // ---- receiving: the caller frames whole records with ProtectedRecordSize().
  struct Received {
    enum Kind { kData, kNothing, kClosed } kind = kNothing;
    std::span<uint8_t> data;  // kData: plaintext inside the record
  };
  // Opens one record in place and handles what is not application data.
  absl::StatusOr<Received> OpenRecord(std::span<uint8_t> record);
  // The same for a record the kernel (kTLS) already opened: its type and plaintext. A KeyUpdate
  // advances read_cipher(), whose keys the kernel then needs (*read_keys_changed).
  absl::StatusOr<Received> HandleOpened(ContentType type, std::span<uint8_t> plaintext,
                                        bool* read_keys_changed);
  bool peer_closed() const { return peer_closed_; }

  // ---- sending
  // Room SealData needs for `n` bytes: records of 2^14 bytes plus any pending control record.
  static constexpr size_t SealedSize(size_t n) {
    return n + (n / kMaxRecordPlaintext + 1) * kRecordSealOverhead + kControlReserve;
  }
  static constexpr size_t kControlReserve = 64;
  // Seals any due control record (KeyUpdate), then `data` in records of at most 2^14 bytes.
  // With a mutable buffer that has one byte of slack after `data`, SealDataWithScratch avoids
  // staging each record's plaintext (see RecordCipher::SealWithScratch).
  absl::StatusOr<size_t> SealData(std::span<const uint8_t> data, std::span<uint8_t> out);
  absl::StatusOr<size_t> SealDataWithScratch(std::span<uint8_t> data_and_scratch,
                                             std::span<uint8_t> out);
  // A due KeyUpdate alone (e.g. when the write side is idle); 0 when none is due.
  absl::StatusOr<size_t> SealPendingControl(std::span<uint8_t> out);
  bool control_pending() const { return key_update_due_ || write_.due_for_update(); }
  // For kTLS, which seals itself: the KeyUpdate message that is due (sent as a handshake record
  // through the kernel), and the switch of write_cipher() to the next key that must follow it.
  static constexpr std::array<uint8_t, 5> kKeyUpdateMessage = {24, 0, 0, 1, 0};
  absl::Status RotateWriteKeyForKernel();
  // close_notify; at most kControlReserve bytes.
  absl::StatusOr<size_t> SealCloseNotify(std::span<uint8_t> out);

  const RecordCipher& read_cipher() const { return read_; }
  const RecordCipher& write_cipher() const { return write_; }
  RecordCipher& mutable_write_cipher() { return write_; }

 private:
  RecordLayer(RecordCipher read, RecordCipher write)
      : read_(std::move(read)), write_(std::move(write)) {}
  absl::Status HandlePostHandshake(std::span<const uint8_t> bytes, bool* keys_changed);
  absl::StatusOr<size_t> SealKeyUpdate(uint8_t* out);
  absl::Status HandleAlert(std::span<const uint8_t> body);

  RecordCipher read_;
  RecordCipher write_;
  std::string handshake_fragment_;  // a post-handshake message split across records
  bool key_update_due_ = false;     // the peer asked for one
  bool peer_closed_ = false;
};

}  // namespace tng::crypto
