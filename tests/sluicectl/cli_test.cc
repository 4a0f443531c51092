// sluicectl argument parsing: every command, option spelling and mistake.
#include <catch2/catch.hpp>

#include "sluicectl/cli.h"

namespace sluice::sluicectl {
namespace {

Result<Invocation> parse(std::vector<std::string> arguments,
                         std::map<std::string, std::string> environment = {}) {
  return parseArguments(arguments, environment);
}

std::string errorOf(std::vector<std::string> arguments) {
  auto parsed = parse(std::move(arguments));
  REQUIRE_FALSE(parsed);
  return parsed.error().message;
}

TEST_CASE("get ovsflows takes -T, -p and --egress in every spelling", "[unit]") {
  auto parsed = parse({"get", "ovsflows", "-T", "L3Forwarding", "-p", "prod/web-1", "--egress",
                       "egress-prod-web", "-o", "json"});
  REQUIRE(parsed);
  const auto& flows = std::get<GetFlows>(parsed->command);
  CHECK(flows.table == "L3Forwarding");
  CHECK(flows.pod == "prod/web-1");
  CHECK(flows.egress == "egress-prod-web");
  CHECK(parsed->options.output == OutputFormat::kJson);

  auto joined = parse({"-owide", "get", "ovsflows", "-TSnat", "--pod=prod/web-1", "--egress=e"});
  REQUIRE(joined);
  CHECK(joined->options.output == OutputFormat::kWide);
  CHECK(std::get<GetFlows>(joined->command).table == "Snat");
  CHECK(std::get<GetFlows>(joined->command).pod == "prod/web-1");
  CHECK(std::get<GetFlows>(joined->command).egress == "e");
}

TEST_CASE("get egress, pools and nodes; -o on every get", "[unit]") {
  auto egress = parse({"get", "egress", "egress-prod-web", "-o", "yaml"});
  REQUIRE(egress);
  CHECK(std::get<GetEgress>(egress->command).name == "egress-prod-web");
  CHECK(egress->options.output == OutputFormat::kYaml);
  auto all = parse({"get", "egresses"});
  REQUIRE(all);
  CHECK_FALSE(std::get<GetEgress>(all->command).name);
  CHECK(all->options.output == OutputFormat::kTable);
  auto pools = parse({"get", "pools", "--output=json"});
  REQUIRE(pools);
  CHECK(std::holds_alternative<GetPools>(pools->command));
  CHECK(pools->options.output == OutputFormat::kJson);
  auto nodes = parse({"get", "nodes", "-o", "wide"});
  REQUIRE(nodes);
  CHECK(std::holds_alternative<GetNodes>(nodes->command));
}

TEST_CASE("trace: pod, destination, protocol and port", "[unit]") {
  auto icmp = parse({"trace", "--pod", "prod/web-1", "--dst", "10.10.3.1"});
  REQUIRE(icmp);
  const auto& ping = std::get<Trace>(icmp->command);
  CHECK(ping.podNamespace == "prod");
  CHECK(ping.podName == "web-1");
  CHECK(ping.protocol == Protocol::kIcmp);
  CHECK(ping.destinationPort == 0);
  CHECK(ping.followTunnel);

  auto tcp =
      parse({"trace", "-p", "web-1", "--dst", "10.10.3.1", "--dport", "8080", "--no-follow"});
  REQUIRE(tcp);
  const auto& connect = std::get<Trace>(tcp->command);
  CHECK(connect.podNamespace == "default");
  CHECK(connect.protocol == Protocol::kTcp);  // a port without --proto means TCP
  CHECK(connect.destinationPort == 8080);
  CHECK_FALSE(connect.followTunnel);

  auto udp = parse({"trace", "-p", "a/b", "--dst", "10.10.3.1", "--proto", "udp"});
  REQUIRE(udp);
  CHECK(std::get<Trace>(udp->command).destinationPort == 53);
}

TEST_CASE("the environment points sluicectl at the agent, other agents and the API", "[unit]") {
  auto parsed = parse({"get", "nodes"}, {{"SLUICE_AGENT_SOCKET", "/run/x/cni.sock"},
                                         {"SLUICE_AGENT_SOCKET_PATTERN", "/run/{node}/cni.sock"},
                                         {"SLUICE_KUBECONFIG", "/run/x/kubeconfig"}});
  REQUIRE(parsed);
  CHECK(parsed->options.agentSocket == "/run/x/cni.sock");
  CHECK(parsed->options.agentSocketPattern == "/run/{node}/cni.sock");
  CHECK(parsed->options.kubeconfig == "/run/x/kubeconfig");
  auto flags = parse({"--agent-socket", "/a.sock", "--kubeconfig", "/k", "--controller",
                      "10.0.0.1:10349", "get", "nodes"},
                     {{"SLUICE_AGENT_SOCKET", "/env.sock"}, {"KUBECONFIG", "/env-k"}});
  REQUIRE(flags);
  CHECK(flags->options.agentSocket == "/a.sock");
  CHECK(flags->options.kubeconfig == "/k");
  CHECK(flags->options.controllerAddress == "10.0.0.1:10349");
  auto defaults = parse({"get", "nodes"});
  REQUIRE(defaults);
  CHECK(defaults->options.agentSocket == "/var/run/sluice/cni.sock");
}

TEST_CASE("mistakes are named with their fix", "[unit]") {
  CHECK_THAT(errorOf({}), Catch::Contains("no command"));
  CHECK_THAT(errorOf({"get"}), Catch::Contains("ovsflows|egress|pools|nodes"));
  CHECK_THAT(errorOf({"get", "flowz"}), Catch::Contains("unknown resource"));
  CHECK_THAT(errorOf({"get", "egress", "-o", "xml"}), Catch::Contains("json, yaml or wide"));
  CHECK_THAT(errorOf({"get", "ovsflows", "-T"}), Catch::Contains("-T needs a value"));
  CHECK_THAT(errorOf({"get", "ovsflows", "--frobnicate"}), Catch::Contains("unknown option"));
  CHECK_THAT(errorOf({"get", "egress", "-T", "Snat"}), Catch::Contains("belong to get ovsflows"));
  CHECK_THAT(errorOf({"get", "ovsflows", "-p", "a/b/c"}), Catch::Contains("NAMESPACE/NAME"));
  CHECK_THAT(errorOf({"trace", "--dst", "10.10.3.1"}), Catch::Contains("--pod"));
  CHECK_THAT(errorOf({"trace", "-p", "a/b"}), Catch::Contains("--dst"));
  CHECK_THAT(errorOf({"trace", "-p", "a/b", "--dst", "10.10.3"}), Catch::Contains("IPv4"));
  CHECK_THAT(errorOf({"trace", "-p", "a/b", "--dst", "10.10.3.1", "--proto", "sctp"}),
             Catch::Contains("icmp, udp or tcp"));
  CHECK_THAT(
      errorOf({"trace", "-p", "a/b", "--dst", "10.10.3.1", "--proto", "icmp", "--dport", "80"}),
      Catch::Contains("ICMP has no ports"));
  CHECK_THAT(errorOf({"trace", "-p", "a/b", "--dst", "10.10.3.1", "--dport", "70000"}),
             Catch::Contains("1 to 65535"));
  CHECK_THAT(errorOf({"get", "nodes", "--dst", "1.2.3.4"}), Catch::Contains("belong to trace"));
  CHECK_THAT(errorOf({"frob"}), Catch::Contains("unknown command frob"));
}

TEST_CASE("help", "[unit]") {
  auto help = parse({"get", "--help"});
  REQUIRE(help);
  CHECK_THAT(std::get<Help>(help->command).text, Catch::Contains("get ovsflows"));
}

TEST_CASE("get services and get ovsflows -S", "[unit]") {
  auto all = parse({"get", "services"});
  REQUIRE(all);
  CHECK_FALSE(std::get<GetServices>(all->command).name);
  auto one = parse({"get", "svc", "shop/web", "-o", "wide"});
  REQUIRE(one);
  CHECK(std::get<GetServices>(one->command).name == "shop/web");
  auto flows = parse({"get", "ovsflows", "-S", "shop/web"});
  REQUIRE(flows);
  CHECK(std::get<GetFlows>(flows->command).service == "shop/web");
  CHECK_THAT(errorOf({"get", "ovsflows", "-S", "web"}), Catch::Contains("NAMESPACE/NAME"));
  CHECK_THAT(errorOf({"get", "services", "-S", "a/b"}), Catch::Contains("belong to get ovsflows"));
}

}  // namespace
}  // namespace sluice::sluicectl
