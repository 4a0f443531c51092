// sluice-agent: the per-node agent. See docs/architecture.md and docs/pipeline.md.
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "agent/agent.h"
#include "common/log.h"

namespace {

void usage() {
  std::cerr << "usage: sluice-agent [--config FILE] [--kubeconfig FILE] [--node-name NAME] "
               "[--log-level LEVEL]\n"
               "  --config      the agent config (default /etc/sluice/sluice-agent.conf)\n"
               "  --kubeconfig  overrides the config's kubeconfig (default: in-cluster)\n"
               "  --node-name   overrides $NODE_NAME\n";
}

sluice::log::Level levelOf(const std::string& name) {
  if (name == "debug") return sluice::log::Level::kDebug;
  if (name == "warning") return sluice::log::Level::kWarning;
  if (name == "error") return sluice::log::Level::kError;
  return sluice::log::Level::kInfo;
}

}  // namespace

int main(int argc, char** argv) {
  std::string configPath = "/etc/sluice/sluice-agent.conf";
  std::string kubeconfig;
  std::string logLevel;
  const char* nodeEnv = std::getenv("NODE_NAME");
  std::string nodeName = nodeEnv ? nodeEnv : "";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--config")
      configPath = value();
    else if (arg == "--kubeconfig")
      kubeconfig = value();
    else if (arg == "--node-name")
      nodeName = value();
    else if (arg == "--log-level")
      logLevel = value();
    else if (arg == "-h" || arg == "--help") {
      usage();
      return 0;
    } else {
      std::cerr << "sluice-agent: unknown argument " << arg << "\n";
      usage();
      return 2;
    }
  }
  auto config = sluice::agent::loadAgentConfig(configPath, nodeName);
  if (!config) {
    std::cerr << "sluice-agent: " << config.error().message << "\n";
    return 1;
  }
  if (!kubeconfig.empty()) config->kubeconfig = kubeconfig;
  sluice::log::setLevel(levelOf(logLevel.empty() ? config->logLevel : logLevel));

  // Signals go to a dedicated thread, so shutdown runs as ordinary code, not in a handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  sluice::agent::Agent agent(*config);
  std::thread waiter([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    SLUICE_LOG(kInfo, "agent") << "signal " << signal << ": stopping";
    agent.stop();
  });
  waiter.detach();
  auto result = agent.run();
  if (!result) {
    SLUICE_LOG(kError, "agent") << result.error().message;
    return 1;
  }
  return 0;
}
