#include "tools/reference_as/grpc_service.h"

#include <nghttp2/nghttp2.h>

#include <cstring>
#include <map>
#include <memory>

#include "attestation/as_grpc_client.h"
#include "attestation/grpc_client.h"
#include "core/json.h"
#include "core/log.h"
#include "core/protobuf_wire.h"
#include "core/tcp_stream.h"
#include "crypto/str_cat.h"

namespace tng::reference_as {
namespace {

using crypto::StrAppend;
using crypto::StrCat;

constexpr int kGrpcInvalidArgument = 3;
constexpr int kGrpcAborted = 10;
constexpr int kGrpcUnimplemented = 12;
constexpr size_t kMaxRequest = 4u << 20;

absl::StatusOr<std::string> IndividualToJson(pb::Reader reader) {
  std::string tee, evidence, runtime = "null", algorithm = "null";
  pb::Field f;
  while (true) {
    auto more = reader.Next(f);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (f.type != pb::WireType::kLengthDelimited) continue;
    const std::string_view v = f.AsStringView();
    switch (f.number) {
      case 1:
        tee = std::string(v);
        break;
      case 3:
        evidence = std::string(v);
        break;
      case 4:
        runtime = StrCat("{\"raw\":", json::Quote(v), "}");
        break;
      case 5:
        runtime = StrCat("{\"structured\":", v, "}");
        break;
      case 8:
        algorithm = json::Quote(v);
        break;
      default:
        break;
    }
  }
  return StrCat("{\"tee\":", json::Quote(tee), ",\"evidence\":", json::Quote(evidence),
                ",\"runtime_data\":", runtime,
                ",\"init_data\":null,\"runtime_data_hash_algorithm\":", algorithm, "}");
}

// One request stream of a connection.
struct Stream {
  std::string path;
  std::vector<uint8_t> body;
  bool too_large = false;
  std::vector<uint8_t> reply;  // framed reply message
  size_t sent = 0;
  std::string status_text;   // grpc-status of the trailer
  std::string message_text;  // grpc-message of the trailer
};

struct Connection {
  GrpcHandler handler;
  std::map<int32_t, std::unique_ptr<Stream>> streams;
};

GrpcReply Refuse(int status, std::string message) {
  GrpcReply reply;
  reply.status = status;
  reply.message = std::move(message);
  return reply;
}

nghttp2_nv Header(std::string_view name, std::string_view value) {
  return {const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(name.data())),
          const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(value.data())), name.size(),
          value.size(), NGHTTP2_NV_FLAG_NONE};
}

ssize_t ReadReply(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                  uint32_t* data_flags, nghttp2_data_source* source, void*) {
  auto* s = static_cast<Stream*>(source->ptr);
  const size_t n = std::min(length, s->reply.size() - s->sent);
  std::memcpy(buf, s->reply.data() + s->sent, n);
  s->sent += n;
  if (s->sent == s->reply.size()) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    nghttp2_nv trailers[] = {Header("grpc-status", s->status_text)};
    nghttp2_submit_trailer(session, stream_id, trailers, 1);
  }
  return static_cast<ssize_t>(n);
}

void Respond(nghttp2_session* session, int32_t stream_id, Connection& c, Stream& s) {
  GrpcReply reply;
  auto message = attestation::DecodeGrpcFrame(s.body, kMaxRequest);
  if (s.too_large) {
    reply = Refuse(8, "request larger than 4 MiB");
  } else if (!message.ok()) {
    reply = Refuse(kGrpcInvalidArgument, std::string(message.status().message()));
  } else {
    reply = c.handler(s.path, *message);
  }
  s.status_text = std::to_string(reply.status);
  s.message_text = attestation::PercentEncodeGrpcMessage(reply.message);
  if (reply.status == 0) {
    s.reply = attestation::EncodeGrpcFrame(reply.body);
    nghttp2_nv headers[] = {Header(":status", "200"), Header("content-type", "application/grpc")};
    nghttp2_data_provider provider;
    provider.source.ptr = &s;
    provider.read_callback = ReadReply;
    nghttp2_submit_response(session, stream_id, headers, 2, &provider);
  } else {
    // Trailers-only: the status rides on the one HEADERS frame, which ends the stream.
    nghttp2_nv headers[] = {Header(":status", "200"), Header("content-type", "application/grpc"),
                            Header("grpc-status", s.status_text),
                            Header("grpc-message", s.message_text)};
    nghttp2_submit_response(session, stream_id, headers, 4, nullptr);
  }
}

int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  auto* c = static_cast<Connection*>(user_data);
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    c->streams[frame->hd.stream_id] = std::make_unique<Stream>();
  }
  return 0;
}

int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
             const uint8_t* value, size_t valuelen, uint8_t, void* user_data) {
  auto* c = static_cast<Connection*>(user_data);
  auto it = c->streams.find(frame->hd.stream_id);
  if (it == c->streams.end()) return 0;
  if (std::string_view(reinterpret_cast<const char*>(name), namelen) == ":path") {
    it->second->path.assign(reinterpret_cast<const char*>(value), valuelen);
  }
  return 0;
}

