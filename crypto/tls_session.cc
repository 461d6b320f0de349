// TLS 1.3 contexts and sessions on wolfSSL with memory I/O callbacks.
#include "crypto/tls_session.h"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/cpuid.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>
// clang-format on

#include <sys/random.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "crypto/tls13_record.h"

namespace tng::crypto {
namespace {

// Room for two full records: the reader can always take a whole record while the next one is
// still arriving.
constexpr size_t kInputCapacity = 2 * kMaxRecordSize;

constexpr char kCipherList[] =
    "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256";

// Key exchange groups in preference order. Measured with this build (bench/crypto_bench.cc,
// BM_KeyShare*: key generation + shared secret, the work one side does per handshake) X25519
// (AVX2 assembly) came out ~5% ahead of P-256 (SP x86_64 assembly), and full handshakes were
// equal within noise, so X25519 goes first; it is also what rustls (TNG) offers first. P-256
// stays for peers that offer only it. The server picks among the key shares the client actually
// sent, so listing both never costs a HelloRetryRequest.
constexpr int kGroups[] = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1};

#ifdef WC_RNG_SEED_CB
// Seeds each session's DRBG with one getrandom(2) call instead of wolfSSL's default open, read and
// close of /dev/urandom per session (this wolfSSL version predates its own getrandom support).
int GetrandomSeed(OS_Seed* /*os*/, byte* output, word32 size) {
  while (size > 0) {
    const ssize_t n = getrandom(output, size, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return READ_RAN_E;
    }
    output += n;
    size -= static_cast<word32>(n);
  }
  return 0;
}
#endif

void InitWolfSslOnce() {
  // Function-local static: thread-safe, runs once per process. wolfSSL_Init only fails on
  // allocation failure of its global mutexes, which we cannot recover from either.
  static const int init = [] {
#ifdef WC_RNG_SEED_CB
    wc_SetSeed_Cb(GetrandomSeed);
#endif
    return wolfSSL_Init();
  }();
  (void)init;
}

std::string ErrorName(int err) {
  char buf[WOLFSSL_MAX_ERROR_SZ];
  wolfSSL_ERR_error_string_n(static_cast<unsigned long>(err), buf, sizeof(buf));
  return buf;
}

// RFC 8446 §6 alert names (wolfSSL's own table lacks the TLS 1.3 additions such as
// certificate_required).
constexpr struct {
  int code;
  const char* name;
} kAlertNames[] = {
    {0, "close_notify"},
    {10, "unexpected_message"},
    {20, "bad_record_mac"},
    {22, "record_overflow"},
    {40, "handshake_failure"},
    {42, "bad_certificate"},
    {43, "unsupported_certificate"},
    {44, "certificate_revoked"},
    {45, "certificate_expired"},
    {46, "certificate_unknown"},
    {47, "illegal_parameter"},
    {48, "unknown_ca"},
    {49, "access_denied"},
    {50, "decode_error"},
    {51, "decrypt_error"},
    {70, "protocol_version"},
    {71, "insufficient_security"},
    {80, "internal_error"},
    {86, "inappropriate_fallback"},
    {90, "user_canceled"},
    {109, "missing_extension"},
    {110, "unsupported_extension"},
    {112, "unrecognized_name"},
    {113, "bad_certificate_status_response"},
    {115, "unknown_psk_identity"},
    {116, "certificate_required"},
    {120, "no_application_protocol"},
};

const char* AlertName(int code) {
  for (const auto& alert : kAlertNames) {
    if (alert.code == code) return alert.name;
  }
  return "unknown alert";
}

// Describes a failed wolfSSL call: its error name and code, plus the fatal alerts seen on the
// wire, which often say more than the local error (e.g. the peer's "no_application_protocol").
absl::Status SessionError(WOLFSSL* ssl, int ret, const char* what) {
  const int err = wolfSSL_get_error(ssl, ret);
  std::string message =
      absl::StrFormat("%s failed: %s (wolfSSL error %d)", what, ErrorName(err), err);
  WOLFSSL_ALERT_HISTORY history;
  if (wolfSSL_get_alert_history(ssl, &history) == WOLFSSL_SUCCESS) {
    if (history.last_rx.level == alert_fatal) {
      absl::StrAppendFormat(&message, "; peer sent fatal alert %s (%d)",
                            AlertName(history.last_rx.code), history.last_rx.code);
    }
    if (history.last_tx.level == alert_fatal) {
      absl::StrAppendFormat(&message, "; sent fatal alert %s (%d)", AlertName(history.last_tx.code),
                            history.last_tx.code);
    }
  }
  return absl::InternalError(message);
}

// The handshake accepts every peer certificate: RA-TLS verification needs the whole certificate
// and possibly asynchronous calls to an attestation service, so it runs afterwards in the
// connection's coroutine. Proof of possession still holds: TLS 1.3 always checks the peer's
// CertificateVerify signature against the certificate's key. A missing client certificate is
// still fatal when required (wolfSSL checks that at the client's Finished, after this callback).
absl::Status ReadError(const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("TLS read failed: ", status.message()));
}

