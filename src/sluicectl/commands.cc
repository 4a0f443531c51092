// sluicectl's commands: I/O around the pure views.
#include "sluicectl/commands.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "cni/agent_query.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/resource.h"
#include "kube/transport.h"
#include "sluicectl/agent_status.h"
#include "sluicectl/flow_view.h"
#include "sluicectl/resource_view.h"
#include "sluicectl/service_view.h"
#include "sluicectl/trace_view.h"

namespace sluice::sluicectl {
namespace {

using nlohmann::json;

Result<AgentStatus> agentStatus(const std::string& socket) {
  auto answer = cni::queryAgent(socket, json{{"kind", "status"}});
  if (!answer) return answer.error();
  return decodeAgentStatus(*answer);
}

Result<std::unique_ptr<kube::Client>> kubeClient(const GlobalOptions& options) {
  auto config = kube::loadDefaultConfig(options.kubeconfig);
  if (!config)
    return makeError("no Kubernetes API configuration: " + config.error().message +
                     "; pass --kubeconfig or set KUBECONFIG");
  return kube::Client::connect(*config);
}

Result<std::vector<json>> listItems(kube::Client& client, const kube::ResourceRef& resource) {
  auto list = client.listAll(resource, "");
  if (!list)
    return makeError("cannot list " + resource.resource +
                     " from the Kubernetes API: " + list.error().message);
  std::vector<json> items;
  for (const auto& item : list->value("items", json::array())) items.push_back(item);
  return items;
}

std::string formatted(const json& items, const TextTable& table, OutputFormat format,
                      const std::string& emptyText = "") {
  switch (format) {
    case OutputFormat::kJson: return items.dump(2) + "\n";
    case OutputFormat::kYaml: return renderYaml(items);
    default: return renderTable(table, emptyText);
  }
}

// The error for a pod that is not on this node: where it is, if the API knows.
Error podNotHere(const GlobalOptions& options, const AgentStatus& status, const std::string& ns,
                 const std::string& name) {
  std::string where;
  if (auto client = kubeClient(options); client) {
    auto pod = (*client)->get(kube::resources::kPods, ns, name);
    if (pod.ok()) {
      const auto node = pod->value("spec", json::object()).value("nodeName", "");
      if (!node.empty() && node != status.node)
        return makeError("pod " + ns + "/" + name + " is on node " + node + ", not on " +
                         status.node + "; run sluicectl on " + node +
                         " (in the lab: sluice-lab node-exec " + node + " -- sluicectl ...)");
      where = node.empty() ? " (the API has it, not yet scheduled)" : " (the API has it here)";
    } else if (pod.notFound()) {
      where = " (and the Kubernetes API has no such pod)";
    }
  }
  std::string local;
  for (const auto& pod : status.pods)
    local += (local.empty() ? "" : ", ") + pod.podNamespace + "/" + pod.name;
  return makeError("pod " + ns + "/" + name + " is not attached on node " + status.node + where +
                   "; local pods: " + (local.empty() ? "none" : local));
}

Result<std::string> getFlows(const GlobalOptions& options, const GetFlows& command) {
  auto status = agentStatus(options.agentSocket);
  if (!status) return status.error();
  // The pipeline's table names are br-int's; br-phy's tables are plain numbers.
  if (!command.bridge.empty() && command.bridge != status->integrationBridge) status->tables = {};
  FlowFilter filter;
  if (command.table) {
    auto table = resolveTable(*status, *command.table);
    if (!table) return table.error();
    filter.table = *table;
  }
  if (command.pod) {
    auto reference = parsePodReference(*command.pod);
    if (!reference) return reference.error();
    const auto* pod = status->findPod(reference->first, reference->second);
    if (pod == nullptr) return podNotHere(options, *status, reference->first, reference->second);
    const auto podOnly = podFilter(*pod);
    filter.owners = podOnly.owners;
    filter.matchTerms = podOnly.matchTerms;
  }
  if (command.egress) {
    // The agent knows every Egress and its IPs (its informer); no API round trip needed.
    std::vector<std::string> ips;
    bool known = false;
    const auto prefix = "egress/" + *command.egress + " ip ";
    for (const auto& owner : status->owners) {
      known = known || owner.key == "egress:" + *command.egress;
      if (owner.display.rfind(prefix, 0) == 0) ips.push_back(owner.display.substr(prefix.size()));
    }
    if (!known)
      return makeError("Egress " + *command.egress + " is not known to the agent on " +
                       status->node + "; sluicectl get egress lists the Egresses");
    const auto egressOnly = egressFilter(*command.egress, ips);
    filter.owners.insert(egressOnly.owners.begin(), egressOnly.owners.end());
  }
  if (command.service) {
    // The agent names every Service it serves among its owners; one it does not serve has no
    // flows here (none of its ports has a ClusterIP or a NodePort, or the proxy is off).
    const auto key = "service:" + *command.service;
    const bool known = std::any_of(status->owners.begin(), status->owners.end(),
                                   [&](const FlowOwner& owner) { return owner.key == key; });
    if (!known)
      return makeError("Service " + *command.service + " has no flows on " + status->node +
                       " (not served by Sluice's proxy here); sluicectl get services lists "
                       "the Services it serves");
    filter.owners.insert(ownerHash(key));
  }
  json query = {{"kind", "flows"}};
  if (!command.bridge.empty()) query["bridge"] = command.bridge;
  auto answer = cni::queryAgent(options.agentSocket, query);
  if (!answer) return answer.error();
  auto rows = decodeFlows(*answer, *status);
  if (!rows) return rows.error();
  std::vector<FlowRow> shown;
  for (const auto& row : *rows)
    if (selected(row, filter)) shown.push_back(row);
  return formatted(flowsJson(shown), flowTable(shown, options.output == OutputFormat::kWide),
                   options.output, "No flows found.");
}

Result<std::string> getEgress(const GlobalOptions& options, const GetEgress& command) {
  auto client = kubeClient(options);
  if (!client) return client.error();
  std::vector<json> egresses;
  if (command.name) {
    auto egress = (*client)->get(kube::resources::kEgresses, "", *command.name);
    if (!egress) {
      if (egress.notFound())
        return makeError("Egress " + *command.name +
                         " not found; sluicectl get egress lists the Egresses");
      return makeError("cannot get Egress " + *command.name + ": " + egress.error().message);
    }
    egresses.push_back(*egress);
  } else {
    auto items = listItems(**client, kube::resources::kEgresses);
    if (!items) return items.error();
    egresses = *items;
  }
  auto status = agentStatus(options.agentSocket);
  if (!status) std::cerr << "sluicectl: local pods unknown: " << status.error().message << "\n";
  const auto items = egressItems(egresses, status ? &*status : nullptr);
  return formatted(items, egressTable(items, options.output == OutputFormat::kWide),
                   options.output);
}

Result<std::string> getPools(const GlobalOptions& options, const GetPools& command) {
  auto client = kubeClient(options);
  if (!client) return client.error();
  auto pools = listItems(**client, kube::resources::kExternalIpPools);
  if (!pools) return pools.error();
  auto egresses = listItems(**client, kube::resources::kEgresses);
  if (!egresses) return egresses.error();
  std::vector<json> shown;
  for (const auto& pool : *pools)
    if (!command.name || pool.value("metadata", json::object()).value("name", "") == *command.name)
      shown.push_back(pool);
  if (command.name && shown.empty())
    return makeError("ExternalIPPool " + *command.name +
                     " not found; sluicectl get pools lists the pools");
  const auto items = poolItems(shown, *egresses);
  return formatted(items, poolTable(items, options.output == OutputFormat::kWide), options.output);
}

// GET from sluice-controller over the project's one HTTP client, with a 5 s deadline.
Result<kube::HttpResponse> controllerGet(const std::string& address, const std::string& target) {
  constexpr std::chrono::seconds kTimeout{5};
  auto transport = kube::makePlainHttpTransport(
      address, "",
      kube::TransportOptions{
          .connectTimeout = kTimeout, .requestTimeout = kTimeout, .userAgent = "sluicectl"});
  if (!transport) return makeError("controller " + transport.error().message);
  auto response = (*transport)
                      ->send(kube::HttpRequest{
                          .method = "GET", .target = target, .contentType = "", .body = ""});
  if (!response)
    return makeError("sluice-controller at " + address + ": " + response.error().message +
                     "; is the controller running (pass --controller HOST:PORT otherwise)?");
  return *response;
}

Result<std::string> getNodes(const GlobalOptions& options) {
  std::string address = options.controllerAddress;
  if (address.empty()) {
    auto status = agentStatus(options.agentSocket);
    if (!status)
      return makeError(
          "no controller address: pass --controller HOST:PORT or set "
          "SLUICE_CONTROLLER, or run where the agent answers (" +
          status.error().message + ")");
    address = status->controllerAddress;
    if (address.empty())
      return makeError("the agent on " + status->node +
                       " has no controller address; pass --controller HOST:PORT");
  }
  auto response = controllerGet(address, "/v1/nodes");
  if (!response) return response.error();
  if (response->status != 200)
    return makeError("sluice-controller at " + address + " answered " +
                     std::to_string(response->status) + " to GET /v1/nodes: " + response->body);
  json view;
  try {
    view = json::parse(response->body);
  } catch (const json::exception& error) {
    return makeError("sluice-controller at " + address + " sent malformed JSON: " + error.what());
  }
  std::vector<json> nodes, egresses;
  if (auto client = kubeClient(options); client) {
    if (auto items = listItems(**client, kube::resources::kNodes); items) nodes = *items;
    if (auto items = listItems(**client, kube::resources::kEgresses); items) egresses = *items;
  } else {
    std::cerr << "sluicectl: Node objects unknown: " << client.error().message << "\n";
  }
  if (!view.value("leader", false))
    std::cerr << "sluicectl: the controller at " << address
              << " is not the leader; its view may be stale\n";
  const auto items = nodeItems(view, nodes, egresses);
  return formatted(items, nodeTable(items, options.output == OutputFormat::kWide), options.output);
}

Result<std::string> getServices(const GlobalOptions& options, const GetServices& command) {
  auto answer = cni::queryAgent(options.agentSocket, json{{"kind", "services"}});
  if (!answer) return answer.error();
  if (!answer->value("proxy", true))
    return std::string(
        "kube-proxy serves Services on this node (serviceProxy is false in sluice-agent.conf); "
        "Sluice only hands Service traffic to the node.\n");
  const auto items = serviceItems(*answer, command.name);
  if (command.name && items.empty())
    return makeError("Service " + *command.name +
                     " is not served on this node; sluicectl get services lists those that are");
  return formatted(items, serviceTable(items, options.output == OutputFormat::kWide),
                   options.output, "No Services served on this node.");
}

struct ProgramOutput {
  int exitStatus = -1;
  std::string output;  // stdout and stderr
};

// Runs a program with its arguments as given: no shell, so nothing needs quoting.
Result<ProgramOutput> runProgram(const std::vector<std::string>& argv) {
  // Built before fork: the child only calls async-signal-safe functions.
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const std::string execFailed = "cannot run " + argv[0] + "\n";
  int pipeFds[2];
  if (::pipe(pipeFds) != 0) return makeError("cannot run " + argv[0] + ": pipe failed");
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(pipeFds[0]);
    ::close(pipeFds[1]);
    return makeError("cannot run " + argv[0] + ": fork failed");
  }
  if (child == 0) {
    ::dup2(pipeFds[1], STDOUT_FILENO);
    ::dup2(pipeFds[1], STDERR_FILENO);
    ::close(pipeFds[0]);
    ::close(pipeFds[1]);
    ::execvp(args[0], args.data());
    [[maybe_unused]] const auto written =
        ::write(STDERR_FILENO, execFailed.data(), execFailed.size());
    ::_exit(127);
  }
  ::close(pipeFds[1]);
  ProgramOutput result;
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipeFds[0], buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    result.output.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipeFds[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  result.exitStatus = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

Result<std::string> ofprotoTrace(const AgentStatus& status, const std::string& flow) {
  const std::vector<std::string> argv = {
      "ovs-appctl", "-t", status.vswitchdControl, "ofproto/trace", status.integrationBridge, flow};
  std::string command;
  for (const auto& arg : argv) command += (command.empty() ? "" : " ") + arg;
  auto ran = runProgram(argv);
  if (!ran) return ran.error();
  if (ran->exitStatus != 0)
    return makeError("ofproto/trace failed on node " + status.node + " (" + command +
                     "): " + ran->output);
  return ran->output;
}

// Names the Service whose group the packet went through (the agent knows its groups).
void nameFrontend(const std::string& socket, LoadBalancing& balancing) {
  auto answer = cni::queryAgent(socket, json{{"kind", "services"}});
  if (!answer) return;
  for (const auto& item : answer->value("services", json::array()))
    if (item.value("clusterGroup", 0U) == balancing.group ||
        item.value("externalGroup", 0U) == balancing.group) {
      const auto port = item.value("port", "");
      balancing.frontend = item.value("service", "") + " port " +
                           (port.empty() ? std::to_string(item.value("servicePort", 0)) : port);
      return;
    }
}

Result<std::string> trace(const GlobalOptions& options, const Trace& command) {
  auto status = agentStatus(options.agentSocket);
  if (!status) return status.error();
  const auto* pod = status->findPod(command.podNamespace, command.podName);
  if (pod == nullptr) return podNotHere(options, *status, command.podNamespace, command.podName);
  std::vector<NodeTrace> hops;
  NodeTrace first{*status, podPacketFlow(command, *pod, status->gatewayMac), {}, ""};
  auto text = ofprotoTrace(*status, first.flow);
  if (!text) return text.error();
  first.parsed = parseTrace(*text);
  if (first.parsed.loadBalancing) nameFrontend(options.agentSocket, *first.parsed.loadBalancing);
  std::string note;
  std::string tunnelNode;
  const bool tunnelled = !first.parsed.outputPorts.empty() &&
                         first.parsed.outputPorts.back() == status->tunnelOfport &&
                         first.parsed.tunnelDestination;
  if (tunnelled) {
    if (auto client = kubeClient(options); client)
      if (auto nodes = listItems(**client, kube::resources::kNodes); nodes)
        for (const auto& node : *nodes)
          for (const auto& address :
               node.value("status", json::object()).value("addresses", json::array()))
            if (address.value("address", "") == *first.parsed.tunnelDestination)
              tunnelNode = node.value("metadata", json::object()).value("name", "");
    if (tunnelNode.empty() && pod->egress) tunnelNode = pod->egress->node;
  }
  first.output = describeOutput(first.parsed, *status, tunnelNode);
  hops.push_back(first);
  if (tunnelled && command.followTunnel) {
    if (options.agentSocketPattern.empty() || tunnelNode.empty()) {
      note = "The packet leaves through the tunnel to " + *first.parsed.tunnelDestination +
             (tunnelNode.empty() ? "" : " (" + tunnelNode + ")") +
             "; to follow it there, point sluicectl at the agents' sockets with "
             "--agent-socket-pattern (SLUICE_AGENT_SOCKET_PATTERN), {node} standing for the node.";
    } else {
      auto socket = options.agentSocketPattern;
      if (const auto at = socket.find("{node}"); at != std::string::npos)
        socket.replace(at, 6, tunnelNode);
      auto remote = agentStatus(socket);
      if (!remote) {
        note = "Not followed to " + tunnelNode + ": " + remote.error().message;
      } else {
        TunnelArrival arrival{remote->tunnelOfport, status->nodeIp, *first.parsed.tunnelDestination,
                              first.parsed.tunnelId.value_or(0),
                              first.parsed.tunnelDestinationMac.value_or("aa:bb:cc:dd:ee:ff")};
        NodeTrace second{*remote, tunnelPacketFlow(command, *pod, arrival), {}, ""};
        auto remoteText = ofprotoTrace(*remote, second.flow);
        if (!remoteText) return remoteText.error();
        second.parsed = parseTrace(*remoteText);
        second.output = describeOutput(second.parsed, *remote, "");
        hops.push_back(second);
      }
    }
  }
  if (options.output == OutputFormat::kJson) return traceJson(hops, note).dump(2) + "\n";
  if (options.output == OutputFormat::kYaml) return renderYaml(traceJson(hops, note));
  return renderTrace(hops, note);
}

}  // namespace

Result<std::string> run(const Invocation& invocation) {
  const auto& options = invocation.options;
  return std::visit(
      [&](const auto& command) -> Result<std::string> {
        using Command = std::decay_t<decltype(command)>;
        if constexpr (std::is_same_v<Command, GetFlows>)
          return getFlows(options, command);
        else if constexpr (std::is_same_v<Command, GetEgress>)
          return getEgress(options, command);
        else if constexpr (std::is_same_v<Command, GetPools>)
          return getPools(options, command);
        else if constexpr (std::is_same_v<Command, GetNodes>)
          return getNodes(options);
        else if constexpr (std::is_same_v<Command, GetServices>)
          return getServices(options, command);
        else if constexpr (std::is_same_v<Command, Trace>)
          return trace(options, command);
        else if constexpr (std::is_same_v<Command, Help>)
          return command.text;
        else
          return std::string("sluicectl " SLUICE_VERSION "\n");
      },
      invocation.command);
}

}  // namespace sluice::sluicectl
