// sluice-controller: allocates egress IPs, places them on live nodes, fails them over, and writes
// the decisions into Egress status. Usage:
//   sluice-controller --config FILE [--kubeconfig FILE] [--namespace NS] [--pod-name NAME]
//                     [--listen ADDR:PORT] [--advertise-address HOST:PORT] [--log-level LEVEL]
#include <unistd.h>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "common/log.h"
#include "controller/controller_config.h"
#include "controller/egress_controller.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/service_cidr.h"

namespace {

using namespace sluice;

struct Flags {
  std::string config;
  std::string kubeconfig;
  std::string ns;
  std::string podName;
  std::string listen;
  std::string advertise;
  std::string logLevel;
};

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

int usage(const std::string& problem) {
  std::cerr << "sluice-controller: " << problem << "\n"
            << "usage: sluice-controller --config FILE [--kubeconfig FILE] [--namespace NS] "
               "[--pod-name NAME]\n"
            << "                         [--listen ADDR:PORT] [--advertise-address HOST:PORT] "
               "[--log-level LEVEL]\n";
  return 2;
}

log::Level levelOf(const std::string& name) {
  if (name == "debug") return log::Level::kDebug;
  if (name == "warning") return log::Level::kWarning;
  if (name == "error") return log::Level::kError;
  return log::Level::kInfo;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    // Both "--flag value" and "--flag=value" (the manifest uses the latter).
    std::optional<std::string> inlineValue;
    if (const auto equals = arg.find('='); arg.rfind("--", 0) == 0 && equals != std::string::npos) {
      inlineValue = arg.substr(equals + 1);
      arg = arg.substr(0, equals);
    }
    auto value = [&](std::string& target) {
      if (inlineValue) {
        target = *inlineValue;
        return true;
      }
      if (i + 1 >= argc) return false;
      target = argv[++i];
      return true;
    };
    bool ok = true;
    if (arg == "--config")
      ok = value(flags.config);
    else if (arg == "--kubeconfig")
      ok = value(flags.kubeconfig);
    else if (arg == "--namespace")
      ok = value(flags.ns);
    else if (arg == "--pod-name")
      ok = value(flags.podName);
    else if (arg == "--listen")
      ok = value(flags.listen);
    else if (arg == "--advertise-address")
      ok = value(flags.advertise);
    else if (arg == "--log-level")
      ok = value(flags.logLevel);
    else if (arg == "--help" || arg == "-h") {
      usage("help");  // the usage text; asking for it is not an error
      return 0;
    } else
      return usage("unknown flag " + arg);
    if (!ok) return usage(arg + " needs a value");
  }
  if (flags.config.empty())
    return usage("--config is required (the ConfigMap's sluice-controller.conf)");
  auto config = controller::loadControllerConfig(flags.config);
  if (!config) {
    std::cerr << "sluice-controller: " << config.error().message << "\n";
    return 1;
  }
  log::setLevel(levelOf(flags.logLevel.empty() ? config->logLevel : flags.logLevel));
  // The ConfigMap is mounted whole: when the agents' config sits next to ours, check that an
  // agent fences before this controller moves its IPs.
  const auto agentConfig = std::filesystem::path(flags.config).parent_path() / "sluice-agent.conf";
  if (std::filesystem::exists(agentConfig)) {
    auto timing = controller::readAgentTiming(agentConfig.string());
    if (!timing) {
      std::cerr << "sluice-controller: " << timing.error().message << "\n";
      return 1;
    }
    if (auto valid = controller::validateTiming(*timing, config->nodeSilenceTimeout); !valid) {
      std::cerr << "sluice-controller: " << valid.error().message << "\n";
      return 1;
    }
    if (auto valid = controller::validateElectionTiming(*timing, config->leaderElection); !valid) {
      std::cerr << "sluice-controller: " << valid.error().message << "\n";
      return 1;
    }
  }

  controller::EgressControllerOptions options;
  options.config = *config;
  options.listenAddress = flags.listen;
  options.leaseNamespace = !flags.ns.empty()               ? flags.ns
                           : !env("POD_NAMESPACE").empty() ? env("POD_NAMESPACE")
                                                           : "kube-system";
  options.identity = !flags.podName.empty() ? flags.podName : env("POD_NAME");
  if (options.identity.empty()) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    options.identity = std::string(host) + "-" + std::to_string(getpid());
  }
  options.advertiseAddress = flags.advertise;
  if (options.advertiseAddress.empty() && !env("POD_IP").empty())
    options.advertiseAddress = env("POD_IP") + ":";
  if (options.advertiseAddress.empty() && config->leaderElection.enabled &&
      std::getenv("KUBERNETES_SERVICE_HOST"))
    SLUICE_LOG(kWarning, "controller")
        << "POD_IP is not set: a standby cannot redirect agents to this replica; "
           "set POD_IP from status.podIP or pass --advertise-address";

  // Block the stop signals before any thread starts, so only sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto cluster = kube::loadDefaultConfig(flags.kubeconfig);
  if (!cluster) {
    std::cerr << "sluice-controller: " << cluster.error().message << "\n";
    return 1;
  }
  // A short connect timeout: after an API server outage the informers, the Lease and the
  // status writes are back within about a second, not after a long-hung connect.
  auto client = kube::Client::connect(
      *cluster, kube::TransportOptions{.connectTimeout = std::chrono::milliseconds(1000),
                                       .requestTimeout = std::chrono::milliseconds(10'000)});
  if (!client) {
    std::cerr << "sluice-controller: " << client.error().message << "\n";
    return 1;
  }
  // A bounded read, so a slow API server delays start-up by seconds at most.
  std::optional<Cidr> configuredServiceCidr;
  if (config->serviceCIDRConfigured) configuredServiceCidr = config->serviceCIDR;
  kube::DetectedServiceCidr detectedServiceCidr;
  if (!configuredServiceCidr)
    detectedServiceCidr = kube::detectServiceCidr(*cluster, std::chrono::seconds(2));
  const auto serviceCidr = kube::chooseServiceCidr(configuredServiceCidr, detectedServiceCidr);
  options.config.serviceCIDR = serviceCidr.cidr;
  SLUICE_LOG(kInfo, "controller") << "serviceCIDR " << serviceCidr.cidr.toString() << " ("
                                  << serviceCidr.describe() << ")";
  controller::EgressController egressController(**client, options);
  if (auto started = egressController.start(); !started) {
    std::cerr << "sluice-controller: " << started.error().message << "\n";
    return 1;
  }
  SLUICE_LOG(kInfo, "controller") << "sluice-controller " << options.identity
                                  << " listening on port " << egressController.port() << ", lease "
                                  << options.leaseNamespace << "/"
                                  << config->leaderElection.leaseName;
  int received = 0;
  sigwait(&signals, &received);
  SLUICE_LOG(kInfo, "controller") << "signal " << received << ": stopping (releasing the Lease)";
  egressController.stop();
  return 0;
}
