#include "core/http/parser.h"

#include <algorithm>
#include <cstring>

#include "core/http/line_parser.h"
#include "core/http/text.h"

namespace tng::http {
namespace {

// Empty lines a server ignores before a request line (RFC 9112 §2.2 asks for at least one).
constexpr size_t kMaxLeadingEmptyLines = 8;
// Room for this many header fields is reserved up front (a browser sends about a dozen).
constexpr size_t kTypicalFields = 16;

absl::StatusCode CodeFor(int http_status) {
  switch (http_status) {
    case 413:
    case 414:
    case 431:
      return absl::StatusCode::kResourceExhausted;
    case 501:
    case 505:
      return absl::StatusCode::kUnimplemented;
    default:
      return absl::StatusCode::kInvalidArgument;
  }
}

}  // namespace

Parser::Parser(MessageKind kind, ParserLimits limits) : kind_(kind), limits_(limits) {
  fields().reserve(kTypicalFields);
}

void Parser::Reset() {
  state_ = State::kHead;
  offset_ = 0;
  line_.clear();
  start_line_done_ = false;
  empty_lines_ = 0;
  block_bytes_ = 0;
  block_fields_ = 0;
  field_offsets_.clear();
  body_kind_ = BodyKind::kNone;
  content_length_.reset();
  remaining_ = 0;
  body_bytes_ = 0;
  // Cleared rather than replaced: the field vector keeps its capacity across keep-alive messages
  // (a moved-from message is cleared the same way).
  if (line_.capacity() > 4096) std::string().swap(line_);
  request_.method.clear();
  request_.target.clear();
  request_.parsed = RequestTarget();
  request_.minor_version = 1;
  request_.headers.clear();
  request_.body.clear();
  request_.trailers.clear();
  request_.chunked = false;
  response_.status = 0;
  response_.reason.clear();
  response_.minor_version = 1;
  response_.headers.clear();
  response_.body.clear();
  response_.trailers.clear();
  response_.chunked = false;
  fields().reserve(kTypicalFields);
  error_ = absl::OkStatus();
  error_http_status_ = 0;
  error_offset_ = 0;
}

bool Parser::Fail(int http_status, std::string what, uint64_t offset) {
  state_ = State::kError;
  error_http_status_ = kind_ == MessageKind::kResponse ? 502 : http_status;
  error_offset_ = offset;
  error_ = absl::Status(CodeFor(http_status), Cat(what, " at offset ", offset));
  return false;
}

std::string Parser::BlockLineName() const {
  if (state_ == State::kHead && !start_line_done_) {
    return kind_ == MessageKind::kRequest ? "request line" : "status line";
  }
  return Cat(state_ == State::kHead ? "header" : "trailer", " line ", block_fields_ + 1);
}

std::optional<std::string_view> Parser::TakeLine(std::span<const uint8_t> input, size_t& pos,
                                                 uint64_t& line_offset) {
  const char* base = reinterpret_cast<const char*>(input.data());
  line_offset = offset_ + pos - line_.size();
  if (pos == input.size()) return std::nullopt;
  const void* lf = std::memchr(base + pos, '\n', input.size() - pos);
  if (lf == nullptr) {
    line_.append(base + pos, input.size() - pos);
    pos = input.size();
    return std::nullopt;
  }
  size_t end = static_cast<size_t>(static_cast<const char*>(lf) - base) + 1;
  std::string_view line;
  if (line_.empty()) {
    line = std::string_view(base + pos, end - pos);  // whole line in the input: no copy
  } else {
    line_.append(base + pos, end - pos);
    line = line_;
  }
  pos = end;
  return line;
}

Parser::Result Parser::Feed(std::span<const uint8_t> in) {
  size_t pos = 0;
  auto finish = [&](Event e, std::span<const uint8_t> body = {}) {
    offset_ += pos;
    return Result{e, pos, body};
  };
  for (;;) {
    switch (state_) {
      case State::kError:
        return Result{Event::kError, 0, {}};
      case State::kDone:
        return finish(Event::kMessageDone);
      case State::kHead:
      case State::kTrailers: {
        uint64_t line_offset = 0;
        auto line = TakeLine(in, pos, line_offset);
        if (!line) {
          if (!PartialBlockLineFits(line_offset)) return finish(Event::kError);
          return finish(Event::kNeedMore);
        }
        auto event = OnBlockLine(*line, line_offset);
        line_.clear();
        if (event) return finish(*event);
        break;
      }
      case State::kChunkLine: {
        uint64_t line_offset = 0;
        auto line = TakeLine(in, pos, line_offset);
        if (!line) {
          if (line_.size() > limits_.max_chunk_line + 1) {
            Fail(400, Cat("chunk size line longer than ", limits_.max_chunk_line, " bytes"),
                 line_offset + limits_.max_chunk_line);
            return finish(Event::kError);
          }
          return finish(Event::kNeedMore);
        }
        bool ok = OnChunkLine(*line, line_offset);
        line_.clear();
        if (!ok) return finish(Event::kError);
        break;
      }
      case State::kLengthBody:
      case State::kChunkData: {
        if (pos == in.size()) return finish(Event::kNeedMore);
        size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, in.size() - pos));
        auto body = in.subspan(pos, n);
        pos += n;
        remaining_ -= n;
        body_bytes_ += n;
        if (remaining_ == 0) {
          state_ = state_ == State::kLengthBody ? State::kDone : State::kChunkDataCr;
        }
        return finish(Event::kBody, body);
      }
      case State::kChunkDataCr:
      case State::kChunkDataLf: {
        if (pos == in.size()) return finish(Event::kNeedMore);
        const bool cr = state_ == State::kChunkDataCr;
        if (in[pos] != (cr ? '\r' : '\n')) {
          Fail(400, Cat("chunk data not followed by CRLF (found ", DescribeByte(in[pos]), ")"),
               offset_ + pos);
          return finish(Event::kError);
        }
        ++pos;
        state_ = cr ? State::kChunkDataLf : State::kChunkLine;
        break;
      }
      case State::kUntilClose: {
        if (pos == in.size()) return finish(Event::kNeedMore);
        auto body = in.subspan(pos);
        pos = in.size();
        body_bytes_ += body.size();
        if (body_bytes_ > limits_.max_body) {
          Fail(413, Cat("body exceeds the limit of ", limits_.max_body, " bytes"),
               offset_ + pos - (body_bytes_ - limits_.max_body));
          return finish(Event::kError);
        }
        return finish(Event::kBody, body);
      }
    }
  }
}

