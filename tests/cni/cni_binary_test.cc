// The sluice-cni binary run as a runtime runs it (environment + stdin), against a real agent
// socket served by CniServer, and with no agent at all.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "agent/cni_server.h"

namespace sluice::cni {
namespace {

struct Run {
  int exitCode = -1;
  nlohmann::json output;
};

Run runCni(const std::map<std::string, std::string>& environment, const std::string& stdinText) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("sl-cni-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto input = dir / "stdin.json";
  std::ofstream(input) << stdinText;
  std::string command = "env -i";
  for (const auto& [key, value] : environment) command += " '" + key + "=" + value + "'";
  command += std::string(" ") + SLUICE_CNI_BINARY + " < " + input.string();
  std::array<char, 4096> buffer{};
  std::string text;
  FILE* pipe = ::popen(command.c_str(), "r");
  while (pipe && std::fgets(buffer.data(), buffer.size(), pipe)) text += buffer.data();
  const int status = pipe ? ::pclose(pipe) : -1;
  std::filesystem::remove_all(dir);
  Run run;
  run.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.output = text.empty() ? nlohmann::json() : nlohmann::json::parse(text, nullptr, false);
  return run;
}

std::string config(const std::string& socket) {
  return R"({"cniVersion":"1.0.0","name":"sluice","type":"sluice-cni","agentSocket":")" + socket +
         R"("})";
}

std::map<std::string, std::string> addEnvironment() {
  return {{"CNI_COMMAND", "ADD"},
          {"CNI_CONTAINERID", "box1"},
          {"CNI_NETNS", "/run/netns/x"},
          {"CNI_IFNAME", "eth0"},
          {"CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=box"},
          {"CNI_PATH", "/opt/cni/bin"}};
}

TEST_CASE("sluice-cni reports a missing agent as try-again-later", "[unit]") {
  const auto run = runCni(addEnvironment(), config("/tmp/sl-no-agent.sock"));
  CHECK(run.exitCode != 0);
  CHECK(run.output["code"] == 11);
  CHECK_THAT(run.output["msg"].get<std::string>(), Catch::Contains("sl-no-agent.sock"));
}

TEST_CASE("sluice-cni rejects bad input before it reaches the agent", "[unit]") {
  auto run = runCni(addEnvironment(), "{oops");
  CHECK(run.exitCode != 0);
  CHECK(run.output["code"] == 6);
  run = runCni(addEnvironment(), R"({"cniVersion":"0.1.0","name":"n","type":"t"})");
  CHECK(run.output["code"] == 1);
  auto noNetns = addEnvironment();
  noNetns.erase("CNI_NETNS");
  run = runCni(noNetns, config("/tmp/x.sock"));
  CHECK(run.output["code"] == 4);
  run = runCni({{"CNI_COMMAND", "VERSION"}}, "");
  CHECK(run.exitCode == 0);
  CHECK(run.output["supportedVersions"].size() == 4);
}

TEST_CASE("sluice-cni and the agent socket carry requests and errors both ways", "[unit]") {
  const std::string socket = "/tmp/sl-cni-test-" + std::to_string(::getpid()) + ".sock";
  // The handler runs on the server's connection threads: guard what it shares with the test.
  std::mutex seenMutex;
  std::vector<Request> seen;
  auto server = agent::CniServer::start(
      socket, [&](const Request& request) -> std::variant<nlohmann::json, CniError> {
        std::lock_guard lock(seenMutex);
        seen.push_back(request);
        if (request.containerId == "broken")
          return CniError{ErrorCode::kIoFailure, "ovs is sad", "details here"};
        return nlohmann::json{{"cniVersion", "1.0.0"}, {"ips", {{{"address", "10.244.1.2/24"}}}}};
      });
  REQUIRE(server.ok());
  struct stat info {};
  REQUIRE(::stat(socket.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);

  auto run = runCni(addEnvironment(), config(socket));
  CHECK(run.exitCode == 0);
  CHECK(run.output["ips"][0]["address"] == "10.244.1.2/24");
  {
    std::lock_guard lock(seenMutex);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].podName() == "box");
    CHECK(seen[0].netns == "/run/netns/x");
  }

  auto broken = addEnvironment();
  broken["CNI_CONTAINERID"] = "broken";
  run = runCni(broken, config(socket));
  CHECK(run.exitCode != 0);
  CHECK(run.output["code"] == 5);
  CHECK(run.output["details"] == "details here");

  auto del = addEnvironment();
  del["CNI_COMMAND"] = "DEL";
  del.erase("CNI_NETNS");
  run = runCni(del, config(socket));
  CHECK(run.exitCode == 0);
  server->reset();
  CHECK_FALSE(std::filesystem::exists(socket));
}

}  // namespace
}  // namespace sluice::cni