int AcceptAnyCertificate(int /*preverify*/, WOLFSSL_X509_STORE_CTX* /*store*/) { return 1; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// TlsContext

absl::StatusOr<std::unique_ptr<TlsContext>> TlsContext::Create(const TlsContextOptions& options) {
  InitWolfSslOnce();
  const bool server = options.role == TlsRole::kServer;
  if (options.alpn.empty() || options.alpn.size() > 255) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "TLS context: ALPN protocol must be 1..255 bytes, got %d", options.alpn.size()));
  }
  if (options.alpn.find(',') != std::string::npos) {
    // wolfSSL reads the ALPN setting as a comma-separated list.
    return absl::InvalidArgumentError(
        absl::StrFormat("TLS context: ALPN protocol '%s' must not contain ','", options.alpn));
  }
  if (options.cert_der.empty() != options.key_der.empty()) {
    return absl::InvalidArgumentError(
        "TLS context: certificate and private key must be given together");
  }
  if (server && options.cert_der.empty()) {
    return absl::InvalidArgumentError("TLS server context needs a certificate and private key");
  }
  if (!server && options.require_peer_cert) {
    return absl::InvalidArgumentError(
        "TLS context: require_peer_cert applies to servers (a TLS 1.3 client always receives "
        "the server's certificate)");
  }

  WOLFSSL_METHOD* method = server ? wolfTLSv1_3_server_method() : wolfTLSv1_3_client_method();
  WOLFSSL_CTX* ctx = method != nullptr ? wolfSSL_CTX_new(method) : nullptr;
  if (ctx == nullptr) return absl::ResourceExhaustedError("wolfSSL_CTX_new failed");
  std::unique_ptr<TlsContext> context(new TlsContext());
  context->ctx_ = ctx;
  context->role_ = options.role;
  context->alpn_ = options.alpn;
  context->require_peer_cert_ = server && options.require_peer_cert;

  if (wolfSSL_CTX_set_cipher_list(ctx, kCipherList) != WOLFSSL_SUCCESS) {
    return absl::InternalError(absl::StrCat("TLS context: cipher list rejected: ", kCipherList));
  }
  int groups[std::size(kGroups)];  // wolfSSL takes a mutable array (and copies it)
  std::copy(std::begin(kGroups), std::end(kGroups), groups);
  if (wolfSSL_CTX_set_groups(ctx, groups, std::size(groups)) != WOLFSSL_SUCCESS) {
    return absl::InternalError("TLS context: key exchange groups P-256, X25519 rejected");
  }
  // No resumption: every RA-TLS connection presents (and has verified) a certificate, so a
  // ticket would only cost a message and skip attestation.
  if (server) wolfSSL_CTX_no_ticket_TLSv13(ctx);

  if (!options.cert_der.empty()) {
    int ret = wolfSSL_CTX_use_certificate_buffer(ctx, options.cert_der.data(),
                                                 static_cast<long>(options.cert_der.size()),
                                                 WOLFSSL_FILETYPE_ASN1);
    if (ret != WOLFSSL_SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrFormat("TLS context: certificate (%d bytes DER) rejected: %s",
                          options.cert_der.size(), ErrorName(ret)));
    }
    ret = wolfSSL_CTX_use_PrivateKey_buffer(ctx, options.key_der.data(),
                                            static_cast<long>(options.key_der.size()),
                                            WOLFSSL_FILETYPE_ASN1);
    if (ret != WOLFSSL_SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrFormat("TLS context: private key (%d bytes DER, PKCS#8 or SEC1 expected) "
                          "rejected: %s",
                          options.key_der.size(), ErrorName(ret)));
    }
    if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS) {
      return absl::InvalidArgumentError(
          "TLS context: private key does not match the certificate's public key");
    }
  }

  int verify = WOLFSSL_VERIFY_PEER;
  if (server) {
    verify = options.require_peer_cert ? WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                       : WOLFSSL_VERIFY_NONE;
  }
  wolfSSL_CTX_set_verify(ctx, verify, AcceptAnyCertificate);
  return context;
}

