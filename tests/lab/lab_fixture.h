// Lab: a test's own sluice-lab (unique name, brought up in the constructor, torn down in the
// destructor even when the test fails), plus helpers to run commands and wait on conditions.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace sluice::testing {

struct CommandResult {
  int exitCode = -1;
  std::string output;  // stdout and stderr
  bool ok() const { return exitCode == 0; }
};

// Runs a shell command line; output is captured.
CommandResult shell(const std::string& commandLine);
std::string quote(const std::string& text);

// Polls `condition` until it holds or `timeout` passes; returns whether it held.
bool waitFor(std::chrono::milliseconds timeout, const std::function<bool()>& condition,
             std::chrono::milliseconds interval = std::chrono::milliseconds(20));

struct LabOptions {
  int nodes = 3;
  int podPrefix = 24;
};

class Lab {
 public:
  explicit Lab(const LabOptions& options = {});
  ~Lab();
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  const std::string& name() const { return name_; }
  bool up() const { return up_; }
  const std::string& upOutput() const { return upOutput_; }
  std::string stateDir() const { return "/run/sluice-lab/" + name_; }

  // `sluice-lab --name NAME ARGS` (ARGS already quoted as needed).
  CommandResult lab(const std::string& arguments) const;
  // Adds a pod and returns its IP ("" on failure; the output is in lastOutput()).
  std::string addPod(const std::string& name, const std::string& node,
                     const std::string& labels = "", const std::string& ns = "default");
  CommandResult exec(const std::string& pod, const std::string& command) const;
  CommandResult ext(const std::string& command) const;
  CommandResult nodeExec(const std::string& node, const std::string& command) const;
  CommandResult kubectl(const std::string& arguments) const;
  // Whether one ping from `pod` to `ip` gets an answer within a second.
  bool ping(const std::string& pod, const std::string& ip) const;
  const std::string& lastOutput() const { return lastOutput_; }

  static std::string tool();  // path of tools/sluice-lab

 private:
  std::string name_;
  bool up_ = false;
  std::string upOutput_;
  std::string lastOutput_;
};

}  // namespace sluice::testing
