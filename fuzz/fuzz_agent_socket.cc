// libFuzzer target: the agent's unix-socket protocol. Each input is one request line as a
// connection sends it; it goes through the same decoding as CniServer::serve and into a real
// CniService whose veth and OVS sides are fakes (the fuzzer must not create interfaces).
#include <cstddef>
#include <cstdint>

#include "agent/cni_server.h"
#include "agent/cni_service.h"
#include "fuzz/fuzz_common.h"

namespace {

using namespace sluice;

class NoInterfaces : public agent::InterfaceOps {
 public:
  Result<agent::PodInterface> create(const agent::PodInterfaceSpec& spec) override {
    return agent::PodInterface{spec.hostIfName, "02:00:00:00:00:01", "02:00:00:00:00:02", 7};
  }
  Result<void> remove(const std::string&) override { return {}; }
  Result<void> check(const agent::PodInterfaceSpec&) override { return {}; }
  bool netnsExists(const std::string& path) override { return path.starts_with("/run/netns/"); }
};

class NoDatapath : public agent::PodDatapath {
 public:
  Result<int> attach(const agent::PodAttachment&) override { return 10; }
  Result<void> detach(const agent::PodAttachment&) override { return {}; }
  Result<void> ready() override { return {}; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A fresh service per input keeps runs independent (a full /29 would hide later paths).
  NoInterfaces interfaces;
  NoDatapath datapath;
  agent::CniService service(*agent::PodIpam::create("10.244.1.0/29"), interfaces, datapath,
                            agent::CniServiceOptions{});
  const std::string text = fuzz::textOf(data, size);
  // A connection may carry several lines; the server answers the first, so feed each in turn to
  // reach DEL/CHECK after ADD.
  for (std::size_t start = 0; start < text.size();) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string answer = agent::answerRequestLine(
        text.substr(start, end - start),
        [&](const cni::Request& request) { return service.handle(request); });
    if (answer.empty() || answer.back() != '\n') __builtin_trap();
    start = end + 1;
  }
  return 0;
}
