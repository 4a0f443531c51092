// Subprocess helpers for test support: run a command and capture its output, or spawn a daemon
// whose PID the caller owns. No shell unless the caller asks for one.
#pragma once

#include <sys/types.h>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"

namespace sluice::testing {

struct CommandOutput {
  int exitCode = -1;  // exit status, or 128 + signal number
  std::string out = {};
  std::string err = {};
};

struct CommandOptions {
  // Added to (or replacing entries of) the parent's environment.
  std::map<std::string, std::string> environment = {};
  // The child is killed (its whole process group) when this passes.
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
};

// Runs argv[0] (looked up in PATH) and waits for it. An error only when it could not be started
// or timed out; a non-zero exit is reported in exitCode.
Result<CommandOutput> runCommand(const std::vector<std::string>& argv,
                                 const CommandOptions& options = {});

struct DaemonOptions {
  std::map<std::string, std::string> environment = {};
  // stdout and stderr of the daemon go here (appended); /dev/null when empty.
  std::string outputPath = {};
};

// Starts argv in the background and returns its PID. The child gets SIGKILL when the thread that
// spawned it exits (PR_SET_PDEATHSIG), so a crashed test leaves no daemon behind.
Result<pid_t> spawnDaemon(const std::vector<std::string>& argv, const DaemonOptions& options = {});

// Sends SIGTERM, waits up to `grace` for the process to exit, then SIGKILL; always reaps it.
// A zero grace sends SIGKILL at once (a simulated crash).
void stopProcess(pid_t pid, std::chrono::milliseconds grace);
// True while `pid` (a child of ours) has not exited; reaps it if it has.
bool processRunning(pid_t pid);

// Joins argv for messages: "ovs-vsctl add-br br0".
std::string describeCommand(const std::vector<std::string>& argv);

}  // namespace sluice::testing
