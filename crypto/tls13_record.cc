#include "crypto/tls13_record.h"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/kdf.h>
// clang-format on

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tng::crypto {
namespace {

constexpr uint8_t kLabelPrefix[] = {'t', 'l', 's', '1', '3', ' '};

int DigestOf(Tls13Suite suite) {
  return suite == Tls13Suite::kAes256GcmSha384 ? static_cast<int>(WC_SHA384)
                                               : static_cast<int>(WC_SHA256);
}
size_t HashSizeOf(Tls13Suite suite) { return suite == Tls13Suite::kAes256GcmSha384 ? 48 : 32; }
size_t KeySizeOf(Tls13Suite suite) { return suite == Tls13Suite::kAes128GcmSha256 ? 16 : 32; }

bool KnownSuite(Tls13Suite suite) {
  switch (suite) {
    case Tls13Suite::kAes128GcmSha256:
    case Tls13Suite::kAes256GcmSha384:
    case Tls13Suite::kChacha20Poly1305Sha256:
      return true;
  }
  return false;
}

// HKDF-Expand-Label(secret, label, "", length), RFC 8446 §7.1.
absl::Status ExpandLabel(const TrafficSecret& secret, std::string_view label, uint8_t* out,
                         size_t length) {
  const int rc = wc_Tls13_HKDF_Expand_Label(
      out, static_cast<word32>(length), secret.bytes.data(), static_cast<word32>(secret.size),
      kLabelPrefix, sizeof(kLabelPrefix), reinterpret_cast<const byte*>(label.data()),
      static_cast<word32>(label.size()), nullptr, 0, DigestOf(secret.suite));
  if (rc != 0) {
    return absl::InternalError(
        absl::StrFormat("HKDF-Expand-Label(\"%s\") failed: wolfCrypt %d", std::string(label), rc));
  }
  return absl::OkStatus();
}

void PutU16(uint8_t* p, size_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// RFC 8446 §6 alert names for the errors the peer may send us.
std::string AlertDescription(uint8_t code) {
  switch (code) {
    case 0:
      return "close_notify";
    case 10:
      return "unexpected_message";
    case 20:
      return "bad_record_mac";
    case 22:
      return "record_overflow";
    case 40:
      return "handshake_failure";
    case 42:
      return "bad_certificate";
    case 47:
      return "illegal_parameter";
    case 50:
      return "decode_error";
    case 51:
      return "decrypt_error";
    case 80:
      return "internal_error";
    case 90:
      return "user_canceled";
    case 109:
      return "missing_extension";
    case 116:
      return "certificate_required";
    default:
      return absl::StrCat("alert ", code);
  }
}

constexpr uint8_t kHandshakeNewSessionTicket = 4;
constexpr uint8_t kHandshakeKeyUpdate = 24;
constexpr size_t kMaxPostHandshakeMessage = 1 << 17;  // a ticket is far smaller

}  // namespace

std::string_view SuiteName(Tls13Suite suite) {
  switch (suite) {
    case Tls13Suite::kAes128GcmSha256:
      return "TLS_AES_128_GCM_SHA256";
    case Tls13Suite::kAes256GcmSha384:
      return "TLS_AES_256_GCM_SHA384";
    case Tls13Suite::kChacha20Poly1305Sha256:
      return "TLS_CHACHA20_POLY1305_SHA256";
  }
  return "unknown suite";
}

absl::StatusOr<TrafficSecret> MakeTrafficSecret(Tls13Suite suite, std::span<const uint8_t> secret) {
  if (!KnownSuite(suite)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("TLS 1.3 cipher suite 0x%04x is not supported", static_cast<int>(suite)));
  }
  if (secret.size() != HashSizeOf(suite)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("traffic secret for %s must be %d bytes, got %d", SuiteName(suite),
                        HashSizeOf(suite), secret.size()));
  }
  TrafficSecret s;
  s.suite = suite;
  s.size = secret.size();
  std::copy(secret.begin(), secret.end(), s.bytes.begin());
  return s;
}

absl::StatusOr<TrafficKeys> DeriveTrafficKeys(const TrafficSecret& secret) {
  if (!KnownSuite(secret.suite) || secret.size != HashSizeOf(secret.suite)) {
    return absl::InvalidArgumentError("traffic secret does not match its cipher suite");
  }
  TrafficKeys keys;
  keys.suite = secret.suite;
  keys.key_size = KeySizeOf(secret.suite);
  if (auto st = ExpandLabel(secret, "key", keys.key.data(), keys.key_size); !st.ok()) return st;
  if (auto st = ExpandLabel(secret, "iv", keys.iv.data(), keys.iv.size()); !st.ok()) return st;
  return keys;
}

