// [apiserver] tests of the real sluice-controller binary against the lab API server, driven with
// kubectl; fake agents are real LivenessReporter instances speaking the real report protocol.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "agent/liveness_reporter.h"
#include "common/witnesses.h"
#include "kube/resource.h"
#include "kube/transport.h"
#include "testing/conditions.h"
#include "tests/kube/apiserver_fixture.h"

namespace sluice::controller {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using sluice::testing::waitFor;
using namespace std::chrono_literals;

std::string source(const std::string& relative) {
  return std::string(SLUICE_SOURCE_ROOT) + "/" + relative;
}

struct CommandResult {
  int status = -1;
  std::string output;
};

CommandResult run(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  while (fgets(buffer.data(), buffer.size(), pipe) != nullptr) result.output += buffer.data();
  result.status = pclose(pipe);
  return result;
}

int freePort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

// A temporary directory that removes itself.
struct TempDir {
  std::string path;
  TempDir() {
    char pattern[] = "/tmp/sluice-ctl-test-XXXXXX";
    path = mkdtemp(pattern);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

// One sluice-controller process, stopped by PID.
class ControllerProcess {
 public:
  ControllerProcess(const std::string& dir, const std::string& kubeconfig, const std::string& name,
                    int port, bool authenticateAgents = false, std::string logLevel = "info")
      : name_(name), port_(port), log_(dir + "/" + name + ".log") {
    const std::string config =
        dir + (authenticateAgents ? "/controller-auth.conf" : "/controller.conf");
    if (!std::filesystem::exists(config)) {
      std::ofstream file(config);
      file << "listenAddress: 0.0.0.0:10349\n"
           << "authenticateAgents: " << (authenticateAgents ? "true" : "false") << "\n"
           << "leaderElection:\n  enabled: true\n  leaseName: sluice-controller\n"
              "  leaseDuration: 2s\n  renewDeadline: 1500ms\n  retryPeriod: 250ms\n"
              "nodeSilenceTimeout: 500ms\nmaxEgressIPsPerNode: 255\nrebalance: false\n";
    }
    const std::vector<std::string> args = {SLUICE_CONTROLLER_BINARY,
                                           "--config",
                                           config,
                                           "--kubeconfig",
                                           kubeconfig,
                                           "--namespace",
                                           "sluice-test",
                                           "--pod-name",
                                           name,
                                           "--listen",
                                           "127.0.0.1:" + std::to_string(port),
                                           "--log-level",
                                           logLevel};
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> argv;
      for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~ControllerProcess() { kill(SIGKILL); }

  void kill(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    const auto deadline = Clock::now() + 10s;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(5ms);  // polling the child's exit, with a deadline
    }
    pid_ = -1;
  }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    return waitpid(pid_, &status, WNOHANG) == 0;
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // GET /v1/nodes: this replica's view (leader flag, liveness per node).
  json nodesView() const {
    auto result = run("curl -s --max-time 1 http://" + address() + "/v1/nodes");
    try {
      return json::parse(result.output);
    } catch (const json::exception&) {
      return json::object();
    }
  }
  bool leading() const { return nodesView().value("leader", false); }
  std::string log() const { return run("cat " + log_).output; }
  std::string logTail() const {
    auto text = run("tail -n 40 " + log_).output;
    return name_ + " log:\n" + text;
  }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  int port_;
  std::string log_;
  pid_t pid_ = -1;
};

// A fake agent: the real reporter, for one node name.
std::unique_ptr<agent::LivenessReporter> startReporter(const std::string& node,
                                                       const std::string& controller) {
  auto reporter = std::make_unique<agent::LivenessReporter>(
      agent::LivenessReporterOptions{.nodeName = node,
                                     .controllerAddress = controller,
                                     .reportInterval = 100ms,
                                     .fencingTimeout = 300ms});
  REQUIRE(reporter->start());
  return reporter;
}

class Lab {
 public:
  Lab() {
    auto server = kube::testing::ApiServer::start();
    REQUIRE(server);
    server_ = std::move(*server);
    auto client = server_->client();
    REQUIRE(client);
    client_ = std::move(*client);
    REQUIRE(kube::testing::ensureNamespace(*client_, "sluice-test"));
    kubectlOk("apply -f " + source("manifests/crds.yml"));
    REQUIRE(waitFor([&] { return run(kubectl("get egresses")).status == 0; }, 30s));
  }

  std::string kubectl(const std::string& args) const {
    return "kubectl --kubeconfig " + server_->kubeconfigPath() + " " + args;
  }
  std::string kubectlOk(const std::string& args) const {
    auto result = run(kubectl(args));
    INFO(kubectl(args) << "\n" << result.output);
    REQUIRE(result.status == 0);
    return result.output;
  }
  void applyYaml(const std::string& yaml) {
    const std::string path = dir_.path + "/apply-" + std::to_string(applied_++) + ".yml";
    std::ofstream(path) << yaml;
    kubectlOk("apply -f " + path);
  }
  void addNode(const std::string& name, bool gateway) {
    applyYaml("apiVersion: v1\nkind: Node\nmetadata:\n  name: " + name + "\n" +
              (gateway ? "  labels:\n    network-role: egress-gateway\n" : ""));
  }
  json egress(const std::string& name) const {
    auto object = client_->get(kube::resources::kEgresses, "", name);
    return object ? *object : json::object();
  }
  json status(const std::string& name) const {
    return egress(name).value("status", json::object());
  }
  std::string egressNode(const std::string& name) const {
    return status(name).value("egressNode", "");
  }
  json condition(const std::string& name, const std::string& type) const {
    for (const auto& condition : status(name).value("conditions", json::array()))
      if (condition.value("type", "") == type) return condition;
    return json::object();
  }
  // Events about one object, as "REASON: MESSAGE" lines.
  std::string eventsFor(const std::string& objectName) const {
    auto list = client_->list(kube::resources::kEvents, "default");
    std::string text;
    if (!list) return text;
    for (const auto& event : list->value("items", json::array()))
      if (event.value("involvedObject", json::object()).value("name", "") == objectName)
        text += event.value("reason", "") + ": " + event.value("message", "") + "\n";
    return text;
  }
  const std::string& dir() const { return dir_.path; }
  const std::string& kubeconfig() const { return server_->kubeconfigPath(); }

 private:
  TempDir dir_;
  std::unique_ptr<kube::testing::ApiServer> server_;
  std::unique_ptr<kube::Client> client_;
  int applied_ = 0;
};

TEST_CASE(
    "controller: Listings 1 and 2 placed; relabel moves; failover under 1 s; restart moves nothing",
    "[apiserver]") {
  Lab lab;
  lab.addNode("node01", false);
  lab.addNode("node02", true);
  lab.addNode("node03", true);
  const int port = freePort();
  auto controller =
      std::make_unique<ControllerProcess>(lab.dir(), lab.kubeconfig(), "controller-a", port);
  std::map<std::string, std::unique_ptr<agent::LivenessReporter>> agents;
  for (const auto* node : {"node01", "node02", "node03"})
    agents[node] = startReporter(node, controller->address());

  lab.kubectlOk("apply -f " + source("tests/fixtures/thesis/listing2-pool.yml"));
  lab.kubectlOk("apply -f " + source("tests/fixtures/thesis/listing1-egress.yml"));
  INFO(controller->logTail());
  REQUIRE(waitFor([&] { return !lab.egressNode("egress-prod-web").empty(); }, 20s));
  auto status = lab.status("egress-prod-web");
  CHECK(status["egressIP"] == "10.10.0.8");
  const std::string first = status["egressNode"];
  CHECK((first == "node02" || first == "node03"));
  CHECK(lab.condition("egress-prod-web", "IPAllocated").value("status", "") == "True");
  CHECK(lab.condition("egress-prod-web", "IPAssigned").value("reason", "") == "Assigned");
  REQUIRE(waitFor(
      [&] {
        auto pool =
            run(lab.kubectl("get externalippool prod-external-ip-pool -o "
                            "jsonpath={.status.usage.total}/{.status.usage.used}"));
        return pool.output == "23/1";
      },
      5s));

  SECTION("relabelling the node moves the IP") {
    lab.kubectlOk("label node " + first + " network-role-");
    REQUIRE(waitFor([&] { return lab.egressNode("egress-prod-web") != first; }, 5s));
    const std::string second = lab.egressNode("egress-prod-web");
    CHECK(second != "node01");
    CHECK_FALSE(second.empty());
    CHECK_THAT(lab.eventsFor("egress-prod-web"), Catch::Contains("EgressIPMoved"));
  }

  SECTION(
      "a silent node's IP moves within nodeSilenceTimeout plus decision time; a restart moves "
      "nothing") {
    const auto stopped = Clock::now();
    agents[first]->stop();
    REQUIRE(waitFor([&] { return lab.egressNode("egress-prod-web") != first; }, 3s));
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stopped);
    const std::string second = lab.egressNode("egress-prod-web");
    std::cout << "BENCH controller.failover_decision_e2e_ms=" << elapsed.count() << "\n";
    std::cout << "failover: " << first << " -> " << second << " in " << elapsed.count()
              << " ms after its agent stopped (nodeSilenceTimeout 500ms)\n";
    CHECK(elapsed < 1000ms);
    CHECK((second == "node02" || second == "node03"));
    CHECK(second != first);
    REQUIRE(waitFor(
        [&] { return lab.eventsFor("egress-prod-web").find("silent for") != std::string::npos; },
        3s));
    CHECK_THAT(lab.eventsFor("egress-prod-web"),
               Catch::Contains("Moved 10.10.0.8 from " + first + " to " + second));
    std::cout << "controller's Events:\n" << lab.eventsFor("egress-prod-web");
    // The controller's own figure: from the last report it received to the status write.
    const auto events = lab.eventsFor("egress-prod-web");
    const auto silent = events.find("silent for ");
    if (silent != std::string::npos)
      std::cout << "BENCH controller.failover_silence_to_status_ms="
                << std::stol(events.substr(silent + 11)) << "\n";
    const auto metrics =
        run("curl -s --max-time 2 http://" + controller->address() + "/metrics").output;
    CHECK_THAT(metrics, Catch::Contains("sluice_controller_failovers_total 1"));
    CHECK_THAT(metrics, Catch::Contains("sluice_controller_decision_latency_seconds_count 1"));
    CHECK_THAT(metrics,
               Catch::Contains("sluice_controller_pool_ips{pool=\"prod-external-ip-pool\"} 23"));
    CHECK_THAT(metrics, Catch::Contains("sluice_controller_live_nodes 2"));

    // Restart: the new process rebuilds from status and writes nothing.
    const std::string version = kube::resourceVersionOf(lab.egress("egress-prod-web"));
    controller->kill(SIGTERM);
    controller =
        std::make_unique<ControllerProcess>(lab.dir(), lab.kubeconfig(), "controller-b", port);
    // Once the stopped node is Dead in the new term, the grace period is over and a sync ran.
    REQUIRE(waitFor(
        [&] {
          for (const auto& node : controller->nodesView().value("nodes", json::array()))
            if (node.value("node", "") == first) return node.value("liveness", "") == "Dead";
          return false;
        },
        10s));
    REQUIRE(waitFor([&] { return controller->nodesView().value("leader", false); }, 1s));
    CHECK(lab.egressNode("egress-prod-web") == second);
    CHECK(kube::resourceVersionOf(lab.egress("egress-prod-web")) == version);
  }
  for (auto& [node, reporter] : agents) reporter->stop();
  CHECK(controller->running());
}

TEST_CASE(
    "controller HA: one of two leads; the standby redirects and takes over moving nothing; agents "
    "fence",
    "[apiserver]") {
  Lab lab;
  lab.addNode("node02", true);
  lab.addNode("node03", true);
  auto a =
      std::make_unique<ControllerProcess>(lab.dir(), lab.kubeconfig(), "controller-a", freePort());
  REQUIRE(waitFor([&] { return a->leading(); }, 10s));
  auto b =
      std::make_unique<ControllerProcess>(lab.dir(), lab.kubeconfig(), "controller-b", freePort());
  REQUIRE(waitFor([&] { return !b->nodesView().empty(); }, 10s));
  CHECK_FALSE(b->leading());
  // Leader and standby are both ready (/readyz): a standby takes over without a relist.
  // (The standby's informers may still be syncing when it first reports nodes: wait for it.)
  CHECK(waitFor(
      [&] {
        return run("curl -s --max-time 2 http://" + a->address() + "/readyz").output ==
               "ok: leader\n";
      },
      10s));
  CHECK(waitFor(
      [&] {
        return run("curl -s --max-time 2 http://" + b->address() + "/readyz").output ==
               "ok: standby\n";
      },
      10s));
  CHECK_THAT(run("curl -s --max-time 2 http://" + b->address() + "/metrics").output,
             Catch::Contains("sluice_controller_is_leader 0"));
  // The agents know only the standby, as they would know only the Service.
  std::map<std::string, std::unique_ptr<agent::LivenessReporter>> agents;
  for (const auto* node : {"node02", "node03"}) agents[node] = startReporter(node, b->address());
  REQUIRE(waitFor([&] { return !agents["node02"]->fenced() && !agents["node03"]->fenced(); }, 5s));
  CHECK(agents["node02"]->currentTarget() == a->address());  // followed the 307

  lab.kubectlOk("apply -f " + source("tests/fixtures/thesis/listing2-pool.yml"));
  lab.kubectlOk("apply -f " + source("tests/fixtures/thesis/listing1-egress.yml"));
  INFO(a->logTail() << b->logTail());
  REQUIRE(waitFor([&] { return !lab.egressNode("egress-prod-web").empty(); }, 20s));
  const std::string owner = lab.egressNode("egress-prod-web");
  const std::string version = kube::resourceVersionOf(lab.egress("egress-prod-web"));

  const auto killed = Clock::now();
  a->kill(SIGKILL);
  // Fencing: with the leader gone, no report succeeds, and every agent lets go within
  // fencingTimeout.
  REQUIRE(waitFor([&] { return agents["node02"]->fenced() && agents["node03"]->fenced(); }, 2s));
  const auto fencedAfter =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed);
  std::cout << "fencing: agents fenced " << fencedAfter.count()
            << " ms after the leader died (fencingTimeout 300ms)\n";
  CHECK(fencedAfter < 300ms + 100ms + 100ms);  // timeout + one report interval + polling slack

