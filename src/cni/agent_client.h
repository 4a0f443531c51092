// The wire between sluice-cni and sluice-agent: one JSON object per line over a unix socket.
// Request: {"request": <cni::Request as JSON>}; response: {"result": ...} or {"error": {...}}.
#pragma once

#include <chrono>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "cni/cni_protocol.h"
#include "common/result.h"

namespace sluice::cni {

inline constexpr const char* kDefaultAgentSocket = "/var/run/sluice/cni.sock";

nlohmann::json encodeRequest(const Request& request);
std::variant<Request, CniError> decodeRequest(const nlohmann::json& wire);

nlohmann::json encodeResponse(const std::variant<nlohmann::json, CniError>& response);
std::variant<nlohmann::json, CniError> decodeResponse(const nlohmann::json& wire);

// Sends one request and waits for the answer. A missing or silent agent becomes code 11.
// One exchange on the agent socket: sends `line` plus a newline, returns the first line of the
// answer. Errors say what went wrong (for the caller to wrap with what to do about it).
Result<std::string> exchangeLine(const std::string& socketPath, const std::string& line,
                                 std::chrono::milliseconds timeout);

std::variant<nlohmann::json, CniError> callAgent(const std::string& socketPath,
                                                 const Request& request, int timeoutSeconds);

}  // namespace sluice::cni
