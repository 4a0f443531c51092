// A small HTTP/1.1 server (Boost.Beast) with keep-alive and a route table, for /healthz,
// /readyz, /metrics and the controller's liveness endpoints. Handlers run on the server's I/O
// threads (concurrently when threads > 1), so they must be quick and thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace prometheus {
class Registry;
}

namespace sluice {

struct HttpRequest {
  std::string method;                          // "GET", "POST", ...
  std::string path;                            // without the query string
  std::string query;                           // after '?', undecoded
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string remoteAddress;

  std::string header(const std::string& lowerCaseName) const {
    auto it = headers.find(lowerCaseName);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string listenAddress = "127.0.0.1:0";  // HOST:PORT; port 0 picks a free port
  int threads = 1;
  // A keep-alive connection with no request for this long is closed.
  std::chrono::milliseconds idleTimeout{60'000};
  std::size_t maxBodyBytes = 1 << 20;
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Register routes before start(). An unknown path answers 404, a known path with another
  // method 405.
  void route(const std::string& method, const std::string& path, HttpHandler handler);
  // Binds and starts the I/O threads. Errors name the address and the fix.
  [[nodiscard]] Result<void> start();
  // Closes the listener and every connection and joins the threads. Idempotent.
  void stop();
  // The bound port (useful with port 0).
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Prometheus text exposition format of everything in `registry`.
std::string metricsText(const prometheus::Registry& registry);
// A handler that serves metricsText(registry) (the registry must outlive the server).
HttpHandler metricsHandler(const prometheus::Registry& registry);

// Splits "HOST:PORT" (an IPv6 host in brackets); std::nullopt-like error when malformed.
[[nodiscard]] Result<std::pair<std::string, int>> splitHostPort(const std::string& address);

}  // namespace sluice
