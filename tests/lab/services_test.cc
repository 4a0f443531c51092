// Services end to end in the lab: the lab API server allocates ClusterIPs and nodePorts, the lab
// keeps EndpointSlices as kube-controller-manager does, dnsmasq serves cluster DNS as kube-dns,
// and Sluice's proxy (or, in the last test, kube-proxy's own iptables rules) load-balances real
// packets between real pods.
#include <catch2/catch.hpp>

#include <cstdio>
#include <map>

#include "lab_fixture.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// The body of GET url from a pod ("" when the request fails); lab servers answer their pod name.
std::string httpGet(const Lab& lab, const std::string& pod, const std::string& url) {
  const auto result = lab.exec(pod, "curl -s -m 2 " + quote(url));
  return result.ok() ? trim(result.output) : "";
}

// How OVS prints an endpoint's address in a group bucket: "0xaf40302->" (load or set_field).
std::string bucketAddress(const std::string& dotted) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (std::sscanf(dotted.c_str(), "%u.%u.%u.%u", &a, &b, &c, &d) != 4) return "(bad address)";
  char text[32];
  std::snprintf(text, sizeof text, "0x%x->", (a << 24) | (b << 16) | (c << 8) | d);
  return text;
}

// Starts, on `node`, a bounded TCP server that answers every connection with the peer's IP; its
// PID file in the lab's state makes `sluice-lab down` stop it.
void startPeerEcho(Lab& lab, const std::string& node, const std::string& nodeIp) {
  const auto started =
      lab.nodeExec(node, "(timeout 120 python3 " + std::string(SLUICE_SOURCE_ROOT) +
                             "/tools/lab/extsrv.py --address " + nodeIp +
                             " --tcp-port 18080 --udp-port 19000 " + "--log-dir " + lab.stateDir() +
                             "/peer-echo-" + node + " >/dev/null 2>&1 & echo $! >" +
                             lab.stateDir() + "/pids/peer-echo-" + node + ".pid)");
  REQUIRE(started.ok());
}

// The source IP the node at nodeIp saw for a connection from `pod` ("" if none).
std::string sourceSeenBy(const Lab& lab, const std::string& pod, const std::string& nodeIp) {
  return trim(
      lab.exec(pod, "timeout 2 bash -c 'exec 3<>/dev/tcp/" + nodeIp + "/18080; head -1 <&3'")
          .output);
}

void applyService(Lab& lab, const std::string& yaml) {
  const auto applied = shell("printf '%s\\n' " + quote(yaml) + " | " + quote(Lab::tool()) +
                             " --name " + lab.name() + " kubectl -- apply -f -");
  INFO(applied.output);
  REQUIRE(applied.ok());
}

std::string clusterIp(Lab& lab, const std::string& service, const std::string& ns = "default") {
  return trim(
      lab.kubectl("get svc -n " + ns + " " + service + " -o jsonpath={.spec.clusterIP}").output);
}

std::string webService(const std::string& name, const std::string& extra = "",
                       const std::string& selector = "web") {
  return "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name +
         "\n  namespace: default\nspec:\n  selector:\n    app: " + selector +
         "\n  ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n" + extra;
}

// Answers of `count` requests from `pod` to `url`, by the backend that answered ("" = failed).
std::map<std::string, int> answers(const Lab& lab, const std::string& pod, const std::string& url,
                                   int count) {
  std::map<std::string, int> seen;
  for (int i = 0; i < count; ++i) ++seen[httpGet(lab, pod, url)];
  return seen;
}

// Waits until `pod` gets an answer from `url` (the Service reached this node's proxy).
bool serves(const Lab& lab, const std::string& pod, const std::string& url) {
  return waitFor(
      10s, [&] { return !httpGet(lab, pod, url).empty(); }, 50ms);
}

// Backends web-1 (node02) and web-2 (node03) labelled app=web, serving HTTP on 8080; their IPs.
std::map<std::string, std::string> addWebBackends(Lab& lab) {
  std::map<std::string, std::string> ips;
  for (const auto& [pod, node] : {std::pair{"web-1", "node02"}, std::pair{"web-2", "node03"}}) {
    ips[pod] = lab.addPod(pod, node, "app=web");
    INFO(lab.lastOutput());
    REQUIRE_FALSE(ips[pod].empty());
    const auto served = lab.lab(std::string("serve ") + pod + " --port 8080");
    INFO(served.output);
    REQUIRE(served.ok());
  }
  return ips;
}

