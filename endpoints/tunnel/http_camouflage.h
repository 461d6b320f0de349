// HTTP camouflage (`encap_in_http` on an ingress, `decap_from_http` on an egress; the seed
// manual's "disguise as L7 traffic"): the RA-TLS stream of one flow travels as the body of an
// HTTP/1.1 POST and of its 200 response, so L7 gateways (nginx, SLB) in between route and balance
// it like ordinary traffic. The outer request shows only what routing needs and nothing of the
// application's request: method POST, a path rewritten from the inner path (path_rewrites, first
// match, else "/"), the inner request's Host, the `tng-metadata` header that tells camouflaged
// flows from ordinary ones, and chunked framing. The inner headers travel encrypted.
//
// The TLS layer runs on one end of a socketpair; per flow, two pumps frame what it sends as
// chunks onto the TCP socket and unframe what the peer sends. That costs one extra copy per
// byte, accepted here: camouflaged traffic is HTTP going through an L7 proxy anyway.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/task.h"
#include "core/tcp_stream.h"
#include "endpoints/config/options.h"

namespace re2 {
class RE2;
}

namespace tng::tunnel {

// Marks a camouflaged request; TNG sends a JSON object (empty today) as its value.
inline constexpr std::string_view kMetadataHeader = "tng-metadata";

// An ingress's encap_in_http: the compiled path_rewrites. Shared by all reactors (RE2 matching
// is thread-safe).
class HttpEncap {
 public:
  // Errors name the rewrite by index ("path_rewrites[1].match_regex: ...").
  static absl::StatusOr<std::shared_ptr<const HttpEncap>> Create(
      const std::vector<config::PathRewrite>& rewrites);
  ~HttpEncap();

  // The outer path for an inner request path: the query is dropped; the first rewrite whose
  // match_regex matches the whole path replaces its matches with the substitution (\1 … name
  // the groups); no match: "/".
  std::string OuterPath(std::string_view inner_path) const;

 private:
  struct Rule {
    std::unique_ptr<re2::RE2> re;
    std::string substitution;
  };
  std::vector<Rule> rules_;
};

// An egress's decap_from_http: which non-camouflaged requests may go straight to the
// application (allow_non_tng_traffic_regexes, matched against the request path).
class HttpDecap {
 public:
  static absl::StatusOr<std::shared_ptr<const HttpDecap>> Create(
      const std::vector<std::string>& allow_non_tng_traffic_regexes);
  ~HttpDecap();
  bool AllowsPlain(std::string_view path) const;

 private:
  std::vector<std::unique_ptr<re2::RE2>> allow_;
};

// What the ingress read of the application's first request: where it goes (for the outer
// request) and the bytes themselves (the first bytes through the tunnel).
struct InnerRequest {
  std::string host;  // Host header (or the absolute target's authority)
  std::string path;  // path and query
  std::string raw;   // every byte read from the client so far
};

// Reads the application's first request head on `client` within `timeout`, after the bytes
// `already` received (behind a CONNECT head, say). Errors name what was wrong; when the bytes
// were not an HTTP request, `*answer` is the status to answer the client.
Task<absl::StatusOr<InnerRequest>> ReadInnerRequest(TcpStream& client, std::string_view already,
                                                    Duration timeout, int* answer);

// Answers `code` with `why` as a text body, then closes (FIN, bounded wait for the client).
Task<void> AnswerAndClose(TcpStream& client, int code, absl::string_view why,
                          Duration timeout = std::chrono::seconds(5));

// Why a camouflaged flow ended early, filled in by its pumps (e.g. the egress or a gateway
// answered something other than 200); empty while all is well.
struct CamouflageReport {
  absl::Status status;
};

// Ingress: sends the outer POST on `outer` (connected to the egress, or to the L7 gateway before
// it) and starts the pumps, which own `outer` from then on. Returns the stream the TLS client
// runs on (watched by `scope`); `*report` tells later why the flow broke, when it was the
// camouflage.
Task<absl::StatusOr<TcpStream>> Encapsulate(TcpStream outer, std::string_view host,
                                            std::string_view path, ConnectionScope* scope,
                                            std::shared_ptr<const CamouflageReport>* report);

// Egress: the outer request on an accepted socket, judged.
struct Decapsulated {
  enum class Kind {
    kTunnel,   // a camouflaged flow: `stream` is where the TLS server runs; answered 200
    kPlain,    // not camouflaged but allowed (allow_non_tng_traffic_regexes): `stream` is the
               // accepted socket itself and `early` what was read of it
    kRefused,  // answered with an HTTP error and closed; `status` says why
  };
  Kind kind = Kind::kRefused;
  std::unique_ptr<TcpStream> stream;
  std::string early;
  absl::Status status;
};
// For kTunnel the pumps own `outer` and the returned stream is watched by `scope`.
Task<Decapsulated> Decapsulate(TcpStream outer, const HttpDecap& decap, Duration timeout,
                               ConnectionScope* scope);

}  // namespace tng::tunnel
