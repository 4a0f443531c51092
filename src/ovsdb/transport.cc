// JSON-RPC transport to ovsdb-server over a unix socket (see transport.h).
#include "ovsdb/transport.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

namespace sluice::ovsdb {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

int millisecondsLeft(Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

}  // namespace

void JsonStreamSplitter::feed(std::string_view bytes) { buffer_.append(bytes); }

std::optional<std::string> JsonStreamSplitter::next() {
  if (depth_ == 0 && scanned_ == 0) {  // between texts: drop separating whitespace
    size_t start = buffer_.find_first_not_of(" \t\r\n");
    buffer_.erase(0, start == std::string::npos ? buffer_.size() : start);
  }
  for (; scanned_ < buffer_.size(); ++scanned_) {
    char c = buffer_[scanned_];
    if (inString_) {
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        inString_ = false;
      }
    } else if (c == '"') {
      inString_ = true;
    } else if (c == '{' || c == '[') {
      ++depth_;
    } else if ((c == '}' || c == ']') && --depth_ == 0) {
      std::string text = buffer_.substr(0, scanned_ + 1);
      buffer_.erase(0, scanned_ + 1);
      scanned_ = 0;
      return text;
    }
  }
  return std::nullopt;
}

Result<std::unique_ptr<UnixSocketTransport>> UnixSocketTransport::open(const std::string& remote) {
  const std::string prefix = "unix:";
  if (remote.rfind(prefix, 0) != 0 || remote.size() == prefix.size()) {
    return makeError("OVSDB remote '" + remote +
                     "': only unix:PATH is supported; use e.g. "
                     "unix:/var/run/openvswitch/db.sock");
  }
  std::unique_ptr<UnixSocketTransport> transport(
      new UnixSocketTransport(remote.substr(prefix.size())));
  if (auto connected = transport->connect(); !connected) return connected.error();
  return transport;
}

UnixSocketTransport::~UnixSocketTransport() { disconnect(); }

void UnixSocketTransport::disconnect() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  splitter_ = JsonStreamSplitter();
}

Result<void> UnixSocketTransport::connect() {
  disconnect();
  sockaddr_un address{};
  if (path_.size() >= sizeof address.sun_path) {
    return makeError("OVSDB socket path " + path_ + " is longer than " +
                     std::to_string(sizeof address.sun_path - 1) + " bytes; use a shorter run dir");
  }
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path_.c_str(), path_.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return makeError("OVSDB: socket(): " + std::string(strerror(errno)));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    int error = errno;
    close(fd);
    return makeError("OVSDB: cannot connect to unix:" + path_ + ": " + strerror(error) +
                     "; is ovsdb-server running with --remote=punix:" + path_ + "?");
  }
  fd_ = fd;
  return {};
}

Result<void> UnixSocketTransport::sendAll(const std::string& text, Clock::time_point deadline) {
  size_t sent = 0;
  while (sent < text.size()) {
    pollfd pfd{fd_, POLLOUT, 0};
    int ready = poll(&pfd, 1, millisecondsLeft(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return makeError("OVSDB unix:" + path_ + ": timed out sending a request");
    ssize_t n = send(fd_, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return makeError("OVSDB unix:" + path_ + ": send: " + strerror(errno));
    sent += static_cast<size_t>(n);
  }
  return {};
}

Result<Json> UnixSocketTransport::call(const std::string& method, const Json& params,
                                       std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  if (fd_ < 0) {
    if (auto connected = connect(); !connected) return connected.error();
  }
  uint64_t id = nextId_++;
  Json request = {{"method", method}, {"params", params}, {"id", id}};
  if (auto sent = sendAll(request.dump(), deadline); !sent) {
    disconnect();
    return sent.error();
  }
  char buffer[65536];
  while (true) {
    while (auto text = splitter_.next()) {
      Json message;
      try {
        message = Json::parse(*text);
      } catch (const Json::exception& error) {
        disconnect();
        return makeError("OVSDB unix:" + path_ + ": unparsable message: " + error.what());
      }
      if (!message.is_object()) continue;
      // The server's inactivity probe: answer it, or it drops the connection.
      if (message.value("method", std::string()) == "echo" && message.contains("id")) {
        Json reply = {{"result", message["params"]}, {"error", nullptr}, {"id", message["id"]}};
        if (auto sent = sendAll(reply.dump(), deadline); !sent) {
          disconnect();
          return sent.error();
        }
        continue;
      }
      if (!message.contains("id") || message["id"] != id) continue;  // notification or stale reply
      if (message.contains("error") && !message["error"].is_null()) {
        return makeError("OVSDB " + method + " failed: " + message["error"].dump());
      }
      return message.value("result", Json());
    }
    pollfd pfd{fd_, POLLIN, 0};
    int ready = poll(&pfd, 1, millisecondsLeft(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      // The reply may still come; drop the connection so it cannot be mistaken for a later one.
      disconnect();
      return makeError("OVSDB " + method + " on unix:" + path_ + ": no reply within " +
                       std::to_string(timeout.count()) + " ms");
    }
    ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string reason = n == 0 ? "connection closed by ovsdb-server" : strerror(errno);
      disconnect();
      std::string message = "OVSDB " + method;
      message += " on unix:" + path_;
      message += ": " + reason;
      return makeError(std::move(message));
    }
    splitter_.feed(std::string_view(buffer, static_cast<size_t>(n)));
  }
}

}  // namespace sluice::ovsdb
