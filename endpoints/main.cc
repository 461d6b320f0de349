// `tng`: the command line. launch | check | --version | --help, as TNG's CLI.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "absl/strings/numbers.h"
#include "core/log.h"
#include "crypto/tls_session.h"
#include "endpoints/config/schema.h"
#include "endpoints/gateway.h"

namespace {

constexpr char kUsage[] = R"(tng - trusted network gateway (tng-uring)

Usage:
  tng launch (--config-file FILE | --config-content JSON) [--threads N] [--drain-timeout SECONDS]
  tng check  (--config-file FILE | --config-content JSON)
  tng --version
  tng --help

Commands:
  launch   Start the gateway. SIGTERM or SIGINT stops accepting, lets open connections finish
           for up to --drain-timeout seconds (default 30), closes the rest and exits 0.
  check    Validate a configuration and print it with defaults filled in. Features this build
           does not implement yet are listed on stderr ("not supported yet: <json path>").

Options:
  --config-file FILE      TNG JSON configuration (// comments allowed)
  --config-content JSON   the same, inline
  --threads N             reactor threads (default: one per online CPU)
  --pin-threads           pin reactor thread i to CPU i
  --drain-timeout SECONDS how long open connections may finish after SIGTERM (default 30)
  --ktls auto|off         hand TLS records to the kernel (kTLS) after the handshake where it
                          offers the tls ULP (auto, the default), or always seal them in
                          user space (off)
  --bench-plain-tunnel    BENCHMARKS ONLY: mapping and netfilter endpoints relay plaintext
                          between ingress and egress instead of RA-TLS (both ends must use it);
                          measures the relay without TLS. Never use it for real traffic.

Environment:
  TNG_LOG   log level: error, warn, info (default), debug, trace (RUST_LOG is read too)

Exit status: 0 success, 1 bad configuration or start-up failure, 2 usage error.
)";

struct Args {
  std::string command;
  std::optional<std::string> config_file;
  std::optional<std::string> config_content;
  int threads = 0;
  bool pin_threads = false;
  int drain_timeout_s = 30;
  bool bench_plain_tunnel = false;
  tng::tunnel::KtlsMode ktls = tng::tunnel::KtlsMode::kAuto;
};

int UsageError(const std::string& msg) {
  std::fprintf(stderr, "tng: %s\nRun 'tng --help' for usage.\n", msg.c_str());
  return 2;
}

// Accepts "--opt value" and "--opt=value".
std::optional<int> ParseArgs(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::optional<std::string> inline_value;
    if (a.rfind("--", 0) == 0) {
      if (size_t eq = a.find('='); eq != std::string::npos) {
        inline_value = a.substr(eq + 1);
        a = a.substr(0, eq);
      }
    }
    auto value = [&](std::string& out) -> bool {
      if (inline_value) {
        out = *inline_value;
        return true;
      }
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    std::string v;
    if (a == "--help" || a == "-h" || a == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--version" || a == "-V" || a == "version") {
      std::printf("tng %s (tng-uring)\nwolfSSL %s, AES-NI %s\n", TNG_VERSION,
                  tng::crypto::WolfSslVersion().c_str(),
                  tng::crypto::AesNiActive() ? "active" : "NOT active");
      return 0;
    } else if (a == "launch" || a == "check") {
      if (!args.command.empty()) return UsageError("more than one command given");
      args.command = a;
    } else if (a == "--config-file" || a == "-f") {
      if (!value(v)) return UsageError("--config-file needs a file name");
      args.config_file = v;
    } else if (a == "--config-content" || a == "-c") {
      if (!value(v)) return UsageError("--config-content needs a JSON document");
      args.config_content = v;
    } else if (a == "--threads") {
      if (!value(v) || !absl::SimpleAtoi(v, &args.threads) || args.threads < 1 ||
          args.threads > 1024) {
        return UsageError("--threads needs a number from 1 to 1024");
      }
    } else if (a == "--pin-threads") {
      args.pin_threads = true;
    } else if (a == "--ktls") {
      if (!value(v) || (v != "auto" && v != "off")) return UsageError("--ktls needs auto or off");
      args.ktls = v == "off" ? tng::tunnel::KtlsMode::kOff : tng::tunnel::KtlsMode::kAuto;
    } else if (a == "--bench-plain-tunnel") {
      args.bench_plain_tunnel = true;
    } else if (a == "--drain-timeout") {
      if (!value(v) || !absl::SimpleAtoi(v, &args.drain_timeout_s) || args.drain_timeout_s < 0) {
        return UsageError("--drain-timeout needs a number of seconds (0 or more)");
      }
    } else {
      return UsageError("unknown argument '" + a + "'");
    }
  }
  if (args.command.empty()) return UsageError("no command given (launch or check)");
  if (args.config_file.has_value() == args.config_content.has_value()) {
    return UsageError("give exactly one of --config-file and --config-content");
  }
  return std::nullopt;
}

std::optional<std::string> ReadConfigText(const Args& args, std::string& source) {
  if (args.config_content) {
    source = "--config-content";
    return *args.config_content;
  }
  source = *args.config_file;
  std::ifstream f(*args.config_file, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "tng: cannot read config file '%s': %s\n", args.config_file->c_str(),
                 std::strerror(errno));
    return std::nullopt;
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void RaiseFdLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int Launch(const Args& args, const tng::config::GatewayOptions& config) {
  // Signals are taken synchronously by this thread; the reactor threads inherit the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  RaiseFdLimit();

  tng::GatewayRunOptions run;
  run.threads = args.threads;
  run.pin_threads = args.pin_threads;
  run.bench_plain_tunnel = args.bench_plain_tunnel;
  run.ktls = args.ktls;
  auto gateway = tng::Gateway::Create(config, run);
  if (!gateway.ok()) {
    std::fprintf(stderr, "tng: %s\n", std::string(gateway.status().message()).c_str());
    return 1;
  }
  if (auto st = (*gateway)->Start(); !st.ok()) {
    std::fprintf(stderr, "tng: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  TNG_LOG(Info, "gateway")
          .Kv("ingress", config.ingress.size())
          .Kv("egress", config.egress.size())
          .Kv("listeners_per_thread", (*gateway)->listener_count())
          .Kv("threads", args.threads > 0 ? args.threads : sysconf(_SC_NPROCESSORS_ONLN))
      << "gateway ready";

  int sig = 0;
  sigwait(&set, &sig);
  TNG_LOG(Info, "gateway")
          .Kv("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT")
          .Kv("drain_timeout_s", args.drain_timeout_s)
      << "draining: no new connections, open ones may finish";
  (*gateway)->BeginDrain();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(args.drain_timeout_s);
  // A second signal cuts the drain short.
  timespec poll{0, 100'000'000};
  while (!(*gateway)->WaitIdle(std::chrono::steady_clock::now() + std::chrono::milliseconds(100))) {
    if (std::chrono::steady_clock::now() >= deadline || sigtimedwait(&set, nullptr, &poll) > 0) {
      TNG_LOG(Warn, "gateway") << "drain deadline reached: closing the remaining connections";
      (*gateway)->ForceCloseAll();
      break;
    }
  }
  (*gateway)->Join();
  (*gateway)->RemoveCaptureRules();
  TNG_LOG(Info, "gateway") << "stopped";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  tng::InitLogLevelFromEnv();
  Args args;
  if (auto rc = ParseArgs(argc, argv, args)) return *rc;
  std::string source;
  auto text = ReadConfigText(args, source);
  if (!text) return 1;
  auto config = tng::config::ParseConfig(*text, source);
  if (!config.ok()) {
    std::fprintf(stderr, "tng: invalid configuration: %s\n",
                 std::string(config.status().message()).c_str());
    return 1;
  }
  if (args.command == "check") {
    std::fputs(tng::config::DescribeEffectiveConfig(*config).c_str(), stdout);
    std::fputc('\n', stdout);
    for (const auto& u : config->unsupported) {
      std::fprintf(stderr, "not supported yet: %s (%s)\n", u.json_path.c_str(), u.feature.c_str());
    }
    std::fprintf(stderr, "configuration OK%s\n",
                 config->unsupported.empty() ? "" : ", but `launch` refuses the features above");
    return 0;
  }
  if (!config->unsupported.empty()) {
    for (const auto& u : config->unsupported) {
      std::fprintf(stderr, "tng: not supported yet: %s (%s)\n", u.json_path.c_str(),
                   u.feature.c_str());
    }
    return 1;
  }
  return Launch(args, *config);
}
