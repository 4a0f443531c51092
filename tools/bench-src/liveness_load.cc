// The liveness benchmark: 1,000 nodes reporting every 100 ms (10,000 reports/s offered) with
// realistic bodies (5 witnesses, 5 heard entries), against GET /healthz at the same rate as the
// baseline, and an unpaced phase for the most one replica sustains.
#include "liveness_load.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/http_server.h"
#include "common/witnesses.h"
#include "controller/controller_metrics.h"
#include "controller/liveness_service.h"
#include "kube/client.h"

namespace sluice::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kNodes = 1000;
constexpr int kThreads = 4;  // load generator threads (in the child process)
constexpr std::chrono::milliseconds kInterval{100};
constexpr std::chrono::seconds kPhase{8};

// The service is configured without TokenReview; nothing reaches the API server.
class NoTransport : public kube::Transport {
 public:
  Result<kube::HttpResponse> send(const kube::HttpRequest&) override {
    return makeError("no API server in the benchmark");
  }
  Result<kube::HttpResponse> stream(const kube::HttpRequest&,
                                    const std::function<void(std::string_view)>&,
                                    kube::StreamCanceller&) override {
    return makeError("no API server in the benchmark");
  }
};

double cpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

std::string nodeName(int index) { return "node" + std::to_string(index); }

std::string reportRequest(int index, const std::vector<std::string>& witnesses,
                          const std::vector<std::string>& watched) {
  const auto node = nodeName(index);
  std::string witnessList;
  for (const auto& witness : witnesses)
    witnessList += (witnessList.empty() ? "\"" : ",\"") + witness + "\"";
  std::string heard;
  for (const auto& other : watched)
    heard += (heard.empty() ? "\"" : ",\"") + other + "\":" + std::to_string(17 + index % 60);
  const std::string body = "{\"node\":\"" + node + "\",\"seq\":123456,\"fenced\":false," +
                           "\"witnesses\":[" + witnessList + "],\"heard\":{" + heard + "}}";
  return "POST /v1/report HTTP/1.1\r\nHost: controller\r\nAuthorization: Bearer "
         "eyJhbGciOiJSUzI1NiIsImtpZCI6ImJlbmNoIn0.bench.signature\r\nContent-Type: "
         "application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

const std::string kHealthz = "GET /healthz HTTP/1.1\r\nHost: controller\r\n\r\n";

int connectTo(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// Sends one request and reads its whole response; false on any error.
bool exchange(int fd, const std::string& request, std::string& buffer) {
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size()))
    return false;
  buffer.clear();
  char chunk[2048];
  while (true) {
    const auto end = buffer.find("\r\n\r\n");
    if (end != std::string::npos) {
      const auto length = buffer.find("Content-Length: ");
      const std::size_t body =
          length == std::string::npos ? 0 : std::stoul(buffer.substr(length + 16));
      if (buffer.size() >= end + 4 + body) return buffer.compare(9, 3, "200") == 0;
    }
    const auto got = read(fd, chunk, sizeof(chunk));
    if (got <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(got));
  }
}

// One phase in the child: every node sends once per interval (paced) or as fast as the
// connections allow (unpaced); returns the responses received.
long runPhase(int port, const std::vector<std::string>& requests, bool paced) {
  std::atomic<long> done{0};
  std::atomic<bool> failed{false};
  const auto until = Clock::now() + kPhase;
  std::vector<std::thread> threads;
  for (int thread = 0; thread < kThreads; ++thread) {
    threads.emplace_back([&, thread] {
      std::vector<int> fds;
      std::vector<int> nodes;
      for (int index = thread; index < kNodes; index += kThreads) {
        fds.push_back(connectTo(port));
        nodes.push_back(index);
        if (fds.back() < 0) failed = true;
      }
      std::string buffer;
      auto round = Clock::now();
      while (!failed && Clock::now() < until) {
        for (std::size_t slot = 0; slot < fds.size(); ++slot) {
          if (!exchange(fds[slot], requests[static_cast<std::size_t>(nodes[slot])], buffer)) {
            failed = true;
            break;
          }
          ++done;
        }
        if (paced) {
          round += kInterval;
          std::this_thread::sleep_until(round);
        }
      }
      for (int fd : fds) close(fd);
    });
  }
  for (auto& thread : threads) thread.join();
  return failed ? -1 : done.load();
}

struct Phase {
  const char* name;
  bool report;
  bool paced;
};
constexpr Phase kPhases[] = {
    {"healthz", false, true}, {"report", true, true}, {"report_unpaced", true, false}};