// Listings 1 and 2 of the thesis: prod pods with role=web leave through 10.10.0.8 on node03; the
// pod prod/selected on node01 is one of them.
void addSelectedClient(Lab& lab) {
  REQUIRE(lab.lab("ns add prod --labels env=prod").ok());
  REQUIRE(lab.lab("node label node03 network-role=egress-gateway").ok());
  const auto thesis = std::string(SLUICE_SOURCE_ROOT) + "/tests/fixtures/thesis";
  REQUIRE(lab.kubectl("apply -f " + thesis + "/listing2-pool.yml").ok());
  REQUIRE(lab.kubectl("apply -f " + thesis + "/listing1-egress.yml").ok());
  REQUIRE_FALSE(lab.addPod("selected", "node01", "role=web", "prod").empty());
}

TEST_CASE(
    "ClusterIP: two remote backends, a plain and an Egress-selected client, DNS by name, "
    "a deleted backend leaves the rotation",
    "[lab]") {
  Lab lab({.nodes = 3, .dns = true});
  REQUIRE(lab.up());
  const auto backends = addWebBackends(lab);
  REQUIRE_FALSE(lab.addPod("client", "node01").empty());
  addSelectedClient(lab);
  applyService(lab, webService("web"));
  const auto ip = clusterIp(lab, "web");
  INFO("ClusterIP " << ip);
  REQUIRE(ip.rfind("10.", 0) == 0);

  const auto url = "http://" + ip + "/";
  REQUIRE(serves(lab, "client", url));
  REQUIRE(serves(lab, "prod/selected", url));
  // Egress is in effect for the selected pod (the outside sees its egress IP)...
  CHECK(waitFor(10s, [&] {
    return trim(lab.exec("prod/selected",
                         "timeout 2 bash -c 'exec 3<>/dev/tcp/10.10.3.1/8080; head -1 <&3'")
                    .output) == "10.10.0.8";
  }));
  // Other nodes' IPs never take the Egress: node02 sees node01's IP, not 10.10.0.8.
  startPeerEcho(lab, "node02", "10.10.2.2");
  CHECK(
      waitFor(5s, [&] { return sourceSeenBy(lab, "prod/selected", "10.10.2.2") == "10.10.2.1"; }));
  // ...and its Service traffic still reaches the backends, 20 of 20, as the plain pod's does.
  for (const char* pod : {"client", "prod/selected"}) {
    const auto seen = answers(lab, pod, url, 20);
    INFO(pod);
    CHECK(seen.count("") == 0);
    CHECK(seen.count("web-1") == 1);
    CHECK(seen.count("web-2") == 1);
  }

  // sluicectl: node01's view of the Service, its flows, and a SYN traced through its group.
  const auto view = lab.nodeExec("node01", "sluicectl get services default/web");
  INFO(view.output);
  CHECK_THAT(view.output, Catch::Contains(ip));
  CHECK_THAT(view.output, Catch::Contains(backends.at("web-1") + ":8080"));
  CHECK_THAT(view.output, Catch::Contains(backends.at("web-2") + ":8080"));
  const auto flows = lab.nodeExec("node01", "sluicectl get ovsflows -S default/web");
  INFO(flows.output);
  CHECK_THAT(flows.output, Catch::Contains("ServiceLB"));
  CHECK_THAT(flows.output, Catch::Contains("EndpointDNAT"));
  const auto traced =
      lab.nodeExec("node01", "sluicectl trace -p default/client --dst " + ip + " --dport 80");
  INFO(traced.output);
  CHECK_THAT(traced.output, Catch::Contains("load balancing: group"));
  CHECK_THAT(traced.output, Catch::Contains("(default/web port http)"));

  // Cluster DNS: kube-dns behind 10.96.0.10, kubelet's resolv.conf in every pod.
  for (const char* pod : {"client", "prod/selected"}) {
    INFO(pod);
    const auto resolved = lab.exec(pod, "getent hosts web.default.svc.cluster.local");
    INFO(resolved.output);
    CHECK_THAT(resolved.output, Catch::Contains(ip));
    CHECK_FALSE(httpGet(lab, pod, "http://web.default/").empty());
  }
  // UDP through a Service: a DNS query to kube-dns itself.
  const auto udp = lab.exec("client", "getent hosts kube-dns.kube-system");
  INFO(udp.output);
  CHECK_THAT(udp.output, Catch::Contains("10.96.0.10"));

  // A deleted backend leaves the rotation within a second, and no request fails after that.
  const auto web2 = bucketAddress(backends.at("web-2"));
  const auto groups = [&] {
    return lab.nodeExec("node01", "ovs-ofctl -O OpenFlow15 dump-groups br-int").output;
  };
  REQUIRE_THAT(groups(), Catch::Contains(web2));
  REQUIRE(lab.lab("pod del web-2").ok());
  CHECK(waitFor(
      1s, [&] { return groups().find(web2) == std::string::npos; }, 10ms));
  const auto after = answers(lab, "client", url, 20);
  CHECK(after.count("") == 0);
  CHECK(after.count("web-2") == 0);
  CHECK(after.count("web-1") == 1);
}