absl::StatusOr<TrafficSecret> NextTrafficSecret(const TrafficSecret& secret) {
  TrafficSecret next = secret;
  if (auto st = ExpandLabel(secret, "traffic upd", next.bytes.data(), secret.size); !st.ok()) {
    return st;
  }
  return next;
}

absl::StatusOr<size_t> ProtectedRecordSize(std::span<const uint8_t> bytes) {
  if (bytes.size() < kRecordHeaderSize) return 0;
  if (bytes[0] != static_cast<uint8_t>(ContentType::kApplicationData)) {
    return absl::DataLossError(absl::StrFormat(
        "TLS record: outer content type %d where only application_data (23) is valid after the "
        "handshake",
        bytes[0]));
  }
  if (bytes[1] != 0x03 || bytes[2] != 0x03) {
    return absl::DataLossError(absl::StrFormat(
        "TLS record: legacy_record_version 0x%02x%02x, expected 0x0303", bytes[1], bytes[2]));
  }
  const size_t body = (size_t{bytes[3]} << 8) | bytes[4];
  if (body > kMaxRecordBody) {
    return absl::DataLossError(
        absl::StrFormat("TLS record: length %d exceeds 2^14+256 (record_overflow)", body));
  }
  if (body < kAeadTagSize + 1) {
    return absl::DataLossError(
        absl::StrFormat("TLS record: length %d is too short for a protected record", body));
  }
  return kRecordHeaderSize + body;
}

// ---------------------------------------------------------------------------------------------
// RecordCipher

struct RecordCipher::Aead {
  ~Aead() {
    if (aes_ready) wc_AesFree(&aes);
  }
  bool chacha = false;
  bool aes_ready = false;
  Aes aes;
  std::array<uint8_t, 32> chacha_key{};

  int Seal(const uint8_t* nonce, const uint8_t* aad, const uint8_t* in, size_t size, uint8_t* out,
           uint8_t* tag) {
    if (chacha) {
      return wc_ChaCha20Poly1305_Encrypt(chacha_key.data(), nonce, aad, kRecordHeaderSize, in,
                                         static_cast<word32>(size), out, tag);
    }
    return wc_AesGcmEncrypt(&aes, out, in, static_cast<word32>(size), nonce, 12, tag, kAeadTagSize,
                            aad, kRecordHeaderSize);
  }
  int Open(const uint8_t* nonce, const uint8_t* aad, uint8_t* data, size_t size,
           const uint8_t* tag) {
    if (chacha) {
      return wc_ChaCha20Poly1305_Decrypt(chacha_key.data(), nonce, aad, kRecordHeaderSize, data,
                                         static_cast<word32>(size), tag, data);
    }
    return wc_AesGcmDecrypt(&aes, data, data, static_cast<word32>(size), nonce, 12, tag,
                            kAeadTagSize, aad, kRecordHeaderSize);
  }
};

RecordCipher::RecordCipher(RecordCipher&&) noexcept = default;
RecordCipher& RecordCipher::operator=(RecordCipher&&) noexcept = default;
RecordCipher::~RecordCipher() = default;

absl::StatusOr<RecordCipher> RecordCipher::Create(const TrafficSecret& secret) {
  RecordCipher cipher;
  if (auto st = cipher.SetKeys(secret); !st.ok()) return st;
  return cipher;
}

absl::Status RecordCipher::SetKeys(const TrafficSecret& secret) {
  auto keys = DeriveTrafficKeys(secret);
  if (!keys.ok()) return keys.status();
  auto aead = std::make_unique<Aead>();
  if (secret.suite == Tls13Suite::kChacha20Poly1305Sha256) {
    aead->chacha = true;
    aead->chacha_key = keys->key;
  } else {
    if (int rc = wc_AesInit(&aead->aes, nullptr, INVALID_DEVID); rc != 0) {
      return absl::InternalError(absl::StrCat("wc_AesInit failed: ", rc));
    }
    aead->aes_ready = true;
    if (int rc = wc_AesGcmSetKey(&aead->aes, keys->key.data(), static_cast<word32>(keys->key_size));
        rc != 0) {
      return absl::InternalError(absl::StrCat("wc_AesGcmSetKey failed: ", rc));
    }
  }
  // Key material on the stack is not needed past this point.
  std::fill(keys->key.begin(), keys->key.end(), 0);
  secret_ = secret;
  iv_ = keys->iv;
  sequence_ = 0;
  aead_ = std::move(aead);
  return absl::OkStatus();
}

