// Services and EndpointSlices as kube-apiserver and kube-controller-manager serve them: defaults,
// ClusterIP/NodePort allocation and release, the real validation messages, default/kubernetes,
// and the EndpointSlice controller following pods (add, label change, readiness, deletion).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { withServer, waitFor } = require('../testing/harness');

const kSvcs = '/api/v1/namespaces/default/services';
const kPods = '/api/v1/namespaces/default/pods';
const kSlices = '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices';

function service(name, spec) {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec };
}

async function createPod(server, name, labels, ip, { ready = true, ports } = {}) {
  const container = { name: 'main', image: 'busybox' };
  if (ports) container.ports = ports;
  const created = await server.request('POST', kPods, { body: { metadata: { name, labels }, spec: { nodeName: 'node01', containers: [container] } } });
  assert.equal(created.status, 201, created.text);
  await setPodStatus(server, name, ip, ready);
}

function setPodStatus(server, name, ip, ready) {
  return server.request('PATCH', `${kPods}/${name}/status`, {
    contentType: 'application/merge-patch+json',
    body: { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } },
  });
}

async function slicesOf(server, name) {
  const list = await server.request('GET', `${kSlices}?labelSelector=kubernetes.io/service-name=${name}`);
  return list.body.items;
}

// waitForSlice waits (with a deadline) until the service's one slice satisfies predicate.
function waitForSlice(server, name, predicate, what) {
  return waitFor(async () => {
    const items = await slicesOf(server, name);
    return items.length === 1 && predicate(items[0]) ? items[0] : null;
  }, { what, timeoutMs: 5000 });
}

test('a Service gets kube\'s defaults, a ClusterIP from 10.96.0.0/12, and keeps it on update', () => withServer({}, async (server) => {
  const created = await server.request('POST', kSvcs, { body: service('web', { selector: { app: 'web' }, ports: [{ port: 80 }] }) });
  assert.equal(created.status, 201, created.text);
  const spec = created.body.spec;
  assert.equal(spec.type, 'ClusterIP');
  assert.equal(spec.sessionAffinity, 'None');
  assert.equal(spec.internalTrafficPolicy, 'Cluster');
  assert.deepEqual(spec.ipFamilies, ['IPv4']);
  assert.equal(spec.ipFamilyPolicy, 'SingleStack');
  assert.deepEqual(spec.ports, [{ port: 80, protocol: 'TCP', targetPort: 80 }]);
  assert.match(spec.clusterIP, /^10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+$/);
  assert.notEqual(spec.clusterIP, '10.96.0.1');
  assert.deepEqual(spec.clusterIPs, [spec.clusterIP]);
  // kubectl apply of a manifest without clusterIP keeps the allocated one.
  await server.kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(service('web', { selector: { app: 'web' }, ports: [{ port: 80, name: 'http' }] })) });
  const after = await server.request('GET', `${kSvcs}/web`);
  assert.equal(after.body.spec.clusterIP, spec.clusterIP);
  const changed = await server.request('PATCH', `${kSvcs}/web`, { contentType: 'application/merge-patch+json', body: { spec: { clusterIP: '10.96.5.5' } } });
  assert.equal(changed.status, 422);
  assert.equal(changed.body.message, 'Service "web" is invalid: spec.clusterIPs[0]: Invalid value: ["10.96.5.5"]: may not change once set');
  const table = await server.kubectlOk(['get', 'svc']);
  assert.match(table, /^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE\n/);
  assert.match(table, new RegExp(`web\\s+ClusterIP\\s+${spec.clusterIP.replace(/\./g, '\\.')}\\s+<none>\\s+80/TCP`));
  assert.match(table, /kubernetes\s+ClusterIP\s+10\.96\.0\.1\s+<none>\s+443\/TCP/);
}));

