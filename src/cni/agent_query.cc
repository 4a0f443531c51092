// The client side of agent queries (sluicectl).
#include "cni/agent_query.h"

#include <sys/un.h>

#include "cni/agent_client.h"

namespace sluice::cni {
namespace {

Error agentDown(const std::string& socketPath, const std::string& why) {
  return makeError("sluice-agent is not answering on " + socketPath + " (" + why +
                   "); start the agent on this node (in the lab: sluice-lab node agent-start NODE),"
                   " or point sluicectl at its socket with --agent-socket or SLUICE_AGENT_SOCKET");
}

}  // namespace

bool isQuery(const nlohmann::json& wire) { return wire.is_object() && wire.contains("query"); }

Result<nlohmann::json> queryAgent(const std::string& socketPath, const nlohmann::json& query,
                                  const QueryOptions& options) {
  if (socketPath.size() >= sizeof(sockaddr_un::sun_path))
    return makeError("agent socket path is too long: " + socketPath);
  auto line = exchangeLine(socketPath, nlohmann::json{{"query", query}}.dump(),
                           std::chrono::milliseconds(options.timeoutMs));
  if (!line) return agentDown(socketPath, line.error().message);
  const std::string& answer = *line;
  try {
    const auto wire = nlohmann::json::parse(answer);
    if (wire.contains("error")) {
      const auto& error = wire["error"];
      std::string message = "sluice-agent: " + error.value("msg", std::string("query failed"));
      const auto details = error.value("details", std::string());
      if (!details.empty()) message += ": " + details;
      return makeError(message);
    }
    return wire.at("result");
  } catch (const nlohmann::json::exception& error) {
    return makeError("malformed answer from sluice-agent on " + socketPath + ": " + error.what());
  }
}

}  // namespace sluice::cni
