// The sluice-cni side of the agent socket.
#include "cni/agent_client.h"

#include <cerrno>
#include <cstring>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace sluice::cni {
namespace {

using nlohmann::json;

const char* commandName(Command command) {
  switch (command) {
    case Command::kAdd: return "ADD";
    case Command::kDel: return "DEL";
    case Command::kCheck: return "CHECK";
    case Command::kVersion: return "VERSION";
    case Command::kStatus: return "STATUS";
    case Command::kGc: return "GC";
  }
  return "?";
}

CniError agentDown(const std::string& socketPath, const std::string& why) {
  return CniError{ErrorCode::kTryAgainLater, "sluice-agent is not answering on " + socketPath,
                  why + "; check that the sluice-agent on this node is running"};
}

}  // namespace

json encodeRequest(const Request& request) {
  return {{"command", commandName(request.command)},
          {"cniVersion", request.cniVersion},
          {"containerId", request.containerId},
          {"netns", request.netns},
          {"ifName", request.ifName},
          {"args", request.args},
          {"config", request.config},
          {"prevResult", request.prevResult}};
}

std::variant<Request, CniError> decodeRequest(const json& wire) {
  // Re-validate on the agent's side with the same parser the binary used: the socket is a
  // boundary too, and anything root can write to it should meet the same checks.
  try {
    std::map<std::string, std::string> environment = {
        {"CNI_COMMAND", wire.at("command").get<std::string>()},
        {"CNI_CONTAINERID", wire.value("containerId", std::string())},
        {"CNI_NETNS", wire.value("netns", std::string())},
        {"CNI_IFNAME", wire.value("ifName", std::string())}};
    std::string args;
    if (const auto found = wire.find("args"); found != wire.end() && found->is_object())
      for (auto it = found->begin(); it != found->end(); ++it)
        args += (args.empty() ? "" : ";") + it.key() + "=" + it.value().get<std::string>();
    environment["CNI_ARGS"] = args;
    auto config = wire.value("config", json::object());
    if (!wire.value("prevResult", json()).is_null()) config["prevResult"] = wire["prevResult"];
    return parseRequest(environment, config.is_null() ? std::string() : config.dump());
  } catch (const json::exception& error) {
    return CniError{ErrorCode::kDecodeFailure, "malformed request on the agent socket",
                    error.what()};
  }
}

json encodeResponse(const std::variant<json, CniError>& response) {
  if (const auto* error = std::get_if<CniError>(&response))
    return {{"error",
             {{"code", static_cast<int>(error->code)},
              {"msg", error->message},
              {"details", error->details}}}};
  return {{"result", std::get<json>(response)}};
}

std::variant<json, CniError> decodeResponse(const json& wire) {
  try {
    if (wire.contains("error")) {
      const auto& error = wire["error"];
      return CniError{static_cast<ErrorCode>(error.at("code").get<int>()),
                      error.value("msg", std::string()), error.value("details", std::string())};
    }
    return wire.at("result");
  } catch (const json::exception& error) {
    return CniError{ErrorCode::kDecodeFailure, "malformed answer from sluice-agent", error.what()};
  }
}

std::variant<json, CniError> callAgent(const std::string& socketPath, const Request& request,
                                       int timeoutSeconds) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socketPath.size() >= sizeof address.sun_path)
    return CniError{ErrorCode::kInvalidNetworkConfig, "agentSocket path is too long", socketPath};
  std::strncpy(address.sun_path, socketPath.c_str(), sizeof address.sun_path - 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return agentDown(socketPath, std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    return agentDown(socketPath, std::strerror(errno));

  const std::string line = toWire(encodeRequest(request)) + "\n";
  for (std::size_t sent = 0; sent < line.size();) {
    const ssize_t n = ::send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return agentDown(socketPath, std::string("send: ") + std::strerror(errno));
    sent += static_cast<std::size_t>(n);
  }
  std::string answer;
  char buffer[4096];
  while (answer.find('\n') == std::string::npos) {
    pollfd ready{fd, POLLIN, 0};
    const int polled = ::poll(&ready, 1, timeoutSeconds * 1000);
    if (polled == 0)
      return agentDown(socketPath, "no answer within " + std::to_string(timeoutSeconds) + " s");
    if (polled < 0 && errno != EINTR) return agentDown(socketPath, std::strerror(errno));
    if (polled < 0) continue;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return agentDown(socketPath, "the agent closed the connection without an answer");
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  try {
    return decodeResponse(json::parse(answer.substr(0, answer.find('\n'))));
  } catch (const json::exception& error) {
    return CniError{ErrorCode::kDecodeFailure, "malformed answer from sluice-agent", error.what()};
  }
}

}  // namespace sluice::cni
