// What one http_proxy client request asks for, decided from its parsed head: a CONNECT tunnel or
// a forwarded request, and to which destination; and the heads as they leave the proxy (request
// in origin-form for the upstream, response for the client) with hop-by-hop fields removed and
// TNG's recursion guard added. Pure functions over core/http messages: no sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/http/message.h"
#include "endpoints/ingress/dst_filter.h"

namespace tng::ingress {

// Added to every forwarded request; a request that already carries it has gone round through a
// proxy ingress (a proxy pointing at itself, or two pointing at each other) and is refused.
inline constexpr std::string_view kForwardHeader = "X-Tng-Http-Forward";

// A request the proxy answers itself: the status and a short reason (the response body).
struct ProxyRefusal {
  int status = 400;
  std::string reason;
};

struct ProxyRequest {
  bool connect = false;  // CONNECT: a byte tunnel; else one forwarded HTTP exchange
  std::string host;      // lower case; IPv6 literals without brackets
  uint16_t port = 0;

  Destination destination() const { return Destination::FromHost(host, port); }
  std::string authority() const;  // "host:port", "[v6]:port"
};

// Decides from a parsed request head. The destination of CONNECT is its authority; of other
// requests the absolute URI's authority (its Host header is ignored, RFC 9112 §3.2.2), else the
// Host header (a client treating the proxy as the origin, as TNG accepts), port 80 by default.
// Refused: non-http absolute URIs, no destination, an invalid Host, and the recursion guard.
struct ProxyDecision {
  std::optional<ProxyRefusal> refusal;
  ProxyRequest request;  // when not refused
};
ProxyDecision DecideProxyRequest(const http::Request& head);

// Rewrites a forwarded request head for the upstream: origin-form target, Host from the
// destination, HTTP/1.1, hop-by-hop fields (Connection and those it names, Keep-Alive,
// Proxy-Connection, Proxy-Authorization, TE, Upgrade, Expect) and framing fields removed (the
// caller frames the body it streams), and the recursion guard set.
void PrepareUpstreamRequest(const ProxyRequest& dst, http::Request& head);

// Removes hop-by-hop fields and Transfer-Encoding from an upstream response before it goes to the
// client (Content-Length stays: it is replaced when the body is framed, and kept as it is for
// responses without a body, such as those to HEAD).
void PrepareClientResponse(http::Response& head);

// A complete response the proxy sends itself: status line, Server, a text/plain body with the
// reason, and Connection: close unless `keep_alive`.
std::string ProxyResponse(int status, std::string_view reason, bool keep_alive = false);

// The answer to a CONNECT whose tunnel is open: the client's bytes flow from here on.
std::string ConnectEstablished();

}  // namespace tng::ingress
