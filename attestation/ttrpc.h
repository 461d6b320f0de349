// ttrpc (containerd's "gRPC for low-memory environments"), as the CoCo Attestation Agent serves
// it: the frame and message codec, and a unary client over a unix socket on the reactor.
//
// Wire format: each frame is a 10-byte header (u32 BE payload length, u32 BE stream id, u8 type,
// u8 flags) and a payload of at most 4 MiB. A request frame carries a protobuf `ttrpc.Request`
// {service=1, method=2, payload=3, timeout_nano=4, metadata=5}; the response frame on the same
// (odd, client-chosen) stream id carries `ttrpc.Response` {status=1 (google.rpc.Status
// {code=1, message=2}), payload=2}.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/net.h"
#include "core/reactor.h"
#include "core/task.h"

namespace tng::attestation::ttrpc {

inline constexpr size_t kHeaderSize = 10;
inline constexpr uint32_t kMaxMessageLength = 4u << 20;

enum class MessageType : uint8_t { kRequest = 1, kResponse = 2, kData = 3 };
inline constexpr uint8_t kFlagRemoteClosed = 0x1;
inline constexpr uint8_t kFlagRemoteOpen = 0x2;
inline constexpr uint8_t kFlagNoData = 0x4;

struct FrameHeader {
  uint32_t length = 0;  // of the payload, header excluded
  uint32_t stream_id = 0;
  uint8_t type = 0;
  uint8_t flags = 0;
};

std::array<uint8_t, kHeaderSize> EncodeHeader(const FrameHeader& header);
FrameHeader DecodeHeader(std::span<const uint8_t, kHeaderSize> bytes);

struct Frame {
  FrameHeader header;
  std::vector<uint8_t> payload;
};

// Header and payload in one buffer; payloads over kMaxMessageLength are refused.
absl::StatusOr<std::vector<uint8_t>> EncodeFrame(uint32_t stream_id, MessageType type,
                                                 uint8_t flags, std::span<const uint8_t> payload);

// Splits a received byte stream into frames.
class FrameDecoder {
 public:
  explicit FrameDecoder(uint32_t max_length = kMaxMessageLength) : max_length_(max_length) {}

  void Feed(std::span<const uint8_t> bytes);
  // The next complete frame; nullopt while more bytes are needed; an error (and nothing more from
  // this decoder) when a header announces a payload over the limit.
  absl::StatusOr<std::optional<Frame>> Next();
  // Bytes of an incomplete frame held back: non-zero at end of stream means it was cut short.
  size_t buffered() const { return buffer_.size() - consumed_; }
  // "3 of 10 header bytes" or "100 of 250 payload bytes": what an early EOF cut off.
  std::string DescribePartial() const;

 private:
  uint32_t max_length_;
  std::vector<uint8_t> buffer_;
  size_t consumed_ = 0;
  bool failed_ = false;
};

// Exactly one frame in `bytes`: truncated input, trailing bytes and oversized lengths are errors.
absl::StatusOr<Frame> DecodeFrame(std::span<const uint8_t> bytes,
                                  uint32_t max_length = kMaxMessageLength);

struct KeyValue {
  std::string key;
  std::string value;
};

struct Request {
  std::string service;  // e.g. "attestation_agent.AttestationAgentService"
  std::string method;   // e.g. "GetEvidence"
  std::vector<uint8_t> payload;
  int64_t timeout_nano = 0;  // 0: no deadline for the server
  std::vector<KeyValue> metadata;
};

// google.rpc.Status without details. Codes are gRPC's (0 OK ... 16 UNAUTHENTICATED), which are
// also absl::StatusCode's values.
struct RpcStatus {
  int32_t code = 0;
  std::string message;
};

struct Response {
  RpcStatus status;
  std::vector<uint8_t> payload;
};

// Fields in field-number order, proto3 defaults left out; the response always carries its
// status field, as ttrpc servers (Go and Rust) send it, even when it is OK.
std::vector<uint8_t> EncodeRequest(const Request& request);
absl::StatusOr<Request> DecodeRequest(std::span<const uint8_t> bytes);
std::vector<uint8_t> EncodeResponse(const Response& response);
absl::StatusOr<Response> DecodeResponse(std::span<const uint8_t> bytes);

// "INTERNAL" for 13 and so on; "code 99" for codes outside google.rpc.Code.
std::string CodeName(int32_t code);
// The absl status for a non-OK ttrpc status, same code, message naming the call.
absl::Status StatusFromRpc(const RpcStatus& status, std::string_view call);

// A ttrpc endpoint address: "unix:///path/to.sock" or "unix://@abstract-name". Other schemes
// (vsock://, tcp://) are rejected with an error naming them.
absl::StatusOr<SocketAddress> ParseAddress(std::string_view address);

// Unary calls, one connection per call (the AA is asked rarely: once per evidence refresh).
// Errors start with "<service>/<method> on <address>" and use these codes:
//   Unavailable       socket missing, connection refused or reset, closed before the response
//   PermissionDenied  the socket exists but may not be opened
//   DeadlineExceeded  no complete response within the timeout
//   DataLoss          a malformed frame or response, or one for another stream
//   <ttrpc code>      the server answered with a non-OK status (its code and message)
class Client {
 public:
  static absl::StatusOr<Client> Create(std::string_view address);

  // Connects, sends `request` (its timeout_nano is set from `timeout` when zero) and waits for
  // the response payload. `timeout` bounds the whole call. The client must outlive the call.
  Task<absl::StatusOr<std::vector<uint8_t>>> Call(Reactor& reactor, Request request,
                                                  Duration timeout) const;

  const std::string& address() const { return address_; }

 private:
  Client(std::string address, SocketAddress socket)
      : address_(std::move(address)), socket_(socket) {}
  std::string address_;
  SocketAddress socket_;
};

}  // namespace tng::attestation::ttrpc