TlsContext::~TlsContext() {
  // wolfSSL reference-counts the context: sessions created from it keep it alive.
  if (ctx_ != nullptr) wolfSSL_CTX_free(static_cast<WOLFSSL_CTX*>(ctx_));
}

// ---------------------------------------------------------------------------------------------
// TlsSession

struct TlsSession::Impl {
  ~Impl() { FreeSsl(); }

  void FreeSsl() {
    if (ssl != nullptr) wolfSSL_free(ssl);
    ssl = nullptr;
  }

  // Output is double-buffered so that the span PendingOutput() returned stays valid while the
  // caller's send is in flight, even if the read side produces more (a KeyUpdate answer): once
  // exposed, the front buffer is only consumed, and new records go to the back buffer until the
  // front is drained. Both buffers keep their capacity, so steady state allocates nothing.
  std::vector<uint8_t>& AppendTarget() { return front_exposed ? back : front; }

  void ReserveOutput(size_t extra) {
    std::vector<uint8_t>& o = AppendTarget();
    const size_t need = o.size() + extra;
    if (need > o.capacity()) o.reserve(std::max(need, 2 * o.capacity()));
  }

  std::span<const uint8_t> Pending() {
    front_exposed = front_begin < front.size();
    return {front.data() + front_begin, front.size() - front_begin};
  }

  void Consume(size_t n) {
    assert(n <= front.size() - front_begin && "ConsumeOutput beyond PendingOutput()");
    front_begin += std::min(n, front.size() - front_begin);
    if (front_begin < front.size()) return;
    front.clear();
    front_begin = 0;
    front_exposed = false;
    std::swap(front, back);  // what was produced meanwhile is next
  }

  // wolfSSL asks for exactly the bytes of the record header or body it is parsing, never more,
  // so when the handshake completes every byte after its last record is still in `in`.
  static int Recv(WOLFSSL* /*ssl*/, char* buf, int size, void* arg) {
    Impl* self = static_cast<Impl*>(arg);
    const size_t available = self->in_end - self->in_begin;
    if (available == 0) return WOLFSSL_CBIO_ERR_WANT_READ;
    const size_t n = std::min(available, static_cast<size_t>(size));
    std::memcpy(buf, self->in.get() + self->in_begin, n);
    self->in_begin += n;
    if (self->in_begin == self->in_end) self->in_begin = self->in_end = 0;
    return static_cast<int>(n);
  }

  static int Send(WOLFSSL* /*ssl*/, char* buf, int size, void* arg) {
    Impl* self = static_cast<Impl*>(arg);
    // As bytes of the vector's own type, so the insert is one memmove rather than a
    // converting element loop.
    const uint8_t* bytes = reinterpret_cast<const uint8_t*>(buf);
    std::vector<uint8_t>& o = self->AppendTarget();
    o.insert(o.end(), bytes, bytes + size);
    return size;
  }

  // wolfSSL hands over each TLS 1.3 secret as the key schedule derives it; the application
  // traffic secrets are what the record layer (and kTLS) continue with.
  static int Secret(WOLFSSL* /*ssl*/, int id, const unsigned char* secret, int size, void* ctx) {
    Impl* self = static_cast<Impl*>(ctx);
    if (size <= 0 || static_cast<size_t>(size) > self->client_secret.size()) return 0;
    if (id == CLIENT_TRAFFIC_SECRET) {
      std::memcpy(self->client_secret.data(), secret, static_cast<size_t>(size));
      self->client_secret_size = static_cast<size_t>(size);
    } else if (id == SERVER_TRAFFIC_SECRET) {
      std::memcpy(self->server_secret.data(), secret, static_cast<size_t>(size));
      self->server_secret_size = static_cast<size_t>(size);
    }
    return 0;
  }

