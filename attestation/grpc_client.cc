#include "attestation/grpc_client.h"

#include <nghttp2/nghttp2.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>

#include "core/http/url.h"
#include "core/tcp_stream.h"
#include "crypto/str_cat.h"

namespace tng::attestation {
namespace {

using crypto::StrCat;

constexpr size_t kFramePrefix = 5;

// What one call learns from its stream, filled by nghttp2's callbacks.
struct CallState {
  std::span<const uint8_t> request_frame;
  size_t sent = 0;
  int32_t stream_id = -1;
  std::string http_status;
  std::string content_type;
  std::string grpc_status;
  std::string grpc_message;
  std::vector<uint8_t> body;
  size_t max_body = 0;
  bool body_too_large = false;
  bool closed = false;
  uint32_t close_error = 0;
};

nghttp2_nv Header(std::string_view name, std::string_view value) {
  return {const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(name.data())),
          const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(value.data())), name.size(),
          value.size(), NGHTTP2_NV_FLAG_NONE};
}

int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
             const uint8_t* value, size_t valuelen, uint8_t, void* user_data) {
  auto* state = static_cast<CallState*>(user_data);
  if (frame->hd.stream_id != state->stream_id) return 0;
  const std::string_view n(reinterpret_cast<const char*>(name), namelen);
  const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":status") {
    state->http_status = std::string(v);
  } else if (n == "content-type") {
    state->content_type = std::string(v);
  } else if (n == "grpc-status") {
    state->grpc_status = std::string(v);
  } else if (n == "grpc-message") {
    state->grpc_message = std::string(v);
  }
  return 0;
}

int OnData(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
           void* user_data) {
  auto* state = static_cast<CallState*>(user_data);
  if (stream_id != state->stream_id) return 0;
  if (state->body.size() + len > state->max_body + kFramePrefix) {
    state->body_too_large = true;
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  state->body.insert(state->body.end(), data, data + len);
  return 0;
}

int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data) {
  auto* state = static_cast<CallState*>(user_data);
  if (stream_id != state->stream_id) return 0;
  state->closed = true;
  state->close_error = error_code;
  return 0;
}

ssize_t ReadRequest(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* data_flags,
                    nghttp2_data_source* source, void*) {
  auto* state = static_cast<CallState*>(source->ptr);
  const size_t n = std::min(length, state->request_frame.size() - state->sent);
  std::memcpy(buf, state->request_frame.data() + state->sent, n);
  state->sent += n;
  if (state->sent == state->request_frame.size()) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

struct SessionDeleter {
  void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
};
struct CallbacksDeleter {
  void operator()(nghttp2_session_callbacks* c) const { nghttp2_session_callbacks_del(c); }
};

}  // namespace

std::vector<uint8_t> EncodeGrpcFrame(std::span<const uint8_t> message) {
  std::vector<uint8_t> out(kFramePrefix + message.size());
  const auto n = static_cast<uint32_t>(message.size());
  out[0] = 0;  // not compressed
  out[1] = static_cast<uint8_t>(n >> 24);
  out[2] = static_cast<uint8_t>(n >> 16);
  out[3] = static_cast<uint8_t>(n >> 8);
  out[4] = static_cast<uint8_t>(n);
  if (!message.empty()) std::memcpy(out.data() + kFramePrefix, message.data(), message.size());
  return out;
}

absl::StatusOr<std::vector<uint8_t>> DecodeGrpcFrame(std::span<const uint8_t> body,
                                                     size_t max_size) {
  if (body.empty()) return absl::InvalidArgumentError("gRPC reply carries no message");
  if (body.size() < kFramePrefix) {
    return absl::InvalidArgumentError(
        StrCat("gRPC message prefix truncated: ", body.size(), " of ", kFramePrefix, " bytes"));
  }
  if (body[0] != 0) {
    return absl::InvalidArgumentError(StrCat("gRPC message has compressed flag ",
                                             static_cast<int>(body[0]),
                                             " but no compression was negotiated"));
  }
  const size_t n =
      (size_t{body[1]} << 24) | (size_t{body[2]} << 16) | (size_t{body[3]} << 8) | size_t{body[4]};
  if (n > max_size) {
    return absl::ResourceExhaustedError(
        StrCat("gRPC message of ", n, " bytes exceeds the limit of ", max_size));
  }
  if (body.size() - kFramePrefix < n) {
    return absl::InvalidArgumentError(
        StrCat("gRPC message truncated: ", body.size() - kFramePrefix, " of ", n, " bytes"));
  }
  if (body.size() - kFramePrefix > n) {
    return absl::InvalidArgumentError(StrCat(
        "gRPC unary reply has ", body.size() - kFramePrefix - n, " bytes after its one message"));
  }
  return std::vector<uint8_t>(body.begin() + kFramePrefix, body.end());
}

