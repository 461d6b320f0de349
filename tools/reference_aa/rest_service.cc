#include "tools/reference_aa/rest_service.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attestation/aa_protocol.h"
#include "core/json.h"
#include "crypto/base64.h"

namespace tng::reference_aa {
namespace {

http::Response Reply(int status, std::string body, std::string_view type = "text/plain") {
  http::Response r;
  r.status = status;
  r.headers.Add("Content-Type", type);
  r.body = std::move(body);
  return r;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded value decoding, as the ASR's form_urlencoded::parse.
std::optional<std::string> FormDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi << 4 | lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The value of `key` in the query string; nullopt when absent or malformed.
std::optional<std::string> QueryParam(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    auto name = FormDecode(pair.substr(0, eq));
    if (name && *name == key) {
      return FormDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    }
  }
  return std::nullopt;
}

}  // namespace

http::Response AnswerRest(const AaServiceOptions& options, const http::Request& request) {
  std::string_view target = request.parsed.path;
  std::string_view path = target.substr(0, target.find('?'));
  std::string_view query =
      path.size() < target.size() ? target.substr(path.size() + 1) : std::string_view();
  const bool known = path == "/info" || path == "/aa/evidence" || path == "/aa/additional-evidence";
  if (!known) return Reply(404, "not found\n");
  if (request.method != "GET") {
    http::Response r = Reply(405, "method not allowed\n");
    r.headers.Add("Allow", "GET");
    return r;
  }
  if (path == "/info") return Reply(200, "{\"tee\":\"sample\"}", "application/json");

  auto runtime_data = QueryParam(query, "runtime_data");
  if (!runtime_data) return Reply(400, "missing query parameter runtime_data\n");
  std::vector<uint8_t> data(runtime_data->begin(), runtime_data->end());
  if (auto encoding = QueryParam(query, "encoding"); encoding && *encoding == "base64") {
    // base64url as TNG sends it; plain base64 (padded or not) is accepted too.
    auto decoded = crypto::Base64Decode(*runtime_data, crypto::Base64Alphabet::kEither,
                                        crypto::Base64Padding::kOptional);
    if (!decoded.ok()) {
      return Reply(
          400,
          json::Cat("runtime_data is not base64: ", std::string(decoded.status().message()), "\n"));
    }
    data = std::move(*decoded);
  }
  if (path == "/aa/additional-evidence") return Reply(200, "", "application/octet-stream");
  if (options.fail_evidence) {
    // The message the real ASR relays when the AA's attester fails.
    return Reply(500, "[ERROR:attestation-agent] AA-KBC get evidence failed\n");
  }
  return Reply(200,
               attestation::aa::SampleEvidence(
                   options.report_data_override ? *options.report_data_override : data),
               "application/octet-stream");
}

Task<http::Response> ServeRest(Reactor& reactor, const AaServiceOptions& options,
                               const http::Request& request) {
  if (options.delay > Duration::zero()) co_await Sleep(reactor, options.delay);
  co_return AnswerRest(options, request);
}

}  // namespace tng::reference_aa