// The child: waits for the port, runs each phase between a start and an end message.
[[noreturn]] void loadGenerator(int commands, int results) {
  int port = 0;
  if (read(commands, &port, sizeof(port)) != sizeof(port)) _exit(2);
  std::vector<std::string> names;
  for (int index = 0; index < kNodes; ++index) names.push_back(nodeName(index));
  std::vector<std::string> reports, healthz(kNodes, kHealthz);
  // witnessedBy per node would be quadratic each; invert witnessesOf once instead.
  std::vector<std::vector<std::string>> witnesses(kNodes), watched(kNodes);
  for (int index = 0; index < kNodes; ++index) {
    witnesses[static_cast<std::size_t>(index)] =
        witnessesOf(nodeName(index), names, kDefaultWitnesses);
    for (const auto& witness : witnesses[static_cast<std::size_t>(index)])
      watched[static_cast<std::size_t>(std::stoi(witness.substr(4)))].push_back(nodeName(index));
  }
  for (int index = 0; index < kNodes; ++index)
    reports.push_back(reportRequest(index, witnesses[static_cast<std::size_t>(index)],
                                    watched[static_cast<std::size_t>(index)]));
  for (const auto& phase : kPhases) {
    long marker = 0;
    if (write(results, &marker, sizeof(marker)) != sizeof(marker)) _exit(2);
    long count = runPhase(port, phase.report ? reports : healthz, phase.paced);
    if (write(results, &count, sizeof(count)) != sizeof(count)) _exit(2);
  }
  _exit(0);
}

}  // namespace

bool runLivenessBench() {
  int commandPipe[2], resultPipe[2];
  if (pipe(commandPipe) != 0 || pipe(resultPipe) != 0) return false;
  // Forked before any thread exists, so the child is an ordinary single-threaded process.
  const pid_t child = fork();
  if (child == 0) loadGenerator(commandPipe[0], resultPipe[1]);

  controller::ControllerConfig config;
  config.authenticateAgents = false;
  kube::Client client(std::make_unique<NoTransport>());
  controller::ControllerMetrics metrics;
  controller::LivenessService service(
      client, metrics,
      controller::LivenessServiceOptions{.config = config,
                                         .leaseNamespace = "kube-system",
                                         .identity = "bench",
                                         .onChange = [] {},
                                         .isLeader = [] { return true; },
                                         .observedLease = [] { return std::nullopt; }});
  HttpServer server(HttpServerOptions{.listenAddress = "127.0.0.1:0", .threads = 2});
  service.addRoutes(server);
  server.route("GET", "/healthz", [](const HttpRequest&) {
    return HttpResponse{200, "text/plain", "ok\n", {}};
  });
  if (!server.start()) return false;
  service.start();
  service.startTerm();
  const int port = server.port();
  if (write(commandPipe[1], &port, sizeof(port)) != sizeof(port)) return false;

  bool ok = true;
  double healthzCpuPerRequestUs = 0;
  for (const auto& phase : kPhases) {
    long marker = 0;
    if (read(resultPipe[0], &marker, sizeof(marker)) != sizeof(marker)) return false;
    const auto cpuStart = cpuSeconds();
    const auto wallStart = Clock::now();
    long count = 0;
    if (read(resultPipe[0], &count, sizeof(count)) != sizeof(count)) return false;
    const double cpu = cpuSeconds() - cpuStart;
    const double wall = std::chrono::duration<double>(Clock::now() - wallStart).count();
    if (count <= 0) {
      std::printf("BENCH controller.liveness_%s_failed=1\n", phase.name);
      ok = false;
      continue;
    }
    const double perSecond = static_cast<double>(count) / wall;
    const double cpuPerRequestUs = cpu / static_cast<double>(count) * 1e6;
    std::printf("BENCH controller.liveness_%s_per_s=%.0f\n", phase.name, perSecond);
    std::printf("BENCH controller.liveness_%s_cpu_us_per_request=%.1f\n", phase.name,
                cpuPerRequestUs);
    std::printf("BENCH controller.liveness_%s_cpu_cores=%.2f\n", phase.name, cpu / wall);
    if (std::strcmp(phase.name, "healthz") == 0) healthzCpuPerRequestUs = cpuPerRequestUs;
    if (std::strcmp(phase.name, "report") == 0) {
      std::printf("BENCH controller.liveness_offered_per_s=%d\n",
                  static_cast<int>(kNodes * 1000L / kInterval.count()));
      if (healthzCpuPerRequestUs > 0)
        std::printf("BENCH controller.liveness_report_cpu_vs_healthz_ratio=%.2f\n",
                    cpuPerRequestUs / healthzCpuPerRequestUs);
      // Falling below 80% of the offered rate means reports queue up: a failure.
      ok = ok && perSecond >= 0.8 * kNodes * 1000.0 / static_cast<double>(kInterval.count());
    }
  }
  int status = 0;
  waitpid(child, &status, 0);
  service.stop();
  server.stop();
  return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace sluice::bench
