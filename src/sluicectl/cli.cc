// sluicectl argument parsing.
#include "sluicectl/cli.h"

#include <charconv>

#include "cni/agent_client.h"
#include "common/ipv4.h"

namespace sluice::sluicectl {
namespace {

// A cursor over the arguments that knows "-T X", "-TX" and "--table=X" spellings.
class Arguments {
 public:
  explicit Arguments(const std::vector<std::string>& arguments) : arguments_(arguments) {}
  bool done() const { return next_ >= arguments_.size(); }
  const std::string& peek() const { return arguments_[next_]; }
  std::string take() { return arguments_[next_++]; }
  // When the next argument is one of `names` (or NAME=VALUE), consumes it and its value.
  Result<std::optional<std::string>> option(std::initializer_list<std::string_view> names) {
    const auto& argument = peek();
    for (const auto name : names) {
      if (argument == name) {
        ++next_;
        if (done()) return makeError("option " + std::string(name) + " needs a value");
        return std::optional<std::string>(take());
      }
      if (argument.size() > name.size() && argument.compare(0, name.size(), name) == 0) {
        const bool longForm = name.size() > 2;
        if (longForm && argument[name.size()] != '=') continue;
        const auto value = argument.substr(name.size() + (longForm ? 1 : 0));
        ++next_;
        return std::optional<std::string>(value);
      }
    }
    return std::optional<std::string>();
  }

 private:
  const std::vector<std::string>& arguments_;
  std::size_t next_ = 0;
};

Result<OutputFormat> parseOutput(const std::string& text) {
  if (text == "json") return OutputFormat::kJson;
  if (text == "yaml") return OutputFormat::kYaml;
  if (text == "wide") return OutputFormat::kWide;
  if (text == "table") return OutputFormat::kTable;
  return makeError("-o " + text + ": unknown output format; use json, yaml or wide");
}

std::string lookup(const std::map<std::string, std::string>& environment, const std::string& key) {
  auto it = environment.find(key);
  return it == environment.end() ? std::string() : it->second;
}

Result<int> parsePort(const std::string& text) {
  int port = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (error != std::errc() || end != text.data() + text.size() || port < 1 || port > 65535)
    return makeError("--dport " + text + ": give a port number from 1 to 65535");
  return port;
}

}  // namespace

std::string usage() {
  return R"(sluicectl: look into Sluice on this node (like antctl)

usage: sluicectl [GLOBAL OPTIONS] COMMAND [OPTIONS]

commands:
  get ovsflows [-T TABLE] [-p NS/POD] [--egress NAME] [-S NS/SERVICE] [--bridge BRIDGE]
                       this node's OpenFlow flows with table names and decoded cookies
  get services [NS/NAME]
                       Services as this node's proxy serves them: ports, ClusterIP, NodePort,
                       policies, affinity, endpoints (local ones marked), group IDs
  get egress [NAME]    Egresses: IPs, nodes, the pods they select on this node, state
  get pools [NAME]     ExternalIPPools and their usage
  get nodes            node liveness as sluice-controller sees it
  trace --pod NS/POD --dst IP [--proto icmp|udp|tcp] [--dport N] [--no-follow]
                       where a packet from a local pod goes: tables, a Service's load balancing
                       (group, bucket, endpoint), output, SNAT (ofproto/trace), followed through
                       the tunnel to the egress node when its agent is reachable

global options:
  -o, --output json|yaml|wide   output format of get (default: a table)
  --agent-socket PATH           this node's agent socket (SLUICE_AGENT_SOCKET;
                                default )" +
         std::string(cni::kDefaultAgentSocket) + R"()
  --agent-socket-pattern PATH   other nodes' agent sockets, {node} is the node name
                                (SLUICE_AGENT_SOCKET_PATTERN); lets trace follow tunnels
  --kubeconfig PATH             the Kubernetes API (KUBECONFIG; default: in-cluster)
  --controller HOST:PORT        sluice-controller (SLUICE_CONTROLLER; default: the agent's)
  -h, --help                    this text
)";
}