int OnData(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
           void* user_data) {
  auto* c = static_cast<Connection*>(user_data);
  auto it = c->streams.find(stream_id);
  if (it == c->streams.end()) return 0;
  Stream& s = *it->second;
  if (s.body.size() + len > kMaxRequest + 5) {
    s.too_large = true;
    return 0;
  }
  s.body.insert(s.body.end(), data, data + len);
  return 0;
}

int OnFrame(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
  auto* c = static_cast<Connection*>(user_data);
  if ((frame->hd.type != NGHTTP2_DATA && frame->hd.type != NGHTTP2_HEADERS) ||
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) {
    return 0;
  }
  auto it = c->streams.find(frame->hd.stream_id);
  if (it != c->streams.end()) Respond(session, frame->hd.stream_id, *c, *it->second);
  return 0;
}

int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t, void* user_data) {
  static_cast<Connection*>(user_data)->streams.erase(stream_id);
  return 0;
}

struct SessionDeleter {
  void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
};
struct CallbacksDeleter {
  void operator()(nghttp2_session_callbacks* c) const { nghttp2_session_callbacks_del(c); }
};

}  // namespace

absl::StatusOr<std::string> GrpcAttestationRequestToJson(std::span<const uint8_t> message) {
  pb::Reader reader(message, "AttestationRequest");
  std::string requests, policies;
  pb::Field f;
  while (true) {
    auto more = reader.Next(f);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (f.number == 1) {
      if (auto st = reader.ExpectType(f, pb::WireType::kLengthDelimited); !st.ok()) return st;
      auto one = IndividualToJson(reader.Embedded(f, "IndividualAttestationRequest"));
      if (!one.ok()) return one.status();
      StrAppend(&requests, requests.empty() ? "" : ",", *one);
    } else if (f.number == 2) {
      if (auto st = reader.ExpectType(f, pb::WireType::kLengthDelimited); !st.ok()) return st;
      StrAppend(&policies, policies.empty() ? "" : ",", json::Quote(f.AsStringView()));
    }
  }
  return StrCat("{\"verification_requests\":[", requests, "],\"policy_ids\":[", policies, "]}");
}

GrpcReply HandleGrpc(Service& service, std::string_view method, std::span<const uint8_t> request,
                     int64_t now) {
  if (method != attestation::kAsGrpcEvaluateMethod) {
    return Refuse(kGrpcUnimplemented, StrCat("unknown method ", method));
  }
  auto body = GrpcAttestationRequestToJson(request);
  if (!body.ok()) {
    return Refuse(kGrpcAborted, StrCat("parse AttestationRequest: ", body.status().message()));
  }
  Response answer = service.Handle("POST", "/attestation", *body, now);
  if (answer.status != 200) return Refuse(kGrpcAborted, answer.body);
  pb::Writer out;
  out.String(1, answer.body);
  GrpcReply ok;
  ok.body = out.Take();
  return ok;
}

Task<void> ServeGrpcConnection(Reactor& reactor, UniqueFd fd, GrpcHandler handler) {
  TcpStream stream(reactor, std::move(fd));
  Connection connection;
  connection.handler = std::move(handler);
  nghttp2_session_callbacks* raw_callbacks = nullptr;
  if (nghttp2_session_callbacks_new(&raw_callbacks) != 0) co_return;
  std::unique_ptr<nghttp2_session_callbacks, CallbacksDeleter> callbacks(raw_callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(raw_callbacks, OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(raw_callbacks, OnHeader);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(raw_callbacks, OnData);
  nghttp2_session_callbacks_set_on_frame_recv_callback(raw_callbacks, OnFrame);
  nghttp2_session_callbacks_set_on_stream_close_callback(raw_callbacks, OnStreamClose);
  nghttp2_session* raw_session = nullptr;
  if (nghttp2_session_server_new(&raw_session, raw_callbacks, &connection) != 0) co_return;
  std::unique_ptr<nghttp2_session, SessionDeleter> session(raw_session);
  nghttp2_submit_settings(raw_session, NGHTTP2_FLAG_NONE, nullptr, 0);

  std::vector<uint8_t> out;
  std::vector<uint8_t> in(16384);
  while (true) {
    out.clear();
    while (true) {
      const uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(raw_session, &data);
      if (n <= 0) break;
      out.insert(out.end(), data, data + n);
    }
    if (!out.empty() && co_await stream.Write(out) < 0) break;
    if (!nghttp2_session_want_read(raw_session) && !nghttp2_session_want_write(raw_session)) {
      break;
    }
    const int n = co_await stream.Read(in);
    if (n <= 0) break;
    const ssize_t used = nghttp2_session_mem_recv(raw_session, in.data(), static_cast<size_t>(n));
    if (used < 0) {
      TNG_LOG(Info, "reference-as").Kv("error", nghttp2_strerror(static_cast<int>(used)))
          << "gRPC connection: malformed HTTP/2";
      // Let nghttp2 send its GOAWAY before closing.
      const uint8_t* data = nullptr;
      out.clear();
      for (ssize_t m; (m = nghttp2_session_mem_send(raw_session, &data)) > 0;) {
        out.insert(out.end(), data, data + m);
      }
      if (!out.empty()) co_await stream.Write(out);
      break;
    }
  }
}

}  // namespace tng::reference_as
