#include "endpoints/ingress/http_proxy_request.h"

#include <array>
#include <string>
#include <vector>

#include "core/http/serializer.h"
#include "core/http/text.h"
#include "core/http/url.h"
#include "core/json.h"

namespace tng::ingress {

using json::Cat;

namespace {

constexpr std::string_view kServer = "tng/" TNG_VERSION;

ProxyDecision Refuse(int status, std::string reason) {
  return ProxyDecision{ProxyRefusal{status, std::move(reason)}, {}};
}

// Fields that describe one hop, never forwarded (RFC 9110 §7.6.1), plus the proxy's own
// credentials and Transfer-Encoding (the proxy frames what it forwards).
constexpr std::array<std::string_view, 9> kHopByHop = {
    "Connection", "Keep-Alive", "Proxy-Connection",  "Proxy-Authorization",
    "TE",         "Upgrade",    "Transfer-Encoding", "Proxy-Authenticate",
    "Trailer"};

void RemoveHopByHop(http::Headers& h) {
  // The names Connection lists, collected before any field goes (views point into the fields).
  std::vector<std::string> listed;
  for (std::string_view value : h.GetAll("Connection")) {
    size_t pos = 0;
    while (pos <= value.size()) {
      size_t comma = value.find(',', pos);
      if (comma == std::string_view::npos) comma = value.size();
      std::string_view name = value.substr(pos, comma - pos);
      while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
      if (!name.empty()) listed.emplace_back(name);
      pos = comma + 1;
    }
  }
  for (const std::string& name : listed) h.Remove(name);
  for (std::string_view name : kHopByHop) h.Remove(name);
}

}  // namespace

std::string ProxyRequest::authority() const { return http::FormatHostPort(host, port); }

ProxyDecision DecideProxyRequest(const http::Request& head) {
  ProxyDecision d;
  if (head.method == "CONNECT") {
    // The parser accepts CONNECT only with host:port.
    d.request.connect = true;
    d.request.host = http::AsciiLowered(head.parsed.host);
    d.request.port = head.parsed.port;
    return d;
  }
  if (head.headers.Has(kForwardHeader)) return Refuse(400, "recursion is detected");
  if (head.parsed.form == http::TargetForm::kAbsolute) {
    if (head.parsed.scheme != "http") {
      return Refuse(400, Cat("cannot forward a ", head.parsed.scheme,
                             ":// request; only http:// (use CONNECT for https)"));
    }
    d.request.host = http::AsciiLowered(head.parsed.host);
    d.request.port = head.parsed.port;
    return d;
  }
  auto host = head.headers.Get("Host");
  if (!host || host->empty()) {
    return Refuse(400, "no destination: the request has neither an absolute URI nor a Host header");
  }
  auto hp = http::ParseAuthority(*host, 80);
  if (!hp.ok())
    return Refuse(400, Cat("invalid Host header: ", std::string(hp.status().message())));
  d.request.host = http::AsciiLowered(hp->host);
  d.request.port = hp->port;
  return d;
}

void PrepareUpstreamRequest(const ProxyRequest& dst, http::Request& head) {
  RemoveHopByHop(head.headers);
  head.headers.Remove("Content-Length");
  head.headers.Remove("Expect");
  if (head.parsed.form == http::TargetForm::kAbsolute) {
    head.target = head.parsed.path;
    http::Url url;
    url.scheme = "http";
    url.host = dst.host;
    url.port = dst.port;
    url.explicit_port = dst.port != 80;
    head.headers.Set("Host", url.HostHeader());
  }
  head.minor_version = 1;
  head.headers.Set(kForwardHeader, "true");
}

void PrepareClientResponse(http::Response& head) { RemoveHopByHop(head.headers); }

std::string ProxyResponse(int status, std::string_view reason, bool keep_alive) {
  http::Response r;
  r.status = status;
  r.headers.Add("Server", kServer);
  r.headers.Add("Content-Type", "text/plain; charset=utf-8");
  if (!keep_alive) r.headers.Add("Connection", "close");
  r.body = std::string(reason);
  auto wire = http::SerializeResponse(r);
  // Only fixed fields and a body: serialization cannot fail.
  return wire.ok() ? *std::move(wire) : std::string("HTTP/1.1 500 Internal Server Error\r\n\r\n");
}

std::string ConnectEstablished() { return Cat("HTTP/1.1 200 OK\r\nServer: ", kServer, "\r\n\r\n"); }

}  // namespace tng::ingress
