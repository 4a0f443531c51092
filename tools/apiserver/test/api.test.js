// Raw HTTP behaviour of the lab API server: authentication, health, discovery, OpenAPI, errors.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { withServer } = require('../testing/harness');

test('requests without the bearer token get a 401 Status; health endpoints need none', () => withServer({}, async (server) => {
  const denied = await server.request('GET', '/api/v1/namespaces', { token: null });
  assert.equal(denied.status, 401);
  assert.equal(denied.body.kind, 'Status');
  assert.equal(denied.body.reason, 'Unauthorized');
  const wrong = await server.request('GET', '/api/v1/namespaces', { token: 'not-the-token' });
  assert.equal(wrong.status, 401);
  for (const p of ['/healthz', '/readyz', '/livez']) {
    const health = await server.request('GET', p, { token: null });
    assert.equal(health.status, 200, p);
    assert.equal(health.text, 'ok');
  }
  const kubectl = await server.kubectl(['--token', 'wrong', 'get', 'ns']);
  assert.notEqual(kubectl.code, 0);
  assert.match(kubectl.stderr, /Unauthorized|provide credentials/);
}));

test('discovery answers the legacy forms even when aggregated discovery is asked for first', () => withServer({}, async (server) => {
  const accept = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';
  const apis = await server.request('GET', '/apis', { headers: { Accept: accept } });
  assert.equal(apis.status, 200);
  assert.equal(apis.headers['content-type'], 'application/json');
  assert.equal(apis.body.kind, 'APIGroupList');
  assert.ok(apis.body.groups.some((g) => g.name === 'coordination.k8s.io'));
  const core = await server.request('GET', '/api', { headers: { Accept: accept } });
  assert.deepEqual(core.body.versions, ['v1']);
  const v1 = await server.request('GET', '/api/v1');
  assert.equal(v1.body.kind, 'APIResourceList');
  const pods = v1.body.resources.find((r) => r.name === 'pods');
  assert.equal(pods.namespaced, true);
  assert.ok(pods.verbs.includes('watch'));
  assert.ok(v1.body.resources.some((r) => r.name === 'pods/status'));
  const version = await server.request('GET', '/version');
  assert.equal(version.body.major, '1');
  assert.equal(version.body.minor, '32');
  const missing = await server.request('GET', '/apis/nope.example.com/v1');
  assert.equal(missing.status, 404);
}));

test('OpenAPI v3 advertises fieldValidation on PATCH so kubectl validates server-side', () => withServer({}, async (server) => {
  const root = await server.request('GET', '/openapi/v3');
  assert.ok(root.body.paths['api/v1'].serverRelativeURL.startsWith('/openapi/v3/api/v1?hash='));
  const doc = await server.request('GET', root.body.paths['api/v1'].serverRelativeURL);
  const item = doc.body.paths['/api/v1/namespaces/{namespace}/pods/{name}'];
  assert.deepEqual(item.patch['x-kubernetes-group-version-kind'], { group: '', version: 'v1', kind: 'Pod' });
  assert.ok(item.patch.parameters.some((p) => p.name === 'fieldValidation' && p.in === 'query'));
  assert.ok(doc.body.components.schemas['io.k8s.api.core.v1.Pod']);
  const v2 = await server.request('GET', '/openapi/v2', { headers: { Accept: 'application/json' } });
  assert.equal(v2.body.swagger, '2.0');
  const protobufOnly = await server.request('GET', '/openapi/v2', { headers: { Accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' } });
  assert.equal(protobufOnly.status, 406);
}));

test('unsupported requests get clear 4xx Statuses', () => withServer({}, async (server) => {
  const unknown = await server.request('GET', '/api/v1/widgets');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.kind, 'Status');
  const put = await server.request('PUT', '/api/v1/namespaces', { body: {} });
  assert.equal(put.status, 405);
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '1' } };
  assert.equal((await server.request('POST', '/api/v1/namespaces/default/configmaps', { body: cm })).status, 201);
  const weird = await server.request('PATCH', '/api/v1/namespaces/default/configmaps/c', { body: '{}', contentType: 'application/x-weird' });
  assert.equal(weird.status, 415);
  assert.equal(weird.body.reason, 'UnsupportedMediaType');
  const subresource = await server.request('GET', '/api/v1/namespaces/default/configmaps/c/status');
  assert.equal(subresource.status, 404);
  const noNamespace = await server.request('POST', '/api/v1/namespaces/nowhere/configmaps', { body: cm });
  assert.equal(noNamespace.status, 404);
  assert.match(noNamespace.body.message, /namespaces "nowhere" not found/);
  const wrongVersion = await server.request('POST', '/api/v1/namespaces/default/configmaps', { body: { ...cm, apiVersion: 'v2' } });
  assert.equal(wrongVersion.status, 400);
  const duplicate = await server.request('POST', '/api/v1/namespaces/default/configmaps', { body: cm });
  assert.equal(duplicate.status, 409);
  assert.equal(duplicate.body.reason, 'AlreadyExists');
  const badName = await server.request('POST', '/api/v1/namespaces/default/configmaps', { body: { ...cm, metadata: { name: 'Bad_Name' } } });
  assert.equal(badName.status, 422);
  assert.equal(badName.body.details.causes[0].field, 'metadata.name');
}));

test('default namespaces exist and namespaced paths follow Kubernetes', () => withServer({}, async (server) => {
  const list = await server.request('GET', '/api/v1/namespaces');
  assert.deepEqual(list.body.items.map((n) => n.metadata.name).sort(), ['default', 'kube-node-lease', 'kube-public', 'kube-system']);
  assert.equal(list.body.kind, 'NamespaceList');
  assert.equal(list.body.items[0].kind, undefined, 'typed lists carry no per-item kind');
  assert.equal(list.body.items[0].status.phase, 'Active');
  const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } };
  assert.equal((await server.request('POST', '/api/v1/namespaces/default/nodes', { body: node })).status, 404);
  assert.equal((await server.request('POST', '/api/v1/nodes', { body: node })).status, 201);
  const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l' }, spec: { holderIdentity: 'a' } };
  const created = await server.request('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', { body: lease });
  assert.equal(created.status, 201);
  assert.equal(created.body.metadata.namespace, 'kube-node-lease');
  const all = await server.request('GET', '/apis/coordination.k8s.io/v1/leases');
  assert.equal(all.body.items.length, 1);
}));

test('kubectl create namespace/configmap work although they send protobuf bodies', () => withServer({}, async (server) => {
  assert.match(await server.kubectlOk(['create', 'namespace', 'proto']), /namespace\/proto created/);
  await server.kubectlOk(['create', 'configmap', 'cm', '-n', 'proto', '--from-literal=key=value']);
  const cm = (await server.request('GET', '/api/v1/namespaces/proto/configmaps/cm')).body;
  assert.deepEqual(cm.data, { key: 'value' });
  assert.deepEqual(Object.keys(cm.metadata).sort(), ['creationTimestamp', 'name', 'namespace', 'resourceVersion', 'uid']);
  const deployment = await server.kubectl(['create', 'deployment', 'd', '--image=i']);
  assert.notEqual(deployment.code, 0, 'unsupported kinds fail loudly');
  assert.match(await server.kubectlOk(['delete', 'namespace', 'proto']), /deleted/);
  assert.equal((await server.request('GET', '/api/v1/namespaces/proto/configmaps/cm')).status, 404, 'a namespace takes its objects with it');
}));
