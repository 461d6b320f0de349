// A small asynchronous HTTP/1.1 client on the reactor: one request per connection to an http://
// URL, with one deadline for resolve + connect + request + response. For https:// (and for
// connection reuse) a higher layer dials and wraps the stream itself and drives an
// HttpClientConnection over it.
#pragma once

#include <chrono>
#include <functional>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/connection_scope.h"
#include "core/http/client_connection.h"
#include "core/http/message.h"
#include "core/http/parser.h"
#include "core/reactor.h"
#include "core/task.h"

namespace tng::http {

struct HttpRequestOptions {
  std::string method = "GET";
  std::string url;  // http://host[:port][/path][?query]
  Headers headers;  // Host is added when absent, and "Connection: close"
  std::string body;
  Duration timeout = std::chrono::seconds(30);  // connect + request + response
  uint64_t max_body = kDefaultClientMaxBody;    // of the response
  ParserLimits limits;                          // of the response head
  // When set, response body bytes go here as they arrive instead of into Response::body.
  std::function<absl::Status(std::span<const uint8_t>)> on_body;
  // When set, the socket is shut down if the reactor's drain deadline forces connections closed.
  ConnectionScope* scope = nullptr;
};

// Errors start with "<METHOD> <url>: " and say what failed: InvalidArgument (bad URL or request),
// Unimplemented (https://), Unavailable (resolve, connect, reset, malformed response),
// DeadlineExceeded (the timeout passed), ResourceExhausted (response larger than the limits).
Task<absl::StatusOr<Response>> Fetch(Reactor& reactor, HttpRequestOptions options);

}  // namespace tng::http