TEST_CASE("sessionAffinity, internalTrafficPolicy Local, hairpin, and a Service without endpoints",
          "[lab]") {
  Lab lab({.nodes = 3});
  REQUIRE(lab.up());
  addWebBackends(lab);
  REQUIRE_FALSE(lab.addPod("web-0", "node01", "app=web").empty());
  REQUIRE(lab.lab("serve web-0 --port 8080").ok());
  REQUIRE_FALSE(lab.addPod("client", "node01").empty());

  // ClientIP affinity: every request of one client lands on one backend.
  applyService(lab, webService("sticky", "  sessionAffinity: ClientIP\n"));
  const auto sticky = "http://" + clusterIp(lab, "sticky") + "/";
  REQUIRE(serves(lab, "client", sticky));
  const auto stuck = answers(lab, "client", sticky, 15);
  INFO("sticky answers: " << stuck.size());
  CHECK(stuck.size() == 1);
  CHECK(stuck.count("") == 0);

  // internalTrafficPolicy Local: node01's client only ever reaches node01's backend.
  applyService(lab, webService("local", "  internalTrafficPolicy: Local\n"));
  const auto local = "http://" + clusterIp(lab, "local") + "/";
  REQUIRE(serves(lab, "client", local));
  const auto onlyLocal = answers(lab, "client", local, 15);
  CHECK(onlyLocal.size() == 1);
  CHECK(onlyLocal.count("web-0") == 1);

  // Hairpin: web-1, the only backend of its Service, reaches itself through it.
  REQUIRE(lab.kubectl("label pod web-1 solo=yes").ok());
  applyService(lab,
               "apiVersion: v1\nkind: Service\nmetadata:\n  name: solo\nspec:\n  selector:\n"
               "    solo: \"yes\"\n  ports:\n  - port: 80\n    targetPort: 8080\n");
  const auto solo = "http://" + clusterIp(lab, "solo") + "/";
  CHECK(waitFor(
      10s, [&] { return httpGet(lab, "web-1", solo) == "web-1"; }, 50ms));

  // No endpoints: the client is refused at once (TCP RST), not left to time out.
  applyService(lab, webService("empty", "", "nothing-has-this-label"));
  const auto empty = "http://" + clusterIp(lab, "empty") + "/";
  const auto refused = lab.exec(
      "client", "curl -s -m 3 -o /dev/null -w '%{http_code}' " + empty + "; echo \" exit=$?\"");
  INFO(refused.output);
  CHECK_THAT(refused.output, Catch::Contains("exit=7"));  // couldn't connect: refused
}

