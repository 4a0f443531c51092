// Boost.Beast/Asio/OpenSSL implementation of Transport, over TLS or plain TCP, one io_context
// per connection so that each call runs on its caller's thread with its own timeouts.
#include "kube/transport.h"

#include <array>
#include <atomic>
#include <cctype>
#include <limits>
#include <type_traits>
#include <vector>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "common/log.h"

namespace sluice::kube {

std::string HttpResponse::header(std::string_view name) const {
  const auto lower = [](std::string_view text) {
    std::string out(text);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  const auto wanted = lower(name);
  for (const auto& [key, value] : headers)
    if (lower(key) == wanted) return value;
  return "";
}

void StreamCanceller::cancel() {
  // The hook runs under the lock so that clearHook() cannot return while it still runs: the
  // stream it points into may be destroyed right after. Hooks only post work, so this is brief.
  std::lock_guard lock(mutex_);
  cancelled_ = true;
  if (hook_) hook_();
}

bool StreamCanceller::cancelled() const {
  std::lock_guard lock(mutex_);
  return cancelled_;
}

void StreamCanceller::setHook(std::function<void()> hook) {
  std::lock_guard lock(mutex_);
  hook_ = std::move(hook);
}

void StreamCanceller::clearHook() {
  std::lock_guard lock(mutex_);
  hook_ = nullptr;
}

void StreamCanceller::reset() {
  std::lock_guard lock(mutex_);
  cancelled_ = false;
}

Result<ServerUrl> parseServerUrl(const std::string& server) {
  ServerUrl url;
  auto schemeEnd = server.find("://");
  if (schemeEnd == std::string::npos) {
    return makeError("server \"" + server + "\": missing scheme, expected https://HOST[:PORT]");
  }
  url.scheme = server.substr(0, schemeEnd);
  if (url.scheme != "https" && url.scheme != "http") {
    return makeError("server \"" + server + "\": unsupported scheme \"" + url.scheme +
                     "\", use https");
  }
  std::string rest = server.substr(schemeEnd + 3);
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) url.basePath = rest.substr(slash);
  while (!url.basePath.empty() && url.basePath.back() == '/') url.basePath.pop_back();
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos)
      return makeError("server \"" + server + "\": unterminated IPv6 address");
    url.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':')
        return makeError("server \"" + server + "\": junk after IPv6 address");
      url.port = authority.substr(close + 2);
    }
  } else {
    auto colon = authority.rfind(':');
    url.host = authority.substr(0, colon);
    if (colon != std::string::npos) url.port = authority.substr(colon + 1);
  }
  if (url.host.empty()) return makeError("server \"" + server + "\": missing host");
  if (url.port.empty()) url.port = url.scheme == "https" ? "443" : "80";
  for (char c : url.port) {
    if (c < '0' || c > '9')
      return makeError("server \"" + server + "\": port \"" + url.port + "\" is not a number");
  }
  return url;
}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct TlsConnection {
  explicit TlsConnection(ssl::context& context) : stream(ioc, context) {}
  asio::io_context ioc;
  beast::ssl_stream<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
};

struct PlainConnection {
  explicit PlainConnection(ssl::context&) : stream(ioc) {}
  asio::io_context ioc;
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
};

template <typename Fields>
std::vector<std::pair<std::string, std::string>> headersOf(const Fields& fields) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& field : fields)
    headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  return headers;
}

// Runs the io_context until the operation started by `start` completes (with its own timeout
// armed on the stream).
template <typename Connection, typename Start>
beast::error_code runOperation(Connection& connection, std::chrono::milliseconds timeout,
                               Start start) {
  beast::error_code result = asio::error::would_block;
  beast::get_lowest_layer(connection.stream).expires_after(timeout);
  start([&result](beast::error_code error, auto&&...) { result = error; });
  connection.ioc.restart();
  while (result == asio::error::would_block) {
    if (connection.ioc.run_one() == 0) break;
  }
  return result;
}

bool isIpAddress(const std::string& host) {
  beast::error_code error;
  asio::ip::make_address(host, error);
  return !error;
}

template <typename Connection>
class BeastTransport : public Transport {
 public:
  static constexpr bool kTls = std::is_same_v<Connection, TlsConnection>;

  BeastTransport(ClusterConfig config, ServerUrl url, TransportOptions options)
      : config_(std::move(config)),
        url_(std::move(url)),
        options_(std::move(options)),
        sslContext_(ssl::context::tls_client) {}

