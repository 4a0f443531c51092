// Sluice's one HTTP/1.1 client: to the Kubernetes API over TLS (plain requests and
// line-streamed watch responses), and in plain HTTP to the controller's endpoints (the agents'
// liveness reports, sluicectl's liveness view). The interface is small so that unit tests of
// pure logic can use a fake.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "kube/config.h"

namespace sluice::kube {

struct HttpRequest {
  std::string method = "GET";
  std::string target;  // path and query, without the server's base path
  std::string contentType;
  std::string body;
};

struct HttpResponse {
  using Headers = std::vector<std::pair<std::string, std::string>>;
  HttpResponse() = default;
  HttpResponse(int status, std::string body, Headers headers = {})
      : status(status), body(std::move(body)), headers(std::move(headers)) {}

  int status = 0;
  std::string body;
  Headers headers;
  // The first header named `name` (case-insensitive); "" when absent.
  std::string header(std::string_view name) const;
};

// Lets another thread end a streaming request: cancel() aborts the read in progress.
class StreamCanceller {
 public:
  void cancel();
  bool cancelled() const;
  // Used by transports: the hook runs on cancel() (under the canceller's lock, so it must not
  // call back into this canceller); cleared when the stream ends.
  void setHook(std::function<void()> hook);
  void clearHook();
  // Re-arms after a cancelled stream, for the next one.
  void reset();

 private:
  mutable std::mutex mutex_;
  std::function<void()> hook_;
  bool cancelled_ = false;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Transport failures (connect, TLS, timeout) are errors; any HTTP status is a response.
  [[nodiscard]] virtual Result<HttpResponse> send(const HttpRequest& request) = 0;
  // Sends `request` and passes each newline-terminated line of a 2xx body to `onLine` as it
  // arrives. Returns when the server ends the stream, on error, or on cancel (then the status is
  // the response's, and a non-2xx body is returned whole in HttpResponse::body).
  [[nodiscard]] virtual Result<HttpResponse> stream(
      const HttpRequest& request, const std::function<void(std::string_view line)>& onLine,
      StreamCanceller& canceller) = 0;
  // How many connections this transport has opened (keep-alive reuses them).
  virtual std::uint64_t connectionsOpened() const { return 0; }
};

struct TransportOptions {
  std::chrono::milliseconds connectTimeout{10'000};
  std::chrono::milliseconds requestTimeout{60'000};
  // A watch with no byte for this long is considered dead (the server sends bookmarks).
  std::chrono::milliseconds streamIdleTimeout{300'000};
  size_t maxIdleConnections = 16;
  std::string userAgent = "sluice/0.1";
};

struct ServerUrl {
  std::string scheme;  // "https" or "http"
  std::string host;    // without IPv6 brackets
  std::string port;
  std::string basePath;  // "" or "/prefix" (no trailing slash)
};

[[nodiscard]] Result<ServerUrl> parseServerUrl(const std::string& server);

// HTTPS with Boost.Beast (plain "http://" servers are rejected). Verifies the server's
// certificate against the configured CA and its name or IP, unless insecureSkipTlsVerify.
// Thread-safe: concurrent send() calls use separate pooled connections.
[[nodiscard]] Result<std::unique_ptr<Transport>> makeHttpTransport(
    const ClusterConfig& config, const TransportOptions& options = {});

// The same client in plain HTTP to HOST:PORT, for Sluice's own endpoints inside the cluster.
// The service-account token in `tokenFile` (if any) is sent as a bearer token.
[[nodiscard]] Result<std::unique_ptr<Transport>> makePlainHttpTransport(
    const std::string& hostPort, const std::string& tokenFile = "",
    const TransportOptions& options = {});

}  // namespace sluice::kube
