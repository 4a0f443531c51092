// Agent wiring: bootstrap, the feature units with their dependencies, informers into the units,
// CNI into the pod network unit, and the task loop that runs them all.
#include "agent/agent.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "common/log.h"
#include "kube/service_cidr.h"

namespace sluice::agent {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPhysicalOwner = "br-phy";
constexpr auto kPollPeriod = 50ms;
constexpr auto kNeighbourRefresh = 60s;
// How long start-up waits for the ServiceCIDR read before using the default.
constexpr auto kServiceCidrTimeout = 2s;

// The controller Service's address from its environment variables (cluster DNS needs a working
// CNI, which is what this agent provides); "" when they are not set.
std::string controllerServiceAddress(const AgentConfig& config) {
  std::string prefix;
  for (char c : config.controllerService)
    prefix += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  const char* host = std::getenv((prefix + "_SERVICE_HOST").c_str());
  const char* port = std::getenv((prefix + "_SERVICE_PORT").c_str());
  if (host == nullptr || port == nullptr) return "";
  return std::string(host) + ":" + port;
}

}  // namespace

Agent::Agent(AgentConfig config)
    : config_(std::move(config)), cache_(config_.stateDir), control_(config_.ovsRunDir) {}

Agent::~Agent() {
  if (egressArp_) egressArp_->stop();  // its callback posts to the loop
  if (fencing_) fencing_->stop();
  cniServer_.reset();
  for (auto* informer : {nodeInformer_.get(), egressInformer_.get(), namespaceInformer_.get(),
                         podInformer_.get(), serviceInformer_.get(), sliceInformer_.get()})
    if (informer) informer->stop();  // their handlers queue into the units
}

void Agent::stop() {
  stopping_ = true;
  loop_.stop();
}