  Result<void> init() {
    if constexpr (!kTls) return {};
    try {
      sslContext_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                              ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                              ssl::context::no_tlsv1_1);
      if (config_.insecureSkipTlsVerify) {
        sslContext_.set_verify_mode(ssl::verify_none);
      } else {
        sslContext_.set_verify_mode(ssl::verify_peer);
        if (config_.caPem.empty()) {
          sslContext_.set_default_verify_paths();
        } else {
          sslContext_.add_certificate_authority(asio::buffer(config_.caPem));
        }
      }
      if (!config_.clientCertPem.empty()) {
        sslContext_.use_certificate_chain(asio::buffer(config_.clientCertPem));
        sslContext_.use_private_key(asio::buffer(config_.clientKeyPem), ssl::context::pem);
      }
    } catch (const boost::system::system_error& error) {
      return makeError(
          config_.source +
          ": bad TLS material (certificate-authority or client certificate/key): " + error.what());
    }
    return {};
  }

  Result<HttpResponse> send(const HttpRequest& request) override {
    for (int attempt = 0;; ++attempt) {
      auto [connection, reused] = acquire();
      bool responseStarted = false;
      bool reusable = false;
      auto response = exchange(*connection, request, reused, responseStarted, reusable);
      if (response.ok() && reusable) release(std::move(connection));
      // A pooled connection the server has closed fails before any response byte: retry once on
      // a fresh connection.
      if (!response.ok() && reused && !responseStarted && attempt == 0) continue;
      return response;
    }
  }

  Result<HttpResponse> stream(const HttpRequest& request,
                              const std::function<void(std::string_view)>& onLine,
                              StreamCanceller& canceller) override {
    auto connection = std::make_unique<Connection>(sslContext_);
    auto connected = connect(*connection);
    if (!connected) return connected.error();
    Connection* raw = connection.get();
    canceller.setHook([raw] {
      asio::post(raw->ioc, [raw] {
        beast::error_code ignored;
        beast::get_lowest_layer(raw->stream).socket().cancel(ignored);
      });
    });
    struct ClearHook {
      StreamCanceller& canceller;
      ~ClearHook() { canceller.clearHook(); }
    } clearHook{canceller};
    if (canceller.cancelled()) return makeError(describe(request) + ": cancelled");

    auto message = buildRequest(request);
    auto error = runOperation(*raw, options_.requestTimeout, [&](auto handler) {
      http::async_write(raw->stream, message, std::move(handler));
    });
    if (error) return makeError(describe(request) + ": write: " + error.message());

    http::response_parser<http::buffer_body> parser;
    parser.body_limit(std::numeric_limits<uint64_t>::max());
    error = runOperation(*raw, options_.requestTimeout, [&](auto handler) {
      http::async_read_header(raw->stream, raw->buffer, parser, std::move(handler));
    });
    if (error) return makeError(describe(request) + ": read header: " + error.message());
    HttpResponse response;
    response.status = static_cast<int>(parser.get().result_int());
    response.headers = headersOf(parser.get());
    bool success = response.status >= 200 && response.status < 300;
    std::array<char, size_t{64} * 1024> chunk{};
    std::string pending;
    while (!parser.is_done()) {
      if (canceller.cancelled()) break;
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      error = runOperation(*raw, options_.streamIdleTimeout, [&](auto handler) {
        http::async_read_some(raw->stream, raw->buffer, parser, std::move(handler));
      });
      if (error == http::error::need_buffer) error = {};
      size_t received = chunk.size() - parser.get().body().size;
      if (!success) {
        response.body.append(chunk.data(), received);
      } else {
        pending.append(chunk.data(), received);
        size_t start = 0;
        for (size_t newline; (newline = pending.find('\n', start)) != std::string::npos;
             start = newline + 1) {
          if (newline > start) onLine(std::string_view(pending).substr(start, newline - start));
        }
        pending.erase(0, start);
      }
      if (error) {
        if (canceller.cancelled()) break;
        if (error == http::error::end_of_stream || error == asio::error::eof) break;
        return makeError(describe(request) + ": stream: " + error.message());
      }
    }
    if (success && !pending.empty()) onLine(pending);
    return response;
  }

  std::uint64_t connectionsOpened() const override { return connections_.load(); }

 private:
  std::string describe(const HttpRequest& request) const {
    return request.method + " " + config_.server + request.target;
  }

  std::pair<std::unique_ptr<Connection>, bool> acquire() {
    std::lock_guard lock(poolMutex_);
    if (!idle_.empty()) {
      auto connection = std::move(idle_.back());
      idle_.pop_back();
      return {std::move(connection), true};
    }
    return {std::make_unique<Connection>(sslContext_), false};
  }

  void release(std::unique_ptr<Connection> connection) {
    std::lock_guard lock(poolMutex_);
    if (idle_.size() < options_.maxIdleConnections) idle_.push_back(std::move(connection));
  }

  std::string bearerToken() {
    if (config_.tokenFile.empty()) return config_.token;
    std::lock_guard lock(tokenMutex_);
    auto now = Clock::now();
    // Rotated tokens are refreshed by the kubelet well before expiry; a minute is plenty.
    if (tokenReadAt_ == Clock::time_point() || now - tokenReadAt_ > std::chrono::minutes(1)) {
      auto text = readFile(config_.tokenFile);
      if (text) {
        std::string token = *text;
        while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
        cachedToken_ = token;
        tokenReadAt_ = now;
      } else if (cachedToken_.empty()) {
        cachedToken_ = config_.token;
      }
    }
    return cachedToken_;
  }

  http::request<http::string_body> buildRequest(const HttpRequest& request) {
    http::request<http::string_body> message{http::string_to_verb(request.method),
                                             url_.basePath + request.target, 11};
    message.set(http::field::host, url_.host.find(':') != std::string::npos
                                       ? "[" + url_.host + "]:" + url_.port
                                       : url_.host + ":" + url_.port);
    message.set(http::field::user_agent, options_.userAgent);
    message.set(http::field::accept, "application/json");
    std::string token = bearerToken();
    if (!token.empty()) message.set(http::field::authorization, "Bearer " + token);
    if (!request.contentType.empty()) message.set(http::field::content_type, request.contentType);
    message.keep_alive(true);
    message.body() = request.body;
    message.prepare_payload();
    return message;
  }

  Result<void> connect(Connection& connection) {
    beast::error_code error;
    tcp::resolver resolver(connection.ioc);
    auto endpoints = resolver.resolve(url_.host, url_.port, error);
    if (error)
      return makeError(config_.source + ": cannot resolve " + url_.host + ": " + error.message());
    error = runOperation(connection, options_.connectTimeout, [&](auto handler) {
      beast::get_lowest_layer(connection.stream).async_connect(endpoints, std::move(handler));
    });
    if (error)
      return makeError(config_.source + ": connect to " + config_.server + ": " + error.message());
    ++connections_;
    if constexpr (kTls) return handshake(connection);
    return {};
  }

  Result<void> handshake(Connection& connection) {
    SSL* handle = connection.stream.native_handle();
    if (!isIpAddress(url_.host)) SSL_set_tlsext_host_name(handle, url_.host.c_str());
    if (!config_.insecureSkipTlsVerify) {
      X509_VERIFY_PARAM* param = SSL_get0_param(handle);
      int ok = isIpAddress(url_.host) ? X509_VERIFY_PARAM_set1_ip_asc(param, url_.host.c_str())
                                      : X509_VERIFY_PARAM_set1_host(param, url_.host.c_str(), 0);
      if (ok != 1)
        return makeError(config_.source + ": cannot set the expected server name " + url_.host);
    }
    const auto error = runOperation(connection, options_.connectTimeout, [&](auto handler) {
      connection.stream.async_handshake(ssl::stream_base::client, std::move(handler));
    });
    if (error) {
      return makeError(
          config_.source + ": TLS handshake with " + config_.server + ": " + error.message() +
          " (check certificate-authority and that the certificate covers " + url_.host + ")");
    }
    return {};
  }

  Result<HttpResponse> exchange(Connection& connection, const HttpRequest& request, bool reused,
                                bool& responseStarted, bool& reusable) {
    if (!reused) {
      auto connected = connect(connection);
      if (!connected) return connected.error();
    }
    auto message = buildRequest(request);
    auto error = runOperation(connection, options_.requestTimeout, [&](auto handler) {
      http::async_write(connection.stream, message, std::move(handler));
    });
    if (error) return makeError(describe(request) + ": write: " + error.message());
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::numeric_limits<uint64_t>::max());
    error = runOperation(connection, options_.requestTimeout, [&](auto handler) {
      http::async_read(connection.stream, connection.buffer, parser, std::move(handler));
    });
    responseStarted = parser.got_some();
    if (error) return makeError(describe(request) + ": read: " + error.message());
    HttpResponse response;
    response.status = static_cast<int>(parser.get().result_int());
    response.headers = headersOf(parser.get());
    reusable = parser.get().keep_alive() && !parser.need_eof();
    response.body = std::move(parser.get().body());
    return response;
  }

  ClusterConfig config_;
  ServerUrl url_;
  TransportOptions options_;
  ssl::context sslContext_;
  std::mutex poolMutex_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::mutex tokenMutex_;
  std::string cachedToken_;
  Clock::time_point tokenReadAt_;
  std::atomic<std::uint64_t> connections_{0};
};

}  // namespace

Result<std::unique_ptr<Transport>> makeHttpTransport(const ClusterConfig& config,
                                                     const TransportOptions& options) {
  auto url = parseServerUrl(config.server);
  if (!url) return makeError(config.source + ": " + url.error().message);
  if (url->scheme != "https") {
    return makeError(config.source + ": server " + config.server +
                     " is plain http; only https is supported");
  }
  auto transport = std::make_unique<BeastTransport<TlsConnection>>(config, *url, options);
  auto ready = transport->init();
  if (!ready) return ready.error();
  return std::unique_ptr<Transport>(std::move(transport));
}

Result<std::unique_ptr<Transport>> makePlainHttpTransport(const std::string& hostPort,
                                                          const std::string& tokenFile,
                                                          const TransportOptions& options) {
  ClusterConfig config;
  config.server = "http://" + hostPort;
  config.tokenFile = tokenFile;
  config.source = hostPort;
  auto url = parseServerUrl(config.server);
  if (!url || hostPort.find(':') == std::string::npos)
    return makeError("address \"" + hostPort + "\" is not HOST:PORT");
  return std::unique_ptr<Transport>(
      std::make_unique<BeastTransport<PlainConnection>>(config, *url, options));
}

}  // namespace sluice::kube
