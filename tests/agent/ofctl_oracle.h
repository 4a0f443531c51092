// An independent oracle for feature tests: does OVS's own parser (ovs-ofctl parse-flows) accept
// these flows? Header-only, shared by the feature test files.
#pragma once

#include <array>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "ofrules/flow.h"
#include "ofrules/flow_builder.h"

namespace sluice::agent::features::testing {

struct OfctlVerdict {
  bool accepted = false;
  std::string output;  // ovs-ofctl's stdout and stderr
};

inline OfctlVerdict ofctlParses(const std::vector<ofrules::Flow>& flows) {
  const std::string path = "/tmp/sl-ofctl-oracle-" + std::to_string(::getpid()) + ".flows";
  {
    std::ofstream out(path);
    for (const auto& flow : flows) out << ofrules::renderFlow(flow) << "\n";
  }
  OfctlVerdict verdict;
  std::array<char, 4096> buffer{};
  FILE* pipe =
      ::popen(("ovs-ofctl -O OpenFlow15 parse-flows " + path + " 2>&1; echo rc=$?").c_str(), "r");
  while (pipe && std::fgets(buffer.data(), buffer.size(), pipe)) verdict.output += buffer.data();
  if (pipe) ::pclose(pipe);
  ::unlink(path.c_str());
  verdict.accepted = verdict.output.find("rc=0\n") != std::string::npos;
  return verdict;
}

}  // namespace sluice::agent::features::testing
