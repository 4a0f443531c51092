// sluicectl's command line: parsing arguments and environment into an Invocation. Pure, so every
// malformed command line is unit-tested.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/result.h"

namespace sluice::sluicectl {

enum class OutputFormat { kTable, kWide, kJson, kYaml };

struct GlobalOptions {
  std::string agentSocket;  // this node's agent (--agent-socket, SLUICE_AGENT_SOCKET)
  // Other nodes' agents, "{node}" standing for the node name (--agent-socket-pattern,
  // SLUICE_AGENT_SOCKET_PATTERN); empty: trace cannot follow a packet to another node.
  std::string agentSocketPattern;
  std::string kubeconfig;         // --kubeconfig, KUBECONFIG; empty: in-cluster or ~/.kube/config
  std::string controllerAddress;  // --controller; empty: the address the agent reports to
  OutputFormat output = OutputFormat::kTable;
};

struct GetFlows {
  std::optional<std::string> table;  // a table name (or number)
  std::optional<std::string> pod;    // NAMESPACE/NAME
  std::optional<std::string> egress;
  std::optional<std::string> service;  // NAMESPACE/NAME: the flows of its owner
  std::string bridge;                  // empty: the integration bridge
};
struct GetEgress {
  std::optional<std::string> name;
};
struct GetPools {
  std::optional<std::string> name;
};
struct GetNodes {};
// This node's view of Services (its agent's proxy); `name` NAMESPACE/NAME or a namespace's.
struct GetServices {
  std::optional<std::string> name;
};

enum class Protocol { kIcmp, kUdp, kTcp };

struct Trace {
  std::string podNamespace;
  std::string podName;
  std::string destination;  // an IPv4 address
  Protocol protocol = Protocol::kIcmp;
  int destinationPort = 0;   // tcp/udp only; 0: 80 for tcp, 53 for udp
  bool followTunnel = true;  // --no-follow turns it off
};

struct Help {
  std::string text;
};
struct Version {};

using Command =
    std::variant<GetFlows, GetEgress, GetPools, GetNodes, GetServices, Trace, Help, Version>;

struct Invocation {
  GlobalOptions options;
  Command command;
};

// The text `sluicectl --help` prints.
std::string usage();

// Parses argv[1..] with the environment (SLUICE_AGENT_SOCKET, SLUICE_AGENT_SOCKET_PATTERN,
// KUBECONFIG, SLUICE_KUBECONFIG, SLUICE_CONTROLLER). Errors say what was wrong and the fix.
Result<Invocation> parseArguments(const std::vector<std::string>& arguments,
                                  const std::map<std::string, std::string>& environment);

// "prod/web-1" -> {"prod", "web-1"}; a name without a namespace is in "default".
Result<std::pair<std::string, std::string>> parsePodReference(const std::string& text);

}  // namespace sluice::sluicectl