TEST_CASE("NodePort from the external host, with both external traffic policies", "[lab]") {
  Lab lab({.nodes = 3});
  REQUIRE(lab.up());
  addWebBackends(lab);
  applyService(lab, webService("np-cluster", "  type: NodePort\n"));
  applyService(lab, webService("np-local", "  type: NodePort\n  externalTrafficPolicy: Local\n"));
  const auto nodePort = [&](const std::string& service) {
    return trim(
        lab.kubectl("get svc " + service + " -o jsonpath={.spec.ports[0].nodePort}").output);
  };
  const auto cluster = nodePort("np-cluster");
  const auto local = nodePort("np-local");
  REQUIRE_FALSE(cluster.empty());
  REQUIRE_FALSE(local.empty());

  // Cluster: any node answers, node01 too, which has no backend (SNAT, so replies return).
  for (const char* node : {"10.10.2.1", "10.10.2.2", "10.10.2.3"}) {
    INFO("node " << node);
    CHECK(waitFor(10s, [&] {
      return !trim(lab.ext(std::string("curl -s -m 2 http://") + node + ":" + cluster + "/").output)
                  .empty();
    }));
  }
  // Local: node02 answers with its own backend; node01, without one, does not.
  CHECK(waitFor(10s, [&] {
    return trim(lab.ext("curl -s -m 2 http://10.10.2.2:" + local + "/").output) == "web-1";
  }));
  CHECK(trim(lab.ext("curl -s -m 2 http://10.10.2.1:" + local + "/").output).empty());
  // Local keeps the client's IP: web-1's server logged the external host's address.
  const auto log = lab.lab("serve-log web-1");
  INFO(log.output);
  CHECK_THAT(log.output, Catch::Contains("10.10.3.1"));
}

TEST_CASE("with the proxy off, kube-proxy's own iptables rules serve the same ClusterIP cases",
          "[lab]") {
  Lab lab({.nodes = 3, .dns = true, .proxy = false});
  REQUIRE(lab.up());
  addWebBackends(lab);
  REQUIRE_FALSE(lab.addPod("web-0", "node01", "app=web").empty());
  REQUIRE(lab.lab("serve web-0 --port 8080").ok());
  REQUIRE_FALSE(lab.addPod("client", "node01").empty());
  addSelectedClient(lab);
  applyService(lab, webService("web"));
  applyService(lab, webService("empty", "", "nothing-has-this-label"));
  const auto url = "http://" + clusterIp(lab, "web") + "/";
  // kube-proxy's rules, as kube-proxy writes them, on every node.
  for (const char* node : {"node01", "node02", "node03"}) {
    const auto synced = lab.lab(std::string("kube-proxy sync ") + node);
    INFO(synced.output);
    REQUIRE(synced.ok());
  }
  REQUIRE(serves(lab, "client", url));
  for (const char* pod : {"client", "prod/selected"}) {
    INFO(pod);
    const auto seen = answers(lab, pod, url, 20);
    CHECK(seen.count("") == 0);
    CHECK(seen.size() == 3);  // web-0 (local), web-1 and web-2 (remote)
  }
  // The outside still answers with kube-proxy's rules in the nodes' kernels (they drop what
  // their conntrack calls INVALID; OVS's SNATed packets are left untracked): node01's IP for the
  // plain pod, the egress IP for the selected one.
  const auto outside = "timeout 2 bash -c 'exec 3<>/dev/tcp/10.10.3.1/8080; head -1 <&3'";
  CHECK(waitFor(5s, [&] { return trim(lab.exec("client", outside).output) == "10.10.2.1"; }));
  CHECK(
      waitFor(10s, [&] { return trim(lab.exec("prod/selected", outside).output) == "10.10.0.8"; }));
  // Other nodes' IPs never take the Egress in this mode either.
  startPeerEcho(lab, "node02", "10.10.2.2");
  CHECK(
      waitFor(5s, [&] { return sourceSeenBy(lab, "prod/selected", "10.10.2.2") == "10.10.2.1"; }));
  // Hairpin through kube-proxy's rules (it masquerades a backend reaching itself).
  CHECK(waitFor(5s, [&] { return !httpGet(lab, "web-0", url).empty(); }));
  // DNS through kube-proxy's rules.
  CHECK_THAT(lab.exec("client", "getent hosts web.default.svc.cluster.local").output,
             Catch::Contains(clusterIp(lab, "web")));
  // A Service without endpoints: kube-proxy's REJECT.
  const auto refused =
      lab.exec("client", "curl -s -m 3 http://" + clusterIp(lab, "empty") + "/; echo \" exit=$?\"");
  CHECK_THAT(refused.output, Catch::Contains("exit=7"));
}

}  // namespace
}  // namespace sluice::testing
