// VsctlRoundStore: the restart round in Bridge external_ids, read and written with ovs-vsctl.
#include "ofrules/round_store.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

extern char** environ;

namespace sluice::ofrules {
namespace {

struct Output {
  int status = 0;
  std::string text;  // stdout and stderr together
};

// Runs argv without a shell and collects its output.
Result<Output> runProgram(const std::vector<std::string>& argv) {
  int pipeFds[2];
  if (pipe2(pipeFds, O_CLOEXEC) != 0) {
    return makeError(std::string("pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipeFds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipeFds[1], STDERR_FILENO);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = 0;
  int spawnError = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipeFds[1]);
  if (spawnError != 0) {
    close(pipeFds[0]);
    return makeError("cannot run " + argv[0] + ": " + std::strerror(spawnError));
  }
  Output output;
  char buffer[4096];
  for (;;) {
    ssize_t n = read(pipeFds[0], buffer, sizeof buffer);
    if (n > 0) {
      output.text.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(pipeFds[0]);
  while (waitpid(pid, &output.status, 0) < 0 && errno == EINTR) {
  }
  return output;
}

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '"')) {
    text.pop_back();
  }
  std::size_t start = text.find_first_not_of(" \"");
  return start == std::string::npos ? std::string() : text.substr(start);
}

}  // namespace

Result<std::string> VsctlRoundStore::runVsctl(const std::vector<std::string>& arguments) const {
  std::vector<std::string> argv{"ovs-vsctl", "--db=" + options_.dbRemote, "--timeout=10"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  auto output = runProgram(argv);
  if (!output) {
    return output.error();
  }
  if (!WIFEXITED(output->status) || WEXITSTATUS(output->status) != 0) {
    return makeError("ovs-vsctl on " + options_.dbRemote + " failed: " + trim(output->text));
  }
  return output->text;
}

Result<std::uint16_t> VsctlRoundStore::load() {
  auto text =
      runVsctl({"--if-exists", "get", "Bridge", options_.bridge, "external_ids:" + options_.key});
  if (!text) {
    return makeError("cannot read the restart round from Bridge " + options_.bridge +
                     " external_ids:" + options_.key + ": " + text.error().message);
  }
  std::string value = trim(*text);
  if (value.empty()) {
    return std::uint16_t{0};
  }
  unsigned round = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), round);
  if (error != std::errc() || end != value.data() + value.size() || round > 0xffff) {
    return makeError("Bridge " + options_.bridge + " external_ids:" + options_.key + " is \"" +
                     value +
                     "\", not a round number 0-65535; remove the key to start again from round 1");
  }
  return static_cast<std::uint16_t>(round);
}

Result<void> VsctlRoundStore::store(std::uint16_t round) {
  auto text = runVsctl({"set", "Bridge", options_.bridge,
                        "external_ids:" + options_.key + "=\"" + std::to_string(round) + "\""});
  if (!text) {
    return makeError("cannot store the restart round in Bridge " + options_.bridge + ": " +
                     text.error().message);
  }
  return {};
}

}  // namespace sluice::ofrules