  REQUIRE(waitFor([&] { return b->leading(); }, 5s));
  const auto takeover =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed);
  std::cout << "HA: controller-b leads " << takeover.count()
            << " ms after the leader was killed (leaseDuration 2s)\n";
  CHECK(takeover < 2000ms + 250ms + 500ms);  // lease duration + retry period + slack
  REQUIRE(waitFor([&] { return !agents["node02"]->fenced() && !agents["node03"]->fenced(); }, 3s));
  CHECK(agents["node02"]->currentTarget() == b->address());
  // After the new term's grace period both nodes are Alive, nothing moved, nothing was written.
  REQUIRE(waitFor(
      [&] {
        int alive = 0;
        for (const auto& node : b->nodesView().value("nodes", json::array()))
          alive += node.value("liveness", "") == "Alive" ? 1 : 0;
        return alive == 2;
      },
      3s));
  CHECK(lab.egressNode("egress-prod-web") == owner);
  CHECK(kube::resourceVersionOf(lab.egress("egress-prod-web")) == version);
  for (auto& [node, reporter] : agents) reporter->stop();
}

// Agents that speak the witness protocol, in-process: every 100 ms each live node reports to
// every replica with its witnesses and what it heard; a node marked dead stops reporting and
// its witnesses stop hearing it.
class WitnessAgents {
 public:
  WitnessAgents(std::vector<std::string> nodes, std::vector<std::string> targets)
      : nodes_(std::move(nodes)), targets_(std::move(targets)), started_(Clock::now()) {
    thread_ = std::thread([this] { run(); });
  }
  ~WitnessAgents() {
    stopping_ = true;
    thread_.join();
  }
  void kill(const std::string& node) {
    std::lock_guard lock(mutex_);
    diedAt_[node] = Clock::now();
  }
  // The last answer of `target` to a report.
  // The last answer from `target`, or an empty object before the first one.
  json lastAnswer(const std::string& target) {
    std::lock_guard lock(mutex_);
    const auto found = answers_.find(target);
    return found != answers_.end() && found->second.is_object() ? found->second : json::object();
  }