  // The switch from wolfSSL to RecordLayer once the handshake is done: copies out what the
  // connection still needs to know and frees the WOLFSSL object (several KiB per connection).
  absl::Status FinishHandshake() {
    const int suite_id = wolfSSL_get_current_cipher_suite(ssl) & 0xFFFF;
    const auto suite = static_cast<Tls13Suite>(suite_id);
    auto client = MakeTrafficSecret(suite, {client_secret.data(), client_secret_size});
    auto server = MakeTrafficSecret(suite, {server_secret.data(), server_secret_size});
    std::fill(client_secret.begin(), client_secret.end(), 0);
    std::fill(server_secret.begin(), server_secret.end(), 0);
    if (!client.ok()) return client.status();
    if (!server.ok()) return server.status();
    auto layer = role == TlsRole::kClient ? RecordLayer::Create(*server, *client)
                                          : RecordLayer::Create(*client, *server);
    if (!layer.ok()) return layer.status();
    records.emplace(*std::move(layer));

    char* name = nullptr;
    unsigned short name_size = 0;
    if (wolfSSL_ALPN_GetProtocol(ssl, &name, &name_size) == WOLFSSL_SUCCESS && name != nullptr) {
      negotiated_alpn.assign(name, name_size);
    }
    version = wolfSSL_get_version(ssl);
    if (const char* c = wolfSSL_get_cipher_name(ssl)) cipher = c;
    if (const char* g = wolfSSL_get_curve_name(ssl)) group = g;
    // A server that asked for no client certificate has none to look at (and wolfSSL 5.5.4
    // crashes when asked for it then).
    if (role == TlsRole::kClient || peer_cert_required) {
      if (WOLFSSL_X509* cert = wolfSSL_get_peer_certificate(ssl)) {  // a copy we own
        int size = 0;
        const unsigned char* der = wolfSSL_X509_get_der(cert, &size);
        if (der != nullptr && size > 0) peer_cert.assign(der, der + size);
        wolfSSL_X509_free(cert);
      }
    }
    FreeSsl();
    return absl::OkStatus();
  }

  WOLFSSL* ssl = nullptr;
  TlsRole role = TlsRole::kClient;
  bool peer_cert_required = false;
  std::string alpn;
  std::unique_ptr<uint8_t[]> in = std::make_unique_for_overwrite<uint8_t[]>(kInputCapacity);
  size_t in_begin = 0;
  size_t in_end = 0;
  // Plaintext of the record opened in place at in_begin that Read() has not handed out yet, as
  // offsets from in_begin; the record's bytes leave `in` once it is all read.
  size_t plain_begin = 0;
  size_t plain_end = 0;
  size_t opened_record = 0;    // size of that record, 0: none open
  std::vector<uint8_t> front;  // PendingOutput() reads from here
  size_t front_begin = 0;
  bool front_exposed = false;  // a span of `front` may be in flight: append to `back`
  std::vector<uint8_t> back;
  bool handshake_done = false;
  bool peer_closed = false;

  std::array<uint8_t, 48> client_secret{};
  size_t client_secret_size = 0;
  std::array<uint8_t, 48> server_secret{};
  size_t server_secret_size = 0;
  std::optional<RecordLayer> records;
  std::string negotiated_alpn;
  std::string version;
  std::string cipher;
  std::string group;
  std::vector<uint8_t> peer_cert;
};

absl::StatusOr<std::unique_ptr<TlsSession>> TlsSession::Create(TlsContext& context) {
  std::unique_ptr<TlsSession> session(new TlsSession());
  session->impl_ = std::make_unique<Impl>();
  Impl& impl = *session->impl_;
  impl.role = context.role_;
  impl.alpn = context.alpn_;
  impl.peer_cert_required = context.require_peer_cert_;
  impl.ssl = wolfSSL_new(static_cast<WOLFSSL_CTX*>(context.ctx_));
  if (impl.ssl == nullptr) return absl::ResourceExhaustedError("wolfSSL_new failed");

  wolfSSL_SSLSetIORecv(impl.ssl, &Impl::Recv);
  wolfSSL_SSLSetIOSend(impl.ssl, &Impl::Send);
  wolfSSL_SetIOReadCtx(impl.ssl, &impl);
  wolfSSL_SetIOWriteCtx(impl.ssl, &impl);
  if (wolfSSL_set_tls13_secret_cb(impl.ssl, &Impl::Secret, &impl) != WOLFSSL_SUCCESS) {
    return absl::InternalError("TLS session: wolfSSL refused the TLS 1.3 secret callback");
  }

  // The client offers exactly our protocol; the server aborts with no_application_protocol when
  // the client offers others only. (A client offering no ALPN at all is refused after the
  // handshake, see Handshake().)
  std::string alpn = impl.alpn;  // wolfSSL_UseALPN takes a mutable list
  if (wolfSSL_UseALPN(impl.ssl, alpn.data(), static_cast<unsigned>(alpn.size()),
                      WOLFSSL_ALPN_FAILED_ON_MISMATCH) != WOLFSSL_SUCCESS) {
    return absl::InternalError(absl::StrCat("TLS session: ALPN '", impl.alpn, "' rejected"));
  }
  return session;
}

