// The sluice-cni side of the agent socket.
#include "cni/agent_client.h"

#include <array>

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

Result<std::string> exchangeLine(const std::string& socketPath, const std::string& line,
                                 std::chrono::milliseconds timeout) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socketPath.size() >= sizeof address.sun_path)
    return makeError("the socket path is too long (" + std::to_string(socketPath.size()) +
                     " bytes)");
  std::strncpy(address.sun_path, socketPath.c_str(), sizeof address.sun_path - 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return makeError(std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    return makeError(std::strerror(errno));
  const std::string framed = line + "\n";
  for (std::size_t sent = 0; sent < framed.size();) {
    const ssize_t n = ::send(fd, framed.data() + sent, framed.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return makeError(std::string("send: ") + std::strerror(errno));
    sent += static_cast<std::size_t>(n);
  }
  std::string answer;
  std::array<char, 65536> buffer{};
  while (answer.find('\n') == std::string::npos) {
    pollfd ready{fd, POLLIN, 0};
    const int polled = ::poll(&ready, 1, static_cast<int>(timeout.count()));
    if (polled == 0)
      return makeError("no answer within " + std::to_string(timeout.count()) + " ms");
    if (polled < 0 && errno != EINTR) return makeError(std::strerror(errno));
    if (polled < 0) continue;
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n <= 0) return makeError("the agent closed the connection without an answer");
    answer.append(buffer.data(), static_cast<std::size_t>(n));
  }
  return answer.substr(0, answer.find('\n'));
}

std::variant<json, CniError> callAgent(const std::string& socketPath, const Request& request,
                                       int timeoutSeconds) {
  if (socketPath.size() >= sizeof(sockaddr_un::sun_path))
    return CniError{ErrorCode::kInvalidNetworkConfig, "agentSocket path is too long", socketPath};
  auto answer = exchangeLine(socketPath, toWire(encodeRequest(request)),
                             std::chrono::seconds(timeoutSeconds));
  if (!answer) return agentDown(socketPath, answer.error().message);
  try {
    return decodeResponse(json::parse(*answer));
  } catch (const json::exception& error) {
    return CniError{ErrorCode::kDecodeFailure, "malformed answer from sluice-agent", error.what()};
  }
}

}  // namespace sluice::cni
