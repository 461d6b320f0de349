#include "core/http/serializer.h"

#include "core/http/text.h"

namespace tng::http {
namespace {

bool IsFramingField(std::string_view name) {
  return EqualsIgnoreCase(name, "Content-Length") || EqualsIgnoreCase(name, "Transfer-Encoding");
}

absl::Status AppendFields(const Headers& headers, Framing framing, std::string* out) {
  for (const auto& f : headers) {
    if (auto st = ValidateField(f.name, f.value); !st.ok()) return st;
    if (framing.kind != Framing::Kind::kAsGiven && IsFramingField(f.name)) continue;
    out->append(f.name);
    out->append(": ");
    out->append(f.value);
    out->append("\r\n");
  }
  switch (framing.kind) {
    case Framing::Kind::kContentLength:
      out->append("Content-Length: ");
      out->append(std::to_string(framing.length));
      out->append("\r\n");
      break;
    case Framing::Kind::kChunked:
      out->append("Transfer-Encoding: chunked\r\n");
      break;
    case Framing::Kind::kNone:
    case Framing::Kind::kAsGiven:
      break;
  }
  out->append("\r\n");
  return absl::OkStatus();
}

void AppendVersion(int minor_version, std::string* out) {
  out->append(minor_version == 0 ? "HTTP/1.0" : "HTTP/1.1");
}

bool MethodCarriesBody(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

// Body framing for a whole message.
absl::Status AppendBody(std::string_view body, bool chunked, const Headers& trailers,
                        std::string* out) {
  if (!chunked) {
    out->append(body);
    return absl::OkStatus();
  }
  AppendChunk(body, out);
  return AppendLastChunk(trailers, out);
}

}  // namespace

absl::Status ValidateField(std::string_view name, std::string_view value) {
  if (!IsToken(name)) {
    return absl::InvalidArgumentError(Cat("invalid header name '", name, "'"));
  }
  for (size_t i = 0; i < value.size(); ++i) {
    if (!IsFieldValueChar(static_cast<uint8_t>(value[i]))) {
      return absl::InvalidArgumentError(Cat("header ", name, ": character ", DescribeByte(value[i]),
                                            " at offset ", i, " of the value is not allowed"));
    }
  }
  return absl::OkStatus();
}

absl::Status AppendRequestHead(const Request& request, Framing framing, std::string* out) {
  if (!IsToken(request.method)) {
    return absl::InvalidArgumentError(Cat("invalid method '", request.method, "'"));
  }
  if (request.target.empty()) return absl::InvalidArgumentError("empty request target");
  for (char c : request.target) {
    if (!IsTargetChar(static_cast<uint8_t>(c))) {
      return absl::InvalidArgumentError(Cat("request target '", request.target, "': character ",
                                            DescribeByte(c), " not allowed"));
    }
  }
  out->append(request.method);
  out->push_back(' ');
  out->append(request.target);
  out->push_back(' ');
  AppendVersion(request.minor_version, out);
  out->append("\r\n");
  return AppendFields(request.headers, framing, out);
}

absl::Status AppendResponseHead(const Response& response, Framing framing, std::string* out) {
  if (response.status < 100 || response.status > 999) {
    return absl::InvalidArgumentError(Cat("invalid status code ", response.status));
  }
  std::string_view reason =
      response.reason.empty() ? ReasonPhrase(response.status) : std::string_view(response.reason);
  for (char c : reason) {
    if (!IsFieldValueChar(static_cast<uint8_t>(c))) {
      return absl::InvalidArgumentError(
          Cat("reason phrase: character ", DescribeByte(c), " not allowed"));
    }
  }
  AppendVersion(response.minor_version, out);
  out->push_back(' ');
  out->append(std::to_string(response.status));
  out->push_back(' ');
  out->append(reason);
  out->append("\r\n");
  return AppendFields(response.headers, framing, out);
}

absl::StatusOr<std::string> SerializeRequest(const Request& request) {
  std::string out;
  Framing framing = Framing::None();
  if (request.chunked) {
    framing = Framing::Chunked();
  } else if (!request.body.empty() || MethodCarriesBody(request.method)) {
    framing = Framing::ContentLength(request.body.size());
  }
  out.reserve(256 + request.body.size());
  if (auto st = AppendRequestHead(request, framing, &out); !st.ok()) return st;
  if (auto st = AppendBody(request.body, request.chunked, request.trailers, &out); !st.ok()) {
    return st;
  }
  return out;
}

absl::StatusOr<std::string> SerializeResponse(const Response& response,
                                              std::string_view request_method) {
  std::string out;
  const int s = response.status;
  const bool never_body =
      s < 200 || s == 204 || s == 304 || (request_method == "CONNECT" && s >= 200 && s < 300);
  if (never_body) {
    if (!response.body.empty()) {
      return absl::InvalidArgumentError(
          Cat("a ", s, " response to ", request_method, " cannot carry a body"));
    }
    if (auto st = AppendResponseHead(response, Framing::None(), &out); !st.ok()) return st;
    return out;
  }
  Framing framing =
      response.chunked ? Framing::Chunked() : Framing::ContentLength(response.body.size());
  out.reserve(256 + response.body.size());
  if (auto st = AppendResponseHead(response, framing, &out); !st.ok()) return st;
  if (request_method == "HEAD") return out;
  if (auto st = AppendBody(response.body, response.chunked, response.trailers, &out); !st.ok()) {
    return st;
  }
  return out;
}

void AppendChunkHeader(uint64_t size, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[16];
  int n = 0;
  do {
    buf[n++] = kHex[size & 15];
    size >>= 4;
  } while (size != 0);
  while (n > 0) out->push_back(buf[--n]);
  out->append("\r\n");
}

void AppendChunk(std::string_view data, std::string* out) {
  if (data.empty()) return;
  AppendChunkHeader(data.size(), out);
  out->append(data);
  out->append("\r\n");
}

void AppendChunk(std::span<const uint8_t> data, std::string* out) {
  AppendChunk(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()), out);
}

absl::Status AppendLastChunk(const Headers& trailers, std::string* out) {
  out->append("0\r\n");
  return AppendFields(trailers, Framing::AsGiven(), out);
}

}  // namespace tng::http
