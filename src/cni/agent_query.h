// Queries on the agent socket, for sluicectl: the same socket and framing as sluice-cni's requests
// (one JSON line each way per connection), told apart by their top-level key.
//   request:  {"query": {"kind": "status"}}  or  {"query": {"kind": "flows", "bridge": "br-int"}}
//   answer:   {"result": {...}}  or  {"error": {"code": N, "msg": "...", "details": "..."}}
// A line with "request" is a CNI request as before (cni/agent_client.h); docs/sluicectl.md lists
// every query and its answer.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace sluice::cni {

// Whether a line read from the agent socket is a query rather than a CNI request.
bool isQuery(const nlohmann::json& wire);

struct QueryOptions {
  int timeoutMs = 10'000;
};

// Sends {"query": query} and returns the answer's "result". A missing or silent agent is an error
// that names the socket and how to start the agent.
Result<nlohmann::json> queryAgent(const std::string& socketPath, const nlohmann::json& query,
                                  const QueryOptions& options = {});

}  // namespace sluice::cni
