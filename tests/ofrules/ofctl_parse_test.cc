// The oracle: ovs-ofctl itself must accept every golden flow and group the builders render.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "golden_cases.h"
#include "ofrules/flow_builder.h"

namespace sluice::ofrules::testing {
namespace {

constexpr const char* kOvsOfctl = "/usr/bin/ovs-ofctl";

struct CommandResult {
  int exitCode = -1;
  std::string output;
};

CommandResult run(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) result.output += buffer.data();
  int status = pclose(pipe);
  result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::size_t countOccurrences(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size()))
    ++count;
  return count;
}

// A temporary directory removed when the test ends, pass or fail.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "sluice-ofrules-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

CommandResult parseFlows(const std::vector<std::string>& lines, const TempDir& dir) {
  auto file = dir.path() / "flows.txt";
  {
    std::ofstream out(file);
    for (const auto& line : lines) out << line << "\n";
  }
  return run(std::string(kOvsOfctl) + " -O OpenFlow15 parse-flows " + file.string());
}

TEST_CASE("ovs-ofctl is installed", "[ovs]") { REQUIRE(access(kOvsOfctl, X_OK) == 0); }

TEST_CASE("the oracle rejects a malformed flow", "[ovs]") {
  TempDir dir;
  auto result =
      parseFlows({"table=0,priority=1,nw_src=10.0.0.0/8,tp_dst=80 actions=goto_table:0"}, dir);
  CHECK(result.exitCode != 0);
}

TEST_CASE("ovs-ofctl parses every golden flow", "[ovs]") {
  Pipeline pipeline = fullPipeline();
  std::vector<std::string> lines;
  for (const auto& golden : goldenFlows(pipeline)) {
    INFO(golden.name);
    REQUIRE(golden.flow.ok());
    lines.push_back(renderFlow(*golden.flow));
  }
  for (const auto& miss : pipeline.missFlows(goldenCookie())) lines.push_back(renderFlow(miss));
  TempDir dir;
  auto result = parseFlows(lines, dir);
  INFO(result.output);
  CHECK(result.exitCode == 0);
  CHECK(countOccurrences(result.output, "OFPT_FLOW_MOD") == lines.size());
}

TEST_CASE("ovs-ofctl parses each golden flow on its own", "[ovs]") {
  // One by one, so a failure names the flow ovs-ofctl refused.
  Pipeline pipeline = fullPipeline();
  TempDir dir;
  for (const auto& golden : goldenFlows(pipeline)) {
    REQUIRE(golden.flow.ok());
    auto result = parseFlows({renderFlow(*golden.flow)}, dir);
    INFO(golden.name << ": " << renderFlow(*golden.flow) << "\n" << result.output);
    CHECK(result.exitCode == 0);
  }
}

}  // namespace
}  // namespace sluice::ofrules::testing