 private:
  void run() {
    std::map<std::string, std::unique_ptr<kube::Transport>> transports;
    std::uint64_t sequence = 0;
    while (!stopping_) {
      const auto now = Clock::now();
      ++sequence;
      std::map<std::string, Clock::time_point> died;
      {
        std::lock_guard lock(mutex_);
        died = diedAt_;
      }
      for (const auto& node : nodes_) {
        if (died.contains(node)) continue;
        json heard = json::object();
        for (const auto& watched : witnessedBy(node, nodes_, kDefaultWitnesses)) {
          auto gone = died.find(watched);
          const auto since = gone == died.end() ? now - 10ms : gone->second;
          heard[watched] =
              std::chrono::duration_cast<std::chrono::milliseconds>(now - since).count();
        }
        const json body = {{"node", node},
                           {"seq", sequence},
                           {"fenced", false},
                           {"witnesses", witnessesOf(node, nodes_, kDefaultWitnesses)},
                           {"heard", heard}};
        for (const auto& target : targets_) {
          auto& transport = transports[target];
          if (!transport) {
            auto made = kube::makePlainHttpTransport(
                target, "",
                kube::TransportOptions{.connectTimeout = 200ms, .requestTimeout = 200ms});
            if (!made) continue;
            transport = std::move(*made);
          }
          auto response = transport->send(kube::HttpRequest{.method = "POST",
                                                            .target = "/v1/report",
                                                            .contentType = "application/json",
                                                            .body = body.dump()});
          if (!response) continue;
          std::lock_guard lock(mutex_);
          answers_[target] = json::parse(response->body, nullptr, false);
          answers_[target]["status"] = response->status;
        }
      }
      std::this_thread::sleep_until(now + 100ms);
    }
  }

