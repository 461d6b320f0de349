#include "endpoints/access_log.h"

#include <sys/socket.h>

#include <cstring>

#include "core/log.h"
#include "core/net.h"

namespace tng {

AccessLog::AccessLog(std::string_view endpoint_id, std::string_view side, EndpointStats& stats)
    : endpoint_id_(endpoint_id),
      side_(side),
      stats_(stats),
      start_(std::chrono::steady_clock::now()) {
  ++stats_.cx_total;
  ++stats_.cx_active;
}

AccessLog::~AccessLog() { --stats_.cx_active; }

void AccessLog::SetPeer(int fd) {
  SocketAddress a;
  if (getpeername(fd, a.mutable_sa(), a.mutable_len()) == 0) peer_ = a.ToString();
}

void AccessLog::Fail(std::string_view stage, const absl::Status& status) {
  ++stats_.cx_failed;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start_)
                .count();
  TNG_LOG(Warn, "access")
          .Kv("endpoint", endpoint_id_)
          .Kv("side", side_)
          .Kv("peer", peer_)
          .Kv("stage", stage)
          .Kv("duration_ms", ms)
          .Kv("error", status.message())
      << "connection failed";
}

void AccessLog::Done(uint64_t app_to_tunnel, uint64_t tunnel_to_app, int app_error,
                     int tunnel_error) {
  stats_.rx_bytes_total += app_to_tunnel;
  stats_.tx_bytes_total += tunnel_to_app;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start_)
                .count();
  const bool clean = app_error == 0 && tunnel_error == 0;
  if (LogLevel::Info > CurrentLogLevel()) return;
  LogLine line(LogLevel::Info, "access");
  line.Kv("endpoint", endpoint_id_).Kv("side", side_).Kv("peer", peer_);
  if (!attestation_.local_tee.empty()) line.Kv("local_tee", attestation_.local_tee);
  if (attestation_.peer_verified) {
    std::string ids;
    for (const auto& id : attestation_.peer_policy_ids) {
      if (!ids.empty()) ids += ',';
      ids += id;
    }
    line.Kv("peer_tee", attestation_.peer_tee.empty() ? "-" : attestation_.peer_tee)
        .Kv("peer_policy_ids", ids.empty() ? "-" : ids);
  }
  line.Kv("app_to_tunnel", app_to_tunnel)
      .Kv("tunnel_to_app", tunnel_to_app)
      .Kv("duration_ms", ms)
      .Kv("result", clean ? "ok" : "reset")
      .Kv("app_error", app_error == 0 ? "-" : strerror(-app_error))
      .Kv("tunnel_error", tunnel_error == 0 ? "-" : strerror(-tunnel_error));
  line << "connection closed";
}

}  // namespace tng
