#include "attestation/coco_asr_client.h"

#include "core/http/client.h"
#include "core/http/url.h"
#include "core/json.h"
#include "crypto/base64.h"

namespace tng::attestation {
namespace {

using json::Cat;

// An error body shown in a message: bounded, one line.
std::string Snippet(const std::string& body) {
  std::string s = body.substr(0, 200);
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return body.size() > s.size() ? s + "..." : s;
}

struct Reply {
  int status = 0;
  std::string body;
};

Task<absl::StatusOr<Reply>> Get(Reactor& reactor, std::string url, Duration timeout) {
  http::HttpRequestOptions request;
  request.method = "GET";
  request.url = std::move(url);
  request.timeout = timeout;
  auto response = co_await http::Fetch(reactor, std::move(request));
  if (!response.ok()) {
    co_return absl::Status(response.status().code(),
                           Cat("coco_asr: ", std::string(response.status().message())));
  }
  co_return Reply{.status = response->status, .body = std::move(response->body)};
}

}  // namespace

Task<absl::StatusOr<std::string>> CocoAsrAttester::TeeType(Reactor& reactor) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (tee_) co_return *tee_;
  }
  const std::string url = base_url_ + "/info";
  auto reply = co_await Get(reactor, url, timeout_);
  if (!reply.ok()) co_return reply.status();
  if (reply->status != 200) {
    co_return absl::UnavailableError(
        Cat("coco_asr: GET ", url, ": HTTP ", reply->status, ": ", Snippet(reply->body)));
  }
  auto doc = json::Document::Parse(reply->body, url);
  if (!doc.ok()) {
    co_return absl::UnavailableError(
        Cat("coco_asr: GET ", url, ": ", std::string(doc.status().message())));
  }
  const json::Value* tee = doc->root().Find("tee");
  if (tee == nullptr || tee->kind() != json::Kind::kString || tee->text().empty()) {
    co_return absl::UnavailableError(
        Cat("coco_asr: GET ", url, ": expected {\"tee\": \"<type>\"}, got ", Snippet(reply->body)));
  }
  std::lock_guard<std::mutex> lock(mu_);
  tee_ = tee->text();
  co_return *tee_;
}

Task<absl::StatusOr<AttesterEvidence>> CocoAsrAttester::GetEvidence(
    std::span<const uint8_t> runtime_data) {
  Reactor* reactor = Reactor::Current();
  if (reactor == nullptr) co_return absl::InternalError("coco_asr: not on a reactor");
  // Runtime data goes as base64url without padding, flagged with encoding=base64 (the ASR
  // otherwise takes the query text itself as the runtime data bytes).
  const std::string query =
      Cat("?runtime_data=", crypto::Base64UrlEncode(runtime_data), "&encoding=base64");

  AttesterEvidence ev;
  auto tee = co_await TeeType(*reactor);
  if (!tee.ok()) co_return tee.status();
  ev.tee_type = std::move(*tee);

  const std::string url = Cat(base_url_, "/aa/evidence", query);
  auto reply = co_await Get(*reactor, url, timeout_);
  if (!reply.ok()) co_return reply.status();
  if (reply->status != 200) {
    co_return absl::UnavailableError(
        Cat("coco_asr: GET ", url, ": HTTP ", reply->status, ": ", Snippet(reply->body)));
  }
  if (reply->body.empty()) {
    co_return absl::UnavailableError(Cat("coco_asr: GET ", url, ": empty evidence"));
  }
  ev.evidence.assign(reply->body.begin(), reply->body.end());

  // Additional evidence (GPUs and the like) is optional: older ASRs lack the endpoint.
  auto extra = co_await Get(*reactor, Cat(base_url_, "/aa/additional-evidence", query), timeout_);
  if (extra.ok() && extra->status == 200 && !extra->body.empty()) {
    ev.additional_evidence.emplace(extra->body.begin(), extra->body.end());
  }
  co_return ev;
}

absl::StatusOr<std::unique_ptr<Attester>> MakeCocoAsrAttester(std::string asr_addr) {
  auto url = http::ParseUrl(asr_addr);
  if (!url.ok()) {
    return absl::InvalidArgumentError(
        Cat("asr_addr '", asr_addr, "' is not a URL: ", std::string(url.status().message())));
  }
  if (url->scheme != "http") {
    return absl::InvalidArgumentError(
        Cat("asr_addr '", asr_addr, "': only http:// is supported for the CoCo ASR"));
  }
  if (url->path.find_first_of("?#") != std::string::npos) {
    return absl::InvalidArgumentError(Cat("asr_addr '", asr_addr, "' must not have a query"));
  }
  while (!asr_addr.empty() && asr_addr.back() == '/') asr_addr.pop_back();
  return std::make_unique<CocoAsrAttester>(std::move(asr_addr));
}

}  // namespace tng::attestation
