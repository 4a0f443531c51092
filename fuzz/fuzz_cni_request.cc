// libFuzzer target: sluice-cni's input, the CNI_* environment plus the config on stdin, exactly
// as src/cni/main.cc handles it (parse, then render the error or encode the agent request).
// Input format: "KEY=VALUE" lines, an empty line, then the stdin text.
#include <cstddef>
#include <cstdint>

#include "cni/agent_client.h"
#include "cni/cni_protocol.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text = sluice::fuzz::textOf(data, size);
  const auto split = text.find("\n\n");
  const std::string environmentText = text.substr(0, split);
  const std::string stdinText = split == std::string::npos ? "" : text.substr(split + 2);
  std::map<std::string, std::string> environment;
  for (std::size_t start = 0; start <= environmentText.size();) {
    auto end = environmentText.find('\n', start);
    if (end == std::string::npos) end = environmentText.size();
    const std::string line = environmentText.substr(start, end - start);
    if (const auto equals = line.find('='); equals != std::string::npos)
      environment[line.substr(0, equals)] = line.substr(equals + 1);
    start = end + 1;
  }
  auto parsed = sluice::cni::parseRequest(environment, stdinText);
  if (auto* error = std::get_if<sluice::cni::CniError>(&parsed)) {
    (void)sluice::cni::toWire(sluice::cni::renderError(*error, ""));
    return 0;
  }
  const auto& request = std::get<sluice::cni::Request>(parsed);
  (void)request.podNamespace();
  (void)request.podName();
  (void)request.podUid();
  if (request.command == sluice::cni::Command::kVersion) {
    (void)sluice::cni::toWire(sluice::cni::renderVersion(request.cniVersion));
    return 0;
  }
  // What callAgent sends, and what the agent decodes from it: the round trip must hold, and a
  // request that parsed is UTF-8 throughout (a strict dump throws otherwise).
  const auto wire = nlohmann::json::parse(sluice::cni::encodeRequest(request).dump());
  auto decoded = sluice::cni::decodeRequest(wire);
  if (!std::holds_alternative<sluice::cni::Request>(decoded)) __builtin_trap();
  if (std::get<sluice::cni::Request>(decoded).containerId != request.containerId) __builtin_trap();
  return 0;
}
