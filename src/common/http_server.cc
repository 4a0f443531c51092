// HttpServer: one acceptor and one session object per connection on an io_context; sessions
// loop read -> handler -> write while the client keeps the connection alive.
#include "common/http_server.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

// GCC 12 with -fsanitize flags a boost::optional in Beast's request parser as maybe-uninitialized
// (a false positive inside Boost); keep -Werror for our own code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "common/log.h"

namespace sluice {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct Route {
  std::map<std::string, HttpHandler> byMethod;
};

using RouteTable = std::map<std::string, Route>;

HttpResponse dispatch(const RouteTable& routes, const HttpRequest& request) {
  auto route = routes.find(request.path);
  if (route == routes.end())
    return HttpResponse{404, "text/plain; charset=utf-8", "not found\n", {}};
  auto handler = route->second.byMethod.find(request.method);
  if (handler == route->second.byMethod.end()) {
    std::string allowed;
    for (const auto& [method, unused] : route->second.byMethod)
      allowed += (allowed.empty() ? "" : ", ") + method;
    return HttpResponse{
        405, "text/plain; charset=utf-8", "method not allowed\n", {{"Allow", allowed}}};
  }
  try {
    return handler->second(request);
  } catch (const std::exception& error) {
    SLUICE_LOG(kError, "http") << request.method << " " << request.path
                               << ": handler failed: " << error.what();
    return HttpResponse{500, "text/plain; charset=utf-8", "internal error\n", {}};
  }
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const RouteTable& routes, const HttpServerOptions& options)
      : stream_(std::move(socket)), routes_(routes), options_(options) {}

  void start() { read(); }
  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(options_.maxBodyBytes);
    stream_.expires_after(options_.idleTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code error, std::size_t) { self->onRead(error); });
  }

  void onRead(beast::error_code error) {
    if (error) return close();
    auto message = parser_->release();
    HttpRequest request;
    request.method = std::string(message.method_string());
    const std::string target(message.target());
    const auto question = target.find('?');
    request.path = target.substr(0, question);
    if (question != std::string::npos) request.query = target.substr(question + 1);
    for (const auto& field : message) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request.headers[name] = std::string(field.value());
    }
    request.body = std::move(message.body());
    beast::error_code ignored;
    const auto remote = stream_.socket().remote_endpoint(ignored);
    if (!ignored)
      request.remoteAddress = remote.address().to_string() + ":" + std::to_string(remote.port());

    const HttpResponse result = dispatch(routes_, request);
    auto response = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(result.status), message.version());
    response->set(http::field::server, "sluice");
    response->set(http::field::content_type, result.contentType);
    for (const auto& [name, value] : result.headers) response->set(name, value);
    response->keep_alive(message.keep_alive());
    response->body() = result.body;
    response->prepare_payload();
    stream_.expires_after(options_.idleTimeout);
    http::async_write(
        stream_, *response,
        [self = shared_from_this(), response](beast::error_code writeError, std::size_t) {
          if (writeError || !response->keep_alive()) return self->close();
          self->read();
        });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const RouteTable& routes_;
  const HttpServerOptions& options_;
};

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  RouteTable routes;
  asio::io_context io{1};
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::mutex sessionsMutex;
  std::vector<std::weak_ptr<Session>> sessions;
  std::atomic<bool> running{false};
  int port = 0;

  void accept() {
    acceptor->async_accept([this](beast::error_code error, tcp::socket socket) {
      if (error) {
        if (error == asio::error::operation_aborted || !acceptor->is_open()) return;
        SLUICE_LOG(kWarning, "http") << "accept failed: " << error.message();
      } else {
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        auto session = std::make_shared<Session>(std::move(socket), routes, options);
        {
          std::lock_guard lock(sessionsMutex);
          std::erase_if(sessions,
                        [](const std::weak_ptr<Session>& weak) { return weak.expired(); });
          sessions.push_back(session);
        }
        session->start();
      }
      accept();
    });
  }
};

HttpServer::HttpServer(HttpServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::route(const std::string& method, const std::string& path, HttpHandler handler) {
  impl_->routes[path].byMethod[method] = std::move(handler);
}

Result<void> HttpServer::start() {
  auto hostPort = splitHostPort(impl_->options.listenAddress);
  if (!hostPort) return hostPort.error();
  beast::error_code error;
  const auto address = asio::ip::make_address(hostPort->first, error);
  if (error)
    return makeError("listen address " + impl_->options.listenAddress + ": \"" + hostPort->first +
                     "\" is not an IP address; use e.g. 0.0.0.0:10349");
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(hostPort->second));
  auto& acceptor = impl_->acceptor.emplace(impl_->io);
  acceptor.open(endpoint.protocol(), error);
  if (!error) acceptor.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error)
    return makeError("listen on " + impl_->options.listenAddress + ": " + error.message() +
                     "; pick a free port or stop the process that holds it");
  impl_->port = acceptor.local_endpoint().port();
  impl_->running = true;
  impl_->accept();
  for (int i = 0; i < std::max(1, impl_->options.threads); ++i)
    impl_->threads.emplace_back([this] { impl_->io.run(); });
  return {};
}

void HttpServer::stop() {
  if (!impl_->running.exchange(false)) return;
  impl_->io.stop();
  for (auto& thread : impl_->threads) thread.join();
  impl_->threads.clear();
  // No handler runs now, so closing sockets from this thread is safe. Then let the aborted
  // operations complete: their handlers release the sessions.
  beast::error_code ignored;
  impl_->acceptor->close(ignored);
  {
    std::lock_guard lock(impl_->sessionsMutex);
    for (auto& weak : impl_->sessions)
      if (auto session = weak.lock()) session->close();
    impl_->sessions.clear();
  }
  impl_->io.restart();
  impl_->io.poll();
  impl_->acceptor.reset();
}

int HttpServer::port() const { return impl_->port; }

std::string metricsText(const prometheus::Registry& registry) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry.Collect());
  return out.str();
}

HttpHandler metricsHandler(const prometheus::Registry& registry) {
  return [&registry](const HttpRequest&) {
    return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", metricsText(registry), {}};
  };
}

Result<std::pair<std::string, int>> splitHostPort(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size())
    return makeError("address \"" + address + "\" is not HOST:PORT; use e.g. 0.0.0.0:10349");
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const auto portText = address.substr(colon + 1);
  if (portText.size() > 5 ||
      !std::all_of(portText.begin(), portText.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return makeError("address \"" + address + "\": port \"" + portText +
                     "\" is not a number from 0 to 65535");
  const int port = std::stoi(portText);
  if (port > 65535) return makeError("address \"" + address + "\": port must be at most 65535");
  return std::make_pair(host.empty() ? std::string("0.0.0.0") : host, port);
}

}  // namespace sluice
