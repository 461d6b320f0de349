// Kernel TLS (the `tls` TCP upper-layer protocol): after the handshake the record protection of
// a TLS 1.3 connection can move into the kernel, which then seals on send and opens on receive,
// so the encrypted socket can be spliced like a plain one. Kernels without CONFIG_TLS (the
// development machines) refuse the ULP; callers then keep the userspace record layer.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crypto/tls13_record.h"

namespace tng::tunnel {

// `--ktls`: auto uses kTLS where the kernel offers it; off never tries.
enum class KtlsMode { kAuto, kOff };

// The kernel's tls12_crypto_info_* for one direction of a TLS 1.3 connection: the AEAD key, the
// IV split into salt and explicit part as the kernel wants it, and the next record's sequence
// number (big-endian).
struct KtlsCryptoInfo {
  std::array<uint8_t, 64> bytes{};
  socklen_t size = 0;
};
absl::StatusOr<KtlsCryptoInfo> MakeKtlsCryptoInfo(const crypto::TrafficKeys& keys,
                                                  uint64_t sequence);

// What attaching the ULP told us about this kernel.
enum class KtlsAttach { kAttached, kUnsupported };
// kUnsupported when the kernel has no tls ULP (ENOENT: not built or not loadable; EOPNOTSUPP);
// any other failure is an error naming errno.
absl::StatusOr<KtlsAttach> ClassifyUlpResult(int rc, int err);
absl::StatusOr<KtlsAttach> AttachTlsUlp(int fd);

// Hands one direction's current keys and sequence number to the kernel (TLS_TX or TLS_RX).
// Also used after a KeyUpdate; a kernel that cannot rekey fails here and the connection must
// close (it cannot go on without the new keys).
absl::Status InstallKtlsKeys(int fd, int direction, const crypto::RecordCipher& cipher);

// Whether this reactor thread has seen the kernel refuse the ULP (then nobody tries again).
bool KtlsKnownUnsupported();
void NoteKtlsUnsupported(const std::string& why);

// The record type of a message received on a kTLS socket (cmsg TLS_GET_RECORD_TYPE); application
// data when the kernel attached none.
crypto::ContentType ReceivedRecordType(const msghdr& msg);
// Fills `control` with a TLS_SET_RECORD_TYPE cmsg for `msg` (to send an alert or handshake
// record through kTLS).
void SetSendRecordType(msghdr& msg, std::span<uint8_t> control, crypto::ContentType type);
inline constexpr size_t kKtlsControlSize = CMSG_SPACE(sizeof(uint8_t));

}  // namespace tng::tunnel