absl::Status RecordCipher::Update() {
  auto next = NextTrafficSecret(secret_);
  if (!next.ok()) return next.status();
  return SetKeys(*next);
}

std::array<uint8_t, 12> RecordCipher::Nonce() const {
  std::array<uint8_t, 12> nonce = iv_;
  for (int i = 0; i < 8; ++i) nonce[11 - i] ^= static_cast<uint8_t>(sequence_ >> (8 * i));
  return nonce;
}

absl::StatusOr<size_t> RecordCipher::SealContiguous(const uint8_t* inner, size_t inner_size,
                                                    uint8_t* out) {
  if (sequence_ == UINT64_MAX) {
    return absl::ResourceExhaustedError("TLS record: write sequence number exhausted");
  }
  const size_t body = inner_size + kAeadTagSize;
  out[0] = static_cast<uint8_t>(ContentType::kApplicationData);
  out[1] = 0x03;
  out[2] = 0x03;
  PutU16(out + 3, body);
  const auto nonce = Nonce();
  if (int rc = aead_->Seal(nonce.data(), out, inner, inner_size, out + kRecordHeaderSize,
                           out + kRecordHeaderSize + inner_size);
      rc != 0) {
    return absl::InternalError(absl::StrCat("TLS record: AEAD seal failed: wolfCrypt ", rc));
  }
  ++sequence_;
  return kRecordHeaderSize + body;
}

absl::StatusOr<size_t> RecordCipher::Seal(ContentType type, std::span<const uint8_t> plaintext,
                                          uint8_t* out) {
  if (plaintext.size() > kMaxRecordPlaintext) {
    return absl::InvalidArgumentError("TLS record: more than 2^14 bytes of plaintext");
  }
  uint8_t* inner = out + kRecordHeaderSize;
  if (plaintext.data() != inner && !plaintext.empty()) {
    std::memmove(inner, plaintext.data(), plaintext.size());
  }
  inner[plaintext.size()] = static_cast<uint8_t>(type);
  return SealContiguous(inner, plaintext.size() + 1, out);
}

absl::StatusOr<size_t> RecordCipher::SealWithScratch(ContentType type,
                                                     std::span<uint8_t> plaintext_and_scratch,
                                                     uint8_t* out) {
  if (plaintext_and_scratch.empty() || plaintext_and_scratch.size() - 1 > kMaxRecordPlaintext) {
    return absl::InvalidArgumentError("TLS record: plaintext with scratch byte out of range");
  }
  uint8_t& scratch = plaintext_and_scratch.back();
  const uint8_t saved = scratch;
  scratch = static_cast<uint8_t>(type);
  auto sealed = SealContiguous(plaintext_and_scratch.data(), plaintext_and_scratch.size(), out);
  scratch = saved;
  return sealed;
}

absl::StatusOr<RecordCipher::Opened> RecordCipher::Open(std::span<uint8_t> record) {
  auto size = ProtectedRecordSize(record);
  if (!size.ok()) return size.status();
  if (*size != record.size()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("TLS record: %d bytes given for a record of %d", record.size(), *size));
  }
  if (sequence_ == UINT64_MAX) {
    return absl::ResourceExhaustedError("TLS record: read sequence number exhausted");
  }
  uint8_t* body = record.data() + kRecordHeaderSize;
  const size_t inner_size = record.size() - kRecordHeaderSize - kAeadTagSize;
  const auto nonce = Nonce();
  if (int rc = aead_->Open(nonce.data(), record.data(), body, inner_size, body + inner_size);
      rc != 0) {
    return absl::DataLossError(absl::StrCat(
        "TLS record ", sequence_, ": authentication failed (bad_record_mac",
        rc == AES_GCM_AUTH_E || rc == MAC_CMP_FAILED_E ? "" : absl::StrCat(", wolfCrypt ", rc),
        ")"));
  }
  ++sequence_;
  // TLSInnerPlaintext: content, then the type, then zero padding (RFC 8446 §5.4).
  size_t end = inner_size;
  while (end > 0 && body[end - 1] == 0) --end;
  if (end == 0) {
    return absl::DataLossError("TLS record: inner plaintext is all padding (unexpected_message)");
  }
  const uint8_t type = body[end - 1];
  if (end - 1 > kMaxRecordPlaintext) {
    return absl::DataLossError("TLS record: more than 2^14 bytes of plaintext (record_overflow)");
  }
  return Opened{static_cast<ContentType>(type), std::span<uint8_t>(body, end - 1)};
}

