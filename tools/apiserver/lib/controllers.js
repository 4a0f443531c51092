// The controllers a real cluster runs next to its API server, as far as the lab needs them:
//   * the EndpointSlice controller (kube-controller-manager): for every Service with a selector,
//     EndpointSlices listing the matching pods that have an IP, with ready/serving/terminating;
//   * kube-apiserver's own "kubernetes" Service reconciler: default/kubernetes (10.96.0.1:443)
//     and its EndpointSlice pointing at the API server;
//   * its default ServiceCIDR reconciler: networking.k8s.io ServiceCIDR "kubernetes" with the
//     range ClusterIPs are allocated from (10.96.0.0/12), Ready.
// They run inside the lab API server and watch its store directly, so a pod change reaches the
// slices in the same event-loop turn batch (well under a millisecond), with no polling.
'use strict';

const { kKubernetesServiceIp, kServiceCidr } = require('./services');

const kServices = '/services';
const kPods = '/pods';
const kSlices = 'discovery.k8s.io/endpointslices';
const kServiceCidrs = 'networking.k8s.io/servicecidrs';
const kServiceNameLabel = 'kubernetes.io/service-name';
const kManagedByLabel = 'endpointslice.kubernetes.io/managed-by';
const kControllerName = 'endpointslice-controller.k8s.io';
const kMaxEndpointsPerSlice = 100; // kube-controller-manager's --max-endpoints-per-slice default

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys(value[k])]));
}

