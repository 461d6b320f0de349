// Runs a piece of a test in a forked child (to crash it, or to drop capabilities in it) and
// brings its one-line report back over a pipe.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

namespace tng::netfilter::testing {

class Child {
 public:
  // Forks; the child runs `body`, writes its result to the parent, and then either exits
  // (`stay_alive` false) or waits to be killed.
  Child(const std::function<std::string()>& body, bool stay_alive) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(fds[0]);
      const std::string report = body() + "\n";
      (void)!write(fds[1], report.data(), report.size());
      close(fds[1]);
      if (stay_alive) {
        for (;;) pause();
      }
      _exit(0);
    }
    close(fds[1]);
    char buf[4096];
    ssize_t n;
    while (report_.find('\n') == std::string::npos && (n = read(fds[0], buf, sizeof buf)) > 0) {
      report_.append(buf, static_cast<size_t>(n));
    }
    close(fds[0]);
    if (!report_.empty() && report_.back() == '\n') report_.pop_back();
  }
  ~Child() { Kill(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool started() const { return pid_ > 0; }
  const std::string& report() const { return report_; }
  // SIGKILL and reap: afterwards the kernel has closed everything the child held.
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  std::string report_;
};

}  // namespace tng::netfilter::testing
