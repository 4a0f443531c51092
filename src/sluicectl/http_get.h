// A plain HTTP GET with a deadline, for sluice-controller's /v1/nodes.
#pragma once

#include <chrono>
#include <string>

#include "common/result.h"

namespace sluice::sluicectl {

struct HttpGetResult {
  int status = 0;
  std::string body;
};

// `address` is HOST:PORT. Errors name the address and what failed.
Result<HttpGetResult> httpGet(const std::string& address, const std::string& target,
                              std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace sluice::sluicectl
