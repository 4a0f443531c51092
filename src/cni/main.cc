// sluice-cni: the CNI binary. It parses and checks the runtime's request, asks the node's
// sluice-agent over a unix socket, and prints the CNI result or a CNI error.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <map>
#include <string>

#include "cni/agent_client.h"
#include "cni/cni_protocol.h"

extern char** environ;

namespace {

using namespace sluice::cni;

int fail(const CniError& error, const std::string& cniVersion) {
  std::cout << toWire(renderError(error, cniVersion)) << std::endl;
  return 1;
}

}  // namespace

int main() {
  std::map<std::string, std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text = *entry;
    if (const auto equals = text.find('='); equals != std::string::npos)
      environment[text.substr(0, equals)] = text.substr(equals + 1);
  }
  const std::string input((std::istreambuf_iterator<char>(std::cin)),
                          std::istreambuf_iterator<char>());
  auto parsed = parseRequest(environment, input);
  if (auto* error = std::get_if<CniError>(&parsed)) return fail(*error, "");
  const auto& request = std::get<Request>(parsed);
  if (request.command == Command::kVersion) {
    std::cout << toWire(renderVersion(request.cniVersion)) << std::endl;
    return 0;
  }
  const auto socketPath = request.config.value("agentSocket", std::string(kDefaultAgentSocket));
  const int timeoutSeconds = request.config.value("timeoutSeconds", 60);
  auto answer = callAgent(socketPath, request, timeoutSeconds);
  if (auto* error = std::get_if<CniError>(&answer)) return fail(*error, request.cniVersion);
  const auto& result = std::get<nlohmann::json>(answer);
  // DEL, CHECK, GC and a healthy STATUS print nothing on success (CNI spec).
  if (request.command == Command::kAdd) std::cout << toWire(result) << std::endl;
  return 0;
}
