#include "endpoints/tunnel/ktls.h"

#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/log.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

namespace tng::tunnel {
namespace {

template <typename Info>
KtlsCryptoInfo Pack(const Info& info) {
  KtlsCryptoInfo out;
  static_assert(sizeof(Info) <= sizeof(out.bytes));
  std::memcpy(out.bytes.data(), &info, sizeof(Info));
  out.size = sizeof(Info);
  return out;
}

void PutSequence(unsigned char* rec_seq, uint64_t sequence) {
  for (int i = 0; i < 8; ++i) rec_seq[i] = static_cast<unsigned char>(sequence >> (56 - 8 * i));
}

thread_local bool ktls_unsupported = false;

}  // namespace

absl::StatusOr<KtlsCryptoInfo> MakeKtlsCryptoInfo(const crypto::TrafficKeys& keys,
                                                  uint64_t sequence) {
  switch (keys.suite) {
    case crypto::Tls13Suite::kAes128GcmSha256: {
      tls12_crypto_info_aes_gcm_128 info{};
      info.info.version = TLS_1_3_VERSION;
      info.info.cipher_type = TLS_CIPHER_AES_GCM_128;
      std::memcpy(info.salt, keys.iv.data(), TLS_CIPHER_AES_GCM_128_SALT_SIZE);
      std::memcpy(info.iv, keys.iv.data() + TLS_CIPHER_AES_GCM_128_SALT_SIZE,
                  TLS_CIPHER_AES_GCM_128_IV_SIZE);
      std::memcpy(info.key, keys.key.data(), TLS_CIPHER_AES_GCM_128_KEY_SIZE);
      PutSequence(info.rec_seq, sequence);
      return Pack(info);
    }
    case crypto::Tls13Suite::kAes256GcmSha384: {
      tls12_crypto_info_aes_gcm_256 info{};
      info.info.version = TLS_1_3_VERSION;
      info.info.cipher_type = TLS_CIPHER_AES_GCM_256;
      std::memcpy(info.salt, keys.iv.data(), TLS_CIPHER_AES_GCM_256_SALT_SIZE);
      std::memcpy(info.iv, keys.iv.data() + TLS_CIPHER_AES_GCM_256_SALT_SIZE,
                  TLS_CIPHER_AES_GCM_256_IV_SIZE);
      std::memcpy(info.key, keys.key.data(), TLS_CIPHER_AES_GCM_256_KEY_SIZE);
      PutSequence(info.rec_seq, sequence);
      return Pack(info);
    }
    case crypto::Tls13Suite::kChacha20Poly1305Sha256: {
      tls12_crypto_info_chacha20_poly1305 info{};
      info.info.version = TLS_1_3_VERSION;
      info.info.cipher_type = TLS_CIPHER_CHACHA20_POLY1305;
      std::memcpy(info.iv, keys.iv.data(), TLS_CIPHER_CHACHA20_POLY1305_IV_SIZE);
      std::memcpy(info.key, keys.key.data(), TLS_CIPHER_CHACHA20_POLY1305_KEY_SIZE);
      PutSequence(info.rec_seq, sequence);
      return Pack(info);
    }
  }
  return absl::InvalidArgumentError("kTLS: unknown cipher suite");
}

absl::StatusOr<KtlsAttach> ClassifyUlpResult(int rc, int err) {
  if (rc == 0) return KtlsAttach::kAttached;
  // ENOENT: no tls module (not built, or not loadable here); EOPNOTSUPP / ENOPROTOOPT: a kernel
  // or socket without ULP support at all.
  if (err == ENOENT || err == EOPNOTSUPP || err == ENOPROTOOPT) return KtlsAttach::kUnsupported;
  return absl::InternalError(absl::StrCat("kTLS: setsockopt(TCP_ULP, \"tls\"): ", strerror(err)));
}

absl::StatusOr<KtlsAttach> AttachTlsUlp(int fd) {
  const int rc = setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls"));
  return ClassifyUlpResult(rc, rc == 0 ? 0 : errno);
}

absl::Status InstallKtlsKeys(int fd, int direction, const crypto::RecordCipher& cipher) {
  auto keys = crypto::DeriveTrafficKeys(cipher.secret());
  if (!keys.ok()) return keys.status();
  auto info = MakeKtlsCryptoInfo(*keys, cipher.sequence());
  std::fill(keys->key.begin(), keys->key.end(), 0);
  if (!info.ok()) return info.status();
  const int rc = setsockopt(fd, SOL_TLS, direction, info->bytes.data(), info->size);
  const int err = errno;
  std::fill(info->bytes.begin(), info->bytes.end(), 0);
  if (rc != 0) {
    return absl::UnavailableError(absl::StrCat(
        "kTLS: setsockopt(", direction == TLS_TX ? "TLS_TX" : "TLS_RX", "): ", strerror(err)));
  }
  return absl::OkStatus();
}

bool KtlsKnownUnsupported() { return ktls_unsupported; }

void NoteKtlsUnsupported(const std::string& why) {
  if (ktls_unsupported) return;
  ktls_unsupported = true;
  TNG_LOG(Info, "tls") << "kernel TLS is not available (" << why
                       << "): records are sealed and opened in user space";
}

crypto::ContentType ReceivedRecordType(const msghdr& msg) {
  for (const cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
       c = CMSG_NXTHDR(const_cast<msghdr*>(&msg), const_cast<cmsghdr*>(c))) {
    if (c->cmsg_level == SOL_TLS && c->cmsg_type == TLS_GET_RECORD_TYPE) {
      return static_cast<crypto::ContentType>(*CMSG_DATA(c));
    }
  }
  return crypto::ContentType::kApplicationData;
}

void SetSendRecordType(msghdr& msg, std::span<uint8_t> control, crypto::ContentType type) {
  std::memset(control.data(), 0, control.size());
  msg.msg_control = control.data();
  msg.msg_controllen = CMSG_SPACE(sizeof(uint8_t));
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_TLS;
  c->cmsg_type = TLS_SET_RECORD_TYPE;
  c->cmsg_len = CMSG_LEN(sizeof(uint8_t));
  *CMSG_DATA(c) = static_cast<uint8_t>(type);
}

}  // namespace tng::tunnel