// ---------------------------------------------------------------------------------------------
// RecordLayer

absl::StatusOr<RecordLayer> RecordLayer::Create(const TrafficSecret& read,
                                                const TrafficSecret& write) {
  auto r = RecordCipher::Create(read);
  if (!r.ok()) return r.status();
  auto w = RecordCipher::Create(write);
  if (!w.ok()) return w.status();
  return RecordLayer(*std::move(r), *std::move(w));
}

absl::StatusOr<RecordLayer::Received> RecordLayer::OpenRecord(std::span<uint8_t> record) {
  if (peer_closed_) {
    return absl::FailedPreconditionError("TLS record after the peer's close_notify");
  }
  auto opened = read_.Open(record);
  if (!opened.ok()) return opened.status();
  bool keys_changed = false;
  return HandleOpened(opened->type, opened->plaintext, &keys_changed);
}

absl::StatusOr<RecordLayer::Received> RecordLayer::HandleOpened(ContentType type,
                                                                std::span<uint8_t> plaintext,
                                                                bool* read_keys_changed) {
  *read_keys_changed = false;
  if (peer_closed_) {
    return absl::FailedPreconditionError("TLS record after the peer's close_notify");
  }
  if (!handshake_fragment_.empty() && type != ContentType::kHandshake) {
    // RFC 8446 §5.1: handshake messages may not be interleaved with other record types.
    return absl::DataLossError(
        "TLS record: a post-handshake message was interrupted by another record type "
        "(unexpected_message)");
  }
  switch (type) {
    case ContentType::kApplicationData:
      if (plaintext.empty()) return Received{};
      return Received{Received::kData, plaintext};
    case ContentType::kAlert:
      if (auto st = HandleAlert(plaintext); !st.ok()) return st;
      return Received{peer_closed_ ? Received::kClosed : Received::kNothing, {}};
    case ContentType::kHandshake:
      if (auto st = HandlePostHandshake(plaintext, read_keys_changed); !st.ok()) return st;
      return Received{};
    case ContentType::kChangeCipherSpec:
      break;
  }
  return absl::DataLossError(absl::StrFormat(
      "TLS record: content type %d is not allowed after the handshake (unexpected_message)",
      static_cast<int>(type)));
}

absl::Status RecordLayer::RotateWriteKeyForKernel() {
  if (auto st = write_.Update(); !st.ok()) return st;
  key_update_due_ = false;
  return absl::OkStatus();
}

absl::Status RecordLayer::HandleAlert(std::span<const uint8_t> body) {
  if (body.size() != 2) {
    return absl::DataLossError(
        absl::StrFormat("TLS alert of %d bytes, expected 2 (decode_error)", body.size()));
  }
  const uint8_t description = body[1];
  if (description == 0) {
    peer_closed_ = true;
    return absl::OkStatus();
  }
  // user_canceled precedes a close_notify; every other alert in TLS 1.3 is fatal (§6).
  if (description == 90) return absl::OkStatus();
  return absl::AbortedError(
      absl::StrCat("TLS: peer sent alert ", AlertDescription(description), " (", description, ")"));
}