  std::vector<std::string> nodes_;
  std::vector<std::string> targets_;
  Clock::time_point started_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::map<std::string, Clock::time_point> diedAt_;
  std::map<std::string, json> answers_;
  std::thread thread_;
};

TEST_CASE(
    "controller HA with witnesses: the standby answers 200, takes over moving nothing, and "
    "moves a dead node at once",
    "[apiserver]") {
  Lab lab;
  const std::vector<std::string> nodes = {"node02", "node03", "node04"};
  for (const auto& node : nodes) lab.addNode(node, true);
  auto a =
      std::make_unique<ControllerProcess>(lab.dir(), lab.kubeconfig(), "controller-a", freePort());
  REQUIRE(waitFor([&] { return a->leading(); }, 10s));
  auto b =
      std::make_unique<ControllerProcess>(lab.dir(), lab.kubeconfig(), "controller-b", freePort());
  REQUIRE(waitFor([&] { return !b->nodesView().empty(); }, 10s));
  auto c =
      std::make_unique<ControllerProcess>(lab.dir(), lab.kubeconfig(), "controller-c", freePort());
  WitnessAgents agents(nodes, {a->address(), b->address(), c->address()});
  INFO(a->logTail() << b->logTail() << c->logTail());
  // A standby records and answers 200 "leader": false with the leader's address, no 307.
  REQUIRE(waitFor([&] { return agents.lastAnswer(b->address()).value("status", 0) == 200; }, 5s));
  REQUIRE(waitFor(
      [&] { return agents.lastAnswer(b->address()).value("leaderAddress", "") == a->address(); },
      5s));
  CHECK(agents.lastAnswer(b->address())["leader"] == false);
  CHECK(agents.lastAnswer(a->address())["leader"] == true);

  lab.kubectlOk("apply -f " + source("tests/fixtures/thesis/listing2-pool.yml"));
  lab.kubectlOk("apply -f " + source("tests/fixtures/thesis/listing1-egress.yml"));
  REQUIRE(waitFor([&] { return !lab.egressNode("egress-prod-web").empty(); }, 20s));
  const std::string owner = lab.egressNode("egress-prod-web");
  const std::string version = kube::resourceVersionOf(lab.egress("egress-prod-web"));

  // The leader dies; a standby that tracked everything takes over and moves nothing.
  a->kill(SIGKILL);
  REQUIRE(waitFor([&] { return b->leading() || c->leading(); }, 5s));
  auto& leader = b->leading() ? b : c;
  auto& standby = b->leading() ? c : b;
  REQUIRE(waitFor(
      [&] {
        int alive = 0;
        for (const auto& node : leader->nodesView().value("nodes", json::array()))
          alive += node.value("liveness", "") == "Alive" ? 1 : 0;
        return alive == 3;
      },
      3s));
  std::this_thread::sleep_for(1s);  // a window in which a wrong move would have happened
  CHECK(lab.egressNode("egress-prod-web") == owner);
  CHECK(kube::resourceVersionOf(lab.egress("egress-prod-web")) == version);

  // The new leader dies and so does the owner: the last replica, a standby that tracked the
  // death, moves the IP within about a second of taking over, with no grace period.
  leader->kill(SIGKILL);
  agents.kill(owner);
  REQUIRE(waitFor([&] { return standby->leading(); }, 5s));
  const auto tookOver = Clock::now();
  REQUIRE(waitFor(
      [&] {
        const auto node = lab.egressNode("egress-prod-web");
        return !node.empty() && node != owner;
      },
      3s));
  const auto moved = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - tookOver);
  std::cout << "HA with witnesses: the dead owner's IP moved " << moved.count()
            << " ms after the last replica took over\n";
  // A fresh process would wait a whole silence period (500ms) first.
  CHECK(moved < 400ms);
  CHECK_THAT(standby->logTail(), Catch::Contains("confirmed by"));
}

