// The built-in kinds the lab serves: their API names, schemas (coarse below spec/status), field
// selectors, kubectl columns, and what kube-apiserver's strategies do to them on create.
'use strict';

const { age } = require('./table');
const services = require('./services');
const endpointSlices = require('./endpointslices');

const kPreserve = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
const kString = { type: 'string' };
const kMetaRef = { $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' };

function topLevel(properties, description) {
  return {
    type: 'object', description,
    properties: { apiVersion: kString, kind: kString, metadata: kMetaRef, ...properties },
  };
}

const kObjectMetaSchema = {
  type: 'object',
  description: 'ObjectMeta is metadata that all persisted resources must have.',
  properties: {
    name: kString, generateName: kString, namespace: kString, selfLink: kString, uid: kString,
    resourceVersion: kString, generation: { type: 'integer', format: 'int64' },
    creationTimestamp: { type: 'string', format: 'date-time' }, deletionTimestamp: { type: 'string', format: 'date-time' },
    deletionGracePeriodSeconds: { type: 'integer', format: 'int64' },
    labels: { type: 'object', additionalProperties: kString },
    annotations: { type: 'object', additionalProperties: kString },
    ownerReferences: { type: 'array', items: kPreserve, 'x-kubernetes-patch-merge-key': 'uid', 'x-kubernetes-patch-strategy': 'merge' },
    finalizers: { type: 'array', items: kString, 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-list-type': 'set' },
    managedFields: { type: 'array', items: kPreserve },
  },
};

function nameColumn() {
  return { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 };
}

function columns(extra) {
  const definitions = [nameColumn(), ...extra.map(([name, type, , priority]) => ({ name, type, format: '', description: name, priority: priority || 0 }))];
  const cellFns = [(o) => o.metadata.name, ...extra.map(([, , fn]) => fn)];
  return { definitions, cellFns };
}

function nodeStatus(node) {
  const conditions = (node.status && node.status.conditions) || [];
  const ready = conditions.find((c) => c.type === 'Ready');
  let text = !ready ? 'Unknown' : ready.status === 'True' ? 'Ready' : 'NotReady';
  if (node.spec && node.spec.unschedulable) text += ',SchedulingDisabled';
  return text;
}

function nodeRoles(node) {
  const roles = Object.keys((node.metadata && node.metadata.labels) || {})
    .filter((k) => k.startsWith('node-role.kubernetes.io/')).map((k) => k.slice('node-role.kubernetes.io/'.length));
  return roles.length ? roles.sort().join(',') : '<none>';
}

function podReady(pod) {
  const containers = (pod.spec && pod.spec.containers) || [];
  const statuses = (pod.status && pod.status.containerStatuses) || [];
  return `${statuses.filter((s) => s.ready).length}/${containers.length}`;
}

function podRestarts(pod) {
  return ((pod.status && pod.status.containerStatuses) || []).reduce((sum, s) => sum + (s.restartCount || 0), 0);
}

function podStatus(pod) {
  if (pod.metadata.deletionTimestamp) return 'Terminating';
  return (pod.status && (pod.status.reason || pod.status.phase)) || 'Unknown';
}

const kBuiltins = [
  {
    group: '', version: 'v1', resource: 'namespaces', singular: 'namespace', kind: 'Namespace', namespaced: false,
    shortNames: ['ns'], statusSubresource: true, nameIsDnsLabel: true,
    fieldSelectors: ['metadata.name', 'status.phase'],
    schema: topLevel({ spec: kPreserve, status: kPreserve }, 'Namespace provides a scope for Names.'),
    prepareForCreate(object) { object.status = { phase: 'Active' }; },
    columns: columns([['Status', 'string', (o) => (o.status && o.status.phase) || ''], ['Age', 'string', (o) => age(o.metadata.creationTimestamp)]]),
  },
  {
    group: '', version: 'v1', resource: 'nodes', singular: 'node', kind: 'Node', namespaced: false,
    shortNames: ['no'], statusSubresource: true, statusOnCreate: true,
    fieldSelectors: ['metadata.name', 'spec.unschedulable'],
    schema: topLevel({ spec: kPreserve, status: kPreserve }, 'Node is a worker node in Kubernetes.'),
    columns: columns([['Status', 'string', nodeStatus], ['Roles', 'string', nodeRoles],
      ['Age', 'string', (o) => age(o.metadata.creationTimestamp)],
      ['Version', 'string', (o) => (o.status && o.status.nodeInfo && o.status.nodeInfo.kubeletVersion) || ''],
      ['Internal-IP', 'string', (o) => (((o.status && o.status.addresses) || []).find((a) => a.type === 'InternalIP') || {}).address || '<none>', 1]]),
  },
  {
    group: '', version: 'v1', resource: 'pods', singular: 'pod', kind: 'Pod', namespaced: true,
    shortNames: ['po'], categories: ['all'], statusSubresource: true,
    fieldSelectors: ['metadata.name', 'metadata.namespace', 'spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName',
      'spec.serviceAccountName', 'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
    schema: topLevel({ spec: kPreserve, status: kPreserve }, 'Pod is a collection of containers that can run on a host.'),
    prepareForCreate(object) {
      object.status = { phase: 'Pending', qosClass: 'BestEffort' };
    },
    columns: columns([['Ready', 'string', podReady], ['Status', 'string', podStatus], ['Restarts', 'string', (o) => String(podRestarts(o))],
      ['Age', 'string', (o) => age(o.metadata.creationTimestamp)],
      ['IP', 'string', (o) => (o.status && o.status.podIP) || '<none>', 1],
      ['Node', 'string', (o) => (o.spec && o.spec.nodeName) || '<none>', 1]]),
  },
  {
    // Services: defaults, validation and ClusterIP/NodePort allocation live in services.js; the
    // server calls defaults/validateKind/allocate (see ApiServer.admitBuiltin).
    group: '', version: 'v1', resource: 'services', singular: 'service', kind: 'Service', namespaced: true,
    shortNames: ['svc'], categories: ['all'], statusSubresource: true,
    fieldSelectors: ['metadata.name', 'metadata.namespace', 'spec.clusterIP', 'spec.type'],
    schema: topLevel({ spec: kPreserve, status: kPreserve }, 'Service is a named abstraction of software service (for example, mysql) consisting of local port (for example 3306) that the proxy listens on, and the selector that determines which pods will answer requests sent through the proxy.'),
    defaults: services.defaultService,
    keepOnUpdate: services.keepAllocatedOnUpdate,
    validateKind: services.validateService,
    allocate: services.allocate,
    columns: columns([['Type', 'string', (o) => (o.spec && o.spec.type) || ''],
      ['Cluster-IP', 'string', (o) => (o.spec && o.spec.clusterIP) || '<none>'],
      ['External-IP', 'string', services.externalIp], ['Port(s)', 'string', services.formatPorts],
      ['Age', 'string', (o) => age(o.metadata.creationTimestamp)],
      ['Selector', 'string', services.formatSelector, 1]]),
  },
  {
    // The ranges ClusterIPs come from (GA in 1.33; v1beta1 in 1.31-1.32, served too). The API
    // server creates "kubernetes" with its --service-cluster-ip-range (controllers.js).
    group: 'networking.k8s.io', version: 'v1', extraVersions: ['v1beta1'], resource: 'servicecidrs', singular: 'servicecidr',
    kind: 'ServiceCIDR', namespaced: false, shortNames: [], statusSubresource: true, fieldSelectors: ['metadata.name'],
    schema: topLevel({
      spec: { type: 'object', properties: { cidrs: { type: 'array', items: kString, 'x-kubernetes-list-type': 'atomic' } } },
      status: { type: 'object', properties: { conditions: { type: 'array', items: kPreserve, 'x-kubernetes-list-map-keys': ['type'], 'x-kubernetes-list-type': 'map' } } },
    }, 'ServiceCIDR defines a range of IP addresses using CIDR format (e.g. 192.168.0.0/24 or 2001:db2::/64). This range is used to allocate ClusterIPs to Service objects.'),
    validateKind: services.validateServiceCidr,
    columns: columns([['CIDRs', 'string', (o) => ((o.spec && o.spec.cidrs) || []).join(',')],
      ['Age', 'string', (o) => age(o.metadata.creationTimestamp)]]),
  },
  {
    group: 'discovery.k8s.io', version: 'v1', resource: 'endpointslices', singular: 'endpointslice', kind: 'EndpointSlice',
    namespaced: true, shortNames: [], fieldSelectors: ['metadata.name', 'metadata.namespace'],
    schema: topLevel({
      addressType: kString,
      endpoints: { type: 'array', items: kPreserve, 'x-kubernetes-list-type': 'atomic' },
      ports: { type: 'array', items: kPreserve, 'x-kubernetes-list-type': 'atomic' },
    }, 'EndpointSlice represents a subset of the endpoints that implement a service.'),
    defaults: endpointSlices.defaultEndpointSlice,
    validateKind: endpointSlices.validateEndpointSlice,
    columns: columns([['AddressType', 'string', (o) => o.addressType || ''], ['Ports', 'string', endpointSlices.formatPorts],
      ['Endpoints', 'string', endpointSlices.formatEndpoints], ['Age', 'string', (o) => age(o.metadata.creationTimestamp)]]),
  },
  {
    group: '', version: 'v1', resource: 'configmaps', singular: 'configmap', kind: 'ConfigMap', namespaced: true,
    shortNames: ['cm'], fieldSelectors: ['metadata.name', 'metadata.namespace'],
    schema: topLevel({
      data: { type: 'object', additionalProperties: kString },
      binaryData: { type: 'object', additionalProperties: { type: 'string', format: 'byte' } },
      immutable: { type: 'boolean' },
    }, 'ConfigMap holds configuration data for pods to consume.'),
    columns: columns([['Data', 'string', (o) => String(Object.keys(o.data || {}).length + Object.keys(o.binaryData || {}).length)],
      ['Age', 'string', (o) => age(o.metadata.creationTimestamp)]]),
  },
  {
    group: '', version: 'v1', resource: 'events', singular: 'event', kind: 'Event', namespaced: true,
    shortNames: ['ev'], fieldSelectors: ['metadata.name', 'metadata.namespace', 'involvedObject.kind', 'involvedObject.namespace',
      'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion', 'involvedObject.resourceVersion',
      'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type'],
    schema: topLevel({
      involvedObject: kPreserve, reason: kString, message: kString, source: kPreserve,
      firstTimestamp: { type: 'string', format: 'date-time' }, lastTimestamp: { type: 'string', format: 'date-time' },
      count: { type: 'integer', format: 'int32' }, type: kString, eventTime: { type: 'string' }, series: kPreserve,
      action: kString, related: kPreserve, reportingComponent: kString, reportingInstance: kString,
    }, 'Event is a report of an event somewhere in the cluster.'),
    columns: columns([['Last Seen', 'string', (o) => age(o.lastTimestamp || o.eventTime || o.metadata.creationTimestamp)],
      ['Type', 'string', (o) => o.type || ''], ['Reason', 'string', (o) => o.reason || ''],
      ['Object', 'string', (o) => (o.involvedObject ? `${(o.involvedObject.kind || '').toLowerCase()}/${o.involvedObject.name || ''}` : '')],
      ['Message', 'string', (o) => o.message || '']]),
  },
  {
    group: 'coordination.k8s.io', version: 'v1', resource: 'leases', singular: 'lease', kind: 'Lease', namespaced: true,
    shortNames: [], fieldSelectors: ['metadata.name', 'metadata.namespace'],
    schema: topLevel({
      spec: {
        type: 'object',
        properties: {
          holderIdentity: kString, leaseDurationSeconds: { type: 'integer', format: 'int32' },
          acquireTime: { type: 'string', format: 'date-time' }, renewTime: { type: 'string', format: 'date-time' },
          leaseTransitions: { type: 'integer', format: 'int32' }, strategy: kString, preferredHolder: kString,
        },
      },
    }, 'Lease defines a lease concept.'),
    columns: columns([['Holder', 'string', (o) => (o.spec && o.spec.holderIdentity) || ''], ['Age', 'string', (o) => age(o.metadata.creationTimestamp)]]),
  },
  {
    group: 'apiextensions.k8s.io', version: 'v1', resource: 'customresourcedefinitions', singular: 'customresourcedefinition',
    kind: 'CustomResourceDefinition', namespaced: false, shortNames: ['crd', 'crds'], categories: ['api-extensions'],
    statusSubresource: true, fieldSelectors: ['metadata.name'],
    schema: topLevel({ spec: kPreserve, status: kPreserve }, 'CustomResourceDefinition represents a resource that should be exposed on the API server.'),
    // kube prints a CRD's creation time as a timestamp, not as an age.
    columns: columns([['Created At', 'date', (o) => o.metadata.creationTimestamp]]),
  },
];

// Strategic merge patch keys of the built-in kinds' lists (what `patchMergeKey` says in the Go types).
const kMergeKeys = {
  containers: 'name', initContainers: 'name', ephemeralContainers: 'name', volumes: 'name', env: 'name',
  ports: 'containerPort', volumeMounts: 'mountPath', volumeDevices: 'devicePath', conditions: 'type',
  addresses: 'type', ownerReferences: 'uid', imagePullSecrets: 'name', hostAliases: 'ip', taints: 'key',
  podIPs: 'ip', hostIPs: 'ip', resourceClaims: 'name', readinessGates: 'conditionType',
};
const kMergePrimitiveLists = new Set(['finalizers']);

module.exports = { kBuiltins, kObjectMetaSchema, kMergeKeys, kMergePrimitiveLists };