function sameJson(a, b) {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

function matchesSelector(selector, labels) {
  return Object.entries(selector).every(([k, v]) => (labels || {})[k] === v);
}

function podIsReady(pod) {
  const conditions = (pod.status && pod.status.conditions) || [];
  return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

// resolvePort gives the pod port a Service port reaches: a number as it is, a name through the
// pod's containers[].ports (null when the pod has no such named port, as kube's FindPort).
function resolvePort(servicePort, pod) {
  const target = servicePort.targetPort === undefined ? servicePort.port : servicePort.targetPort;
  if (typeof target === 'number') return target;
  if (/^\d+$/.test(String(target))) return Number(target);
  for (const container of (pod.spec && pod.spec.containers) || []) {
    for (const port of container.ports || []) {
      if (port.name === target && (port.protocol || 'TCP') === servicePort.protocol) return port.containerPort;
    }
  }
  return null;
}

function endpointFor(pod, service) {
  const terminating = !!pod.metadata.deletionTimestamp;
  const ready = podIsReady(pod);
  const publishNotReady = !!service.spec.publishNotReadyAddresses;
  const endpoint = {
    addresses: [pod.status.podIP],
    conditions: { ready: publishNotReady || (ready && !terminating), serving: publishNotReady || ready, terminating },
    targetRef: { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid },
  };
  if (pod.spec && pod.spec.nodeName) endpoint.nodeName = pod.spec.nodeName;
  return endpoint;
}

class EndpointSliceController {
  constructor(server) {
    this.server = server;
    this.dirty = new Set(); // "ns/name" of Services to reconcile
    this.scheduled = false;
    this.cancels = [];
  }

  start() {
    const all = () => true;
    this.cancels.push(this.server.store.watch(kServices, { fromRv: null, filter: all, send: (_t, svc) => this.mark(svc.metadata.namespace, svc.metadata.name) }));
    this.cancels.push(this.server.store.watch(kPods, { fromRv: null, filter: all, send: (_t, pod) => this.markNamespace(pod.metadata.namespace) }));
    // A managed slice edited or deleted by someone else is put back, as the real controller does.
    this.cancels.push(this.server.store.watch(kSlices, {
      fromRv: null, filter: all,
      send: (_t, slice) => {
        const labels = slice.metadata.labels || {};
        if (labels[kManagedByLabel] === kControllerName && labels[kServiceNameLabel]) this.mark(slice.metadata.namespace, labels[kServiceNameLabel]);
      },
    }));
  }

  stop() {
    for (const cancel of this.cancels) cancel();
    this.cancels = [];
  }

  mark(namespace, name) {
    this.dirty.add(`${namespace}/${name}`);
    this.schedule();
  }

  markNamespace(namespace) {
    for (const svc of this.server.store.list(kServices, (o) => o.metadata.namespace === namespace).items) this.mark(namespace, svc.metadata.name);
  }

  // schedule batches the events of one event-loop turn (a namespace delete, a burst of pod writes)
  // into one reconcile per Service.
  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const keys = [...this.dirty];
      this.dirty.clear();
      for (const key of keys) {
        const [namespace, name] = key.split('/');
        try {
          this.reconcile(namespace, name);
        } catch (err) {
          this.server.log(`endpointslice controller: service ${key}: ${err && err.stack}`);
        }
      }
    });
  }

  sliceInfo() {
    return this.server.lookupOrThrow('discovery.k8s.io', 'v1', 'endpointslices');
  }

  managedSlices(namespace, name) {
    return this.server.store.list(kSlices, (o) => o.metadata.namespace === namespace
      && (o.metadata.labels || {})[kServiceNameLabel] === name
      && (o.metadata.labels || {})[kManagedByLabel] === kControllerName).items;
  }

  // desiredSlices groups the endpoints by their resolved port list (pods may resolve a named
  // targetPort differently), at most kMaxEndpointsPerSlice per slice, as the real controller.
  desiredSlices(service) {
    const selector = service.spec.selector;
    const pods = this.server.store.list(kPods, (p) => p.metadata.namespace === service.metadata.namespace
      && matchesSelector(selector, p.metadata.labels) && p.status && p.status.podIP
      && !['Succeeded', 'Failed'].includes(p.status.phase)).items;
    const groups = new Map(); // ports JSON -> {ports, endpoints}
    for (const pod of pods) {
      const ports = [];
      for (const servicePort of service.spec.ports || []) {
        const port = resolvePort(servicePort, pod);
        if (port === null) continue;
        const slicePort = { name: servicePort.name || '', port, protocol: servicePort.protocol || 'TCP' };
        if (servicePort.appProtocol) slicePort.appProtocol = servicePort.appProtocol;
        ports.push(slicePort);
      }
      const key = JSON.stringify(ports);
      if (!groups.has(key)) groups.set(key, { ports, endpoints: [] });
      groups.get(key).endpoints.push(endpointFor(pod, service));
    }
    const slices = [];
    for (const { ports, endpoints } of groups.values()) {
      for (let i = 0; i < endpoints.length; i += kMaxEndpointsPerSlice) {
        slices.push({ addressType: 'IPv4', endpoints: endpoints.slice(i, i + kMaxEndpointsPerSlice), ports });
      }
    }
    // A Service without endpoints still gets a (placeholder) slice, so consumers see it is empty.
    if (slices.length === 0) slices.push({ addressType: 'IPv4', endpoints: [] });
    return slices;
  }

  sliceMetadata(service) {
    const labels = { ...(service.metadata.labels || {}) };
    delete labels['service.kubernetes.io/headless'];
    labels[kServiceNameLabel] = service.metadata.name;
    labels[kManagedByLabel] = kControllerName;
    if (service.spec.clusterIP === 'None') labels['service.kubernetes.io/headless'] = '';
    return {
      labels,
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: service.metadata.name, uid: service.metadata.uid, controller: true, blockOwnerDeletion: true }],
    };
  }

  reconcile(namespace, name) {
    const service = this.server.store.get(kServices, namespace, name);
    const existing = this.managedSlices(namespace, name);
    const info = this.sliceInfo();
    const selector = service && service.spec && service.spec.selector;
    if (!service || !selector || Object.keys(selector).length === 0 || service.spec.type === 'ExternalName') {
      for (const slice of existing) this.server.reallyDelete(info, slice);
      return;
    }
    const desired = this.desiredSlices(service);
    const metadata = this.sliceMetadata(service);
    desired.forEach((want, i) => {
      const have = existing[i];
      if (!have) {
        this.server.createObject(info, { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { generateName: `${name}-`, ...structuredClone(metadata) }, ...want },
          { namespace, query: new URLSearchParams() });
        return;
      }
      const current = { labels: have.metadata.labels, ownerReferences: have.metadata.ownerReferences, addressType: have.addressType, endpoints: have.endpoints, ports: have.ports };
      const next = { ...structuredClone(metadata), ...want };
      if (sameJson(current, { ports: undefined, ...next })) return;
      const updated = structuredClone(have);
      updated.metadata.labels = next.labels;
      updated.metadata.ownerReferences = next.ownerReferences;
      updated.addressType = want.addressType;
      updated.endpoints = want.endpoints;
      if (want.ports) updated.ports = want.ports; else delete updated.ports;
      this.server.store.write(kSlices, updated);
    });
    for (const extra of existing.slice(desired.length)) this.server.reallyDelete(info, extra);
  }
}

