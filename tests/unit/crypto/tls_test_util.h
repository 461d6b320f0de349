// Test helpers for TlsSession: a client/server pair whose bytes the test moves by hand, the way
// the reactor would between two sockets.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "attestation/dummy_cert.h"
#include "crypto/tls_session.h"

namespace tng::crypto::test {

inline constexpr size_t kAll = std::numeric_limits<size_t>::max();

inline std::vector<uint8_t> ToVector(std::span<const uint8_t> bytes) {
  return {bytes.begin(), bytes.end()};
}
inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Deterministic, position-dependent payload so a reordering or a dropped byte shows.
inline std::vector<uint8_t> Payload(size_t size, uint32_t seed) {
  std::vector<uint8_t> data(size);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& b : data) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<uint8_t>(x);
  }
  return data;
}

inline TlsContextOptions ServerOptions() {
  TlsContextOptions options;
  options.role = TlsRole::kServer;
  options.cert_der = ToVector(attestation::DummyCertDer());
  options.key_der = ToVector(attestation::DummyKeyDer());
  return options;
}

inline TlsContextOptions ClientOptions() {
  TlsContextOptions options;
  options.role = TlsRole::kClient;
  return options;
}

struct Pair {
  std::unique_ptr<TlsContext> client_context;
  std::unique_ptr<TlsContext> server_context;
  std::unique_ptr<TlsSession> client;
  std::unique_ptr<TlsSession> server;
};

inline absl::StatusOr<Pair> MakePair(const TlsContextOptions& client,
                                     const TlsContextOptions& server) {
  Pair pair;
  auto client_context = TlsContext::Create(client);
  if (!client_context.ok()) return client_context.status();
  auto server_context = TlsContext::Create(server);
  if (!server_context.ok()) return server_context.status();
  pair.client_context = *std::move(client_context);
  pair.server_context = *std::move(server_context);
  auto c = TlsSession::Create(*pair.client_context);
  if (!c.ok()) return c.status();
  auto s = TlsSession::Create(*pair.server_context);
  if (!s.ok()) return s.status();
  pair.client = *std::move(c);
  pair.server = *std::move(s);
  return pair;
}

// Moves up to `max_chunk` bytes of `from`'s output into `to`'s input, as a socket would.
inline size_t Transfer(TlsSession& from, TlsSession& to, size_t max_chunk = kAll) {
  std::span<const uint8_t> pending = from.PendingOutput();
  std::span<uint8_t> space = to.InputSpace();
  const size_t n = std::min({pending.size(), space.size(), max_chunk});
  if (n == 0) return 0;
  std::memcpy(space.data(), pending.data(), n);
  to.CommitInput(n);
  from.ConsumeOutput(n);
  return n;
}

// Runs both handshakes to completion, delivering at most `max_chunk` bytes per step. The error
// names the side that failed.
inline absl::Status HandshakeBoth(Pair& pair, size_t max_chunk = kAll) {
  for (;;) {
    auto c = pair.client->Handshake();
    if (!c.ok()) return absl::Status(c.status().code(), "client: " + c.status().ToString());
    auto s = pair.server->Handshake();
    if (!s.ok()) return absl::Status(s.status().code(), "server: " + s.status().ToString());
    if (*c == TlsProgress::kDone && *s == TlsProgress::kDone) return absl::OkStatus();
    const size_t moved = Transfer(*pair.client, *pair.server, max_chunk) +
                         Transfer(*pair.server, *pair.client, max_chunk);
    if (moved == 0) return absl::InternalError("handshake stalled: nothing left to deliver");
  }
}

// Writes `data` on `writer` and returns what `reader` decrypts, delivering at most `max_chunk`
// bytes per step and reading whenever bytes arrive.
inline absl::StatusOr<std::vector<uint8_t>> Send(TlsSession& writer, TlsSession& reader,
                                                 std::span<const uint8_t> data,
                                                 size_t max_chunk = kAll) {
  if (auto status = writer.Write(data); !status.ok()) return status;
  std::vector<uint8_t> received;
  std::vector<uint8_t> buffer(20000);
  for (;;) {
    const size_t moved = Transfer(writer, reader, max_chunk);
    for (;;) {
      auto result = reader.Read(buffer);
      if (!result.ok()) return result.status();
      if (result->first == TlsProgress::kWantRead) break;
      if (result->first == TlsProgress::kClosed) return absl::InternalError("unexpected close");
      received.insert(received.end(), buffer.begin(), buffer.begin() + result->second);
    }
    if (moved == 0 && writer.PendingOutput().empty()) return received;
  }
}

}  // namespace tng::crypto::test