bool Parser::PartialBlockLineFits(uint64_t line_offset) {
  if (state_ == State::kHead && !start_line_done_) {
    // One more byte than the limit: the CR of the line's CRLF may be in already.
    if (line_.size() <= limits_.max_start_line + 1) return true;
    return Fail(kind_ == MessageKind::kRequest ? 414 : 400,
                Cat(BlockLineName(), " longer than ", limits_.max_start_line, " bytes"),
                line_offset + limits_.max_start_line);
  }
  if (block_bytes_ + line_.size() <= limits_.max_header_bytes) return true;
  return Fail(431,
              Cat(state_ == State::kHead ? "header" : "trailer", " block larger than ",
                  limits_.max_header_bytes, " bytes"),
              line_offset + (limits_.max_header_bytes - block_bytes_));
}

std::optional<Parser::Event> Parser::OnBlockLine(std::string_view line, uint64_t line_offset) {
  if (line.size() < 2 || line[line.size() - 2] != '\r') {
    Fail(400, Cat(BlockLineName(), ": line ends with a bare LF (CRLF required)"),
         line_offset + line.size() - 1);
    return Event::kError;
  }
  std::string_view content = line.substr(0, line.size() - 2);
  const bool head = state_ == State::kHead;
  if (head && !start_line_done_) {
    if (content.empty() && kind_ == MessageKind::kRequest) {
      if (++empty_lines_ > kMaxLeadingEmptyLines) {
        Fail(400, "too many empty lines before the request line", line_offset);
        return Event::kError;
      }
      return std::nullopt;
    }
    if (content.size() > limits_.max_start_line) {
      Fail(kind_ == MessageKind::kRequest ? 414 : 400,
           Cat(BlockLineName(), " longer than ", limits_.max_start_line, " bytes"),
           line_offset + limits_.max_start_line);
      return Event::kError;
    }
    auto error = kind_ == MessageKind::kRequest
                     ? internal::ParseRequestLine(content, line_offset, &request_)
                     : internal::ParseStatusLine(content, line_offset, &response_);
    if (error) {
      Fail(error->http_status, std::move(error->what), error->offset);
      return Event::kError;
    }
    start_line_done_ = true;
    return std::nullopt;
  }
  const char* block = head ? "header" : "trailer";
  block_bytes_ += line.size();
  if (block_bytes_ > limits_.max_header_bytes) {
    Fail(431, Cat(block, " block larger than ", limits_.max_header_bytes, " bytes"),
         line_offset + line.size() - (block_bytes_ - limits_.max_header_bytes));
    return Event::kError;
  }
  if (content.empty()) {
    if (head) {
      if (!DetermineFraming(line_offset)) return Event::kError;
      return Event::kHeadersDone;
    }
    state_ = State::kDone;
    return Event::kMessageDone;
  }
  if (block_fields_ + 1 > limits_.max_headers) {
    Fail(431, Cat("more than ", limits_.max_headers, " ", block, " fields"), line_offset);
    return Event::kError;
  }
  ++block_fields_;
  if (head) field_offsets_.push_back(line_offset);
  auto error = internal::ParseFieldLine(content, line_offset, block, block_fields_,
                                        head ? &fields() : &trailers());
  if (error) {
    Fail(error->http_status, std::move(error->what), error->offset);
    return Event::kError;
  }
  return std::nullopt;
}

