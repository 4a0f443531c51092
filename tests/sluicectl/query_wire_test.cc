// The query wire on a real unix socket: queries reach the query handler, CNI requests still reach
// the CNI handler on the same socket, and a missing agent is named with how to start it.
#include <catch2/catch.hpp>

#include <filesystem>

#include <unistd.h>

#include "agent/cni_server.h"
#include "cni/agent_client.h"
#include "cni/agent_query.h"

namespace sluice::sluicectl {
namespace {

std::string socketPath() {
  return (std::filesystem::temp_directory_path() /
          ("sluicectl-test-" + std::to_string(::getpid()) + ".sock"))
      .string();
}

TEST_CASE("queries and CNI requests share the agent socket", "[unit]") {
  const auto path = socketPath();
  int cniCalls = 0;
  auto server = agent::CniServer::start(
      path,
      [&](const cni::Request&) -> std::variant<nlohmann::json, cni::CniError> {
        ++cniCalls;
        return nlohmann::json{{"cniVersion", "1.0.0"}};
      },
      [](const nlohmann::json& query) -> Result<nlohmann::json> {
        if (query.value("kind", "") == "status") return nlohmann::json{{"node", "node01"}};
        return makeError("unknown query kind");
      });
  REQUIRE(server);
  auto status = cni::queryAgent(path, {{"kind", "status"}});
  REQUIRE(status);
  CHECK((*status)["node"] == "node01");
  auto unknown = cni::queryAgent(path, {{"kind", "frob"}});
  REQUIRE_FALSE(unknown);
  CHECK_THAT(unknown.error().message, Catch::Contains("unknown query kind"));

  cni::Request version;
  version.command = cni::Command::kVersion;
  version.cniVersion = "1.0.0";
  auto answer = cni::callAgent(path, version, 5);
  CHECK(std::holds_alternative<nlohmann::json>(answer));
  CHECK(cniCalls == 1);
}

TEST_CASE("an agent without a query handler says so", "[unit]") {
  const auto path = socketPath();
  auto server = agent::CniServer::start(
      path, [](const cni::Request&) -> std::variant<nlohmann::json, cni::CniError> {
        return nlohmann::json::object();
      });
  REQUIRE(server);
  auto answer = cni::queryAgent(path, {{"kind", "status"}});
  REQUIRE_FALSE(answer);
  CHECK_THAT(answer.error().message, Catch::Contains("does not answer queries"));
}

TEST_CASE("no agent: the error names the socket and how to start the agent", "[unit]") {
  auto answer = cni::queryAgent("/nonexistent/sluice/cni.sock", {{"kind", "status"}});
  REQUIRE_FALSE(answer);
  CHECK_THAT(answer.error().message, Catch::Contains("/nonexistent/sluice/cni.sock"));
  CHECK_THAT(answer.error().message, Catch::Contains("start the agent"));
}

}  // namespace
}  // namespace sluice::sluicectl