std::string PercentEncodeGrpcMessage(std::string_view message) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : message) {
    if (c >= 0x20 && c <= 0x7e && c != '%') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string PercentDecodeGrpcMessage(std::string_view encoded) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] == '%' && i + 2 < encoded.size() && hex(encoded[i + 1]) >= 0 &&
        hex(encoded[i + 2]) >= 0) {
      out += static_cast<char>(hex(encoded[i + 1]) * 16 + hex(encoded[i + 2]));
      i += 2;
    } else {
      out += encoded[i];  // the spec says to keep what does not decode
    }
  }
  return out;
}

absl::Status GrpcStatusToAbsl(std::string_view grpc_status, std::string_view grpc_message,
                              std::string_view context) {
  int code = -1;
  if (!grpc_status.empty() && grpc_status.size() <= 2) {
    code = 0;
    for (char c : grpc_status) {
      if (c < '0' || c > '9') {
        code = -1;
        break;
      }
      code = code * 10 + (c - '0');
    }
  }
  const std::string message = PercentDecodeGrpcMessage(grpc_message);
  if (code < 0 || code > 16) {
    return absl::UnknownError(StrCat(context, "invalid grpc-status \"", grpc_status, "\"",
                                     message.empty() ? "" : ": ", message));
  }
  if (code == 0) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(code),
                      StrCat(context, "grpc-status ", code, message.empty() ? "" : ": ", message));
}