Result<NodeIdentity> Agent::waitForNodeIdentity() {
  // A restarted agent may not reach the API server until it has installed its flows (the node IP
  // lives on br-phy): it trusts what it recorded, and the Node informer corrects it later.
  if (auto cached = cache_.loadNode()) return *cached;
  // The Node's podCIDR and InternalIP may appear after the agent starts (kubelet registers it).
  for (int attempt = 0; !stopping_; ++attempt) {
    auto node = client_->get(kube::resources::kNodes, "", config_.nodeName);
    if (node.ok()) {
      if (auto identity = remoteNodeIdentity(*node)) {
        cache_.saveNode(*identity);
        return *identity;
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

void Agent::chooseServiceCidr(const kube::ClusterConfig& cluster) {
  std::optional<Cidr> configured;
  if (config_.proxy.serviceCidrConfigured) configured = config_.proxy.serviceCidr;
  kube::DetectedServiceCidr detected;
  if (!configured) detected = kube::detectServiceCidr(cluster, kServiceCidrTimeout);
  const auto choice = kube::chooseServiceCidr(configured, detected);
  config_.proxy.serviceCidr = choice.cidr;
  serviceCidrSource_ = choice.describe();
  SLUICE_LOG(kInfo, "agent") << "serviceCIDR " << choice.cidr.toString() << " ("
                             << serviceCidrSource_ << ")";
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

void Agent::applyTcpSequenceCheckSetting() {
  if (!config_.disableConntrackTcpSequenceCheck) return;
  // Not stored in OVSDB, so it is set again after every ovs-vswitchd start. Once per start, never
  // on the packet or flow path.
  if (auto disabled = disableConntrackTcpSequenceCheck(control_); !disabled)
    SLUICE_LOG(kWarning, "agent") << "could not disable conntrack TCP sequence checks: "
                                  << disabled.error().message;
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

Result<void> Agent::createSyncers() {
  ofrules::PipelineBuilder builder;
  features::declarePodNetworkTables(builder);
  features::declareEgressTables(builder);
  features::declareServiceTables(builder);
  pipeline_ = builder.build();
  physicalPipeline_ = builder.build(ofrules::Bridge::kPhysical);

  roundStore_ = std::make_unique<ovsdb::OvsdbRoundStore>(*ovsdb_, config_.integrationBridge);
  auto syncer = ofrules::FlowSyncer::create(
      ofrules::FlowSyncerOptions{
          .connection = {.target = config_.bridgeTarget(config_.integrationBridge)},
          .onSync = metrics_->syncObserver(config_.integrationBridge)},
      *roundStore_);
  if (!syncer) return syncer.error();
  integrationSyncer_ = std::move(*syncer);
  integrationSink_ = std::make_unique<SyncerFlowSink>(*integrationSyncer_);
  if (config_.datapathType != DatapathType::kNetdev) return {};
  physicalRoundStore_ = std::make_unique<ovsdb::OvsdbRoundStore>(*ovsdb_, config_.physicalBridge);
  auto physical = ofrules::FlowSyncer::create(
      ofrules::FlowSyncerOptions{
          .connection = {.target = config_.bridgeTarget(config_.physicalBridge)},
          .onSync = metrics_->syncObserver(config_.physicalBridge)},
      *physicalRoundStore_);
  if (!physical) return physical.error();
  physicalSyncer_ = std::move(*physical);
  physicalSink_ = std::make_unique<SyncerFlowSink>(*physicalSyncer_);
  auto flows = features::physicalBridgeFlows(physicalPipeline_, bootstrap_.network,
                                             static_cast<std::uint16_t>(config_.tunnelPort));
  if (!flows) return flows.error();
  return physicalSyncer_->setFlows(kPhysicalOwner, *flows);
}

void Agent::createInformers() {
  auto make = [this](kube::InformerOptions options) {
    return std::make_unique<kube::Informer>(*client_, std::move(options));
  };
  nodeInformer_ = make({.resource = kube::resources::kNodes});
  egressInformer_ = make({.resource = kube::resources::kEgresses, .backoff = kInformerBackoff});
  namespaceInformer_ =
      make({.resource = kube::resources::kNamespaces, .backoff = kInformerBackoff});
  // Only this node's pods: what the agent holds does not grow with the cluster's pod count.
  podInformer_ = make({.resource = kube::resources::kPods,
                       .fieldSelector = "spec.nodeName=" + config_.nodeName,
                       .backoff = kInformerBackoff});
  if (!config_.proxy.enabled) return;  // kube-proxy watches Services, not us
  serviceInformer_ = make({.resource = kube::resources::kServices, .backoff = kInformerBackoff});
  sliceInformer_ =
      make({.resource = kube::resources::kEndpointSlices, .backoff = kInformerBackoff});
}

void Agent::createUnits() {
  const bool netdev = config_.datapathType == DatapathType::kNetdev;
  podPorts_ = std::make_unique<OvsdbPodPorts>(
      *ovsdb_, OvsdbPodPortsOptions{.bridge = config_.integrationBridge,
                                    .guard = netdev ? guard_.get() : nullptr});
  if (netdev) {
    kernelNeighbours_ = std::make_unique<KernelNeighbourTable>(config_.physicalBridge);
    tunnelNeighbours_ = std::make_unique<TunnelNeighbours>(
        loop_, *kernelNeighbours_, control_,
        TunnelNeighboursOptions{.bridge = config_.physicalBridge});
  }
  nodeHost_ = std::make_unique<NodeRemoteNodeHost>(config_, tunnelNeighbours_.get());
  podNetwork_ = std::make_unique<PodNetworkUnit>(
      PodNetworkUnit::Dependencies{.pipeline = pipeline_,
                                   .network = bootstrap_.network,
                                   .integration = *integrationSink_,
                                   .ports = *podPorts_,
                                   .onPodsChanged = [this] {
                                     metrics_->setLocalPods(podNetwork_->pods().size());
                                     egress_->reconcile();
                                   }});
  remoteNodes_ = std::make_unique<RemoteNodesUnit>(
      RemoteNodesUnit::Dependencies{.loop = loop_,
                                    .pipeline = pipeline_,
                                    .network = bootstrap_.network,
                                    .integration = *integrationSink_,
                                    .cache = cache_,
                                    .host = *nodeHost_});
  serviceProxy_ = std::make_unique<ServiceProxyUnit>(ServiceProxyUnit::Dependencies{
      .loop = loop_,
      .pipeline = pipeline_,
      .network = bootstrap_.network,
      .integration = *integrationSink_,
      .host = *serviceHost_,
      .config = {.enabled = config_.proxy.enabled, .serviceCidr = config_.proxy.serviceCidr},
      .nodePortAddresses = config_.proxy.nodePortAddresses,
      .serviceCidrSource = serviceCidrSource_,
      .gateway = config_.gatewayInterface,
      .recordProblem =
          [this](const nlohmann::json& object, const std::string& reason,
                 const std::string& message) {
            if (events_) events_->record(object, kube::EventType::kWarning, reason, message);
          },
      .onChanged =
          [this] {
            metrics_->setServices(serviceProxy_->services().size(), serviceProxy_->endpointCount());
          },
      .cachePath = config_.stateDir + "/services-cache.json"});
  egressArp_ = std::make_unique<PhysicalBridgeArp>(PhysicalBridgeArpOptions{
      .bridge = netdev ? config_.physicalBridge : "",
      .nodeIp = bootstrap_.network.nodeIp,
      .gratuitousArpCount = config_.gratuitousArpCount,
      .onClaimed = [this](Ipv4 ip) { loop_.post([this, ip] { egress_->claimed(ip); }); }});
  fencing_ = std::make_unique<EgressFencing>(
      EgressFencing::Dependencies{.loop = loop_,
                                  .client = *client_,
                                  .egresses = *egressInformer_,
                                  .onChange = [this] { egress_->reconcile(); }},
      EgressFencingOptions{.nodeName = config_.nodeName,
                           .controllerAddress = config_.controllerAddress,
                           .fallbackAddress = controllerServiceAddress(config_),
                           .controllerService = config_.controllerService,
                           .reportInterval = std::chrono::milliseconds(config_.reportIntervalMs),
                           .fencingTimeout = std::chrono::milliseconds(config_.fencingTimeoutMs),
                           .peerProbePort = static_cast<std::uint16_t>(config_.peerProbePort),
                           .peerWitnesses = static_cast<std::size_t>(config_.peerWitnesses)});
  egress_ = std::make_unique<EgressUnit>(
      EgressUnit::Dependencies{.loop = loop_,
                               .pipeline = pipeline_,
                               .physicalPipeline = physicalPipeline_,
                               .network = bootstrap_.network,
                               .integration = *integrationSink_,
                               .physical = physicalSink_.get(),
                               .cache = cache_,
                               .arp = *egressArp_,
                               .control = control_,
                               .metrics = *metrics_,
                               .pods = *podNetwork_,
                               .nodes = *remoteNodes_,
                               .holdsNothing = [this] { return fencing_->holdsNothing(); }});
}

void Agent::pollOvs() {
  egress_->poll();
  for (auto* syncer : {integrationSyncer_.get(), physicalSyncer_.get()})
    if (syncer)
      if (auto polled = syncer->poll(); !polled)
        SLUICE_LOG(kDebug, "agent") << "OVS poll: " << polled.error().message;
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
    if (tunnelNeighbours_) tunnelNeighbours_->refreshAll();  // its neighbour cache starts empty
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
  return loop_.call([&] { return podNetwork_->attach(attachment); });
}

Result<void> Agent::detach(const PodAttachment& attachment) {
  return loop_.call([&] { return podNetwork_->detach(attachment); });
}

Result<void> Agent::ready() {
  if (!ready_) return makeError("the agent has not installed its pipeline yet");
  return {};
}

Result<void> Agent::startServingCni() {
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
  return {};
}

void Agent::startEgress() {
  events_ = std::make_unique<AgentEvents>(
      *client_, kube::EventRecorderOptions{.component = "sluice-agent", .host = config_.nodeName});
  egress_->watch(
      EgressInformers{
          .egresses = *egressInformer_, .namespaces = *namespaceInformer_, .pods = *podInformer_},
      events_.get());
  for (auto* informer : {egressInformer_.get(), namespaceInformer_.get(), podInformer_.get()})
    informer->start();
  fencing_->start();
}

void Agent::startServices() {
  if (!serviceInformer_) return;  // the proxy is off
  serviceProxy_->watch(*serviceInformer_, *sliceInformer_);
  serviceInformer_->start();
  sliceInformer_->start();
  // Services are reconciled as informer events come; once both informers have synced, a full
  // pass also drops the owners of Services deleted while the agent was away.
  reconcileServicesOnceSynced(std::chrono::steady_clock::now() + 30s);
}

void Agent::reconcileServicesOnceSynced(std::chrono::steady_clock::time_point warnAt) {
  if (serviceInformer_->hasSynced() && sliceInformer_->hasSynced()) {
    serviceProxy_->reconcileAll();
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (now >= warnAt)
    SLUICE_LOG(kWarning, "proxy") << "Services or EndpointSlices not synced after 30 s; serving "
                                     "what arrives as it arrives";
  const auto next = now >= warnAt ? now + 24h : warnAt;  // warn once
  loop_.postAt(now + 100ms, [this, next] { reconcileServicesOnceSynced(next); });
}

Result<void> Agent::run() {
  if (auto served = startObservability(); !served) return served;
  auto cluster = kube::loadDefaultConfig(config_.kubeconfig);
  if (!cluster) return cluster.error();
  auto client = kube::Client::connect(*cluster);
  if (!client) return client.error();
  client_ = std::move(*client);
  chooseServiceCidr(*cluster);

  std::filesystem::create_directories(config_.stateDir);
  auto identity = waitForNodeIdentity();
  if (!identity) return identity.error();
  if (auto connected = connectOvs(); !connected) return connected;
  auto guard = IngressGuard::create();
  if (!guard) return guard.error();
  guard_ = std::move(*guard);
  auto serviceHost = NodeServiceHost::create();
  if (!serviceHost) return serviceHost.error();
  serviceHost_ = std::move(*serviceHost);
  auto bootstrap = bootstrapNode(config_, *identity, *ovsdb_, *guard_);
  if (!bootstrap) return bootstrap.error();
  bootstrap_ = *bootstrap;
  applyTcpSequenceCheckSetting();
  if (auto created = createSyncers(); !created) return created;
  createInformers();
  createUnits();
  if (auto installed = remoteNodes_->installNodeFlows(); !installed) return installed;
  if (auto installed = serviceProxy_->installNodeFlows(); !installed) return installed;
  podNetwork_->restore();
  remoteNodes_->restoreFromCache();
  egress_->restoreFromCache();
  serviceProxy_->restoreFromCache();

  // The first install: the node's flows, its pods and the remote nodes it knew. Only then may the
  // switch leave flow-restore-wait, so it never forwards with an empty table; and only then can
  // this node reach the API server if its address lives on br-phy.
  if (auto synced = syncAll(); !synced) return synced;
  clearFlowRestoreWait();

  remoteNodes_->watch(*nodeInformer_);
  fencing_->watchNodes(*nodeInformer_);  // the peers it probes
  nodeInformer_->start();
  if (!nodeInformer_->waitForSync(30s))
    return makeError("the Node informer did not sync within 30 s");
  remoteNodes_->reconcileAll();
  if (auto serving = startServingCni(); !serving) return serving;

  reconnectsSeen_ = integrationSyncer_->counters().reconnects +
                    (physicalSyncer_ ? physicalSyncer_->counters().reconnects : 0);
  loop_.every(kPollPeriod, [this] { pollOvs(); });
  loop_.every(1s, [this] { refreshObservability(); });
  // ovs-vswitchd forgets a neighbour left unused for a while: give it them all again now and then.
  if (tunnelNeighbours_)
    loop_.every(kNeighbourRefresh, [this] { tunnelNeighbours_->refreshAll(); });
  startEgress();
  startServices();
  ready_ = true;
  SLUICE_LOG(kInfo, "agent") << "ready: " << podNetwork_->pods().size() << " pods, "
                             << remoteNodes_->nodes().size() << " remote nodes, CNI on "
                             << config_.cniSocket;
  loop_.run();
  return {};
}

}  // namespace sluice::agent