test('requested ClusterIPs and nodePorts are honoured when free, rejected as kube does otherwise, and released on delete', () => withServer({}, async (server) => {
  const fixed = await server.request('POST', kSvcs, { body: service('dns', { clusterIP: '10.96.0.10', ports: [{ port: 53, protocol: 'UDP', name: 'dns' }] }) });
  assert.equal(fixed.status, 201, fixed.text);
  assert.equal(fixed.body.spec.clusterIP, '10.96.0.10');
  const taken = await server.request('POST', kSvcs, { body: service('dns2', { clusterIP: '10.96.0.10', ports: [{ port: 53 }] }) });
  assert.equal(taken.status, 422);
  assert.equal(taken.body.message, 'Service "dns2" is invalid: spec.clusterIPs: Invalid value: ["10.96.0.10"]: failed to allocate IP 10.96.0.10: provided IP is already allocated');
  const outside = await server.request('POST', kSvcs, { body: service('out', { clusterIP: '10.0.0.1', ports: [{ port: 53 }] }) });
  assert.match(outside.body.message, /the provided IP \(10\.0\.0\.1\) is not in the valid range\. The range of valid IPs is 10\.96\.0\.0\/12$/);
  const headless = await server.request('POST', kSvcs, { body: service('hl', { clusterIP: 'None', selector: { a: 'b' }, ports: [{ port: 80 }] }) });
  assert.deepEqual(headless.body.spec.clusterIPs, ['None']);

  const np = await server.request('POST', kSvcs, { body: service('np', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }, { port: 81, name: 'b' }].map((p, i) => ({ name: `p${i}`, ...p })) }) });
  assert.equal(np.status, 201, np.text);
  assert.equal(np.body.spec.externalTrafficPolicy, 'Cluster');
  assert.equal(np.body.spec.ports[0].nodePort, 30080);
  assert.ok(np.body.spec.ports[1].nodePort >= 30000 && np.body.spec.ports[1].nodePort <= 32767);
  const clash = await server.request('POST', kSvcs, { body: service('np2', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }) });
  assert.equal(clash.status, 422);
  assert.equal(clash.body.message, 'Service "np2" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated');
  // Changing the type keeps the ClusterIP and the nodePort (update without them), then drops it.
  const toLb = await server.request('PATCH', `${kSvcs}/np`, { contentType: 'application/merge-patch+json', body: { spec: { type: 'LoadBalancer' } } });
  assert.equal(toLb.status, 200, toLb.text);
  assert.equal(toLb.body.spec.ports[0].nodePort, 30080);
  const toClusterIp = await server.request('PATCH', `${kSvcs}/np`, { contentType: 'application/merge-patch+json', body: { spec: { type: 'ClusterIP' } } });
  assert.equal(toClusterIp.status, 200, toClusterIp.text);
  assert.equal(toClusterIp.body.spec.ports[0].nodePort, undefined);
  assert.equal(toClusterIp.body.spec.clusterIP, np.body.spec.clusterIP);
  const toNodePort = await server.request('PATCH', `${kSvcs}/np`, { contentType: 'application/merge-patch+json', body: { spec: { type: 'NodePort', ports: [{ name: 'p0', port: 80, nodePort: 30080 }] } } });
  assert.equal(toNodePort.status, 200, toNodePort.text);
  assert.equal((await server.request('DELETE', `${kSvcs}/np`)).status, 200);
  const reused = await server.request('POST', kSvcs, { body: service('np2', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }) });
  assert.equal(reused.status, 201, reused.text);
  assert.equal((await server.request('DELETE', `${kSvcs}/dns`)).status, 200);
  const again = await server.request('POST', kSvcs, { body: service('dns3', { clusterIP: '10.96.0.10', ports: [{ port: 53 }] }) });
  assert.equal(again.status, 201, again.text);
}));