TlsSession::~TlsSession() = default;

std::span<uint8_t> TlsSession::InputSpace() {
  Impl& impl = *impl_;
  if (impl.in == nullptr) return {};
  if (impl.in_begin > 0) {
    std::memmove(impl.in.get(), impl.in.get() + impl.in_begin, impl.in_end - impl.in_begin);
    impl.in_end -= impl.in_begin;
    impl.in_begin = 0;
  }
  return {impl.in.get() + impl.in_end, kInputCapacity - impl.in_end};
}

void TlsSession::CommitInput(size_t n) {
  Impl& impl = *impl_;
  assert(n <= kInputCapacity - impl.in_end && "CommitInput beyond InputSpace()");
  impl.in_end += std::min(n, kInputCapacity - impl.in_end);
}

std::span<const uint8_t> TlsSession::BufferedInput() const {
  const Impl& impl = *impl_;
  if (impl.in == nullptr) return {};
  return {impl.in.get() + impl.in_begin, impl.in_end - impl.in_begin};
}

void TlsSession::ReleaseInput() {
  Impl& impl = *impl_;
  impl.in.reset();
  // The handshake flights' output buffers, too, when they are drained (they held a certificate
  // chain; a stream doing its own I/O never fills them again).
  if (impl.front_begin == impl.front.size() && impl.back.empty()) {
    std::vector<uint8_t>().swap(impl.front);
    std::vector<uint8_t>().swap(impl.back);
    impl.front_begin = 0;
    impl.front_exposed = false;
  }
  impl.in_begin = impl.in_end = 0;
  impl.opened_record = impl.plain_begin = impl.plain_end = 0;
}

std::span<const uint8_t> TlsSession::PendingOutput() { return impl_->Pending(); }

void TlsSession::ConsumeOutput(size_t n) { impl_->Consume(n); }

absl::StatusOr<TlsProgress> TlsSession::Handshake() {
  Impl& impl = *impl_;
  if (impl.handshake_done) return TlsProgress::kDone;
  const int ret = wolfSSL_negotiate(impl.ssl);
  if (ret != WOLFSSL_SUCCESS) {
    if (wolfSSL_get_error(impl.ssl, ret) == WOLFSSL_ERROR_WANT_READ) return TlsProgress::kWantRead;
    return SessionError(impl.ssl, ret, "TLS handshake");
  }
  if (auto st = impl.FinishHandshake(); !st.ok()) return st;
  // wolfSSL lets a handshake without ALPN through; RA-TLS needs both sides to agree on the
  // tunnel protocol, so a peer that did not negotiate ours is refused (the caller closes the
  // connection).
  if (impl.negotiated_alpn != impl.alpn) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "TLS handshake: peer did not negotiate ALPN '%s' (%s)", impl.alpn,
        impl.role == TlsRole::kServer ? "the client offered no ALPN" : "the server selected none"));
  }
  impl.handshake_done = true;
  return TlsProgress::kDone;
}

bool TlsSession::handshake_done() const { return impl_->handshake_done; }

RecordLayer& TlsSession::records() {
  assert(impl_->records.has_value() && "records() before the handshake completed");
  return *impl_->records;
}

