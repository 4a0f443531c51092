// The client side of agent queries (sluicectl).
#include "cni/agent_query.h"

#include <cerrno>
#include <cstring>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socketPath.size() >= sizeof address.sun_path)
    return makeError("agent socket path is too long: " + socketPath);
  std::strncpy(address.sun_path, socketPath.c_str(), sizeof address.sun_path - 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return agentDown(socketPath, std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    return agentDown(socketPath, std::strerror(errno));
  const std::string line = nlohmann::json{{"query", query}}.dump() + "\n";
  for (std::size_t sent = 0; sent < line.size();) {
    const ssize_t n = ::send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return agentDown(socketPath, std::string("send: ") + std::strerror(errno));
    sent += static_cast<std::size_t>(n);
  }
  std::string answer;
  char buffer[65536];
  while (answer.find('\n') == std::string::npos) {
    pollfd ready{fd, POLLIN, 0};
    const int polled = ::poll(&ready, 1, options.timeoutMs);
    if (polled == 0)
      return agentDown(socketPath, "no answer within " + std::to_string(options.timeoutMs) + " ms");
    if (polled < 0 && errno != EINTR) return agentDown(socketPath, std::strerror(errno));
    if (polled < 0) continue;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return agentDown(socketPath, "the agent closed the connection without an answer");
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  try {
    const auto wire = nlohmann::json::parse(answer.substr(0, answer.find('\n')));
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