test('invalid Services get kube\'s field errors', () => withServer({}, async (server) => {
  const cases = [
    [{ ports: [{ port: 80, protocol: 'FOO' }] }, 'spec.ports[0].protocol: Unsupported value: "FOO": supported values: "SCTP", "TCP", "UDP"'],
    [{ ports: [{ port: 80, name: 'a' }, { port: 80, name: 'b' }] }, 'spec.ports[1]: Duplicate value: {"Name":"","Protocol":"TCP","AppProtocol":null,"Port":80,"TargetPort":0,"NodePort":0}'],
    [{ ports: [{ port: 70000, targetPort: 80 }] }, 'spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive'],
    [{ ports: [] }, 'spec.ports: Required value'],
    [{ type: 'NodePort', ports: [{ port: 80, nodePort: 40000 }] }, 'spec.ports[0].nodePort: Invalid value: 40000: provided port is not in the valid range. The range of valid ports is 30000-32767'],
    [{ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 86401 } }, ports: [{ port: 80 }] },
      'spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401: must be greater than 0 and less than 86400'],
  ];
  for (const [spec, message] of cases) {
    const result = await server.request('POST', kSvcs, { body: service('web', spec) });
    assert.equal(result.status, 422, JSON.stringify(spec));
    assert.equal(result.body.message, `Service "web" is invalid: ${message}`);
  }
  const kubectl = await server.kubectl(['apply', '-f', '-'], { input: JSON.stringify(service('web', { ports: [{ port: 80, protocol: 'FOO' }] })) });
  assert.notEqual(kubectl.code, 0);
  assert.match(kubectl.stderr, /spec\.ports\[0\]\.protocol: Unsupported value: "FOO"/);
}));

test('EndpointSlices are served, discoverable and validated', () => withServer({}, async (server) => {
  const resources = await server.kubectlOk(['api-resources']);
  assert.match(resources, /endpointslices\s+discovery\.k8s\.io\/v1\s+true\s+EndpointSlice/);
  assert.match(resources, /services\s+svc\s+v1\s+true\s+Service/);
  const slice = (spec) => ({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 's' }, ...spec });
  const missing = await server.request('POST', kSlices, { body: slice({ endpoints: [] }) });
  assert.equal(missing.body.message, 'EndpointSlice.discovery.k8s.io "s" is invalid: addressType: Required value');
  const badType = await server.request('POST', kSlices, { body: slice({ addressType: 'IPv5' }) });
  assert.equal(badType.body.message, 'EndpointSlice.discovery.k8s.io "s" is invalid: addressType: Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"');
  const noAddress = await server.request('POST', kSlices, { body: slice({ addressType: 'IPv4', endpoints: [{ addresses: [] }] }) });
  assert.equal(noAddress.body.message, 'EndpointSlice.discovery.k8s.io "s" is invalid: endpoints[0].addresses: Required value: must contain at least 1 address');
  const ok = await server.request('POST', kSlices, { body: slice({ addressType: 'IPv4', endpoints: [{ addresses: ['10.244.1.2'] }], ports: [{ name: 'http', port: 80 }] }) });
  assert.equal(ok.status, 201, ok.text);
  assert.equal(ok.body.ports[0].protocol, 'TCP');
  const table = await server.kubectlOk(['get', 'endpointslices']);
  assert.match(table, /^NAME\s+ADDRESSTYPE\s+PORTS\s+ENDPOINTS\s+AGE\n/);
  assert.match(table, /s\s+IPv4\s+80\s+10\.244\.1\.2/);
  assert.match(table, /kubernetes\s+IPv4\s+\d+\s+127\.0\.0\.1/);
}));

