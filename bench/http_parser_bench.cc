// Throughput of the incremental HTTP/1.1 parser on typical messages: a curl-like GET, a proxy
// CONNECT, a REST POST with a JSON body, a chunked response, and the same GET fed in 64-byte
// pieces (what a slow or fragmenting peer produces).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>

#include "core/http/parser.h"

namespace tng::http {
namespace {

const std::string kGet =
    "GET /api/v1/status?verbose=1 HTTP/1.1\r\n"
    "Host: gateway.example.com:8080\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "Accept-Encoding: gzip, deflate\r\n"
    "Connection: keep-alive\r\n"
    "X-Request-Id: 4b1f9a2c-5d3e-4f6a-8b7c-9d0e1f2a3b4c\r\n"
    "Authorization: Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ0bmcifQ.c2lnbmF0dXJl\r\n"
    "\r\n";

const std::string kConnect =
    "CONNECT db.internal:5432 HTTP/1.1\r\n"
    "Host: db.internal:5432\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Proxy-Connection: Keep-Alive\r\n"
    "\r\n";

std::string PostWithJson() {
  std::string body = "{\"verification_requests\":[{\"tee\":\"sample\",\"evidence\":\"" +
                     std::string(2048, 'A') + "\"}],\"policy_ids\":[\"default\"]}";
  return "POST /api/attestation HTTP/1.1\r\nHost: as.example.com\r\n"
         "Content-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string ChunkedResponse() {
  std::string out =
      "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 16; ++i) out += "1000\r\n" + std::string(4096, 'x') + "\r\n";
  return out + "0\r\n\r\n";
}

// Parses `wire` (one message) per iteration, fed in pieces of `piece` bytes (0: at once).
void ParseLoop(benchmark::State& state, const std::string& wire, MessageKind kind, size_t piece) {
  Parser p(kind);
  uint64_t body = 0;
  for (auto _ : state) {
    p.Reset();
    std::string_view rest = wire;
    std::string_view fed;
    bool done = false;
    while (!done) {
      if (fed.empty()) {
        size_t n = piece == 0 ? rest.size() : std::min(piece, rest.size());
        fed = rest.substr(0, n);
        rest.remove_prefix(n);
      }
      auto r = p.Feed(fed);
      fed.remove_prefix(r.consumed);
      switch (r.event) {
        case Parser::Event::kBody:
          body += r.body.size();
          break;
        case Parser::Event::kMessageDone:
          done = true;
          break;
        case Parser::Event::kError:
          state.SkipWithError(std::string(p.error().message()).c_str());
          return;
        case Parser::Event::kNeedMore:
          if (rest.empty()) {
            state.SkipWithError("message incomplete");
            return;
          }
          break;
        case Parser::Event::kHeadersDone:
          break;
      }
    }
    benchmark::DoNotOptimize(p.request().headers.size());
  }
  benchmark::DoNotOptimize(body);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * wire.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_ParseGet(benchmark::State& s) { ParseLoop(s, kGet, MessageKind::kRequest, 0); }
void BM_ParseGetIn64BytePieces(benchmark::State& s) {
  ParseLoop(s, kGet, MessageKind::kRequest, 64);
}
void BM_ParseConnect(benchmark::State& s) { ParseLoop(s, kConnect, MessageKind::kRequest, 0); }
void BM_ParsePostJson(benchmark::State& s) {
  static const std::string wire = PostWithJson();
  ParseLoop(s, wire, MessageKind::kRequest, 0);
}
void BM_ParseChunkedResponse(benchmark::State& s) {
  static const std::string wire = ChunkedResponse();
  ParseLoop(s, wire, MessageKind::kResponse, 0);
}

BENCHMARK(BM_ParseGet);
BENCHMARK(BM_ParseGetIn64BytePieces);
BENCHMARK(BM_ParseConnect);
BENCHMARK(BM_ParsePostJson);
BENCHMARK(BM_ParseChunkedResponse);

}  // namespace
}  // namespace tng::http

BENCHMARK_MAIN();
