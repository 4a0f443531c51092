// The lab API server as a test child process.
#include "apiserver_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <yaml-cpp/yaml.h>

extern char** environ;

namespace sluice::kube::testing {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string sourcePath(const std::string& relative) {
  return std::string(SLUICE_SOURCE_ROOT) + "/" + relative;
}

Result<std::unique_ptr<ApiServer>> ApiServer::start(ApiServerOptions options) {
  std::unique_ptr<ApiServer> server(new ApiServer(options));
  char pattern[] = "/tmp/sluice-kube-apiserver.XXXXXX";
  if (mkdtemp(pattern) == nullptr)
    return makeError("cannot create a temporary directory under /tmp");
  server->dir_ = pattern;
  server->kubeconfig_ = server->dir_ + "/kubeconfig";
  auto started = server->spawn("127.0.0.1:0");
  if (!started) return started.error();
  return server;
}

Result<void> ApiServer::spawn(const std::string& listen) {
  std::filesystem::remove(kubeconfig_);
  std::vector<std::string> args = {"node",         sourcePath("tools/apiserver/bin/apiserver.js"),
                                   "--listen",     listen,
                                   "--kubeconfig", kubeconfig_};
  if (options_.persistent) {
    args.push_back("--data");
    args.push_back(dir_ + "/data");
  }
  if (options_.watchCacheSize > 0) {
    args.push_back("--watch-cache-size");
    args.push_back(std::to_string(options_.watchCacheSize));
  }
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  std::string log = dir_ + "/apiserver.log";
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  int rc = posix_spawnp(&pid_, "node", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return makeError("cannot run node: " + std::string(strerror(rc)));

  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (!std::filesystem::exists(kubeconfig_)) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return makeError("the lab API server exited before writing its kubeconfig:\n" + logTail());
    }
    if (Clock::now() > deadline) {
      stop();
      return makeError("the lab API server wrote no kubeconfig within 30 s:\n" + logTail());
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds(20));  // polling a condition, with a deadline
  }
  auto parsed = config();
  if (!parsed) return parsed.error();
  auto url = parseServerUrl(parsed->server);
  if (!url) return url.error();
  port_ = std::stoi(url->port);
  return {};
}

ApiServer::~ApiServer() {
  stop();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

void ApiServer::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  auto deadline = Clock::now() + std::chrono::seconds(5);
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds(10));  // polling the child's exit, with a deadline
  }
  pid_ = -1;
}

Result<void> ApiServer::restart() {
  stop();
  return spawn("127.0.0.1:" + std::to_string(port_));
}

Result<ClusterConfig> ApiServer::config() const { return loadKubeconfig(kubeconfig_); }

Result<std::unique_ptr<Client>> ApiServer::client(const TransportOptions& options) const {
  auto parsed = config();
  if (!parsed) return parsed.error();
  return Client::connect(*parsed, options);
}

std::string ApiServer::logTail() const {
  auto text = readFile(dir_ + "/apiserver.log");
  if (!text) return "(no log)";
  return text->size() > 4000 ? text->substr(text->size() - 4000) : *text;
}

Result<void> ensureNamespace(Client& client, const std::string& name) {
  auto created = client.create(resources::kNamespaces, "", json{{"metadata", {{"name", name}}}});
  if (created.ok() || created.alreadyExists() || created.conflict()) return {};
  return created.error();
}

namespace {
json yamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& item : node) out[item.first.as<std::string>()] = yamlToJson(item.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(yamlToJson(item));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      if (node.Tag() == "!") return text;  // quoted: always a string
      if (text == "true") return true;
      if (text == "false") return false;
      if (text == "null" || text == "~") return nullptr;
      char* end = nullptr;
      long long integer = std::strtoll(text.c_str(), &end, 10);
      if (!text.empty() && *end == '\0') return integer;
      double real = std::strtod(text.c_str(), &end);
      if (!text.empty() && *end == '\0' && text.find_first_of("0123456789") != std::string::npos)
        return real;
      return text;
    }
    default: return nullptr;
  }
}
}  // namespace

Result<void> installCrds(Client& client) {
  ResourceRef crds{"apiextensions.k8s.io", "v1", "customresourcedefinitions", false,
                   "CustomResourceDefinition"};
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAllFromFile(sourcePath("manifests/crds.yml"));
  } catch (const YAML::Exception& error) {
    return makeError(std::string("manifests/crds.yml: ") + error.what());
  }
  for (const auto& document : documents) {
    if (!document || !document.IsMap()) continue;
    json object = yamlToJson(document);
    auto created = client.create(crds, "", object);
    if (!created && !created.conflict()) return created.error();
  }
  auto deadline = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    auto egresses = client.list(resources::kEgresses, "");
    auto pools = client.list(resources::kExternalIpPools, "");
    if (egresses.ok() && pools.ok()) return {};
    if (Clock::now() > deadline)
      return makeError("CRDs not served within 10 s: " + egresses.error().message);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling, with a deadline
  }
}

}  // namespace sluice::kube::testing
