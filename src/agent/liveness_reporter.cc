// LivenessReporter: one thread sends reports over a persistent connection (reconnecting and
// following 307s), another fences when the last successful report is too old. Fencing is timed
// from when the last successful report was SENT: the controller received it no earlier, so the
// node has let go before the controller's silence timer (counted from receipt) can fire.
#include "agent/liveness_reporter.h"

#include <fstream>
#include <sstream>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "common/log.h"

namespace sluice::agent {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// One keep-alive connection, driven synchronously with deadlines (tcp_stream's timer completes
// every operation by its deadline, so io.run() always returns).
class Connection {
 public:
  bool connected() const { return stream_.has_value(); }
  const std::string& address() const { return address_; }

  Result<void> connect(const std::string& address, std::chrono::milliseconds timeout) {
    close();
    const auto colon = address.rfind(':');
    if (colon == std::string::npos)
      return makeError("controller address \"" + address + "\" is not HOST:PORT");
    beast::error_code error;
    tcp::resolver resolver(io_);
    const auto endpoints =
        resolver.resolve(address.substr(0, colon), address.substr(colon + 1), error);
    if (error) return makeError("resolve " + address + ": " + error.message());
    stream_.emplace(io_);
    stream_->expires_after(timeout);
    stream_->async_connect(endpoints,
                           [&](beast::error_code result, const tcp::endpoint&) { error = result; });
    run();
    if (error) {
      close();
      return makeError("connect " + address + ": " + error.message());
    }
    beast::error_code ignored;
    stream_->socket().set_option(tcp::no_delay(true), ignored);
    address_ = address;
    return {};
  }

  Result<http::response<http::string_body>> roundTrip(http::request<http::string_body>& request,
                                                      std::chrono::milliseconds timeout) {
    beast::error_code error;
    stream_->expires_after(timeout);
    http::async_write(*stream_, request,
                      [&](beast::error_code result, std::size_t) { error = result; });
    run();
    http::response<http::string_body> response;
    if (!error) {
      http::async_read(*stream_, buffer_, response,
                       [&](beast::error_code result, std::size_t) { error = result; });
      run();
    }
    if (error) {
      close();
      return makeError("report to " + address_ + ": " + error.message());
    }
    if (!response.keep_alive()) close();
    return response;
  }

  void close() {
    if (!stream_) return;
    beast::error_code ignored;
    stream_->socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_->close();
    stream_.reset();
    buffer_.clear();
  }

 private:
  void run() {
    io_.restart();
    io_.run();
  }

  asio::io_context io_{1};
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  std::string address_;
};

// "http://10.0.0.5:10349/v1/report" -> "10.0.0.5:10349".
std::optional<std::string> redirectAddress(const std::string& location) {
  std::string rest = location;
  const std::string scheme = "http://";
  if (rest.rfind(scheme, 0) == 0)
    rest = rest.substr(scheme.size());
  else
    return std::nullopt;
  const auto slash = rest.find('/');
  rest = rest.substr(0, slash);
  if (rest.empty() || rest.find(':') == std::string::npos) return std::nullopt;
  return rest;
}

std::string readToken(const std::string& path) {
  if (path.empty()) return {};
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  auto token = text.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' '))
    token.pop_back();
  return token;
}

}  // namespace

LivenessReporter::LivenessReporter(LivenessReporterOptions options)
    : options_(std::move(options)) {}

LivenessReporter::~LivenessReporter() { stop(); }

Result<void> LivenessReporter::start() {
  if (options_.nodeName.empty())
    return makeError("liveness reporter: the node name is empty; set NODE_NAME");
  if (options_.controllerAddress.empty())
    return makeError(
        "liveness reporter: no controller address; set controllerAddress or the Service's "
        "environment");
  if (options_.reportInterval.count() <= 0 || options_.fencingTimeout <= options_.reportInterval)
    return makeError(
        "liveness reporter: fencingTimeout must be longer than reportInterval, or every late "
        "report fences the node");
  target_ = options_.controllerAddress;
  reportThread_ = std::thread([this] { reportLoop(); });
  fenceThread_ = std::thread([this] { fenceLoop(); });
  return {};
}

void LivenessReporter::stop() {
  if (stopping_.exchange(true)) return;
  cv_.notify_all();
  if (reportThread_.joinable()) reportThread_.join();
  if (fenceThread_.joinable()) fenceThread_.join();
}

std::string LivenessReporter::currentTarget() const {
  std::lock_guard lock(mutex_);
  return target_;
}

LivenessReporterStats LivenessReporter::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void LivenessReporter::succeeded(Clock::time_point sentAt, std::uint64_t epoch) {
  epoch_ = epoch;
  {
    std::lock_guard lock(mutex_);
    ++stats_.succeeded;
    if (!lastSuccessSentAt_ || sentAt > *lastSuccessSentAt_) lastSuccessSentAt_ = sentAt;
  }
  cv_.notify_all();
  // A reply that took longer than the fencing timeout proves nothing about now.
  if (Clock::now() >= sentAt + options_.fencingTimeout) return;
  std::lock_guard transition(transitionMutex_);
  if (fenced_.exchange(false)) {
    SLUICE_LOG(kInfo, "liveness") << "controller reachable again: unfenced (may hold egress IPs)";
    if (options_.onUnfenced) options_.onUnfenced();
  }
}

