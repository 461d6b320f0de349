// Drives a Parser over a whole wire image in pieces of a given size and records everything it
// reported, so that tests can compare byte-at-a-time feeding with whole feeding.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "core/http/parser.h"

namespace tng::http::testing {

struct Outcome {
  bool headers_done = false;
  bool done = false;
  int http_status = 0;  // of an error
  std::string error;    // empty when none
  uint64_t error_offset = 0;
  size_t consumed = 0;  // bytes taken from the wire
  std::string method, target, reason;
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers, trailers;
  std::string body;
  size_t body_events = 0;
  bool bodies_point_into_input = true;  // every kBody span lay inside the bytes fed

  bool operator==(const Outcome& o) const {
    return headers_done == o.headers_done && done == o.done && http_status == o.http_status &&
           error == o.error && error_offset == o.error_offset && consumed == o.consumed &&
           method == o.method && target == o.target && reason == o.reason && status == o.status &&
           headers == o.headers && trailers == o.trailers && body == o.body;
  }
};

inline std::vector<std::pair<std::string, std::string>> Fields(const Headers& h) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& f : h) out.emplace_back(f.name, f.value);
  return out;
}

// Feeds `wire` in pieces of `piece` bytes (0: all at once) until the message is done or fails;
// with `eof`, the end of the wire is the peer closing the connection.
inline Outcome Drive(Parser& p, std::string_view wire, size_t piece, bool eof = false) {
  Outcome o;
  size_t pos = 0;
  std::string_view pending;  // fed but not consumed
  auto record_head = [&] {
    o.headers_done = true;
    o.method = p.request().method;
    o.target = p.request().target;
    o.status = p.response().status;
    o.reason = p.response().reason;
    o.headers = Fields(p.request().headers);
    if (o.headers.empty()) o.headers = Fields(p.response().headers);
  };
  bool need_more = true;  // the last event asked for input
  for (;;) {
    if (pending.empty() && need_more) {
      if (pos == wire.size()) {
        if (!eof) return o;
        auto r = p.FinishAtEof();
        if (r.event == Parser::Event::kMessageDone) {
          o.done = true;
          o.trailers = Fields(p.response().trailers);
        } else {
          o.error = std::string(p.error().message());
          o.http_status = p.error_http_status();
          o.error_offset = p.error_offset();
        }
        return o;
      }
      size_t n = piece == 0 ? wire.size() - pos : std::min(piece, wire.size() - pos);
      pending = wire.substr(pos, n);
      pos += n;
    }
    auto r = p.Feed(pending);
    const char* fed = pending.data();
    o.consumed += r.consumed;
    pending.remove_prefix(r.consumed);
    need_more = r.event == Parser::Event::kNeedMore;
    switch (r.event) {
      case Parser::Event::kNeedMore:
        break;
      case Parser::Event::kHeadersDone:
        record_head();
        break;
      case Parser::Event::kBody: {
        auto* b = reinterpret_cast<const char*>(r.body.data());
        if (b < fed || b + r.body.size() > pending.data()) o.bodies_point_into_input = false;
        o.body.append(b, r.body.size());
        ++o.body_events;
        break;
      }
      case Parser::Event::kMessageDone:
        o.done = true;
        o.trailers = Fields(p.request().trailers);
        if (o.trailers.empty()) o.trailers = Fields(p.response().trailers);
        return o;
      case Parser::Event::kError:
        o.error = std::string(p.error().message());
        o.http_status = p.error_http_status();
        o.error_offset = p.error_offset();
        return o;
    }
  }
}

inline Outcome DriveRequest(std::string_view wire, size_t piece, ParserLimits limits = {}) {
  Parser p(MessageKind::kRequest, limits);
  return Drive(p, wire, piece);
}

inline Outcome DriveResponse(std::string_view wire, size_t piece, std::string_view method = "GET",
                             bool eof = true) {
  Parser p(MessageKind::kResponse);
  p.SetRequestMethod(method);
  return Drive(p, wire, piece, eof);
}

}  // namespace tng::http::testing