Result<std::pair<std::string, std::string>> parsePodReference(const std::string& text) {
  const auto slash = text.find('/');
  std::pair<std::string, std::string> reference =
      slash == std::string::npos ? std::pair<std::string, std::string>{"default", text}
                                 : std::pair{text.substr(0, slash), text.substr(slash + 1)};
  if (reference.first.empty() || reference.second.empty() ||
      reference.second.find('/') != std::string::npos)
    return makeError("pod \"" + text + "\": write it as NAMESPACE/NAME, e.g. prod/web-1");
  return reference;
}

Result<Invocation> parseArguments(const std::vector<std::string>& arguments,
                                  const std::map<std::string, std::string>& environment) {
  Invocation invocation;
  auto& options = invocation.options;
  options.agentSocket = lookup(environment, "SLUICE_AGENT_SOCKET");
  if (options.agentSocket.empty()) options.agentSocket = cni::kDefaultAgentSocket;
  options.agentSocketPattern = lookup(environment, "SLUICE_AGENT_SOCKET_PATTERN");
  options.kubeconfig = lookup(environment, "KUBECONFIG");
  if (options.kubeconfig.empty()) options.kubeconfig = lookup(environment, "SLUICE_KUBECONFIG");
  options.controllerAddress = lookup(environment, "SLUICE_CONTROLLER");

  Arguments cursor(arguments);
  std::vector<std::string> words;  // the command and its positional arguments
  std::optional<GetFlows> flows;
  std::optional<Trace> trace;
  std::optional<std::string> pod, table, egress, service, bridge, destination, protocol, port;
  bool noFollow = false;
  while (!cursor.done()) {
    const auto& argument = cursor.peek();
    if (argument == "-h" || argument == "--help") {
      invocation.command = Help{usage()};
      return invocation;
    }
    if (argument == "--version") {
      invocation.command = Version{};
      return invocation;
    }
    if (argument == "--no-follow") {
      cursor.take();
      noFollow = true;
      continue;
    }
    struct Spelling {
      std::initializer_list<std::string_view> names;
      std::optional<std::string>* target;
    };
    std::optional<std::string> output, socket, pattern, kubeconfig, controller;
    const Spelling spellings[] = {
        {{"--output", "-o"}, &output},
        {{"--agent-socket"}, &socket},
        {{"--agent-socket-pattern"}, &pattern},
        {{"--kubeconfig"}, &kubeconfig},
        {{"--controller"}, &controller},
        {{"--table", "-T"}, &table},
        {{"--pod", "-p"}, &pod},
        {{"--egress"}, &egress},
        {{"--service", "-S"}, &service},
        {{"--bridge"}, &bridge},
        {{"--dst", "--destination"}, &destination},
        {{"--proto", "--protocol"}, &protocol},
        {{"--dport"}, &port},
    };
    bool matched = false;
    for (const auto& spelling : spellings) {
      auto value = cursor.option(spelling.names);
      if (!value) return value.error();
      if (!value->has_value()) continue;
      *spelling.target = **value;
      matched = true;
      break;
    }
    if (output) {
      auto format = parseOutput(*output);
      if (!format) return format.error();
      options.output = *format;
    }
    if (socket) options.agentSocket = *socket;
    if (pattern) options.agentSocketPattern = *pattern;
    if (kubeconfig) options.kubeconfig = *kubeconfig;
    if (controller) options.controllerAddress = *controller;
    if (matched) continue;
    if (argument.size() > 1 && argument[0] == '-')
      return makeError("unknown option " + argument + "; see sluicectl --help");
    words.push_back(cursor.take());
  }

  if (words.empty()) return makeError("no command given; see sluicectl --help");
  const auto rejectFlowOptions = [&](const std::string& command) -> Result<void> {
    if (table || egress || service || bridge)
      return makeError("-T, --egress, -S and --bridge belong to get ovsflows, not " + command);
    return {};
  };
  const auto rejectTraceOptions = [&](const std::string& command) -> Result<void> {
    if (destination || protocol || port || noFollow)
      return makeError("--dst, --proto, --dport and --no-follow belong to trace, not " + command);
    return {};
  };
  if (words[0] == "get") {
    if (words.size() < 2)
      return makeError("get what? sluicectl get ovsflows|egress|pools|nodes|services");
    const auto& what = words[1];
    if (auto rejected = rejectTraceOptions("get " + what); !rejected) return rejected.error();
    const bool isFlows = what == "ovsflows" || what == "ovsflow" || what == "of";
    if (!isFlows) {
      if (auto rejected = rejectFlowOptions("get " + what); !rejected) return rejected.error();
      if (pod) return makeError("-p belongs to get ovsflows and trace, not get " + what);
    }
    const std::optional<std::string> name =
        words.size() > 2 ? std::optional<std::string>(words[2]) : std::nullopt;
    if (words.size() > 3 || (isFlows && name) || (what == "nodes" && name))
      return makeError("too many arguments to get " + what + ": " + words.back());
    if (isFlows) {
      GetFlows command{table, pod, egress, service, bridge.value_or("")};
      if (pod) {
        if (auto reference = parsePodReference(*pod); !reference) return reference.error();
      }
      if (service && service->find('/') == std::string::npos)
        return makeError("-S " + *service +
                         ": write the Service as NAMESPACE/NAME, e.g. "
                         "default/kubernetes");
      invocation.command = command;
    } else if (what == "egress" || what == "egresses" || what == "eg") {
      invocation.command = GetEgress{name};
    } else if (what == "pools" || what == "pool" || what == "externalippools" || what == "eip") {
      invocation.command = GetPools{name};
    } else if (what == "nodes" || what == "node") {
      invocation.command = GetNodes{};
    } else if (what == "services" || what == "service" || what == "svc") {
      invocation.command = GetServices{name};
    } else {
      return makeError("get " + what +
                       ": unknown resource; use ovsflows, egress, pools, nodes or services");
    }
    return invocation;
  }
  if (words[0] == "trace") {
    if (words.size() > 1) return makeError("trace takes no positional arguments: " + words[1]);
    if (auto rejected = rejectFlowOptions("trace"); !rejected) return rejected.error();
    if (!pod) return makeError("trace needs --pod NAMESPACE/NAME (a pod on this node)");
    if (!destination) return makeError("trace needs --dst IP, the packet's destination");
    Trace command;
    auto reference = parsePodReference(*pod);
    if (!reference) return reference.error();
    command.podNamespace = reference->first;
    command.podName = reference->second;
    if (!parseIpv4(*destination))
      return makeError("--dst " + *destination + ": give an IPv4 address, e.g. 10.10.3.1");
    command.destination = *destination;
    const auto proto = protocol.value_or(port ? "tcp" : "icmp");
    if (proto == "icmp")
      command.protocol = Protocol::kIcmp;
    else if (proto == "udp")
      command.protocol = Protocol::kUdp;
    else if (proto == "tcp")
      command.protocol = Protocol::kTcp;
    else
      return makeError("--proto " + proto + ": use icmp, udp or tcp");
    if (port) {
      if (command.protocol == Protocol::kIcmp)
        return makeError("--dport needs --proto tcp or udp (ICMP has no ports)");
      auto parsed = parsePort(*port);
      if (!parsed) return parsed.error();
      command.destinationPort = *parsed;
    } else if (command.protocol != Protocol::kIcmp) {
      command.destinationPort = command.protocol == Protocol::kTcp ? 80 : 53;
    }
    command.followTunnel = !noFollow;
    invocation.command = command;
    return invocation;
  }
  if (words[0] == "help") {
    invocation.command = Help{usage()};
    return invocation;
  }
  if (words[0] == "version") {
    invocation.command = Version{};
    return invocation;
  }
  return makeError("unknown command " + words[0] + "; use get or trace (sluicectl --help)");
}

}  // namespace sluice::sluicectl