TEST_CASE("controller: invalid input gives conditions and Events and no crash", "[apiserver]") {
  Lab lab;
  lab.addNode("node02", true);
  auto controller =
      std::make_unique<ControllerProcess>(lab.dir(), lab.kubeconfig(), "controller-a", freePort());
  auto agent = startReporter("node02", controller->address());
  lab.applyYaml(R"(apiVersion: crd.antrea.io/v1beta1
kind: ExternalIPPool
metadata: {name: small}
spec:
  ipRanges: [{start: 10.20.0.1, end: 10.20.0.2}]
---
apiVersion: crd.antrea.io/v1beta1
kind: ExternalIPPool
metadata: {name: zz-overlapping}
spec:
  ipRanges: [{start: 10.20.0.2, end: 10.20.0.5}]
---
apiVersion: crd.antrea.io/v1beta1
kind: Egress
metadata: {name: outside}
spec:
  appliedTo: {podSelector: {}}
  externalIPPool: small
  egressIP: 10.99.0.1
---
apiVersion: crd.antrea.io/v1beta1
kind: Egress
metadata: {name: missing-pool}
spec:
  appliedTo: {podSelector: {}}
  externalIPPool: no-such-pool
---
apiVersion: crd.antrea.io/v1beta1
kind: Egress
metadata: {name: first}
spec:
  appliedTo: {podSelector: {}}
  externalIPPool: small
)");
  INFO(controller->logTail());
  REQUIRE(waitFor([&] { return !lab.egressNode("first").empty(); }, 20s));
  lab.applyYaml(R"(apiVersion: crd.antrea.io/v1beta1
kind: Egress
metadata: {name: second}
spec:
  appliedTo: {podSelector: {}}
  externalIPPool: small
---
apiVersion: crd.antrea.io/v1beta1
kind: Egress
metadata: {name: third}
spec:
  appliedTo: {podSelector: {}}
  externalIPPool: small
)");
  REQUIRE(waitFor(
      [&] { return lab.condition("third", "IPAllocated").value("reason", "") == "PoolExhausted"; },
      10s));
  CHECK(lab.condition("third", "IPAllocated").value("status", "") == "False");
  CHECK(lab.condition("outside", "IPAllocated").value("reason", "") == "IPNotInPool");
  CHECK(lab.condition("missing-pool", "IPAllocated").value("reason", "") == "PoolNotFound");
  CHECK_FALSE(lab.egressNode("second").empty());
  REQUIRE(waitFor([&] { return lab.eventsFor("third").find("PoolExhausted") != std::string::npos; },
                  5s));
  REQUIRE(waitFor(
      [&] { return lab.eventsFor("zz-overlapping").find("PoolOverlap") != std::string::npos; },
      5s));
  CHECK_THAT(lab.eventsFor("outside"), Catch::Contains("IPNotInPool"));
  const auto overlapping =
      run(lab.kubectl("get externalippool zz-overlapping -o "
                      "jsonpath='{.status.conditions[?(@.type==\"Overlapping\")].status}'"));
  CHECK(overlapping.output == "True");
  CHECK_THAT(lab.eventsFor("missing-pool"), Catch::Contains("PoolNotFound"));

  // Deleting a pool in use breaks only its Egresses.
  lab.kubectlOk("delete externalippool zz-overlapping");
  lab.kubectlOk("delete externalippool small");
  REQUIRE(waitFor(
      [&] { return lab.condition("first", "IPAllocated").value("reason", "") == "PoolNotFound"; },
      10s));
  CHECK(controller->running());
  agent->stop();
}