void LivenessReporter::reportLoop() {
  Connection connection;
  std::uint64_t sequence = 0;
  std::string target = options_.controllerAddress;
  auto nextSend = Clock::now();
  bool loggedFailure = false;
  bool checkedTiming = false;
  while (!stopping_) {
    {
      std::unique_lock lock(mutex_);
      cv_.wait_until(lock, nextSend, [&] { return stopping_.load(); });
    }
    if (stopping_) break;
    const auto sentAt = Clock::now();
    nextSend = sentAt + options_.reportInterval;
    ++sequence;
    bool ok = false;
    // At most one redirect per report: the standby names the leader.
    for (int attempt = 0; attempt < 3 && !ok && !stopping_; ++attempt) {
      if (!connection.connected() || connection.address() != target) {
        {
          std::lock_guard lock(mutex_);
          ++stats_.connects;
        }
        auto connected = connection.connect(target, options_.fencingTimeout);
        if (!connected) {
          if (!loggedFailure) {
            SLUICE_LOG(kWarning, "liveness") << connected.error().message;
          }
          loggedFailure = true;
          // The leader we were sent to is gone: go back to the Service, which finds the new one.
          if (target != options_.controllerAddress) {
            target = options_.controllerAddress;
            continue;
          }
          break;
        }
      }
      http::request<http::string_body> request{http::verb::post, "/v1/report", 11};
      request.set(http::field::host, target);
      request.set(http::field::content_type, "application/json");
      request.keep_alive(true);
      const auto token = readToken(options_.tokenFile);
      if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
      request.body() = nlohmann::json{{"node", options_.nodeName}, {"seq", sequence}}.dump();
      request.prepare_payload();
      {
        std::lock_guard lock(mutex_);
        ++stats_.sent;
      }
      auto response = connection.roundTrip(request, options_.fencingTimeout);
      if (!response) {
        if (!loggedFailure) {
          SLUICE_LOG(kWarning, "liveness") << response.error().message;
        }
        loggedFailure = true;
        if (target != options_.controllerAddress) target = options_.controllerAddress;
        continue;  // one fresh connection: a pooled keep-alive may have been closed by the peer
      }
      const int status = static_cast<int>(response->result_int());
      if (status == 307 || status == 308) {
        auto leader = redirectAddress(std::string((*response)[http::field::location]));
        {
          std::lock_guard lock(mutex_);
          ++stats_.redirects;
        }
        if (!leader) break;
        target = *leader;
        continue;
      }
      if (status != 200) {
        if (!loggedFailure) {
          SLUICE_LOG(kWarning, "liveness")
              << "report to " << target << ": HTTP " << status << ": " << response->body();
        }
        loggedFailure = true;
        break;
      }
      std::uint64_t epoch = 0;
      try {
        const auto body = nlohmann::json::parse(response->body());
        epoch = body.value("epoch", std::uint64_t{0});
        const auto silence =
            std::chrono::milliseconds(body.value("nodeSilenceTimeoutMs", std::int64_t{0}));
        if (silence.count() > 0 && !checkedTiming) {
          checkedTiming = true;
          if (auto valid =
                  validateFencing(options_.reportInterval, options_.fencingTimeout, silence);
              !valid) {
            SLUICE_LOG(kError, "liveness") << valid.error().message;
          }
        }
      } catch (const nlohmann::json::exception&) {
        break;
      }
      ok = true;
      loggedFailure = false;
      {
        std::lock_guard lock(mutex_);
        target_ = target;
      }
      succeeded(sentAt, epoch);
    }
  }
  connection.close();
}

void LivenessReporter::fenceLoop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (fenced_ || !lastSuccessSentAt_) {
      // Nothing to time until a report succeeds; wake on a success or stop.
      cv_.wait_for(lock, options_.reportInterval,
                   [&] { return stopping_.load() || (!fenced_ && lastSuccessSentAt_); });
      continue;
    }
    const auto deadline = *lastSuccessSentAt_ + options_.fencingTimeout;
    if (Clock::now() < deadline) {
      cv_.wait_until(lock, deadline, [&] { return stopping_.load(); });
      continue;
    }
    lock.unlock();
    {
      std::lock_guard transition(transitionMutex_);
      std::unique_lock check(mutex_);
      const bool expired =
          lastSuccessSentAt_ && Clock::now() >= *lastSuccessSentAt_ + options_.fencingTimeout;
      check.unlock();
      if (expired && !fenced_.exchange(true)) {
        {
          std::lock_guard stats(mutex_);
          ++stats_.fences;
        }
        SLUICE_LOG(kWarning, "liveness")
            << "no report reached the controller for " << options_.fencingTimeout.count()
            << "ms: fenced (dropping egress IPs)";
        if (options_.onFenced) options_.onFenced();
      }
    }
    lock.lock();
  }
}

Result<void> validateFencing(std::chrono::milliseconds reportInterval,
                             std::chrono::milliseconds fencingTimeout,
                             std::chrono::milliseconds nodeSilenceTimeout) {
  if (fencingTimeout + reportInterval >= nodeSilenceTimeout)
    return makeError(
        "liveness timing: fencingTimeout (" + std::to_string(fencingTimeout.count()) +
        "ms) + reportInterval (" + std::to_string(reportInterval.count()) +
        "ms) must be below the controller's nodeSilenceTimeout (" +
        std::to_string(nodeSilenceTimeout.count()) +
        "ms), so a node lets go of its IPs before the controller moves them; lower fencingTimeout "
        "in sluice-agent.conf or raise nodeSilenceTimeout in sluice-controller.conf");
  return {};
}

}  // namespace sluice::agent
