#include "attestation/ttrpc.h"

#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/protobuf_wire.h"
#include "crypto/str_cat.h"

namespace tng::attestation::ttrpc {
namespace {

using crypto::StrCat;

void PutU32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

uint32_t GetU32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}

std::string TypeName(uint8_t type) {
  switch (type) {
    case 1:
      return "request";
    case 2:
      return "response";
    case 3:
      return "data";
  }
  return StrCat("unknown (", static_cast<int>(type), ")");
}

int64_t Millis(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

absl::Status LengthError(const FrameHeader& h, uint32_t max_length) {
  return absl::DataLossError(StrCat("ttrpc ", TypeName(h.type), " frame on stream ", h.stream_id,
                                    " announces ", h.length, " payload bytes; the limit is ",
                                    max_length));
}

}  // namespace

std::array<uint8_t, kHeaderSize> EncodeHeader(const FrameHeader& header) {
  std::array<uint8_t, kHeaderSize> out{};
  PutU32(out.data(), header.length);
  PutU32(out.data() + 4, header.stream_id);
  out[8] = header.type;
  out[9] = header.flags;
  return out;
}

FrameHeader DecodeHeader(std::span<const uint8_t, kHeaderSize> bytes) {
  return FrameHeader{.length = GetU32(bytes.data()),
                     .stream_id = GetU32(bytes.data() + 4),
                     .type = bytes[8],
                     .flags = bytes[9]};
}

absl::StatusOr<std::vector<uint8_t>> EncodeFrame(uint32_t stream_id, MessageType type,
                                                 uint8_t flags, std::span<const uint8_t> payload) {
  if (payload.size() > kMaxMessageLength) {
    return absl::InvalidArgumentError(StrCat("ttrpc message of ", payload.size(),
                                             " bytes exceeds the limit of ", kMaxMessageLength));
  }
  auto header = EncodeHeader({.length = static_cast<uint32_t>(payload.size()),
                              .stream_id = stream_id,
                              .type = static_cast<uint8_t>(type),
                              .flags = flags});
  std::vector<uint8_t> out(header.begin(), header.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

void FrameDecoder::Feed(std::span<const uint8_t> bytes) {
  if (consumed_ > 0 && consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

absl::StatusOr<std::optional<Frame>> FrameDecoder::Next() {
  if (failed_) return absl::FailedPreconditionError("ttrpc frame decoder failed earlier");
  const size_t avail = buffered();
  if (avail < kHeaderSize) return std::nullopt;
  const uint8_t* p = buffer_.data() + consumed_;
  Frame frame;
  frame.header = DecodeHeader(std::span<const uint8_t, kHeaderSize>(p, kHeaderSize));
  if (frame.header.length > max_length_) {
    failed_ = true;
    return LengthError(frame.header, max_length_);
  }
  if (avail - kHeaderSize < frame.header.length) return std::nullopt;
  frame.payload.assign(p + kHeaderSize, p + kHeaderSize + frame.header.length);
  consumed_ += kHeaderSize + frame.header.length;
  // Keep the buffer from growing with every frame of a long-lived connection.
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  } else if (consumed_ > 65536) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  return frame;
}

std::string FrameDecoder::DescribePartial() const {
  const size_t avail = buffered();
  if (avail < kHeaderSize) return StrCat(avail, " of ", kHeaderSize, " header bytes");
  FrameHeader h =
      DecodeHeader(std::span<const uint8_t, kHeaderSize>(buffer_.data() + consumed_, kHeaderSize));
  return StrCat(avail - kHeaderSize, " of ", h.length, " payload bytes of a ", TypeName(h.type),
                " frame on stream ", h.stream_id);
}

absl::StatusOr<Frame> DecodeFrame(std::span<const uint8_t> bytes, uint32_t max_length) {
  if (bytes.size() < kHeaderSize) {
    return absl::DataLossError(
        StrCat("ttrpc frame truncated: ", bytes.size(), " of ", kHeaderSize, " header bytes"));
  }
  FrameHeader h = DecodeHeader(bytes.first<kHeaderSize>());
  if (h.length > max_length) return LengthError(h, max_length);
  const size_t have = bytes.size() - kHeaderSize;
  if (have < h.length) {
    return absl::DataLossError(StrCat("ttrpc ", TypeName(h.type), " frame on stream ", h.stream_id,
                                      " truncated: ", have, " of ", h.length, " payload bytes"));
  }
  if (have > h.length) {
    return absl::DataLossError(StrCat(have - h.length, " trailing bytes after the ttrpc ",
                                      TypeName(h.type), " frame of ", h.length, " payload bytes"));
  }
  return Frame{h, std::vector<uint8_t>(bytes.begin() + kHeaderSize, bytes.end())};
}

std::vector<uint8_t> EncodeRequest(const Request& request) {
  pb::Writer w;
  w.StringIfSet(1, request.service);
  w.StringIfSet(2, request.method);
  w.BytesIfSet(3, request.payload);
  w.Int64IfSet(4, request.timeout_nano);
  for (const KeyValue& kv : request.metadata) {
    pb::Writer m;
    m.StringIfSet(1, kv.key);
    m.StringIfSet(2, kv.value);
    w.Message(5, m);
  }
  return w.Take();
}

absl::StatusOr<Request> DecodeRequest(std::span<const uint8_t> bytes) {
  Request out;
  pb::Reader r(bytes, "ttrpc Request");
  pb::Field f;
  for (;;) {
    auto more = r.Next(f);
    if (!more.ok()) return more.status();
    if (!*more) break;
    auto want = [&](pb::WireType t) { return r.ExpectType(f, t); };
    switch (f.number) {
      case 1:
      case 2:
      case 3:
        if (auto st = want(pb::WireType::kLengthDelimited); !st.ok()) return st;
        if (f.number == 1) out.service = std::string(f.AsStringView());
        if (f.number == 2) out.method = std::string(f.AsStringView());
        if (f.number == 3) out.payload.assign(f.bytes.begin(), f.bytes.end());
        break;
      case 4:
        if (auto st = want(pb::WireType::kVarint); !st.ok()) return st;
        out.timeout_nano = f.AsInt64();
        break;
      case 5: {
        if (auto st = want(pb::WireType::kLengthDelimited); !st.ok()) return st;
        pb::Reader m = r.Embedded(f, "ttrpc KeyValue");
        KeyValue kv;
        pb::Field g;
        for (;;) {
          auto more_kv = m.Next(g);
          if (!more_kv.ok()) return more_kv.status();
          if (!*more_kv) break;
          if (g.number != 1 && g.number != 2) continue;
          if (auto st = m.ExpectType(g, pb::WireType::kLengthDelimited); !st.ok()) return st;
          (g.number == 1 ? kv.key : kv.value) = std::string(g.AsStringView());
        }
        out.metadata.push_back(std::move(kv));
        break;
      }
      default:
        break;  // unknown fields are skipped, as protobuf requires
    }
  }
  return out;
}

std::vector<uint8_t> EncodeResponse(const Response& response) {
  pb::Writer status;
  status.Int64IfSet(1, response.status.code);
  status.StringIfSet(2, response.status.message);
  pb::Writer w;
  w.Message(1, status);
  w.BytesIfSet(2, response.payload);
  return w.Take();
}

absl::StatusOr<Response> DecodeResponse(std::span<const uint8_t> bytes) {
  Response out;
  pb::Reader r(bytes, "ttrpc Response");
  pb::Field f;
  for (;;) {
    auto more = r.Next(f);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (f.number == 1) {
      if (auto st = r.ExpectType(f, pb::WireType::kLengthDelimited); !st.ok()) return st;
      pb::Reader s = r.Embedded(f, "google.rpc.Status");
      pb::Field g;
      for (;;) {
        auto more_s = s.Next(g);
        if (!more_s.ok()) return more_s.status();
        if (!*more_s) break;
        if (g.number == 1) {
          if (auto st = s.ExpectType(g, pb::WireType::kVarint); !st.ok()) return st;
          out.status.code = static_cast<int32_t>(g.AsInt64());  // int32: low 32 bits
        } else if (g.number == 2) {
          if (auto st = s.ExpectType(g, pb::WireType::kLengthDelimited); !st.ok()) return st;
          out.status.message = std::string(g.AsStringView());
        }  // 3: details (google.protobuf.Any), not needed
      }
    } else if (f.number == 2) {
      if (auto st = r.ExpectType(f, pb::WireType::kLengthDelimited); !st.ok()) return st;
      out.payload.assign(f.bytes.begin(), f.bytes.end());
    }
  }
  return out;
}

std::string CodeName(int32_t code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  if (code >= 0 && code <= 16) return kNames[code];
  return StrCat("code ", code);
}

absl::Status StatusFromRpc(const RpcStatus& status, std::string_view call) {
  const auto code = status.code >= 1 && status.code <= 16
                        ? static_cast<absl::StatusCode>(status.code)
                        : absl::StatusCode::kUnknown;
  return absl::Status(
      code, StrCat(call, ": the server answered ", CodeName(status.code), " (", status.code,
                   "): ", status.message.empty() ? "(no message)" : status.message));
}

absl::StatusOr<SocketAddress> ParseAddress(std::string_view address) {
  constexpr std::string_view kUnix = "unix://";
  if (address.substr(0, kUnix.size()) == kUnix) {
    std::string_view path = address.substr(kUnix.size());
    if (path.empty()) {
      return absl::InvalidArgumentError(
          StrCat("ttrpc address '", address, "' has no socket path (expected unix:///path)"));
    }
    auto addr = SocketAddress::FromUnixPath(path);
    if (!addr.ok()) {
      return absl::InvalidArgumentError(
          StrCat("ttrpc address '", address, "': ", addr.status().message()));
    }
    return addr;
  }
  const size_t scheme_end = address.find("://");
  if (scheme_end != std::string_view::npos) {
    return absl::InvalidArgumentError(
        StrCat("ttrpc address '", address, "': scheme '", address.substr(0, scheme_end),
               "' is not supported; only unix:///path and unix://@abstract sockets are"));
  }
  return absl::InvalidArgumentError(
      StrCat("ttrpc address '", address, "' has no scheme (expected unix:///path)"));
}

absl::StatusOr<Client> Client::Create(std::string_view address) {
  auto socket = ParseAddress(address);
  if (!socket.ok()) return socket.status();
  return Client(std::string(address), *socket);
}

Task<absl::StatusOr<std::vector<uint8_t>>> Client::Call(Reactor& reactor, Request request,
                                                        Duration timeout) const {
  const std::string call = StrCat(request.service, "/", request.method, " on ", address_);
  const SocketAddress addr = socket_;
  const std::string path = addr.UnixPath();
  auto fail = [&call](absl::StatusCode code, const auto& problem) {
    return absl::Status(code, StrCat(call, ": ", problem));
  };
  const bool bounded = timeout > Duration::zero();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // What is left of the call's time; Duration::zero() means no bound (IoOp's convention).
  auto left = [&]() -> std::optional<Duration> {
    if (!bounded) return Duration::zero();
    auto rest = std::chrono::duration_cast<Duration>(deadline - std::chrono::steady_clock::now());
    if (rest <= Duration::zero()) return std::nullopt;
    return rest;
  };
  const std::string timed_out = StrCat("no response within ", Millis(timeout), " ms");

  if (request.timeout_nano == 0 && bounded) request.timeout_nano = timeout.count();
  auto frame = EncodeFrame(1, MessageType::kRequest, 0, EncodeRequest(request));
  if (!frame.ok()) co_return fail(absl::StatusCode::kInvalidArgument, frame.status().message());

  auto fd = NewUnixSocket();
  if (!fd.ok()) co_return fail(absl::StatusCode::kInternal, fd.status().message());
  auto budget = left();
  if (!budget) co_return fail(absl::StatusCode::kDeadlineExceeded, timed_out);
  int rc = co_await Connect(reactor, fd->get(), addr.sa(), addr.len(), *budget);
  if (rc < 0) {
    switch (-rc) {
      case ENOENT:
        co_return fail(absl::StatusCode::kUnavailable,
                       StrCat("socket ", path, " does not exist (is the service running?)"));
      case ECONNREFUSED:
        co_return fail(absl::StatusCode::kUnavailable,
                       StrCat("connection refused: nothing is listening on ", path));
      case EACCES:
      case EPERM:
        co_return fail(absl::StatusCode::kPermissionDenied,
                       StrCat("permission denied connecting to ", path));
      case ETIMEDOUT:
        co_return fail(absl::StatusCode::kDeadlineExceeded,
                       StrCat("connect timed out after ", Millis(timeout), " ms"));
      default:
        co_return fail(absl::StatusCode::kUnavailable,
                       StrCat("connect to ", path, " failed: ", strerror(-rc)));
    }
  }

  budget = left();
  if (!budget) co_return fail(absl::StatusCode::kDeadlineExceeded, timed_out);
  rc = co_await SendAll(reactor, fd->get(), *frame, *budget);
  if (rc == -ETIMEDOUT) co_return fail(absl::StatusCode::kDeadlineExceeded, timed_out);
  if (rc < 0) {
    co_return fail(absl::StatusCode::kUnavailable,
                   StrCat("sending the request failed: ", strerror(-rc)));
  }

  FrameDecoder decoder;
  std::vector<uint8_t> buf(16384);
  std::optional<Frame> response;
  while (!response) {
    auto next = decoder.Next();
    if (!next.ok()) co_return fail(absl::StatusCode::kDataLoss, next.status().message());
    if (*next) {
      response = std::move(*next);
      break;
    }
    budget = left();
    if (!budget) co_return fail(absl::StatusCode::kDeadlineExceeded, timed_out);
    int n = co_await Recv(reactor, fd->get(), buf, *budget);
    if (n == -ETIMEDOUT) co_return fail(absl::StatusCode::kDeadlineExceeded, timed_out);
    if (n < 0) {
      co_return fail(absl::StatusCode::kUnavailable,
                     StrCat("receiving the response failed: ", strerror(-n)));
    }
    if (n == 0) {
      if (decoder.buffered() > 0) {
        co_return fail(absl::StatusCode::kUnavailable,
                       StrCat("connection closed in the middle of the response (",
                              decoder.DescribePartial(), ")"));
      }
      co_return fail(absl::StatusCode::kUnavailable,
                     "connection closed by the server before it answered");
    }
    decoder.Feed(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
  }

  const FrameHeader& h = response->header;
  if (h.stream_id != 1) {
    co_return fail(absl::StatusCode::kDataLoss,
                   StrCat("got a ", TypeName(h.type), " frame for stream ", h.stream_id,
                          " while waiting for stream 1"));
  }
  if (h.type != static_cast<uint8_t>(MessageType::kResponse)) {
    co_return fail(
        absl::StatusCode::kDataLoss,
        StrCat("expected a response frame on stream 1, got a ", TypeName(h.type), " frame"));
  }
  auto decoded = DecodeResponse(response->payload);
  if (!decoded.ok()) co_return fail(absl::StatusCode::kDataLoss, decoded.status().message());
  if (decoded->status.code != 0) co_return StatusFromRpc(decoded->status, call);
  co_return std::move(decoded->payload);
}

}  // namespace tng::attestation::ttrpc
