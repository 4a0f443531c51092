// Subprocess helpers for test support (see subprocess.h).
#include "testing/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <thread>

extern char** environ;

namespace sluice::testing {
namespace {

using Clock = std::chrono::steady_clock;

// argv/envp arrays whose strings outlive the spawn call.
class CStrings {
 public:
  explicit CStrings(std::vector<std::string> strings) : strings_(std::move(strings)) {
    for (auto& s : strings_) pointers_.push_back(s.data());
    pointers_.push_back(nullptr);
  }
  char* const* data() { return pointers_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> pointers_;
};

std::vector<std::string> mergedEnvironment(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> result;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string item(*entry);
    auto equals = item.find('=');
    if (equals != std::string::npos && overrides.count(item.substr(0, equals)) > 0) continue;
    result.push_back(std::move(item));
  }
  for (const auto& [key, value] : overrides) {
    std::string entry = key;
    entry += '=';
    entry += value;
    result.push_back(std::move(entry));
  }
  return result;
}

// Resolves a program name through PATH before fork, so the child only calls execve.
std::string resolveProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return name;
}

int decodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

void closeIfOpen(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

}  // namespace

std::string describeCommand(const std::vector<std::string>& argv) {
  std::string result;
  for (const auto& arg : argv) {
    if (!result.empty()) result += ' ';
    result += arg;
  }
  return result;
}

Result<CommandOutput> runCommand(const std::vector<std::string>& argv,
                                 const CommandOptions& options) {
  if (argv.empty()) return makeError("runCommand: empty command line");
  int outPipe[2] = {-1, -1};
  int errPipe[2] = {-1, -1};
  if (pipe2(outPipe, O_CLOEXEC) != 0 || pipe2(errPipe, O_CLOEXEC) != 0) {
    closeIfOpen(outPipe[0]);
    closeIfOpen(outPipe[1]);
    return makeError("runCommand: pipe: " + std::string(strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // Own process group, so a timeout can kill the command and everything it started.
  posix_spawnattr_setpgroup(&attributes, 0);
  sigset_t defaultSignals;
  sigemptyset(&defaultSignals);
  sigaddset(&defaultSignals, SIGPIPE);
  posix_spawnattr_setsigdefault(&attributes, &defaultSignals);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);

  CStrings args(argv);
  CStrings env(mergedEnvironment(options.environment));
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0].c_str(), &actions, &attributes, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  close(outPipe[1]);
  close(errPipe[1]);
  if (rc != 0) {
    close(outPipe[0]);
    close(errPipe[0]);
    return makeError("cannot run " + argv[0] + ": " + strerror(rc));
  }

  CommandOutput output;
  auto deadline = Clock::now() + options.timeout;
  bool timedOut = false;
  pollfd fds[2] = {{outPipe[0], POLLIN, 0}, {errPipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&output.out, &output.err};
  int open = 2;
  while (open > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      timedOut = true;
      break;
    }
    int ready = poll(fds, 2, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  for (auto& fd : fds) closeIfOpen(fd.fd);
  if (timedOut) kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timedOut) {
    return makeError(describeCommand(argv) + ": timed out after " +
                     std::to_string(options.timeout.count()) + " ms; stderr: " + output.err);
  }
  output.exitCode = decodeStatus(status);
  return output;
}

Result<pid_t> spawnDaemon(const std::vector<std::string>& argv, const DaemonOptions& options) {
  if (argv.empty()) return makeError("spawnDaemon: empty command line");
  // Everything the child needs is prepared here: after fork only async-signal-safe calls.
  std::string program = resolveProgram(argv[0]);
  CStrings args(argv);
  CStrings env(mergedEnvironment(options.environment));
  int outFd = open(options.outputPath.empty() ? "/dev/null" : options.outputPath.c_str(),
                   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (outFd < 0) {
    return makeError("cannot open " + options.outputPath + ": " + strerror(errno));
  }
  int nullFd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(outFd);
    close(nullFd);
    return makeError("fork: " + std::string(strerror(errno)));
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
    setpgid(0, 0);                        // a terminal's ^C goes to the test, not the daemon
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    dup2(nullFd, 0);
    dup2(outFd, 1);
    dup2(outFd, 2);
    execve(program.c_str(), args.data(), env.data());
    _exit(127);
  }
  close(outFd);
  close(nullFd);
  return pid;
}

bool processRunning(pid_t pid) {
  if (pid <= 0) return false;
  int status = 0;
  pid_t result = waitpid(pid, &status, WNOHANG);
  if (result == 0) return true;
  return false;  // reaped now, or not our child (already reaped)
}

void stopProcess(pid_t pid, std::chrono::milliseconds grace) {
  if (pid <= 0) return;
  if (!processRunning(pid)) return;
  if (grace.count() > 0) kill(pid, SIGTERM);
  auto deadline = Clock::now() + grace;
  while (Clock::now() < deadline) {
    if (!processRunning(pid)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling interval, not a wait
  }
  kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace sluice::testing
