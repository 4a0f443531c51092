// Agent wiring: bootstrap, features into syncers, informers into the task loop, CNI into OVS.
#include "agent/agent.h"

#include <array>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "ofrules/fields.h"

namespace sluice::agent {
namespace {

using namespace std::chrono_literals;

constexpr const char* kNodeFlowsOwner = "node";
constexpr const char* kPhysicalOwner = "br-phy";
constexpr auto kPollPeriod = 50ms;

std::optional<Cidr> podCidrOf(const nlohmann::json& node) {
  const auto spec = node.value("spec", nlohmann::json::object());
  if (!spec.contains("podCIDR") || !spec["podCIDR"].is_string()) return std::nullopt;
  return parseCidr(spec["podCIDR"].get<std::string>());
}

std::optional<Ipv4> internalIpOf(const nlohmann::json& node) {
  const auto status = node.value("status", nlohmann::json::object());
  for (const auto& address : status.value("addresses", nlohmann::json::array()))
    if (address.value("type", "") == "InternalIP") return parseIpv4(address.value("address", ""));
  return std::nullopt;
}

std::string shellQuote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

}  // namespace

std::string podOwner(const std::string& containerId, const std::string& ifName) {
  return "pod:" + containerId + "/" + ifName;
}

Result<std::uint16_t> OvsdbRoundStore::load() {
  auto value = ovsdb_.getExternalId(ovsdb::RecordRef::bridge(bridge_), "sluice-round");
  if (!value) return value.error();
  if (!value->has_value()) return std::uint16_t{0};
  return static_cast<std::uint16_t>(std::strtoul((*value)->c_str(), nullptr, 10));
}

Result<void> OvsdbRoundStore::store(std::uint16_t round) {
  auto stored = ovsdb_.setExternalId(ovsdb::RecordRef::bridge(bridge_), "sluice-round",
                                     std::to_string(round));
  if (!stored) return stored.error();
  return {};
}

Agent::Agent(AgentConfig config) : config_(std::move(config)) {}

Agent::~Agent() {
  claimer_.reset();  // its callback posts to the loop
  if (liveness_) liveness_->stop();
  if (unfenceReader_.joinable()) unfenceReader_.join();
  cniServer_.reset();
  if (nodeInformer_) nodeInformer_->stop();
}

void Agent::stop() {
  stopping_ = true;
  loop_.stop();
}

Result<NodeIdentity> Agent::waitForNodeIdentity() {
  // A restarted agent may not reach the API server until it has installed its flows (the node IP
  // lives on br-phy): it trusts what it recorded, and the Node informer corrects it later.
  std::ifstream cached(config_.stateDir + "/node.json");
  if (cached) {
    try {
      const auto saved = nlohmann::json::parse(cached);
      const auto nodeIp = parseIpv4(saved.at("nodeIP").get<std::string>());
      const auto podCidr = parseCidr(saved.at("podCIDR").get<std::string>());
      if (nodeIp && podCidr) return NodeIdentity{*nodeIp, *podCidr};
    } catch (const nlohmann::json::exception&) {
      SLUICE_LOG(kWarning, "agent")
          << config_.stateDir << "/node.json is unreadable; asking the API server";
    }
  }
  // The Node's podCIDR and InternalIP may appear after the agent starts (kubelet registers it).
  for (int attempt = 0; !stopping_; ++attempt) {
    auto node = client_->get(kube::resources::kNodes, "", config_.nodeName);
    if (node.ok()) {
      const auto podCidr = podCidrOf(*node);
      const auto nodeIp = internalIpOf(*node);
      if (podCidr && nodeIp) {
        std::filesystem::create_directories(config_.stateDir);
        std::ofstream(config_.stateDir + "/node.json")
            << nlohmann::json{{"nodeIP", formatIpv4(*nodeIp)}, {"podCIDR", podCidr->toString()}}
                   .dump()
            << "\n";
        return NodeIdentity{*nodeIp, *podCidr};
      }
      if (attempt % 25 == 0)
        SLUICE_LOG(kInfo, "agent")
            << "Node " << config_.nodeName << " has no spec.podCIDR or InternalIP yet; waiting";
    } else if (attempt % 25 == 0) {
      SLUICE_LOG(kWarning, "agent")
          << "cannot get Node " << config_.nodeName << ": " << node.error().message;
    }
    std::this_thread::sleep_for(200ms);  // a retry interval, not a wait for a condition
  }
  return makeError("stopped");
}

Result<void> Agent::connectOvs() {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (true) {
    auto client = ovsdb::OvsdbClient::connect(config_.ovsdbRemote());
    if (client) {
      ovsdb_ = std::move(*client);
      return {};
    }
    if (std::chrono::steady_clock::now() > deadline || stopping_)
      return makeError("cannot reach ovsdb-server at " + config_.ovsdbRemote() + ": " +
                       client.error().message +
                       "; is the OVS container running and ovsRunDir right?");
    std::this_thread::sleep_for(100ms);  // a retry interval
  }
}

bool Agent::ovsAppctl(const std::string& arguments) const {
  std::string target = config_.ovsRunDir + "/ovs-vswitchd.ctl";
  if (!std::filesystem::exists(target)) {
    std::ifstream pidFile(config_.ovsRunDir + "/ovs-vswitchd.pid");
    std::string pid;
    if (pidFile >> pid) target = config_.ovsRunDir + "/ovs-vswitchd." + pid + ".ctl";
  }
  const auto command = "ovs-appctl -t " + shellQuote(target) + " " + arguments + " >/dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

void Agent::applyTcpSequenceCheckSetting() {
  if (!config_.disableConntrackTcpSequenceCheck) return;
  // Not stored in OVSDB, so it is set again after every ovs-vswitchd start (FACTS.md). Once per
  // start, never on the packet or flow path.
  if (!ovsAppctl("dpctl/ct-disable-tcp-seq-chk"))
    SLUICE_LOG(kWarning, "agent") << "could not disable conntrack TCP sequence checks in "
                                  << config_.ovsRunDir;
}

void Agent::flushEgressConntrack(Ipv4 egressIp) const {
  // The SNAT zone's entries whose reply goes to the released IP: were the IP to come back, stale
  // entries would otherwise steer new connections with old translations.
  const auto tuple = "ct_nw_dst=" + formatIpv4(egressIp);
  if (!ovsAppctl("dpctl/flush-conntrack zone=" + std::to_string(ofrules::kSnatCtZone) + " '' " +
                 shellQuote(tuple)))
    SLUICE_LOG(kWarning, "egress")
        << "could not flush conntrack entries of released egress IP " << formatIpv4(egressIp);
}

void Agent::clearFlowRestoreWait() {
  // ovs-vswitchd started with flow-restore-wait=true keeps the datapath as it was until the
  // agent has installed its flows; from now on it may process packets with them.
  auto removed = ovsdb_->removeOtherConfig("flow-restore-wait");
  if (!removed)
    SLUICE_LOG(kWarning, "agent") << "cannot clear flow-restore-wait: " << removed.error().message;
}

Result<void> Agent::syncAll() {
  auto integration = integrationSyncer_->sync();
  auto physical = physicalSyncer_ ? physicalSyncer_->sync() : Result<void>();
  if (!integration) return integration;
  return physical;
}

Result<void> Agent::installPipeline() {
  ofrules::PipelineBuilder builder;
  features::declarePodNetworkTables(builder);
  features::declareEgressTables(builder);
  pipeline_ = builder.build();
  physicalPipeline_ = builder.build(ofrules::Bridge::kPhysical);

  roundStore_ = std::make_unique<OvsdbRoundStore>(*ovsdb_, config_.integrationBridge);
  auto syncer = ofrules::FlowSyncer::create(
      ofrules::FlowSyncerOptions{
          .connection = {.target = config_.bridgeTarget(config_.integrationBridge)},
          .onSync = metrics_->syncObserver(config_.integrationBridge)},
      *roundStore_);
  if (!syncer) return syncer.error();
  integrationSyncer_ = std::move(*syncer);
  if (config_.datapathType == DatapathType::kNetdev) {
    physicalRoundStore_ = std::make_unique<ofrules::MemoryRoundStore>();
    auto physical = ofrules::FlowSyncer::create(
        ofrules::FlowSyncerOptions{
            .connection = {.target = config_.bridgeTarget(config_.physicalBridge)},
            .onSync = metrics_->syncObserver(config_.physicalBridge)},
        *physicalRoundStore_);
    if (!physical) return physical.error();
    physicalSyncer_ = std::move(*physical);
    auto physicalFlows = features::physicalBridgeFlows(
        physicalPipeline_, bootstrap_.network, static_cast<std::uint16_t>(config_.tunnelPort));
    if (!physicalFlows) return physicalFlows.error();
    if (auto set = physicalSyncer_->setFlows(kPhysicalOwner, *physicalFlows); !set) return set;
  }
  clusterCidrs_ = {bootstrap_.network.podCidr};
  bootstrap_.network.clusterCidrs = clusterCidrs_;
  auto flows = features::nodeFlows(pipeline_, bootstrap_.network);
  if (!flows) return flows.error();
  if (auto set = integrationSyncer_->setFlows(kNodeFlowsOwner, *flows); !set) return set;
  restorePods();
  loadClusterCache();
  loadEgressCache();
  return {};
}

void Agent::restorePods() {
  // After an agent restart the pods are still there: their ports carry who they are.
  auto snapshot = ovsdb_->readSnapshot();
  if (!snapshot) {
    SLUICE_LOG(kWarning, "agent") << "cannot read OVSDB to restore pods: "
                                  << snapshot.error().message;
    return;
  }
  for (const auto& interface : snapshot->interfaces) {
    const auto& ids = interface.externalIds;
    auto containerId = ids.find("sluice-container-id");
    if (containerId == ids.end() || !interface.ofport || *interface.ofport <= 0) continue;
    const auto ip = parseIpv4(ids.count("sluice-pod-ip") ? ids.at("sluice-pod-ip") : "");
    if (!ip) continue;
    features::LocalPod pod{
        podOwner(containerId->second,
                 ids.count("sluice-if-name") ? ids.at("sluice-if-name") : "eth0"),
        *ip, ids.count("sluice-pod-mac") ? ids.at("sluice-pod-mac") : "",
        static_cast<std::uint32_t>(*interface.ofport)};
    auto flows = features::podFlows(pipeline_, bootstrap_.network, pod);
    if (!flows) continue;
    (void)integrationSyncer_->setFlows(pod.owner, *flows);
    pods_[pod.owner] = pod;
    podNames_[pod.owner] = {ids.count("sluice-pod-namespace") ? ids.at("sluice-pod-namespace") : "",
                            ids.count("sluice-pod-name") ? ids.at("sluice-pod-name") : ""};
  }
  SLUICE_LOG(kInfo, "agent") << "restored " << pods_.size() << " pods from OVSDB";
}

void Agent::warmTunnelNeighbour(Ipv4 remoteNodeIp) const {
  // OVS's userspace tunnelling learns a peer's MAC by snooping ARP on br-phy, and drops the packet
  // that made it ask. One datagram from the node's own stack makes the kernel ARP now, so the
  // first pod packet to that node is not the one lost. (UDP discard port; nothing listens.)
  if (config_.datapathType != DatapathType::kNetdev) return;
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(9);
  peer.sin_addr.s_addr = htonl(remoteNodeIp);
  (void)::sendto(fd, "", 0, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&peer), sizeof peer);
  ::close(fd);
}

void Agent::loadClusterCache() {
  std::ifstream in(config_.stateDir + "/remote-nodes.json");
  if (!in) return;
  std::map<std::string, std::pair<Ipv4, Cidr>> remotes;
  try {
    const auto saved = nlohmann::json::parse(in);  // named: items() must not outlive it
    for (const auto& [name, entry] : saved.items()) {
      const auto nodeIp = parseIpv4(entry.at("nodeIP").get<std::string>());
      const auto podCidr = parseCidr(entry.at("podCIDR").get<std::string>());
      if (nodeIp && podCidr) remotes[name] = {*nodeIp, *podCidr};
    }
  } catch (const nlohmann::json::exception&) {
    SLUICE_LOG(kWarning, "agent") << "ignoring an unreadable " << config_.stateDir
                                  << "/remote-nodes.json";
    return;
  }
  setRemoteNodeFlows(remotes);
  SLUICE_LOG(kInfo, "agent") << "restored " << remotes.size()
                             << " remote nodes from the local cache";
}

void Agent::saveClusterCache() const {
  nlohmann::json saved = nlohmann::json::object();
  for (const auto& [name, address] : remoteNodes_)
    saved[name] = {{"nodeIP", formatIpv4(address.first)}, {"podCIDR", address.second.toString()}};
  const auto path = config_.stateDir + "/remote-nodes.json";
  std::ofstream(path + ".tmp") << saved.dump(1) << "\n";
  std::filesystem::rename(path + ".tmp", path);
}

namespace {

nlohmann::json flowsToJson(const std::vector<ofrules::Flow>& flows) {
  auto out = nlohmann::json::array();
  for (const auto& flow : flows)
    out.push_back({flow.table, flow.priority, flow.match, flow.actions, flow.cookie});
  return out;
}

std::vector<ofrules::Flow> flowsFromJson(const nlohmann::json& entries) {
  std::vector<ofrules::Flow> flows;
  for (const auto& entry : entries)
    flows.push_back(ofrules::Flow{entry.at(0).get<std::uint8_t>(), entry.at(1).get<std::uint16_t>(),
                                  entry.at(2).get<std::string>(), entry.at(3).get<std::string>(),
                                  entry.at(4).get<std::uint64_t>()});
  return flows;
}

nlohmann::json ipsToJson(const std::set<Ipv4>& ips) {
  auto out = nlohmann::json::array();
  for (const auto ip : ips) out.push_back(formatIpv4(ip));
  return out;
}

}  // namespace

void Agent::flushPodConntrack(Ipv4 podIp) const {
  // The pod's connections NATed on this node (to the node IP, or to an egress IP this node
  // holds): their next packet is NATed afresh, to the source its Egress now gives it.
  if (!ovsAppctl("dpctl/flush-conntrack zone=" + std::to_string(ofrules::kSnatCtZone) + " " +
                 shellQuote("ct_nw_src=" + formatIpv4(podIp))))
    SLUICE_LOG(kWarning, "egress")
        << "could not flush conntrack entries of pod IP " << formatIpv4(podIp);
}

void Agent::loadEgressCache() {
  // A restarted agent re-installs the egress flows it had, so that SNAT on this node does not
  // stop while its informers sync; the first reconcile then replaces them.
  std::ifstream in(config_.stateDir + "/egress-flows.json");
  if (!in) return;
  try {
    const auto saved = nlohmann::json::parse(in);
    const auto integration = flowsFromJson(saved.at("integration"));
    (void)integrationSyncer_->setFlows("egress", integration);
    // Without the ARP flows: the cache may be older than a move of the IP to another node (this
    // agent was dead long enough), and answering ARP is owning. Until the informers have synced
    // this node SNATs what still comes to it and answers no ARP; a few hundred ms without
    // answers cost nothing, as neighbours keep the floating MAC.
    auto physical = flowsFromJson(saved.at("physical"));
    std::erase_if(physical,
                  [](const ofrules::Flow& flow) { return flow.match.rfind("arp", 0) == 0; });
    if (physicalSyncer_) (void)physicalSyncer_->setFlows("egress-phy", physical);
    for (const auto& ip : saved.at("served"))
      if (auto parsed = parseIpv4(ip.get<std::string>())) servedEgressIps_.insert(*parsed);
    SLUICE_LOG(kInfo, "agent") << "restored " << integration.size() << " egress flows for "
                               << servedEgressIps_.size()
                               << " egress IPs from the local cache (no ARP until synced)";
  } catch (const nlohmann::json::exception& error) {
    SLUICE_LOG(kWarning, "agent") << "ignoring an unreadable " << config_.stateDir
                                  << "/egress-flows.json: " << error.what();
  }
}

void Agent::saveEgressCache(const features::EgressFlows& flows) {
  const auto text = nlohmann::json{{"integration", flowsToJson(flows.integration)},
                                   {"physical", flowsToJson(flows.physical)},
                                   {"held", ipsToJson(heldEgressIps_)},
                                   {"served", ipsToJson(servedEgressIps_)}}
                        .dump();
  if (text == savedEgressCache_) return;
  const auto path = config_.stateDir + "/egress-flows.json";
  std::ofstream(path + ".tmp") << text << "\n";
  std::filesystem::rename(path + ".tmp", path);
  savedEgressCache_ = text;
}

void Agent::setRemoteNodeFlows(const std::map<std::string, std::pair<Ipv4, Cidr>>& remotes) {
  std::vector<Cidr> cidrs = {bootstrap_.network.podCidr};
  for (const auto& [name, address] : remotes) cidrs.push_back(address.second);
  for (const auto& [name, address] : remoteNodes_)
    if (!remotes.contains(name)) integrationSyncer_->deleteOwner("node:" + name);
  for (const auto& [name, address] : remotes) {
    if (remoteNodes_.contains(name) && remoteNodes_.at(name) == address) continue;
    features::RemoteNode remote{name, address.first, address.second};
    auto flows = features::remoteNodeFlows(pipeline_, bootstrap_.network, remote);
    if (!flows) {
      SLUICE_LOG(kError, "agent") << "flows for node " << name << ": " << flows.error().message;
      continue;
    }
    (void)integrationSyncer_->setFlows("node:" + name, *flows);
    warmTunnelNeighbour(address.first);
    if (auto routed = ensureRemotePodRoute(config_, address.second); !routed)
      SLUICE_LOG(kWarning, "agent")
          << "route to " << address.second.toString() << ": " << routed.error().message;
  }
  remoteNodes_ = remotes;
  if (cidrs != clusterCidrs_) {
    clusterCidrs_ = cidrs;
    bootstrap_.network.clusterCidrs = cidrs;
    if (auto flows = features::nodeFlows(pipeline_, bootstrap_.network); flows)
      (void)integrationSyncer_->setFlows(kNodeFlowsOwner, *flows);
  }
}

void Agent::reconcileNodes() {
  std::map<std::string, std::pair<Ipv4, Cidr>> remotes;
  for (const auto& node : nodeInformer_->list()) {
    const auto name = node->value("metadata", nlohmann::json::object()).value("name", "");
    const auto podCidr = podCidrOf(*node);
    const auto nodeIp = internalIpOf(*node);
    if (name == config_.nodeName || !podCidr || !nodeIp) continue;
    remotes[name] = {*nodeIp, *podCidr};
  }
  const bool changed = remotes != remoteNodes_;
  setRemoteNodeFlows(remotes);
  if (changed) saveClusterCache();
  if (auto synced = syncAll(); !synced)
    SLUICE_LOG(kWarning, "agent") << "sync: " << synced.error().message;
}

namespace {
// The controller's address: configured, or from the Service's environment variables (cluster DNS
// needs a working CNI, which is what this agent provides).
std::string controllerAddressOf(const AgentConfig& config) {
  if (!config.controllerAddress.empty()) return config.controllerAddress;
  std::string prefix;
  for (char c : config.controllerService)
    prefix += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  const char* host = std::getenv((prefix + "_SERVICE_HOST").c_str());
  const char* port = std::getenv((prefix + "_SERVICE_PORT").c_str());
  if (host == nullptr || port == nullptr) return "";
  return std::string(host) + ":" + port;
}
}  // namespace

void Agent::startUnfencing() {
  if (!fenced_ || unfencing_) {
    if (!fenced_) reconcileEgress();
    return;
  }
  // Back from a partition, the Egress cache may still be from before it: an IP that moved away
  // meanwhile would be taken back (and GARPed) for as long as the watch takes to catch up. So
  // read the Egresses now, and own nothing until the cache is at least that new.
  unfencing_ = true;
  if (unfenceReader_.joinable()) unfenceReader_.join();
  unfenceReader_ = std::thread([this] {
    auto listed = client_->list(kube::resources::kEgresses, "");
    std::map<std::string, std::string> barrier;
    if (listed)
      for (const auto& item : listed->value("items", nlohmann::json::array()))
        barrier[kube::keyOf(item)] = kube::resourceVersionOf(item);
    loop_.post([this, ok = listed.ok(), barrier = std::move(barrier)] {
      unfencing_ = false;
      if (!ok) {  // the controller hears us but the API server does not answer: try again soon
        loop_.postAt(TaskLoop::Clock::now() + std::chrono::milliseconds(200),
                     [this] { startUnfencing(); });
        return;
      }
      if (!heard_ || (liveness_ && liveness_->fenced())) return;  // fenced again meanwhile
      egressBarrier_ = barrier;
      fenced_ = false;
      reconcileEgress();
    });
  });
}

bool Agent::egressCacheCaughtUp() {
  std::erase_if(egressBarrier_, [&](const auto& entry) {
    const auto cached = egressInformer_->get(entry.first);
    // Gone from the cache: deleted since (or not seen yet, and then it gives us nothing).
    return !cached || kube::versionAtLeast(kube::resourceVersionOf(*cached), entry.second);
  });
  return egressBarrier_.empty();
}

void Agent::startLivenessReports() {
  const auto address = controllerAddressOf(config_);
  controllerAddress_ = address;
  // Until the controller has heard this agent, it keeps what status gives it for one fencing
  // timeout (a restart must not interrupt SNAT), and then holds nothing until it is heard.
  loop_.postAt(TaskLoop::Clock::now() + std::chrono::milliseconds(config_.fencingTimeoutMs),
               [this] {
                 if (heard_) return;
                 fenced_ = true;
                 reconcileEgress();
               });
  if (address.empty()) {
    SLUICE_LOG(kWarning, "agent")
        << "no controller address (controllerAddress, or the " << config_.controllerService
        << " Service's environment): this node will never be an egress node";
    return;
  }
  liveness_ = std::make_unique<LivenessReporter>(LivenessReporterOptions{
      .nodeName = config_.nodeName,
      .controllerAddress = address,
      .reportInterval = std::chrono::milliseconds(config_.reportIntervalMs),
      .fencingTimeout = std::chrono::milliseconds(config_.fencingTimeoutMs),
      .onFenced =
          [this] {
            SLUICE_LOG(kWarning, "liveness")
                << "fenced: no report reached the controller in time; dropping egress IPs";
            fenced_ = true;
            loop_.post([this] { reconcileEgress(); });
          },
      .onUnfenced =
          [this] {
            SLUICE_LOG(kInfo, "liveness") << "the controller hears this node";
            heard_ = true;
            loop_.post([this] { startUnfencing(); });
          }});
  if (auto started = liveness_->start(); !started)
    SLUICE_LOG(kWarning, "agent") << "liveness reports: " << started.error().message;
}

void Agent::startEgressInformers() {
  startArpClaimer();
  events_ = std::make_unique<AgentEvents>(
      *client_, kube::EventRecorderOptions{.component = "sluice-agent", .host = config_.nodeName});
  auto onChange = kube::EventHandlers{
      .onAdd = [this](const kube::ObjectPtr&) { loop_.post([this] { reconcileEgress(); }); },
      .onUpdate = [this](const kube::ObjectPtr&,
                         const kube::ObjectPtr&) { loop_.post([this] { reconcileEgress(); }); },
      .onDelete = [this](const kube::ObjectPtr&) { loop_.post([this] { reconcileEgress(); }); }};
  egressInformer_ = std::make_unique<kube::Informer>(
      *client_,
      kube::InformerOptions{.resource = kube::resources::kEgresses, .backoff = kInformerBackoff});
  namespaceInformer_ = std::make_unique<kube::Informer>(
      *client_,
      kube::InformerOptions{.resource = kube::resources::kNamespaces, .backoff = kInformerBackoff});
  // Only this node's pods: what the agent holds does not grow with the cluster's pod count.
  podInformer_ = std::make_unique<kube::Informer>(
      *client_, kube::InformerOptions{.resource = kube::resources::kPods,
                                      .fieldSelector = "spec.nodeName=" + config_.nodeName,
                                      .backoff = kInformerBackoff});
  for (auto* informer : {egressInformer_.get(), namespaceInformer_.get(), podInformer_.get()}) {
    informer->addHandlers(onChange);
    informer->start();
  }
}

void Agent::reconcileEgress() {
  if (!egressInformer_ || !egressInformer_->hasSynced() || !namespaceInformer_->hasSynced() ||
      !podInformer_->hasSynced())
    return;
  features::EgressInputs inputs;
  inputs.fenced = fenced_ || !egressCacheCaughtUp();
  for (const auto& object : egressInformer_->list()) {
    auto policy = features::decodeEgressPolicy(*object);
    if (!policy) {
      SLUICE_LOG(kWarning, "egress") << policy.error().message;
      continue;
    }
    inputs.policies.push_back(std::move(*policy));
  }
  for (const auto& object : namespaceInformer_->list())
    inputs.namespaceLabels[object->value("metadata", nlohmann::json::object()).value("name", "")] =
        kube::labelsOf(*object);
  for (const auto& [owner, pod] : pods_) {
    const auto& [ns, name] = podNames_[owner];
    const auto object = podInformer_->get(ns.empty() ? name : ns + "/" + name);
    inputs.pods.push_back(features::EgressPod{owner, ns, name,
                                              object ? kube::labelsOf(*object) : kube::Labels{},
                                              pod.ip, object != nullptr || ns.empty()});
  }
  inputs.nodeIps[config_.nodeName] = bootstrap_.network.nodeIp;
  for (const auto& [name, address] : remoteNodes_) inputs.nodeIps[name] = address.first;

  const auto now = features::HandoverClock::now();
  const auto handovers = features::resolveHandovers(inputs.policies, config_.nodeName,
                                                    handoversSeen_, now, handoverTiming_);
  inputs.passiveIps = handovers.passiveIps;
  // Own an IP only once no other node answers for it (ArpClaimer); until then, serve it passively.
  std::set<Ipv4> assignedHere;
  if (!inputs.fenced)
    for (const auto& policy : inputs.policies)
      for (const auto& assignment : policy.assignments)
        if (assignment.node == config_.nodeName) assignedHere.insert(assignment.ip);
  std::erase_if(claimedEgressIps_, [&](Ipv4 ip) { return !assignedHere.contains(ip); });
  if (claimer_)
    for (const auto ip : assignedHere)
      if (!claimedEgressIps_.contains(ip)) inputs.claimingIps.insert(ip);
  if (handovers.nextChange && (!handoverWake_ || *handoverWake_ != *handovers.nextChange)) {
    handoverWake_ = handovers.nextChange;
    loop_.postAt(*handovers.nextChange, [this] { reconcileEgress(); });
  }

  auto flows = features::egressFlows(pipeline_, physicalPipeline_, bootstrap_.network, inputs);
  lastEgressInputs_ = inputs;
  if (!flows) {
    SLUICE_LOG(kError, "egress") << flows.error().message;
    return;
  }
  reportEgressProblems(flows->problems);
  SLUICE_LOG(kDebug, "egress") << inputs.policies.size() << " Egresses, " << inputs.pods.size()
                               << " local pods, " << flows->integration.size() << " flows, "
                               << flows->heldIps.size() << " IPs held, " << flows->passiveIps.size()
                               << " passive" << (inputs.fenced ? " (fenced)" : "");
  const std::set<Ipv4> held(flows->heldIps.begin(), flows->heldIps.end());
  (void)integrationSyncer_->setFlows("egress", flows->integration);
  if (physicalSyncer_) (void)physicalSyncer_->setFlows("egress-phy", flows->physical);
  if (auto synced = syncAll(); !synced)
    SLUICE_LOG(kWarning, "egress") << "sync: " << synced.error().message;
  std::set<Ipv4> served = held;
  served.insert(flows->passiveIps.begin(), flows->passiveIps.end());
  for (const auto ip : held) {
    if (heldEgressIps_.contains(ip)) continue;
    // Taken over: the sources already point here (this bundle), so now tell the neighbours.
    SLUICE_LOG(kInfo, "egress") << "holding egress IP " << formatIpv4(ip) << " ("
                                << features::floatingMac(ip) << ")";
    sendGratuitousArp(ip);
  }
  for (const auto ip : heldEgressIps_)
    if (!held.contains(ip))
      SLUICE_LOG(kInfo, "egress") << "released egress IP " << formatIpv4(ip)
                                  << (served.contains(ip) ? " (draining)" : "");
  for (const auto ip : servedEgressIps_)
    if (!served.contains(ip)) flushEgressConntrack(ip);
  // Claims start once the IP is served passively here: whatever the tunnel brings is SNATed
  // while the claim listens.
  for (const auto ip : inputs.claimingIps)
    if (served.contains(ip)) claimer_->claim(ip, *parseMac(features::floatingMac(ip)));
  if (podRoutesKnown_) {
    for (const auto& [podIp, route] : flows->podRoutes)
      if (auto before = podRoutes_.find(podIp);
          before == podRoutes_.end() || before->second != route)
        flushPodConntrack(podIp);
    for (const auto& [podIp, route] : podRoutes_)
      if (!flows->podRoutes.contains(podIp)) flushPodConntrack(podIp);
  }
  podRoutes_ = flows->podRoutes;
  podRoutesKnown_ = true;
  heldEgressIps_ = held;
  servedEgressIps_ = served;
  saveEgressCache(*flows);
  metrics_->observeHeldEgressIps(held);
}

void Agent::reportEgressProblems(const std::vector<features::EgressProblem>& problems) {
  // Each warning once while it lasts: a reconcile runs on every pod or Egress change.
  std::set<features::EgressProblem> now;
  for (const auto& problem : problems) {
    if (!problem.warning) {
      SLUICE_LOG(kDebug, "egress") << problem.message;
      continue;
    }
    now.insert(problem);
    if (reportedProblems_.contains(problem)) continue;
    SLUICE_LOG(kWarning, "egress") << problem.message;
    if (!events_) continue;
    if (auto egress = egressInformer_->get(problem.egress))
      events_->record(*egress, kube::EventType::kWarning, problem.reason, problem.message);
  }
  reportedProblems_ = std::move(now);
}

void Agent::sendGratuitousArp(Ipv4 egressIp) const {
  if (config_.datapathType != DatapathType::kNetdev || config_.gratuitousArpCount <= 0) return;
  // A request-form GARP: it updates neighbours that already have an entry (FACTS.md). Sent from
  // br-phy's LOCAL port with the IP's floating MAC; br-phy floods it out of the uplink.
  (void)sendFrame(config_.physicalBridge,
                  arpRequestFrame(*parseMac(features::floatingMac(egressIp)), egressIp, egressIp),
                  config_.gratuitousArpCount);
}

void Agent::startArpClaimer() {
  if (config_.datapathType != DatapathType::kNetdev) return;  // no br-phy: nothing to claim on
  std::ifstream address("/sys/class/net/" + config_.physicalBridge + "/address");
  std::string text;
  std::optional<MacAddress> mac;
  if (address >> text) mac = parseMac(text);
  if (!mac) {
    SLUICE_LOG(kWarning, "egress") << "cannot read " << config_.physicalBridge
                                   << "'s MAC: egress IPs are owned without a claim";
    return;
  }
  claimer_ = std::make_unique<ArpClaimer>(
      ArpClaimOptions{.interfaceName = config_.physicalBridge,
                      .nodeMac = *mac,
                      .nodeIp = bootstrap_.network.nodeIp,
                      .gratuitousArpCount = config_.gratuitousArpCount},
      [this](Ipv4 ip, bool contested) {
        if (contested)
          SLUICE_LOG(kInfo, "egress") << "egress IP " << formatIpv4(ip)
                                      << ": another node answered ARP for it until it heard us";
        loop_.post([this, ip] {
          claimedEgressIps_.insert(ip);
          reconcileEgress();
        });
      });
}

void Agent::pollOvs() {
  // The informers' initial adds arrive before they report synced; reconcile once they all have.
  if (!egressSynced_ && egressInformer_ && egressInformer_->hasSynced() &&
      namespaceInformer_->hasSynced() && podInformer_->hasSynced()) {
    egressSynced_ = true;
    reconcileEgress();
  }
  (void)integrationSyncer_->poll();
  if (physicalSyncer_) (void)physicalSyncer_->poll();
  const auto reconnects = integrationSyncer_->counters().reconnects +
                          (physicalSyncer_ ? physicalSyncer_->counters().reconnects : 0);
  if (reconnects != reconnectsSeen_) {
    // ovs-vswitchd restarted: its taps may be new and its settings gone. Bootstrap is idempotent.
    reconnectsSeen_ = reconnects;
    restoreWaitPending_ = true;
    SLUICE_LOG(kInfo, "agent") << "OVS reconnected; re-checking the node set-up";
    if (auto again = bootstrapNode(config_, {bootstrap_.network.nodeIp, bootstrap_.network.podCidr},
                                   *ovsdb_, *guard_);
        !again)
      SLUICE_LOG(kWarning, "agent") << "bootstrap after reconnect: " << again.error().message;
    applyTcpSequenceCheckSetting();
  }
  // A restarted ovs-vswitchd waits (flow-restore-wait) until both bridges have their tables back.
  if (restoreWaitPending_ && integrationSyncer_->inSync() &&
      (!physicalSyncer_ || physicalSyncer_->inSync())) {
    restoreWaitPending_ = false;
    clearFlowRestoreWait();
    SLUICE_LOG(kInfo, "agent") << "flows restored after the OVS restart";
  }
}

void Agent::waitForPodObject(const PodAttachment& attachment) const {
  // The kubelet creates the Pod before it calls CNI ADD, but this agent's watch may not have it
  // yet. Without its labels, the pod's first packets would leave unselected (with the node's IP)
  // even when an Egress selects it. So wait a little for it here, on the CNI connection's thread.
  // Pods without a namespace (podman) have no Pod object to wait for.
  if (attachment.podNamespace.empty() || !podInformer_ || !podInformer_->hasSynced()) return;
  const auto key = attachment.podNamespace + "/" + attachment.podName;
  const auto deadline = std::chrono::steady_clock::now() + kPodObjectWait;
  while (!podInformer_->get(key) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling, with a deadline
  if (!podInformer_->get(key))
    SLUICE_LOG(kWarning, "cni") << "pod " << key << " is not in the API after "
                                << kPodObjectWait.count() << " ms: attached without its labels";
}

Result<int> Agent::attach(const PodAttachment& attachment) {
  waitForPodObject(attachment);
  return loop_.call([&]() -> Result<int> {
    // Assigned field by field: GCC 12 misreads designated initializers of PortOptions'
    // optional members as maybe-uninitialized.
    ovsdb::PortOptions port;
    port.bridge = config_.integrationBridge;
    port.name = attachment.hostIfName;
    port.type = ovsdb::PortType::kSystem;
    port.externalIds = {
        {"sluice-container-id", attachment.containerId},   {"sluice-if-name", attachment.ifName},
        {"sluice-pod-namespace", attachment.podNamespace}, {"sluice-pod-name", attachment.podName},
        {"sluice-pod-ip", formatIpv4(attachment.ip)},      {"sluice-pod-mac", attachment.podMac}};
    if (auto ensured = ovsdb_->ensurePort(port); !ensured) return ensured.error();
    auto ofport = ovsdb_->waitForOfport(attachment.hostIfName, 10s);
    if (!ofport) {
      (void)ovsdb_->deletePort(config_.integrationBridge, attachment.hostIfName);
      return ofport.error();
    }
    if (config_.datapathType == DatapathType::kNetdev) {
      if (auto guarded = guard_->guard(attachment.hostIfName); !guarded) {
        (void)ovsdb_->deletePort(config_.integrationBridge, attachment.hostIfName);
        return guarded.error();
      }
    }
    features::LocalPod pod{podOwner(attachment.containerId, attachment.ifName), attachment.ip,
                           attachment.podMac, static_cast<std::uint32_t>(*ofport)};
    auto flows = features::podFlows(pipeline_, bootstrap_.network, pod);
    if (!flows) return flows.error();
    if (auto set = integrationSyncer_->setFlows(pod.owner, *flows); !set) return set.error();
    pods_[pod.owner] = pod;
    podNames_[pod.owner] = {attachment.podNamespace, attachment.podName};
    metrics_->setLocalPods(pods_.size());
    reconcileEgress();  // a new pod may be selected by an Egress: its first packet must be right
    if (auto synced = integrationSyncer_->sync(); !synced) return synced.error();
    return static_cast<int>(*ofport);
  });
}

Result<void> Agent::detach(const PodAttachment& attachment) {
  return loop_.call([&]() -> Result<void> {
    const auto owner = podOwner(attachment.containerId, attachment.ifName);
    integrationSyncer_->deleteOwner(owner);
    pods_.erase(owner);
    podNames_.erase(owner);
    metrics_->setLocalPods(pods_.size());
    reconcileEgress();
    if (auto synced = integrationSyncer_->sync(); !synced) return synced;
    if (config_.datapathType == DatapathType::kNetdev) (void)guard_->unguard(attachment.hostIfName);
    auto deleted = ovsdb_->deletePort(config_.integrationBridge, attachment.hostIfName);
    if (!deleted) return deleted.error();
    return {};
  });
}

Result<void> Agent::ready() {
  if (!ready_) return makeError("the agent has not installed its pipeline yet");
  return {};
}

Result<void> Agent::run() {
  if (auto served = startObservability(); !served) return served;
  auto cluster = kube::loadDefaultConfig(config_.kubeconfig);
  if (!cluster) return cluster.error();
  auto client = kube::Client::connect(*cluster);
  if (!client) return client.error();
  client_ = std::move(*client);

  std::filesystem::create_directories(config_.stateDir);
  auto identity = waitForNodeIdentity();
  if (!identity) return identity.error();
  if (auto connected = connectOvs(); !connected) return connected;
  auto guard = IngressGuard::create();
  if (!guard) return guard.error();
  guard_ = std::move(*guard);
  auto bootstrap = bootstrapNode(config_, *identity, *ovsdb_, *guard_);
  if (!bootstrap) return bootstrap.error();
  bootstrap_ = *bootstrap;
  applyTcpSequenceCheckSetting();
  if (auto installed = installPipeline(); !installed) return installed;

  // The first install: the node's flows, its pods and the remote nodes it knew. Only then may the
  // switch leave flow-restore-wait, so it never forwards with an empty table; and only then can
  // this node reach the API server if its address lives on br-phy.
  if (auto synced = syncAll(); !synced) return synced;
  clearFlowRestoreWait();

  nodeInformer_ = std::make_unique<kube::Informer>(
      *client_, kube::InformerOptions{.resource = kube::resources::kNodes});
  nodeInformer_->addHandlers(kube::EventHandlers{
      .onAdd = [this](const kube::ObjectPtr&) { loop_.post([this] { reconcileNodes(); }); },
      .onUpdate = [this](const kube::ObjectPtr&,
                         const kube::ObjectPtr&) { loop_.post([this] { reconcileNodes(); }); },
      .onDelete = [this](const kube::ObjectPtr&) { loop_.post([this] { reconcileNodes(); }); }});
  nodeInformer_->start();
  if (!nodeInformer_->waitForSync(30s))
    return makeError("the Node informer did not sync within 30 s");
  reconcileNodes();

  std::filesystem::create_directories(std::filesystem::path(config_.cniSocket).parent_path());
  auto ipam = loadPodIpam(config_.stateDir + "/ipam.json", bootstrap_.network.podCidr.toString());
  if (!ipam) return ipam.error();
  cniService_ = std::make_unique<CniService>(
      std::move(*ipam), interfaces_, *this,
      CniServiceOptions{.ipamStatePath = config_.stateDir + "/ipam.json",
                        .mtu = bootstrap_.podMtu,
                        .disableTxChecksum = config_.datapathType == DatapathType::kNetdev});
  auto server = CniServer::start(
      config_.cniSocket,
      [this](const cni::Request& request) { return cniService_->handle(request); },
      [this](const nlohmann::json& query) { return answerQuery(query); });
  if (!server) return server.error();
  cniServer_ = std::move(*server);

  reconnectsSeen_ = integrationSyncer_->counters().reconnects +
                    (physicalSyncer_ ? physicalSyncer_->counters().reconnects : 0);
  loop_.every(kPollPeriod, [this] { pollOvs(); });
  loop_.every(1s, [this] { refreshObservability(); });
  startEgressInformers();
  startLivenessReports();
  ready_ = true;
  SLUICE_LOG(kInfo, "agent") << "ready: " << pods_.size() << " pods, " << remoteNodes_.size()
                             << " remote nodes, CNI on " << config_.cniSocket;
  loop_.run();
  return {};
}

}  // namespace sluice::agent
