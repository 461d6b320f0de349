#include "endpoints/control/restful.h"

#include <string>
#include <string_view>

namespace tng::control {
namespace {

// TNG's control interface (tng/src/control_interface/restful.rs) is an axum router with two GET
// routes answering plain text "ok" / "not ok"; axum answers unknown paths 404 with an empty body
// and other methods on a known path 405 with an Allow header. GET routes also take HEAD.
http::Response Text(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.headers.Add("Content-Type", "text/plain; charset=utf-8");
  r.body = std::move(body);
  return r;
}

}  // namespace

http::Response AnswerControlRequest(const Readiness& readiness, const http::Request& request) {
  std::string_view path = request.parsed.path;
  path = path.substr(0, path.find('?'));
  const bool livez = path == "/livez";
  const bool readyz = path == "/readyz";
  if (!livez && !readyz) return Text(404, "");
  if (request.method != "GET" && request.method != "HEAD") {
    http::Response r = Text(405, "");
    r.headers.Add("Allow", "GET,HEAD");
    return r;
  }
  if (livez || readiness.AllReady()) return Text(200, "ok");
  return Text(503, "not ok\n" + readiness.NotReadyReasons());
}

RestfulControl::RestfulControl(Reactor& reactor, UniqueFd listen_fd, const Readiness& readiness)
    : readiness_(readiness),
      server_(
          reactor, std::move(listen_fd),
          [this](const http::Request& request) -> Task<http::Response> {
            co_return AnswerControlRequest(readiness_, request);
          },
          http::HttpServerOptions{.name = "control"}) {}

}  // namespace tng::control