absl::StatusOr<std::pair<TlsProgress, size_t>> TlsSession::Read(std::span<uint8_t> out) {
  Impl& impl = *impl_;
  if (!impl.handshake_done) {
    return absl::FailedPreconditionError("TLS read before the handshake completed");
  }
  if (out.empty()) return absl::InvalidArgumentError("TLS read into an empty buffer");
  if (impl.in == nullptr) return absl::FailedPreconditionError("TLS read after ReleaseInput()");
  size_t copied = 0;
  while (copied < out.size()) {
    if (impl.opened_record != 0) {
      const size_t n = std::min(out.size() - copied, impl.plain_end - impl.plain_begin);
      std::memcpy(out.data() + copied, impl.in.get() + impl.in_begin + impl.plain_begin, n);
      copied += n;
      impl.plain_begin += n;
      if (impl.plain_begin < impl.plain_end) break;
      impl.in_begin += impl.opened_record;
      impl.opened_record = 0;
      if (impl.in_begin == impl.in_end) impl.in_begin = impl.in_end = 0;
      continue;
    }
    if (impl.peer_closed) break;
    std::span<uint8_t> buffered(impl.in.get() + impl.in_begin, impl.in_end - impl.in_begin);
    auto size = ProtectedRecordSize(buffered);
    if (!size.ok()) return ReadError(size.status());
    if (*size == 0 || *size > buffered.size()) break;
    auto got = impl.records->OpenRecord(buffered.first(*size));
    if (!got.ok()) return ReadError(got.status());
    if (got->kind == RecordLayer::Received::kClosed) impl.peer_closed = true;
    if (got->kind != RecordLayer::Received::kData) {
      impl.in_begin += *size;
      if (impl.in_begin == impl.in_end) impl.in_begin = impl.in_end = 0;
      continue;
    }
    impl.opened_record = *size;
    impl.plain_begin = static_cast<size_t>(got->data.data() - buffered.data());
    impl.plain_end = impl.plain_begin + got->data.size();
  }
  // A KeyUpdate the peer asked for goes out with the next write; a reader that never writes
  // still answers it here, so the peer's request does not wait on our application.
  if (impl.records->control_pending()) {
    impl.ReserveOutput(RecordLayer::kControlReserve);
    std::vector<uint8_t>& o = impl.AppendTarget();
    const size_t at = o.size();
    o.resize(at + RecordLayer::kControlReserve);
    auto sealed = impl.records->SealPendingControl(std::span<uint8_t>(o).subspan(at));
    if (!sealed.ok()) return sealed.status();
    o.resize(at + *sealed);
  }
  if (copied > 0) return std::pair{TlsProgress::kDone, copied};
  if (impl.peer_closed) return std::pair{TlsProgress::kClosed, size_t{0}};
  return std::pair{TlsProgress::kWantRead, size_t{0}};
}

absl::Status TlsSession::Write(std::span<const uint8_t> data) {
  Impl& impl = *impl_;
  if (!impl.handshake_done) {
    return absl::FailedPreconditionError("TLS write before the handshake completed");
  }
  if (data.empty() && !impl.records->control_pending()) return absl::OkStatus();
  const size_t room = RecordLayer::SealedSize(data.size());
  impl.ReserveOutput(room);
  std::vector<uint8_t>& o = impl.AppendTarget();
  const size_t at = o.size();
  o.resize(at + room);
  auto sealed = impl.records->SealData(data, std::span<uint8_t>(o).subspan(at));
  if (!sealed.ok()) {
    o.resize(at);
    return sealed.status();
  }
  o.resize(at + *sealed);
  return absl::OkStatus();
}

absl::Status TlsSession::Shutdown() {
  Impl& impl = *impl_;
  if (!impl.handshake_done) {
    return absl::FailedPreconditionError("TLS shutdown before the handshake completed");
  }
  impl.ReserveOutput(RecordLayer::kControlReserve);
  std::vector<uint8_t>& o = impl.AppendTarget();
  const size_t at = o.size();
  o.resize(at + RecordLayer::kControlReserve);
  auto sealed = impl.records->SealCloseNotify(std::span<uint8_t>(o).subspan(at));
  if (!sealed.ok()) {
    o.resize(at);
    return sealed.status();
  }
  o.resize(at + *sealed);
  return absl::OkStatus();
}

std::vector<uint8_t> TlsSession::PeerCertificateDer() const { return impl_->peer_cert; }

void TlsSession::ReleasePeerCertificate() { std::vector<uint8_t>().swap(impl_->peer_cert); }

std::string TlsSession::NegotiatedAlpn() const { return impl_->negotiated_alpn; }

std::string TlsSession::Version() const { return impl_->version; }

std::string TlsSession::Cipher() const { return impl_->cipher; }

std::string TlsSession::Group() const { return impl_->group; }

std::string WolfSslVersion() { return wolfSSL_lib_version(); }

bool AesNiActive() {
#if defined(WOLFSSL_AESNI) && defined(HAVE_CPUID_INTEL)
  // The same CPU feature flags wolfSSL consults when it picks the AES-NI code path.
  return IS_INTEL_AESNI(cpuid_get_flags()) != 0;
#else
  return false;
#endif
}

}  // namespace tng::crypto
