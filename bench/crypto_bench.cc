// Crypto micro benchmarks: AEAD throughput of the tuned static wolfSSL side by side with Debian's
// stock libwolfssl (loaded with dlopen) through the same EVP API, plus the costs that pick TLS
// defaults here: key share per group, full handshake, and TlsSession record throughput.
//
//   crypto_bench [--benchmark_filter=...]     (stock library: $TNG_STOCK_WOLFSSL or
//                                              libwolfssl.so.35, Debian's package libwolfssl35)
// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/openssl/evp.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/curve25519.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
// clang-format on

#include <benchmark/benchmark.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "attestation/dummy_cert.h"
#include "crypto/tls_session.h"

namespace {

constexpr size_t kMessage = 16384;  // one full TLS record of plaintext

// The EVP entry points, typed on opaque pointers: the two builds' structs differ, so the stock
// library is only ever handed pointers it allocated itself.
struct EvpApi {
  std::string name;
  void* (*ctx_new)() = nullptr;
  void (*ctx_free)(void*) = nullptr;
  const void* (*aes_128_gcm)() = nullptr;
  const void* (*chacha20_poly1305)() = nullptr;
  int (*encrypt_init_ex)(void*, const void*, void*, const unsigned char*,
                         const unsigned char*) = nullptr;
  int (*cipher_update)(void*, unsigned char*, int*, const unsigned char*, int) = nullptr;
  int (*encrypt_final_ex)(void*, unsigned char*, int*) = nullptr;
  int (*ctrl)(void*, int, int, void*) = nullptr;
};

EvpApi TunedApi() {
  EvpApi api;
  api.name = "tuned";
  api.ctx_new = [] { return static_cast<void*>(wolfSSL_EVP_CIPHER_CTX_new()); };
  api.ctx_free = [](void* c) {
    wolfSSL_EVP_CIPHER_CTX_free(static_cast<WOLFSSL_EVP_CIPHER_CTX*>(c));
  };
  api.aes_128_gcm = [] { return static_cast<const void*>(wolfSSL_EVP_aes_128_gcm()); };
  api.chacha20_poly1305 = [] { return static_cast<const void*>(wolfSSL_EVP_chacha20_poly1305()); };
  api.encrypt_init_ex = [](void* c, const void* cipher, void*, const unsigned char* key,
                           const unsigned char* iv) {
    return wolfSSL_EVP_EncryptInit_ex(static_cast<WOLFSSL_EVP_CIPHER_CTX*>(c),
                                      static_cast<const WOLFSSL_EVP_CIPHER*>(cipher), nullptr, key,
                                      iv);
  };
  api.cipher_update = [](void* c, unsigned char* out, int* outl, const unsigned char* in, int inl) {
    return wolfSSL_EVP_CipherUpdate(static_cast<WOLFSSL_EVP_CIPHER_CTX*>(c), out, outl, in, inl);
  };
  api.encrypt_final_ex = [](void* c, unsigned char* out, int* outl) {
    return wolfSSL_EVP_EncryptFinal_ex(static_cast<WOLFSSL_EVP_CIPHER_CTX*>(c), out, outl);
  };
  api.ctrl = [](void* c, int type, int arg, void* ptr) {
    return wolfSSL_EVP_CIPHER_CTX_ctrl(static_cast<WOLFSSL_EVP_CIPHER_CTX*>(c), type, arg, ptr);
  };
  return api;
}

// Loads the stock shared library with its own symbol scope (RTLD_DEEPBIND) so its internal calls
// never bind to the statically linked tuned copies of the same names.
bool LoadStockApi(EvpApi& api, std::string& error) {
  const char* env = std::getenv("TNG_STOCK_WOLFSSL");
  const char* path = env != nullptr && *env != '\0' ? env : "libwolfssl.so.35";
  void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (lib == nullptr) {
    error = std::string("dlopen ") + path + ": " + dlerror() +
            " (install Debian's libwolfssl35 or set TNG_STOCK_WOLFSSL)";
    return false;
  }
  auto sym = [&](const char* name, auto& fn) {
    void* p = dlsym(lib, name);
    if (p == nullptr) error += std::string(error.empty() ? "" : ", ") + name;
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(p);
  };
  api.name = "stock";
  int (*init)() = nullptr;
  sym("wolfSSL_Init", init);
  sym("wolfSSL_EVP_CIPHER_CTX_new", api.ctx_new);
  sym("wolfSSL_EVP_CIPHER_CTX_free", api.ctx_free);
  sym("wolfSSL_EVP_aes_128_gcm", api.aes_128_gcm);
  sym("wolfSSL_EVP_chacha20_poly1305", api.chacha20_poly1305);
  sym("wolfSSL_EVP_EncryptInit_ex", api.encrypt_init_ex);
  sym("wolfSSL_EVP_CipherUpdate", api.cipher_update);
  sym("wolfSSL_EVP_EncryptFinal_ex", api.encrypt_final_ex);
  sym("wolfSSL_EVP_CIPHER_CTX_ctrl", api.ctrl);
  if (!error.empty()) {
    error = std::string(path) + " lacks " + error;
    return false;
  }
  init();
  // The library stays loaded for the life of the process.
  return true;
}

enum class Aead { kAes128Gcm, kChaCha20Poly1305 };

// One EVP context keyed once; each Seal is a full AEAD message (new nonce, data, tag) the way a
// TLS record is sealed.
class EvpSealer {
 public:
  EvpSealer(const EvpApi& api, Aead aead) : api_(api) {
    ctx_ = api_.ctx_new();
    cipher_ = aead == Aead::kAes128Gcm ? api_.aes_128_gcm() : api_.chacha20_poly1305();
    unsigned char key[32];
    for (int i = 0; i < 32; ++i) key[i] = static_cast<unsigned char>(i * 7 + 1);
    ok_ = ctx_ != nullptr && cipher_ != nullptr &&
          api_.encrypt_init_ex(ctx_, cipher_, nullptr, key, nonce_) == WOLFSSL_SUCCESS;
  }
  ~EvpSealer() {
    if (ctx_ != nullptr) api_.ctx_free(ctx_);
  }
  bool ok() const { return ok_; }

