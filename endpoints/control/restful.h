// The control interface's REST listener (`control_interface.restful`, TNG 1.x `admin_bind`):
// TNG's health probes on one reactor. GET /livez answers 200 "ok" while the process serves;
// GET /readyz answers 200 "ok" once every readiness condition holds, else 503 "not ok" followed
// by one "name: reason" line per missing condition. Other paths 404, other methods 405.
#pragma once

#include "core/fd.h"
#include "core/http/message.h"
#include "core/http/server.h"
#include "core/reactor.h"
#include "endpoints/control/readiness.h"

namespace tng::control {

// The answer to one control request (what RestfulControl serves; no I/O).
http::Response AnswerControlRequest(const Readiness& readiness, const http::Request& request);

class RestfulControl {
 public:
  // `readiness` must outlive the server. Call Start() on the reactor's thread; the server stops
  // by itself when the reactor drains.
  RestfulControl(Reactor& reactor, UniqueFd listen_fd, const Readiness& readiness);

  void Start() { server_.Start(); }
  void Stop() { server_.Stop(); }

 private:
  const Readiness& readiness_;
  http::HttpServer server_;
};

}  // namespace tng::control