bool Parser::OnChunkLine(std::string_view line, uint64_t line_offset) {
  if (line.size() < 2 || line[line.size() - 2] != '\r') {
    return Fail(400, "chunk size line: line ends with a bare LF (CRLF required)",
                line_offset + line.size() - 1);
  }
  std::string_view content = line.substr(0, line.size() - 2);
  if (content.size() > limits_.max_chunk_line) {
    return Fail(400, Cat("chunk size line longer than ", limits_.max_chunk_line, " bytes"),
                line_offset + limits_.max_chunk_line);
  }
  internal::ChunkLine chunk = internal::ParseChunkLine(content, line_offset);
  if (chunk.error) return Fail(chunk.error->http_status, chunk.error->what, chunk.error->offset);
  if (chunk.size > limits_.max_body - body_bytes_) {
    return Fail(413, Cat("chunked body exceeds the limit of ", limits_.max_body, " bytes"),
                line_offset);
  }
  if (chunk.size == 0) {
    state_ = State::kTrailers;
    block_bytes_ = 0;
    block_fields_ = 0;
  } else {
    remaining_ = chunk.size;
    state_ = State::kChunkData;
  }
  return true;
}

bool Parser::DetermineFraming(uint64_t head_end) {
  const Headers& h = fields();
  const bool is_request = kind_ == MessageKind::kRequest;
  auto where = [&](size_t i) {
    return Cat("header line ", i + 1, " (", std::string_view(h[i].name), ")");
  };
  if (is_request) {
    std::optional<size_t> first_host;
    for (size_t i = 0; i < h.size(); ++i) {
      if (!EqualsIgnoreCase(h[i].name, "Host")) continue;
      if (first_host) return Fail(400, Cat(where(i), ": more than one Host"), field_offsets_[i]);
      first_host = i;
    }
    if (!first_host && limits_.require_host && request_.minor_version == 1) {
      return Fail(400, "missing Host header (required in HTTP/1.1)", head_end);
    }
  } else if (ResponseHasNoBody(request_method_, response_.status)) {
    body_kind_ = BodyKind::kNone;
    state_ = State::kDone;
    return true;
  }

  std::optional<size_t> te_field, cl_field;
  bool chunked = false;
  bool any_coding = false;
  std::optional<uint64_t> length;
  for (size_t i = 0; i < h.size(); ++i) {
    const bool te = EqualsIgnoreCase(h[i].name, "Transfer-Encoding");
    const bool cl = !te && EqualsIgnoreCase(h[i].name, "Content-Length");
    if (!te && !cl) continue;
    if ((te && cl_field) || (cl && te_field)) {
      return Fail(400,
                  Cat(where(i),
                      ": both Transfer-Encoding and Content-Length (a request smuggling pattern)"),
                  field_offsets_[i]);
    }
    (te ? te_field : cl_field) = i;
    std::string_view list = h[i].value;
    for (;;) {
      size_t comma = list.find(',');
      std::string_view item = TrimOws(list.substr(0, comma));
      if (te && !item.empty()) {
        any_coding = true;
        if (chunked) {
          return Fail(400,
                      Cat(where(i), ": ",
                          EqualsIgnoreCase(item, "chunked") ? "chunked twice" : "chunked not last"),
                      field_offsets_[i]);
        }
        if (!EqualsIgnoreCase(item, "chunked")) {
          return Fail(501, Cat(where(i), ": unsupported transfer coding '", item, "'"),
                      field_offsets_[i]);
        }
        chunked = true;
      } else if (cl) {
        bool digits = !item.empty() && std::all_of(item.begin(), item.end(),
                                                   [](char c) { return c >= '0' && c <= '9'; });
        if (!digits) {
          return Fail(400, Cat(where(i), ": invalid Content-Length '", h[i].value, "'"),
                      field_offsets_[i]);
        }
        uint64_t v = 0;
        bool overflow = item.size() > 19;
        for (char c : item) v = v * 10 + static_cast<uint64_t>(c - '0');
        if (overflow || v > limits_.max_body) {
          return Fail(413,
                      Cat(where(i), ": body of ", item, " bytes exceeds the limit of ",
                          limits_.max_body, " bytes"),
                      field_offsets_[i]);
        }
        if (length && *length != v) {
          return Fail(400,
                      Cat(where(i), ": conflicting Content-Length values ", *length, " and ", v,
                          " (a request smuggling pattern)"),
                      field_offsets_[i]);
        }
        length = v;
      }
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  if (te_field) {
    if (is_request && request_.minor_version == 0) {
      return Fail(400, Cat(where(*te_field), ": Transfer-Encoding in an HTTP/1.0 request"),
                  field_offsets_[*te_field]);
    }
    if (!any_coding) {
      return Fail(400, Cat(where(*te_field), ": empty Transfer-Encoding"),
                  field_offsets_[*te_field]);
    }
    body_kind_ = BodyKind::kChunked;
    state_ = State::kChunkLine;
    (is_request ? request_.chunked : response_.chunked) = true;
    return true;
  }
  if (length) {
    content_length_ = length;
    remaining_ = *length;
    body_kind_ = *length == 0 ? BodyKind::kNone : BodyKind::kContentLength;
    state_ = *length == 0 ? State::kDone : State::kLengthBody;
    return true;
  }
  body_kind_ = is_request ? BodyKind::kNone : BodyKind::kUntilClose;
  state_ = is_request ? State::kDone : State::kUntilClose;
  return true;
}

Parser::Result Parser::FinishAtEof() {
  const char* what = kind_ == MessageKind::kRequest ? "request" : "response";
  switch (state_) {
    case State::kUntilClose:
      state_ = State::kDone;
      return Result{Event::kMessageDone, 0, {}};
    case State::kDone:
      return Result{Event::kMessageDone, 0, {}};
    case State::kError:
      return Result{Event::kError, 0, {}};
    case State::kHead:
      if (!started()) {
        Fail(400, Cat("connection closed before the ", what, " began"), 0);
      } else {
        Fail(400, Cat("connection closed in the ", what, "'s ", BlockLineName()),
             offset_ + line_.size());
      }
      break;
    case State::kLengthBody:
      Fail(400,
           Cat("connection closed after ", body_bytes_, " of ", *content_length_, " body bytes"),
           offset_);
      break;
    case State::kTrailers:
      Fail(400, "connection closed in the trailers", offset_ + line_.size());
      break;
    default:
      Fail(400, Cat("connection closed in the chunked body after ", body_bytes_, " bytes"),
           offset_ + line_.size());
      break;
  }
  return Result{Event::kError, 0, {}};
}

namespace {

// Runs a parser over one complete message, collecting the body.
absl::Status ParseWhole(Parser& p, std::string_view bytes, std::string* body) {
  for (;;) {
    auto r = p.Feed(bytes);
    bytes.remove_prefix(r.consumed);
    switch (r.event) {
      case Parser::Event::kHeadersDone:
        break;
      case Parser::Event::kBody:
        body->append(reinterpret_cast<const char*>(r.body.data()), r.body.size());
        break;
      case Parser::Event::kNeedMore:
        if (p.FinishAtEof().event == Parser::Event::kError) return p.error();
        return absl::OkStatus();
      case Parser::Event::kMessageDone:
        if (!bytes.empty()) {
          return absl::InvalidArgumentError(
              Cat(bytes.size(), " bytes after the end of the message"));
        }
        return absl::OkStatus();
      case Parser::Event::kError:
        return p.error();
    }
  }
}

}  // namespace

absl::StatusOr<Request> ParseRequest(std::string_view bytes, const ParserLimits& limits) {
  Parser p(MessageKind::kRequest, limits);
  std::string body;
  if (auto st = ParseWhole(p, bytes, &body); !st.ok()) return st;
  Request out = std::move(p.request());
  out.body = std::move(body);
  return out;
}

absl::StatusOr<Response> ParseResponse(std::string_view bytes, std::string_view request_method,
                                       const ParserLimits& limits) {
  Parser p(MessageKind::kResponse, limits);
  p.SetRequestMethod(request_method);
  std::string body;
  if (auto st = ParseWhole(p, bytes, &body); !st.ok()) return st;
  Response out = std::move(p.response());
  out.body = std::move(body);
  return out;
}

}  // namespace tng::http