  // Writes ciphertext (in.size() bytes) and then the 16-byte tag to out.
  bool Seal(const std::vector<unsigned char>& in, std::vector<unsigned char>& out) {
    nonce_[11]++;
    int n = 0;
    int tail = 0;
    if (api_.encrypt_init_ex(ctx_, nullptr, nullptr, nullptr, nonce_) != WOLFSSL_SUCCESS) {
      return false;
    }
    if (api_.cipher_update(ctx_, out.data(), &n, in.data(), static_cast<int>(in.size())) !=
        WOLFSSL_SUCCESS) {
      return false;
    }
    if (api_.encrypt_final_ex(ctx_, out.data() + n, &tail) != WOLFSSL_SUCCESS) return false;
    if (static_cast<size_t>(n + tail) != in.size()) return false;
    return api_.ctrl(ctx_, EVP_CTRL_AEAD_GET_TAG, 16, out.data() + in.size()) == WOLFSSL_SUCCESS;
  }

 private:
  const EvpApi& api_;
  void* ctx_ = nullptr;
  const void* cipher_ = nullptr;
  unsigned char nonce_[12] = {};
  bool ok_ = false;
};

EvpApi g_tuned;
EvpApi g_stock;
bool g_have_stock = false;

void BM_EvpSeal(benchmark::State& state, const EvpApi* api, Aead aead) {
  std::vector<unsigned char> in(kMessage, 0xa5), out(kMessage + 16);
  EvpSealer sealer(*api, aead);
  // Both libraries must produce the same bytes, or the comparison measures different work.
  EvpSealer reference(g_tuned, aead);
  std::vector<unsigned char> expect(kMessage + 16);
  if (!sealer.ok() || !reference.ok() || !sealer.Seal(in, out) || !reference.Seal(in, expect)) {
    state.SkipWithError("EVP set-up or first seal failed");
    return;
  }
  if (out != expect) {
    state.SkipWithError("stock and tuned wolfSSL disagree on the ciphertext");
    return;
  }
  for (auto _ : state) {
    if (!sealer.Seal(in, out)) {
      state.SkipWithError("seal failed");
      return;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kMessage);
}

// The path TLS records actually take in the tuned build: wolfCrypt's one-shot AES-GCM, without
// the EVP layer's copy of the input (this wolfSSL has no streaming GCM, so EVP buffers).
void BM_WolfCryptAes128GcmDirect(benchmark::State& state) {
  Aes aes;
  unsigned char key[16] = {1, 2, 3}, nonce[12] = {}, tag[16];
  std::vector<unsigned char> in(kMessage, 0xa5), out(kMessage);
  if (wc_AesInit(&aes, nullptr, INVALID_DEVID) != 0 || wc_AesGcmSetKey(&aes, key, 16) != 0) {
    state.SkipWithError("AES-GCM set-up failed");
    return;
  }
  for (auto _ : state) {
    nonce[11]++;
    wc_AesGcmEncrypt(&aes, out.data(), in.data(), kMessage, nonce, sizeof(nonce), tag, 16, nullptr,
                     0);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kMessage);
  wc_AesFree(&aes);
}
BENCHMARK(BM_WolfCryptAes128GcmDirect);

// What one side of a TLS 1.3 handshake spends on (EC)DHE: make a key pair, derive the secret.
void BM_KeyShareP256(benchmark::State& state) {
  WC_RNG rng;
  wc_InitRng(&rng);
  ecc_key peer;
  wc_ecc_init(&peer);
  wc_ecc_make_key_ex(&rng, 32, &peer, ECC_SECP256R1);
  unsigned char secret[32];
  for (auto _ : state) {
    ecc_key mine;
    wc_ecc_init(&mine);
    wc_ecc_set_rng(&mine, &rng);
    word32 size = sizeof(secret);
    if (wc_ecc_make_key_ex(&rng, 32, &mine, ECC_SECP256R1) != 0 ||
        wc_ecc_shared_secret(&mine, &peer, secret, &size) != 0) {
      state.SkipWithError("P-256 key share failed");
      wc_ecc_free(&mine);
      break;
    }
    benchmark::DoNotOptimize(secret);
    wc_ecc_free(&mine);
  }
  wc_ecc_free(&peer);
  wc_FreeRng(&rng);
}
BENCHMARK(BM_KeyShareP256)->Unit(benchmark::kMicrosecond);

void BM_KeyShareX25519(benchmark::State& state) {
  WC_RNG rng;
  wc_InitRng(&rng);
  curve25519_key peer;
  wc_curve25519_init(&peer);
  wc_curve25519_make_key(&rng, 32, &peer);
  unsigned char secret[32];
  for (auto _ : state) {
    curve25519_key mine;
    wc_curve25519_init(&mine);
    word32 size = sizeof(secret);
    if (wc_curve25519_make_key(&rng, 32, &mine) != 0 ||
        wc_curve25519_shared_secret(&mine, &peer, secret, &size) != 0) {
      state.SkipWithError("X25519 key share failed");
      wc_curve25519_free(&mine);
      break;
    }
    benchmark::DoNotOptimize(secret);
    wc_curve25519_free(&mine);
  }
  wc_curve25519_free(&peer);
  wc_FreeRng(&rng);
}
BENCHMARK(BM_KeyShareX25519)->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------------------------
// TlsSession

using tng::crypto::TlsContext;
using tng::crypto::TlsContextOptions;
using tng::crypto::TlsProgress;
using tng::crypto::TlsRole;
using tng::crypto::TlsSession;

void Transfer(TlsSession& from, TlsSession& to) {
  auto pending = from.PendingOutput();
  auto space = to.InputSpace();
  const size_t n = std::min(pending.size(), space.size());
  std::memcpy(space.data(), pending.data(), n);
  to.CommitInput(n);
  from.ConsumeOutput(n);
}

struct Endpoints {
  std::unique_ptr<TlsContext> client_context, server_context;
  std::unique_ptr<TlsSession> client, server;
};

// Contexts for an in-memory pair; `group` and `ciphers` (wolfSSL names) narrow the client's offer.
bool MakeContexts(Endpoints& e, int group, const char* ciphers) {
  TlsContextOptions server;
  server.role = TlsRole::kServer;
  auto cert = tng::attestation::DummyCertDer();
  auto key = tng::attestation::DummyKeyDer();
  server.cert_der.assign(cert.begin(), cert.end());
  server.key_der.assign(key.begin(), key.end());
  TlsContextOptions client;
  auto c = TlsContext::Create(client);
  auto s = TlsContext::Create(server);
  if (!c.ok() || !s.ok()) return false;
  e.client_context = *std::move(c);
  e.server_context = *std::move(s);
  auto* native = static_cast<WOLFSSL_CTX*>(e.client_context->native());
  if (group != 0 && wolfSSL_CTX_set_groups(native, &group, 1) != WOLFSSL_SUCCESS) return false;
  return ciphers == nullptr || wolfSSL_CTX_set_cipher_list(native, ciphers) == WOLFSSL_SUCCESS;
}

bool Handshake(Endpoints& e) {
  auto c = TlsSession::Create(*e.client_context);
  auto s = TlsSession::Create(*e.server_context);
  if (!c.ok() || !s.ok()) return false;
  e.client = *std::move(c);
  e.server = *std::move(s);
  for (int step = 0; step < 10; ++step) {
    auto pc = e.client->Handshake();
    auto ps = e.server->Handshake();
    if (!pc.ok() || !ps.ok()) return false;
    if (*pc == TlsProgress::kDone && *ps == TlsProgress::kDone) return true;
    Transfer(*e.client, *e.server);
    Transfer(*e.server, *e.client);
  }
  return false;
}

void BM_TlsHandshake(benchmark::State& state, int group) {
  Endpoints e;
  if (!MakeContexts(e, group, nullptr)) {
    state.SkipWithError("context set-up failed");
    return;
  }
  for (auto _ : state) {
    if (!Handshake(e)) {
      state.SkipWithError("handshake failed");
      return;
    }
  }
  state.SetLabel(e.client->Group() + " " + e.client->Cipher());
}

// One 16 KiB record: client Write, move the bytes, server Read.
void BM_TlsRecord(benchmark::State& state, const char* ciphers) {
  Endpoints e;
  if (!MakeContexts(e, 0, ciphers) || !Handshake(e)) {
    state.SkipWithError("handshake failed");
    return;
  }
  std::vector<uint8_t> data(kMessage, 0x5a), buffer(kMessage);
  for (auto _ : state) {
    if (!e.client->Write(data).ok()) {
      state.SkipWithError("write failed");
      return;
    }
    Transfer(*e.client, *e.server);
    size_t got = 0;
    while (got < kMessage) {
      auto r = e.server->Read(std::span<uint8_t>(buffer).subspan(got));
      if (!r.ok() || r->first != TlsProgress::kDone) {
        state.SkipWithError("read failed");
        return;
      }
      got += r->second;
    }
    benchmark::DoNotOptimize(buffer.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kMessage);
  state.SetLabel(e.client->Cipher());
}

// Passes everything to the display reporter chosen by --benchmark_format and, at the end, prints
// tuned/stock throughput ratios of the AEAD pairs to stderr (stdout stays parseable as CSV/JSON).
class RatioReporter : public benchmark::BenchmarkReporter {
 public:
  explicit RatioReporter(benchmark::BenchmarkReporter* display) : display_(display) {}

  bool ReportContext(const Context& context) override {
    display_->SetOutputStream(&GetOutputStream());
    display_->SetErrorStream(&GetErrorStream());
    return display_->ReportContext(context);
  }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      // Single runs, or the medians when only aggregates are reported.
      if (run.error_occurred) continue;
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name != "median") continue;
      auto it = run.counters.find("bytes_per_second");
      if (it == run.counters.end()) continue;
      double& best = best_[run.run_name.function_name];
      best = std::max(best, static_cast<double>(it->second));
    }
    display_->ReportRuns(runs);
  }
  void Finalize() override {
    display_->Finalize();
    for (const auto& [name, tuned] : best_) {
      const std::string suffix = "/tuned";
      if (name.size() < suffix.size() ||
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
        continue;
      }
      auto stock = best_.find(name.substr(0, name.size() - suffix.size()) + "/stock");
      if (stock == best_.end() || stock->second <= 0) continue;
      std::fprintf(stderr, "%s: tuned %.0f MB/s, stock %.0f MB/s, ratio %.1fx\n",
                   name.substr(0, name.size() - suffix.size()).c_str(), tuned / 1e6,
                   stock->second / 1e6, tuned / stock->second);
    }
  }

