// CniServer implementation over POSIX unix sockets.
#include "agent/cni_server.h"

#include <cerrno>
#include <cstring>

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cni/agent_client.h"
#include "cni/agent_query.h"
#include "common/log.h"

namespace sluice::agent {

Result<std::unique_ptr<CniServer>> CniServer::start(const std::string& socketPath, Handler handler,
                                                    QueryHandler queryHandler) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socketPath.size() >= sizeof address.sun_path)
    return makeError("cniSocket path is too long: " + socketPath);
  std::strncpy(address.sun_path, socketPath.c_str(), sizeof address.sun_path - 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return makeError(std::string("cni socket: ") + std::strerror(errno));
  ::unlink(socketPath.c_str());  // a stale file from a crashed agent
  // Create the socket file 0600 from the start: no window where another user could connect.
  const mode_t previous = ::umask(0177);
  const int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::umask(previous);
  if (bound != 0 || ::listen(fd, 64) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return makeError("cannot listen on " + socketPath + ": " + why +
                     "; check that its directory exists");
  }
  ::chmod(socketPath.c_str(), 0600);
  return std::unique_ptr<CniServer>(
      new CniServer(socketPath, fd, std::move(handler), std::move(queryHandler)));
}

CniServer::CniServer(std::string path, int fd, Handler handler, QueryHandler queryHandler)
    : path_(std::move(path)),
      listenFd_(fd),
      handler_(std::move(handler)),
      queryHandler_(std::move(queryHandler)) {
  acceptor_ = std::thread([this] { acceptLoop(); });
}

CniServer::~CniServer() {
  stopping_ = true;
  ::shutdown(listenFd_, SHUT_RDWR);
  acceptor_.join();
  ::close(listenFd_);
  while (inFlight_ > 0) {
    pollfd none{-1, 0, 0};
    ::poll(&none, 0, 10);  // in-flight requests finish within their own timeouts
  }
  ::unlink(path_.c_str());
}

void CniServer::acceptLoop() {
  while (!stopping_) {
    pollfd ready{listenFd_, POLLIN, 0};
    if (::poll(&ready, 1, 200) <= 0) continue;
    const int connection = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0) continue;
    ++inFlight_;
    std::thread([this, connection] {
      serve(connection);
      ::close(connection);
      --inFlight_;
    }).detach();
  }
}

std::string answerRequestLine(const std::string& line, const CniServer::Handler& handler) {
  std::variant<nlohmann::json, cni::CniError> response;
  try {
    auto request = cni::decodeRequest(nlohmann::json::parse(line));
    if (auto* error = std::get_if<cni::CniError>(&request))
      response = *error;
    else
      response = handler(std::get<cni::Request>(request));
  } catch (const nlohmann::json::exception& error) {
    response = cni::CniError{cni::ErrorCode::kDecodeFailure,
                             "malformed request on the agent socket", error.what()};
  }
  return cni::toWire(cni::encodeResponse(response)) + "\n";
}

void CniServer::serve(int connection) {
  std::string line;
  char buffer[4096];
  while (line.find('\n') == std::string::npos && line.size() < (1u << 20)) {
    pollfd ready{connection, POLLIN, 0};
    if (::poll(&ready, 1, 10000) <= 0) return;
    const ssize_t n = ::recv(connection, buffer, sizeof buffer, 0);
    if (n <= 0) return;
    line.append(buffer, static_cast<std::size_t>(n));
  }
  const std::string text = line.substr(0, line.find('\n'));
  // Queries (sluicectl) go to the query handler; everything else is a CNI request.
  const auto wire = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!wire.is_discarded() && cni::isQuery(wire)) {
    answerQuery(connection, wire["query"]);
    return;
  }
  sendLine(connection, answerRequestLine(text, handler_));
}

void CniServer::answerQuery(int connection, const nlohmann::json& query) {
  std::variant<nlohmann::json, cni::CniError> response;
  if (!queryHandler_) {
    response = cni::CniError{cni::ErrorCode::kPluginNotAvailable,
                             "this agent does not answer queries", "upgrade sluice-agent"};
  } else if (auto answer = queryHandler_(query); answer) {
    response = std::move(*answer);
  } else {
    response = cni::CniError{cni::ErrorCode::kInvalidEnvironment, answer.error().message, ""};
  }
  // An interface name, say, may not be UTF-8: toWire replaces rather than drops the answer.
  sendLine(connection, cni::toWire(cni::encodeResponse(response)) + "\n");
}

void CniServer::sendLine(int connection, const std::string& line) {
  for (std::size_t sent = 0; sent < line.size();) {
    const ssize_t n = ::send(connection, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

}  // namespace sluice::agent
