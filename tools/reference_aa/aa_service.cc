#include "tools/reference_aa/aa_service.h"

#include <poll.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "attestation/aa_protocol.h"
#include "core/connection_scope.h"
#include "core/log.h"
#include "crypto/str_cat.h"

namespace tng::reference_aa {
namespace {

namespace aa = attestation::aa;
namespace ttrpc = attestation::ttrpc;
using crypto::StrCat;

// google.rpc.Code values used here.
constexpr int32_t kInvalidArgument = 3;
constexpr int32_t kDeadlineExceeded = 4;
constexpr int32_t kUnimplemented = 12;
constexpr int32_t kInternal = 13;

ttrpc::Response Error(int32_t code, std::string message) {
  return ttrpc::Response{.status = {.code = code, .message = std::move(message)}, .payload = {}};
}

ttrpc::Response Ok(std::vector<uint8_t> payload) {
  return ttrpc::Response{.status = {}, .payload = std::move(payload)};
}

std::span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Waits `d` unless the connection is gone first (the peer closed it, or a drain shut it down):
// false then. A peer that only half-closed (SHUT_WR) still gets its answer.
Task<bool> WaitUnlessHungUp(Reactor& reactor, int fd, Duration d) {
  const auto start = std::chrono::steady_clock::now();
  // io_uring always reports POLLRDHUP (a half-close) along with POLLHUP and POLLERR.
  int rc = co_await Submit(
      reactor, [fd](io_uring_sqe* s) { io_uring_prep_poll_add(s, fd, POLLHUP); }, d);
  if (rc == -ETIMEDOUT) co_return true;
  if (rc > 0 && (rc & (POLLHUP | POLLERR)) == 0) {
    // Half-closed: the peer still reads. Polling again would fire at once, so just sleep.
    const auto rest =
        d - std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - start);
    if (rest > Duration::zero()) co_await Sleep(reactor, rest);
    co_return true;
  }
  co_return false;
}

}  // namespace

ttrpc::Response Answer(const AaServiceOptions& options, const ttrpc::Request& request) {
  if (request.service != aa::kService) {
    return Error(kInvalidArgument, StrCat(request.service, " service does not exist"));
  }
  const std::string& method = request.method;
  if (method == aa::kGetEvidence || method == aa::kGetAdditionalEvidence) {
    auto runtime_data = aa::DecodeEvidenceRequest(request.payload);
    if (!runtime_data.ok()) {
      return Error(kInvalidArgument, std::string(runtime_data.status().message()));
    }
    // Like an AA without additional attesters: empty evidence.
    if (method == aa::kGetAdditionalEvidence) return Ok(aa::EncodeEvidenceResponse({}));
    if (options.fail_evidence) {
      // The message the real AA sends when its attester fails.
      return Error(kInternal, "[ERROR:attestation-agent] AA-KBC get evidence failed");
    }
    const std::string evidence = aa::SampleEvidence(
        options.report_data_override ? *options.report_data_override : *runtime_data);
    return Ok(aa::EncodeEvidenceResponse(AsBytes(evidence)));
  }
  if (method == aa::kGetTeeType) return Ok(aa::EncodeTeeTypeResponse("sample"));
  if (method == aa::kGetAdditionalTees) return Ok(aa::EncodeAdditionalTeesResponse({}));
  return Error(kUnimplemented,
               StrCat(method, " method (not served by the reference attestation agent)"));
}

Task<void> ServeConnection(Reactor& reactor, UniqueFd fd, const AaServiceOptions& options,
                           uint64_t connection_id) {
  ConnectionScope scope(reactor);  // a drain deadline shuts the socket down
  scope.Watch(fd.get());
  ttrpc::FrameDecoder decoder;
  std::vector<uint8_t> buf(16384);
  bool open = true;
  while (open) {
    auto next = decoder.Next();
    if (!next.ok()) {
      TNG_LOG(Warn, "reference-aa")
              .Kv("connection", connection_id)
              .Kv("error", next.status().message())
          << "closing connection: malformed frame";
      break;
    }
    if (!*next) {
      int n = co_await Recv(reactor, fd.get(), buf);
      if (n <= 0) {
        if (n < 0 || decoder.buffered() > 0) {
          TNG_LOG(Info, "reference-aa")
                  .Kv("connection", connection_id)
                  .Kv("error", n < 0 ? strerror(-n) : "end of stream")
                  .Kv("partial", decoder.buffered() > 0 ? decoder.DescribePartial() : "none")
              << "connection ended";
        }
        break;
      }
      decoder.Feed(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
      continue;
    }
    const ttrpc::Frame& frame = **next;
    const uint32_t stream = frame.header.stream_id;
    if (frame.header.type != static_cast<uint8_t>(ttrpc::MessageType::kRequest)) {
      // ttrpc servers ignore frame types they do not know; unary services get no data frames.
      TNG_LOG(Warn, "reference-aa")
              .Kv("connection", connection_id)
              .Kv("stream", stream)
              .Kv("type", static_cast<int>(frame.header.type))
          << "ignoring a frame that is not a request";
      continue;
    }
    ttrpc::Response response;
    std::string method = "?";
    size_t runtime_data_len = 0;
    if (stream % 2 != 1) {
      response = Error(kInvalidArgument, "stream id must be odd");
    } else if (auto request = ttrpc::DecodeRequest(frame.payload); !request.ok()) {
      response = Error(kInvalidArgument, std::string(request.status().message()));
    } else {
      method = request->method;
      if (auto rd = aa::DecodeEvidenceRequest(request->payload); rd.ok()) {
        runtime_data_len = rd->size();
      }
      response = Answer(options, *request);
      if (options.delay > Duration::zero()) {
        // Like a ttrpc server, give up at the request's own deadline if that comes first.
        const Duration budget(request->timeout_nano);
        const bool over_budget = request->timeout_nano > 0 && budget < options.delay;
        if (!co_await WaitUnlessHungUp(reactor, fd.get(), over_budget ? budget : options.delay)) {
          TNG_LOG(Info, "reference-aa")
                  .Kv("connection", connection_id)
                  .Kv("stream", stream)
                  .Kv("method", method)
              << "connection ended while the answer was delayed";
          break;
        }
        if (over_budget) response = Error(kDeadlineExceeded, "timeout");
      }
    }
    TNG_LOG(Info, "reference-aa")
            .Kv("connection", connection_id)
            .Kv("stream", stream)
            .Kv("method", method)
            .Kv("runtime_data_len", runtime_data_len)
            .Kv("status", ttrpc::CodeName(response.status.code))
        << "request";
    auto out = ttrpc::EncodeFrame(stream, ttrpc::MessageType::kResponse, 0,
                                  ttrpc::EncodeResponse(response));
    if (!out.ok()) {
      out = ttrpc::EncodeFrame(
          stream, ttrpc::MessageType::kResponse, 0,
          ttrpc::EncodeResponse(Error(kInternal, std::string(out.status().message()))));
    }
    int rc = co_await SendAll(reactor, fd.get(), *out);
    if (rc < 0) {
      TNG_LOG(Info, "reference-aa")
              .Kv("connection", connection_id)
              .Kv("stream", stream)
              .Kv("error", strerror(-rc))
          << "could not send the response (client gone)";
      open = false;
    }
  }
  scope.Unwatch(fd.get());
}

}  // namespace tng::reference_aa