 private:
  benchmark::BenchmarkReporter* display_;  // owned by the benchmark library
  std::map<std::string, double> best_;     // bytes/s per benchmark name
};

}  // namespace

int main(int argc, char** argv) {
  wolfSSL_Init();
  g_tuned = TunedApi();
  std::string stock_error;
  g_have_stock = LoadStockApi(g_stock, stock_error);

  benchmark::AddCustomContext(
      "wolfssl_tuned",
      tng::crypto::WolfSslVersion() +
          (tng::crypto::AesNiActive() ? " (AES-NI active)" : " (AES-NI inactive)"));
  benchmark::AddCustomContext("wolfssl_stock", g_have_stock ? "libwolfssl.so.35 via dlopen"
                                                            : "unavailable: " + stock_error);

  struct {
    const char* name;
    Aead aead;
  } aeads[] = {{"aes-128-gcm", Aead::kAes128Gcm}, {"chacha20-poly1305", Aead::kChaCha20Poly1305}};
  for (const auto& a : aeads) {
    benchmark::RegisterBenchmark((std::string("BM_EvpSeal16K/") + a.name + "/tuned").c_str(),
                                 BM_EvpSeal, &g_tuned, a.aead);
    if (g_have_stock) {
      benchmark::RegisterBenchmark((std::string("BM_EvpSeal16K/") + a.name + "/stock").c_str(),
                                   BM_EvpSeal, &g_stock, a.aead);
    }
  }
  benchmark::RegisterBenchmark("BM_TlsHandshake/P-256", BM_TlsHandshake, WOLFSSL_ECC_SECP256R1)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_TlsHandshake/X25519", BM_TlsHandshake, WOLFSSL_ECC_X25519)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_TlsRecord16K/aes-128-gcm", BM_TlsRecord,
                               "TLS13-AES128-GCM-SHA256");
  benchmark::RegisterBenchmark("BM_TlsRecord16K/chacha20-poly1305", BM_TlsRecord,
                               "TLS13-CHACHA20-POLY1305-SHA256");

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!g_have_stock)
    std::fprintf(stderr, "stock wolfSSL comparison skipped: %s\n", stock_error.c_str());
  RatioReporter reporter(benchmark::CreateDefaultDisplayReporter());
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