Task<absl::StatusOr<std::vector<uint8_t>>> GrpcUnaryCall(Reactor& reactor,
                                                         const GrpcCallOptions& options,
                                                         std::span<const uint8_t> request) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + options.timeout;
  const std::string what = StrCat("gRPC ", options.method, " at ", options.address, ": ");
  auto url = http::ParseUrl(options.address);
  if (!url.ok()) co_return absl::InvalidArgumentError(StrCat(what, url.status().message()));
  if (url->scheme != "http") {
    co_return absl::InvalidArgumentError(
        StrCat(what, "only http:// (cleartext HTTP/2) is supported, not ", url->scheme, "://"));
  }
  auto remaining = [&] { return std::chrono::duration_cast<Duration>(deadline - Clock::now()); };
  auto timed_out = [&](std::string_view phase) {
    return absl::DeadlineExceededError(
        StrCat(what, "timed out after ", options.timeout.count(), "ms ", phase));
  };

  auto stream = co_await DialTcp(reactor, url->host, url->port, remaining(), nullptr);
  if (!stream.ok())
    co_return absl::Status(stream.status().code(), StrCat(what, stream.status().message()));

  CallState state;
  const std::vector<uint8_t> frame = EncodeGrpcFrame(request);
  state.request_frame = frame;
  state.max_body = options.max_response;

  nghttp2_session_callbacks* raw_callbacks = nullptr;
  if (nghttp2_session_callbacks_new(&raw_callbacks) != 0) {
    co_return absl::ResourceExhaustedError(StrCat(what, "out of memory"));
  }
  std::unique_ptr<nghttp2_session_callbacks, CallbacksDeleter> callbacks(raw_callbacks);
  nghttp2_session_callbacks_set_on_header_callback(raw_callbacks, OnHeader);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(raw_callbacks, OnData);
  nghttp2_session_callbacks_set_on_stream_close_callback(raw_callbacks, OnStreamClose);
  nghttp2_session* raw_session = nullptr;
  if (nghttp2_session_client_new(&raw_session, raw_callbacks, &state) != 0) {
    co_return absl::ResourceExhaustedError(StrCat(what, "out of memory"));
  }
  std::unique_ptr<nghttp2_session, SessionDeleter> session(raw_session);

  const std::string authority = url->HostHeader();
  std::vector<std::string> names;  // HTTP/2 wants lower-case field names
  names.reserve(options.metadata.size());
  for (const auto& [name, value] : options.metadata) {
    std::string lower(name);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    names.push_back(std::move(lower));
  }
  std::vector<nghttp2_nv> headers = {
      Header(":method", "POST"),
      Header(":scheme", "http"),
      Header(":path", options.method),
      Header(":authority", authority),
      Header("content-type", "application/grpc"),
      Header("te", "trailers"),
      Header("user-agent", "tng/" TNG_VERSION),
  };
  for (size_t i = 0; i < names.size(); ++i) {
    headers.push_back(Header(names[i], options.metadata[i].second));
  }
  nghttp2_submit_settings(raw_session, NGHTTP2_FLAG_NONE, nullptr, 0);
  nghttp2_data_provider provider;
  provider.source.ptr = &state;
  provider.read_callback = ReadRequest;
  state.stream_id = nghttp2_submit_request(raw_session, nullptr, headers.data(), headers.size(),
                                           &provider, &state);
  if (state.stream_id < 0) {
    co_return absl::InternalError(
        StrCat(what, "submitting the request: ", nghttp2_strerror(state.stream_id)));
  }

  std::vector<uint8_t> out;
  std::vector<uint8_t> in(16384);
  while (true) {
    out.clear();
    while (true) {
      const uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(raw_session, &data);
      if (n < 0) {
        co_return absl::UnavailableError(
            StrCat(what, "HTTP/2 error: ", nghttp2_strerror(static_cast<int>(n))));
      }
      if (n == 0) break;
      out.insert(out.end(), data, data + n);
    }
    if (!out.empty()) {
      if (remaining() <= Duration::zero()) co_return timed_out("sending the request");
      const int rc = co_await stream->Write(out, remaining());
      if (rc == -ETIMEDOUT) co_return timed_out("sending the request");
      if (rc < 0) {
        co_return absl::UnavailableError(
            StrCat(what, "sending the request failed: ", std::strerror(-rc)));
      }
    }
    if (state.closed) break;
    if (!nghttp2_session_want_read(raw_session)) {
      co_return absl::UnavailableError(StrCat(what,
                                              "the server ended the HTTP/2 session "
                                              "(GOAWAY) before answering"));
    }
    if (remaining() <= Duration::zero()) co_return timed_out("waiting for the reply");
    const int n = co_await stream->Read(in, remaining());
    if (n == -ETIMEDOUT) co_return timed_out("waiting for the reply");
    if (n < 0) {
      co_return absl::UnavailableError(
          StrCat(what, "reading the reply failed: ", std::strerror(-n)));
    }
    if (n == 0) {
      co_return absl::UnavailableError(
          StrCat(what,
                 "the server closed the connection before the call completed (is it a "
                 "gRPC server speaking cleartext HTTP/2?)"));
    }
    const ssize_t used = nghttp2_session_mem_recv(raw_session, in.data(), static_cast<size_t>(n));
    if (used < 0) {
      if (state.body_too_large) {
        co_return absl::ResourceExhaustedError(
            StrCat(what, "reply larger than the limit of ", options.max_response, " bytes"));
      }
      co_return absl::UnavailableError(StrCat(
          what, "malformed HTTP/2 from the server: ", nghttp2_strerror(static_cast<int>(used))));
    }
  }

  if (state.close_error != 0) {
    co_return absl::UnavailableError(StrCat(what, "the server reset the stream (HTTP/2 error ",
                                            nghttp2_http2_strerror(state.close_error), ")"));
  }
  if (state.http_status != "200") {
    co_return absl::UnavailableError(
        StrCat(what, "HTTP status ", state.http_status.empty() ? "(none)" : state.http_status,
               ", not 200"));
  }
  if (!state.content_type.starts_with("application/grpc")) {
    co_return absl::UnavailableError(
        StrCat(what, "content-type \"", state.content_type, "\" is not application/grpc"));
  }
  if (state.grpc_status.empty()) {
    co_return absl::UnknownError(StrCat(what, "the reply has no grpc-status trailer"));
  }
  if (auto st = GrpcStatusToAbsl(state.grpc_status, state.grpc_message, what); !st.ok()) {
    co_return st;
  }
  auto message = DecodeGrpcFrame(state.body, options.max_response);
  if (!message.ok()) {
    co_return absl::Status(message.status().code(), StrCat(what, message.status().message()));
  }
  co_return std::move(*message);
}

}  // namespace tng::attestation