TEST_CASE("controller: with authenticateAgents an unauthenticated agent stays fenced",
          "[apiserver]") {
  Lab lab;
  lab.addNode("node02", true);
  auto controller = std::make_unique<ControllerProcess>(lab.dir(), lab.kubeconfig(),
                                                        "controller-auth", freePort(), true);
  REQUIRE(waitFor([&] { return controller->leading(); }, 10s));
  // No token at all: 401 without asking the API server.
  auto anonymous =
      run("curl -s -o /dev/null -w %{http_code} -X POST -d '{\"node\":\"node02\"}' http://" +
          controller->address() + "/v1/report");
  CHECK(anonymous.output == "401");
  // A token the API server cannot vouch for (the lab server has no TokenReview): 401 as well,
  // and the reporter never unfences, so it would never hold an egress IP.
  const std::string tokenFile = lab.dir() + "/token";
  std::ofstream(tokenFile) << "not-a-service-account-token\n";
  agent::LivenessReporter reporter({.nodeName = "node02",
                                    .controllerAddress = controller->address(),
                                    .reportInterval = 100ms,
                                    .fencingTimeout = 300ms,
                                    .tokenFile = tokenFile});
  REQUIRE(reporter.start());
  REQUIRE(waitFor([&] { return reporter.stats().sent >= 3; }, 5s));
  CHECK(reporter.fenced());
  CHECK(reporter.stats().succeeded == 0);
  for (const auto& node : controller->nodesView().value("nodes", json::array()))
    CHECK(node.value("reports", 0) == 0);
  reporter.stop();
}