// ensureKubernetesService creates or corrects default/kubernetes and its EndpointSlice (which
// kube-apiserver manages itself, without the managed-by label) for the API server at ip:port.
function ensureKubernetesService(server, ip, port) {
  const serviceInfo = server.lookupOrThrow('', 'v1', 'services');
  const spec = {
    type: 'ClusterIP', clusterIP: kKubernetesServiceIp, clusterIPs: [kKubernetesServiceIp], sessionAffinity: 'None',
    ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: port }],
  };
  const current = server.store.get(kServices, 'default', 'kubernetes');
  if (!current) {
    server.createObject(serviceInfo, { metadata: { name: 'kubernetes', labels: { component: 'apiserver', provider: 'kubernetes' } }, spec },
      { namespace: 'default', query: new URLSearchParams() });
  } else if (!sameJson(current.spec.ports, spec.ports)) {
    current.spec.ports = spec.ports;
    server.store.write(kServices, current);
  }
  const sliceInfo = server.lookupOrThrow('discovery.k8s.io', 'v1', 'endpointslices');
  const want = {
    addressType: 'IPv4',
    endpoints: [{ addresses: [ip], conditions: { ready: true } }],
    ports: [{ name: 'https', port, protocol: 'TCP' }],
  };
  const slice = server.store.get(kSlices, 'default', 'kubernetes');
  if (!slice) {
    server.createObject(sliceInfo, { metadata: { name: 'kubernetes', labels: { [kServiceNameLabel]: 'kubernetes' } }, ...want },
      { namespace: 'default', query: new URLSearchParams() });
  } else if (!sameJson({ e: slice.endpoints, p: slice.ports }, { e: want.endpoints, p: want.ports })) {
    slice.endpoints = want.endpoints;
    slice.ports = want.ports;
    server.store.write(kSlices, slice);
  }
}

// ensureDefaultServiceCidr creates ServiceCIDR "kubernetes" (spec.cidrs: the allocator's range)
// with a Ready condition, as kube-apiserver does at start; an existing one is left as it is
// (spec.cidrs is immutable) except that a missing Ready condition is added.
function ensureDefaultServiceCidr(server) {
  const info = server.lookupOrThrow('networking.k8s.io', 'v1', 'servicecidrs');
  let current = server.store.get(kServiceCidrs, '', 'kubernetes');
  if (!current) {
    server.createObject(info, { metadata: { name: 'kubernetes' }, spec: { cidrs: [kServiceCidr.text] } },
      { namespace: '', query: new URLSearchParams() });
    current = server.store.get(kServiceCidrs, '', 'kubernetes');
  }
  const conditions = (current.status && current.status.conditions) || [];
  if (conditions.some((c) => c.type === 'Ready' && c.status === 'True')) return;
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const updated = structuredClone(current);
  updated.status = {
    conditions: [...conditions.filter((c) => c.type !== 'Ready'),
      { type: 'Ready', status: 'True', lastTransitionTime: now, reason: 'ServiceCIDRReady', message: 'Kubernetes Service CIDR is ready' }],
  };
  server.store.write(kServiceCidrs, updated);
}

module.exports = { EndpointSliceController, ensureKubernetesService, ensureDefaultServiceCidr, resolvePort, kServiceNameLabel, kManagedByLabel, kControllerName };
