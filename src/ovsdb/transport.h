// JSON-RPC 1.0 transport to ovsdb-server (RFC 7047 section 4): a small interface so pure logic
// can be tested against a fake, and the unix-socket implementation.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace sluice::ovsdb {

class Transport {
 public:
  virtual ~Transport() = default;
  // Sends one request and returns the reply's "result" (an error for a JSON-RPC error, a
  // timeout or a broken connection).
  virtual Result<nlohmann::json> call(const std::string& method, const nlohmann::json& params,
                                      std::chrono::milliseconds timeout) = 0;
  // False after the connection broke; the next call() reconnects.
  virtual bool connected() const = 0;
};

// Splits a byte stream into complete JSON texts. ovsdb-server sends objects back to back with
// no delimiter, so this tracks nesting, strings and escapes.
class JsonStreamSplitter {
 public:
  void feed(std::string_view bytes);
  // The next complete JSON text, if one has arrived.
  std::optional<std::string> next();
  size_t buffered() const { return buffer_.size(); }

 private:
  std::string buffer_;
  size_t scanned_ = 0;  // bytes of buffer_ already scanned for the current text
  int depth_ = 0;
  bool inString_ = false;
  bool escaped_ = false;
};

// Connects to "unix:PATH" (the only remote form Sluice needs), lazily and again after a break.
class UnixSocketTransport final : public Transport {
 public:
  static Result<std::unique_ptr<UnixSocketTransport>> open(const std::string& remote);
  ~UnixSocketTransport() override;
  UnixSocketTransport(const UnixSocketTransport&) = delete;
  UnixSocketTransport& operator=(const UnixSocketTransport&) = delete;

  Result<nlohmann::json> call(const std::string& method, const nlohmann::json& params,
                              std::chrono::milliseconds timeout) override;
  bool connected() const override { return fd_ >= 0; }

 private:
  explicit UnixSocketTransport(std::string path) : path_(std::move(path)) {}
  Result<void> connect();
  void disconnect();
  Result<void> sendAll(const std::string& text, std::chrono::steady_clock::time_point deadline);

  std::string path_;
  int fd_ = -1;
  uint64_t nextId_ = 1;
  JsonStreamSplitter splitter_;
};

}  // namespace sluice::ovsdb