// Least privilege (issue 8): bearer tokens are credentials, so neither the controller's own
// kubeconfig token nor the agents' report tokens may appear in its log, even at debug level and
// on the failure paths (a TokenReview the lab server cannot answer, 401s to agents).
TEST_CASE("controller: no bearer token reaches its log, even at debug level", "[apiserver]") {
  Lab lab;
  lab.addNode("node02", true);
  std::string kubeToken;
  {
    std::ifstream kubeconfig(lab.kubeconfig());
    for (std::string line; std::getline(kubeconfig, line);)
      if (const auto at = line.find("token: "); at != std::string::npos)
        kubeToken = line.substr(at + 7);
  }
  REQUIRE(kubeToken.size() >= 16);
  auto controller = std::make_unique<ControllerProcess>(
      lab.dir(), lab.kubeconfig(), "controller-secrets", freePort(), true, "debug");
  REQUIRE(waitFor([&] { return controller->leading(); }, 10s));
  const std::string agentToken = "sluice-agent-secret-" + std::to_string(::getpid());
  const std::string tokenFile = lab.dir() + "/agent-token";
  std::ofstream(tokenFile) << agentToken << "\n";
  agent::LivenessReporter reporter({.nodeName = "node02",
                                    .controllerAddress = controller->address(),
                                    .reportInterval = 100ms,
                                    .fencingTimeout = 300ms,
                                    .tokenFile = tokenFile});
  REQUIRE(reporter.start());
  REQUIRE(waitFor([&] { return reporter.stats().sent >= 3; }, 5s));
  reporter.stop();
  controller->kill(SIGTERM);
  const std::string log = controller->log();
  REQUIRE(log.find("is the leader") != std::string::npos);  // the real log, not an empty one
  CHECK(log.find(kubeToken) == std::string::npos);
  CHECK(log.find(agentToken) == std::string::npos);
}

}  // namespace
}  // namespace sluice::controller