test('the EndpointSlice controller follows pods: add, readiness, label change, deletion', () => withServer({}, async (server) => {
  const created = await server.request('POST', kSvcs, {
    body: service('web', { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'metrics', port: 9100, targetPort: 'metrics', protocol: 'TCP' }] }),
  });
  assert.equal(created.status, 201, created.text);
  const empty = await waitForSlice(server, 'web', (s) => (s.endpoints || []).length === 0, 'the placeholder slice');
  assert.match(empty.metadata.name, /^web-[a-z0-9]{5}$/);
  assert.equal(empty.metadata.labels['endpointslice.kubernetes.io/managed-by'], 'endpointslice-controller.k8s.io');
  assert.deepEqual(empty.metadata.ownerReferences.map((o) => [o.kind, o.name, o.uid, o.controller]), [['Service', 'web', created.body.metadata.uid, true]]);

  await createPod(server, 'web-1', { app: 'web' }, '10.244.1.11', { ports: [{ name: 'metrics', containerPort: 9090 }] });
  await createPod(server, 'other', { app: 'other' }, '10.244.1.12');
  const one = await waitForSlice(server, 'web', (s) => (s.endpoints || []).length === 1, 'web-1 in the slice');
  assert.deepEqual(one.endpoints[0].addresses, ['10.244.1.11']);
  assert.deepEqual(one.endpoints[0].conditions, { ready: true, serving: true, terminating: false });
  assert.equal(one.endpoints[0].nodeName, 'node01');
  assert.deepEqual([one.endpoints[0].targetRef.kind, one.endpoints[0].targetRef.name], ['Pod', 'web-1']);
  assert.deepEqual(one.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'metrics', port: 9090, protocol: 'TCP' }]);

  const started = Date.now();
  await setPodStatus(server, 'web-1', '10.244.1.11', false);
  await waitForSlice(server, 'web', (s) => s.endpoints[0].conditions.ready === false && s.endpoints[0].conditions.serving === false, 'web-1 not ready');
  assert.ok(Date.now() - started < 1000, 'readiness reached the slice within 1 s');
  await setPodStatus(server, 'web-1', '10.244.1.11', true);
  await waitForSlice(server, 'web', (s) => s.endpoints[0].conditions.ready === true, 'web-1 ready again');

  await server.request('PATCH', `${kPods}/other`, { contentType: 'application/merge-patch+json', body: { metadata: { labels: { app: 'web' } } } });
  // `other` has no named port "metrics", so it resolves a different port list: its own slice.
  await waitFor(async () => (await slicesOf(server, 'web')).flatMap((s) => s.endpoints).length === 2, { what: 'other joins after its label change' });
  await server.request('DELETE', `${kPods}/web-1`);
  const last = await waitForSlice(server, 'web', (s) => s.endpoints.length === 1, 'web-1 leaves after deletion');
  assert.deepEqual(last.endpoints[0].addresses, ['10.244.1.12']);
  assert.deepEqual(last.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);

  // A deleted managed slice comes back; deleting the Service removes its slices.
  await server.request('DELETE', `${kSlices}/${last.metadata.name}`);
  await waitForSlice(server, 'web', (s) => s.metadata.name !== last.metadata.name && s.endpoints.length === 1, 'the slice re-created');
  await server.request('DELETE', `${kSvcs}/web`);
  await waitFor(async () => (await slicesOf(server, 'web')).length === 0, { what: 'the slices to go with the Service' });
}));

test('kubectl create service (a protobuf body) makes a Service with kube\'s defaults', () => withServer({}, async (server) => {
  await server.kubectlOk(['create', 'service', 'nodeport', 'np', '--tcp=80:8080', '--node-port=30080']);
  const np = await server.request('GET', `${kSvcs}/np`);
  assert.deepEqual(np.body.spec.ports, [{ name: '80-8080', port: 80, protocol: 'TCP', targetPort: 8080, nodePort: 30080 }]);
  assert.deepEqual(np.body.spec.selector, { app: 'np' });
  assert.equal(np.body.spec.externalTrafficPolicy, 'Cluster');
  assert.equal(np.body.spec.publishNotReadyAddresses, undefined);
  const clash = await server.kubectl(['create', 'service', 'nodeport', 'np2', '--tcp=80:80', '--node-port=30080']);
  assert.match(clash.stderr, /spec\.ports\[0\]\.nodePort: Invalid value: 30080: provided port is already allocated/);
}));