absl::Status RecordLayer::HandlePostHandshake(std::span<const uint8_t> bytes, bool* keys_changed) {
  if (handshake_fragment_.size() + bytes.size() > kMaxPostHandshakeMessage) {
    return absl::DataLossError("TLS: post-handshake message larger than 128 KiB");
  }
  handshake_fragment_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  size_t pos = 0;
  while (handshake_fragment_.size() - pos >= 4) {
    const auto* m = reinterpret_cast<const uint8_t*>(handshake_fragment_.data() + pos);
    const size_t length = (size_t{m[1]} << 16) | (size_t{m[2]} << 8) | m[3];
    if (length + 4 > kMaxPostHandshakeMessage) {
      return absl::DataLossError(
          absl::StrFormat("TLS: post-handshake message of %d bytes is too large", length));
    }
    if (handshake_fragment_.size() - pos < 4 + length) break;
    switch (m[0]) {
      case kHandshakeNewSessionTicket:
        break;  // resumption is never used: every connection is attested afresh
      case kHandshakeKeyUpdate: {
        if (length != 1 || m[4] > 1) {
          return absl::DataLossError("TLS: malformed KeyUpdate (decode_error)");
        }
        // §5.1: a key change must end the record that carries it.
        if (pos + 4 + length != handshake_fragment_.size()) {
          return absl::DataLossError(
              "TLS: data after a KeyUpdate in the same record (unexpected_message)");
        }
        if (auto st = read_.Update(); !st.ok()) return st;
        *keys_changed = true;
        if (m[4] == 1) key_update_due_ = true;  // update_requested
        break;
      }
      default:
        return absl::DataLossError(absl::StrFormat(
            "TLS: unexpected post-handshake message type %d (unexpected_message)", m[0]));
    }
    pos += 4 + length;
  }
  handshake_fragment_.erase(0, pos);
  return absl::OkStatus();
}

absl::StatusOr<size_t> RecordLayer::SealKeyUpdate(uint8_t* out) {
  // We never request the peer's update: our own rotation is all that our sequence needs.
  const uint8_t message[5] = {kHandshakeKeyUpdate, 0, 0, 1, 0};
  auto sealed = write_.Seal(ContentType::kHandshake, message, out);
  if (!sealed.ok()) return sealed;
  if (auto st = write_.Update(); !st.ok()) return st;
  key_update_due_ = false;
  return sealed;
}

absl::StatusOr<size_t> RecordLayer::SealPendingControl(std::span<uint8_t> out) {
  if (!control_pending()) return 0;
  if (out.size() < kControlReserve) return absl::InvalidArgumentError("TLS: no room for KeyUpdate");
  return SealKeyUpdate(out.data());
}

absl::StatusOr<size_t> RecordLayer::SealData(std::span<const uint8_t> data,
                                             std::span<uint8_t> out) {
  if (out.size() < SealedSize(data.size())) {
    return absl::InvalidArgumentError("TLS: output buffer too small for the sealed records");
  }
  auto control = SealPendingControl(out);
  if (!control.ok()) return control;
  size_t written = *control;
  while (!data.empty()) {
    const size_t n = std::min(data.size(), kMaxRecordPlaintext);
    auto sealed = write_.Seal(ContentType::kApplicationData, data.first(n), out.data() + written);
    if (!sealed.ok()) return sealed;
    written += *sealed;
    data = data.subspan(n);
    if (write_.due_for_update() && !data.empty()) {
      auto update = SealKeyUpdate(out.data() + written);
      if (!update.ok()) return update;
      written += *update;
    }
  }
  return written;
}

absl::StatusOr<size_t> RecordLayer::SealDataWithScratch(std::span<uint8_t> data_and_scratch,
                                                        std::span<uint8_t> out) {
  if (data_and_scratch.empty()) return absl::InvalidArgumentError("TLS: missing scratch byte");
  size_t remaining = data_and_scratch.size() - 1;
  if (out.size() < SealedSize(remaining)) {
    return absl::InvalidArgumentError("TLS: output buffer too small for the sealed records");
  }
  auto control = SealPendingControl(out);
  if (!control.ok()) return control;
  size_t written = *control;
  uint8_t* p = data_and_scratch.data();
  while (remaining > 0) {
    const size_t n = std::min(remaining, kMaxRecordPlaintext);
    auto sealed = write_.SealWithScratch(ContentType::kApplicationData,
                                         std::span<uint8_t>(p, n + 1), out.data() + written);
    if (!sealed.ok()) return sealed;
    written += *sealed;
    p += n;
    remaining -= n;
    if (write_.due_for_update() && remaining > 0) {
      auto update = SealKeyUpdate(out.data() + written);
      if (!update.ok()) return update;
      written += *update;
    }
  }
  return written;
}

absl::StatusOr<size_t> RecordLayer::SealCloseNotify(std::span<uint8_t> out) {
  if (out.size() < kControlReserve) {
    return absl::InvalidArgumentError("TLS: no room for close_notify");
  }
  const uint8_t alert[2] = {1, 0};  // warning, close_notify
  return write_.Seal(ContentType::kAlert, alert, out.data());
}

}  // namespace tng::crypto
