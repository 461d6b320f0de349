// The reference AA (tng-reference-aa, path in TNG_REFERENCE_AA_BIN) as a child process on a
// temporary socket, for tests that need a real AA over ttrpc.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

extern char** environ;

namespace tng::testing {

// The reference AA as a child process. Its stderr (key=value log lines) is collected by a
// thread, which also tells when the agent is listening.
class ReferenceAa {
 public:
  explicit ReferenceAa(std::vector<std::string> extra_args, std::string socket = "") {
    char tmpl[] = "/tmp/tng-aa-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    socket_ = socket.empty() ? dir_ + "/aa.sock" : socket;
    std::vector<std::string> args = {TNG_REFERENCE_AA_BIN, "--socket", socket_};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0)
        << "cannot start " << argv[0];
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    reader_ = std::thread([this, fd = fds[0]] {
      char buf[4096];
      for (;;) {
        ssize_t n = ::read(fd, buf, sizeof(buf));
        std::lock_guard<std::mutex> lock(mu_);
        if (n <= 0) {
          eof_ = true;
          cv_.notify_all();
          break;
        }
        log_.append(buf, static_cast<size_t>(n));
        cv_.notify_all();
      }
      ::close(fd);
    });
  }
  ~ReferenceAa() {
    Stop();
    std::filesystem::remove_all(dir_);
  }

  // Waits (bounded) until the agent logs that it listens; false if it exited or never did.
  bool WaitListening() { return WaitLogLine("msg=listening"); }
  // Waits (bounded) until a whole log line containing `needle` is in; false if the agent exited
  // or never logged it.
  bool WaitLogLine(std::string_view needle) {
    std::unique_lock<std::mutex> lock(mu_);
    auto complete = [&] {
      size_t at = log_.find(needle);
      return at != std::string::npos && log_.find('\n', at) != std::string::npos;
    };
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return eof_ || complete(); }) &&
           complete();
  }
  // SIGTERM, then the exit status (the agent answers signals by stopping cleanly).
  int Stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, &status_, 0);
      pid_ = -1;
    }
    if (reader_.joinable()) reader_.join();
    return status_;
  }
  std::string Log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  size_t CountInLog(std::string_view needle) {
    std::string log = Log();
    size_t n = 0;
    for (size_t p = log.find(needle); p != std::string::npos; p = log.find(needle, p + 1)) ++n;
    return n;
  }
  std::string address() const { return "unix://" + socket_; }
  const std::string& socket() const { return socket_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::string socket_;
  pid_t pid_ = -1;
  int status_ = 0;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string log_;
  bool eof_ = false;
};

}  // namespace tng::testing
