// CniServer: the agent's unix socket for sluice-cni (root-owned, mode 0600). Each connection
// carries one request line and gets one answer line; connections are served on their own threads.
// The same socket answers sluicectl's queries (cni/agent_query.h), so root alone can ask either.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "cni/cni_protocol.h"
#include "common/result.h"

namespace sluice::agent {

class CniServer {
 public:
  using Handler = std::function<std::variant<nlohmann::json, cni::CniError>(const cni::Request&)>;
  // Answers a query line ({"query": ...}); none: queries get an error.
  using QueryHandler = std::function<Result<nlohmann::json>(const nlohmann::json& query)>;

  // Binds (replacing a stale socket file), sets mode 0600 and starts accepting.
  static Result<std::unique_ptr<CniServer>> start(const std::string& socketPath, Handler handler,
                                                  QueryHandler queryHandler = {});
  ~CniServer();  // stops accepting, waits for in-flight requests, removes the socket file
  CniServer(const CniServer&) = delete;
  CniServer& operator=(const CniServer&) = delete;

 private:
  CniServer(std::string path, int fd, Handler handler, QueryHandler queryHandler);
  void acceptLoop();
  void serve(int connection);
  void answerQuery(int connection, const nlohmann::json& query);
  static void sendLine(int connection, const std::string& line);

  std::string path_;
  int listenFd_;
  Handler handler_;
  QueryHandler queryHandler_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> inFlight_{0};
  std::thread acceptor_;
};

// Decodes one request line from the socket, runs the handler and returns the answer line (with
// its newline). Pure apart from the handler, so the socket protocol can be fuzzed without a socket.
std::string answerRequestLine(const std::string& line, const CniServer::Handler& handler);

}  // namespace sluice::agent
